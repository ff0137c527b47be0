"""SQL guardrails: parse with sqlglot in the connection's dialect and report rule ids.

Every statement of a cell is judged, and so is every node inside it: a write hidden in
a CTE, a file function in a subquery, SQL built by ``EXECUTE 'DR' || 'OP ...'``. Text
that does not parse is reported as ``sql.unparseable`` and scanned token by token for
dangerous keyword sequences, so it is flagged or blocked, never allowed.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

import sqlglot
from sqlglot import Token, exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.optimizer.scope import Scope as QueryScope
from sqlglot.optimizer.scope import traverse_scope
from sqlglot.optimizer.simplify import simplify

from nbwarden.policy.errors import PolicyError
from nbwarden.policy.lineage import WHOLE_ROW_DIALECTS, result_lineage, table_name
from nbwarden.policy.rulepack import RulePack
from nbwarden.policy.verdict import Findings

# sqlglot logs the text it falls back on ("... contains unsupported syntax"): user SQL
# may hold personal data, which must never reach a log.
logging.getLogger("sqlglot").setLevel(logging.CRITICAL)

Schema = Mapping[str, Iterable[str]]

MAX_DEPTH = 4
EXECUTABLE_COMMENT = re.compile(r"/\*M?!(?:\d{5,6})?(.*?)\*/", re.DOTALL)
DOLLAR_BODY = re.compile(r"\$([A-Za-z_0-9]*)\$(.*)\$\1\$", re.DOTALL)
FILE_LIKE_TABLE = re.compile(r"[/\\:]|\.(csv|tsv|parquet|json|jsonl|ndjson|txt|xlsx|db)\b", re.I)
ROLE_OBJECTS = ("ROLE", "USER", "GROUP")
BOUNDING_CLAUSES = ("limit", "fetch", "group", "having", "qualify", "sample")
WRITE_NODES = (exp.Insert, exp.Update, exp.Delete, exp.Merge)


WRITER_NODES = (
    *WRITE_NODES,
    exp.Into,
    exp.Alter,
    exp.Create,
    exp.Drop,
    exp.Copy,
    exp.TruncateTable,
)


@dataclass
class Nodes:
    """The nodes of one statement the detectors need, gathered in a single walk."""

    tables: list[exp.Table]
    functions: list[exp.Func]
    writers: list[exp.Expr]
    ctes: list[exp.CTE]
    properties: list[exp.Property]

    @classmethod
    def collect(cls, stmt: exp.Expr) -> Nodes:
        nodes = cls([], [], [], [], [])
        for node in stmt.walk():
            bucket = _BUCKETS.get(type(node))
            if bucket is None:
                bucket = _bucket(type(node))
            if bucket:
                getattr(nodes, bucket).append(node)
        return nodes

    def cte_bodies(self) -> dict[str, exp.Expr]:
        return {cte.alias_or_name.lower(): cte.this for cte in self.ctes}


_BUCKETS: dict[type, str] = {}


def _bucket(node_type: type) -> str:
    """Which :class:`Nodes` list a node type goes to ("" for none); cached per type."""
    bucket = _BUCKETS.get(node_type)
    if bucket is None:
        bucket = next(
            (
                name
                for name, types in (
                    ("tables", (exp.Table,)),
                    ("functions", (exp.Func,)),
                    ("writers", WRITER_NODES),
                    ("ctes", (exp.CTE,)),
                    ("properties", (exp.Property,)),
                )
                if issubclass(node_type, types)
            ),
            "",
        )
        _BUCKETS[node_type] = bucket
    return bucket


@dataclass(frozen=True)
class SqlContext:
    dialect: str
    schema: Schema | None
    depth: int = 0

    def deeper(self) -> SqlContext:
        return SqlContext(self.dialect, self.schema, self.depth + 1)


def _expand_executable_comments(code: str) -> str:
    """MySQL's ``/*!50000 ... */`` with its text in the open, where MySQL runs it. Only
    the code up to the last ``*/`` is searched: a match cannot end past it, and an
    opening with no ``*/`` after it was read to the end from each of many openings
    (minutes for 256 kB of ``/*!``)."""
    end = code.rfind("*/") + 2
    if end < 2:
        return code
    return EXECUTABLE_COMMENT.sub(lambda m: f" {m.group(1)} ", code[:end]) + code[end:]


class SqlAnalyzer:
    """Turns SQL text into rule ids and lineage; the engine turns those into a verdict."""

    def __init__(self, pack: RulePack) -> None:
        self.pack = pack
        self.file_functions = pack.names("sql.server_file_access", "functions")
        self.foreign_functions = pack.names("sql.foreign_server", "functions")
        self.kill_functions = pack.names("sql.kill_session", "functions")
        self.setting_functions = pack.names("sql.weaken_audit", "functions")
        self.weak_settings = pack.names("sql.weaken_audit", "settings")
        self.bad_extensions = pack.names("sql.load_extension", "extensions")
        self.bad_languages = pack.names("sql.load_extension", "languages")
        self.drop_kinds = {k.upper() for k in pack.names("sql.drop_object", "kinds")}
        self.read_only_commands = {
            c.upper() for c in pack.names("sql.unrecognized_statement", "read_only_commands")
        }
        self.read_only_pragmas = pack.names("sql.unrecognized_statement", "read_only_pragmas")
        self.credential_tables = pack.names("sql.credential_read", "tables")
        self.credential_functions = pack.names("sql.credential_read", "functions")
        self.statistics_tables = pack.names("sql.statistics_read", "tables")
        self.admin_functions = pack.names("sql.alter_system", "functions")
        self.write_functions = pack.names("sql.write", "functions")
        self.query_functions = pack.names("sql.dynamic_sql", "query_functions")
        self.table_functions = pack.names("sql.dynamic_sql", "table_functions")
        self.dynamic_functions = (
            pack.names("sql.dynamic_sql", "functions") | self.query_functions | self.table_functions
        )
        self.lexical = self._lexical_sequences()

    def _lexical_sequences(self) -> dict[tuple[str, ...], str]:
        """Keyword sequences and function names that decide a verdict in unparsed text."""
        sequences: dict[tuple[str, ...], str] = {}
        for rule_id in ("sql.server_file_access", "sql.weaken_audit"):
            for phrase in self.pack.param(rule_id, "lexical") or ():
                sequences[tuple(str(phrase).upper().split())] = rule_id
        for kind in self.drop_kinds:
            sequences[("DROP", *kind.split())] = "sql.drop_object"
        for word, rule_id in (
            ("TRUNCATE", "sql.truncate"),
            ("GRANT", "sql.grant_role"),
            ("REVOKE", "sql.grant_role"),
            ("KILL", "sql.kill_session"),
        ):
            sequences[(word,)] = rule_id
        for verb in ("CREATE", "ALTER", "DROP"):
            for obj in ROLE_OBJECTS:
                sequences[(verb, obj)] = "sql.grant_role"
        sequences[("SET", "ROLE")] = "sql.grant_role"
        sequences[("SESSION", "AUTHORIZATION")] = "sql.grant_role"
        sequences[("ALTER", "SYSTEM")] = "sql.alter_system"
        sequences[("SHUTDOWN",)] = "sql.kill_session"
        sequences[("RENAME", "USER")] = "sql.grant_role"
        sequences[("DROP", "OWNED")] = "sql.drop_object"
        sequences[("CREATE", "SERVER")] = "sql.foreign_server"
        sequences[("IMPORT", "FOREIGN")] = "sql.foreign_server"
        sequences[("USER", "MAPPING")] = "sql.foreign_server"
        for names, rule_id in (
            (self.file_functions, "sql.server_file_access"),
            (self.foreign_functions, "sql.foreign_server"),
            (self.kill_functions, "sql.kill_session"),
            (self.admin_functions, "sql.alter_system"),
            (self.credential_functions, "sql.credential_read"),
        ):
            for name in names:
                sequences[(name.upper(),)] = rule_id
        return sequences

    def analyze(self, code: str, dialect: str, schema: Schema | None = None) -> Findings:
        try:
            Dialect.get_or_raise(dialect)
        except ValueError:
            raise PolicyError(f"unknown SQL dialect {dialect!r}") from None
        findings = Findings()
        self._analyze_text(code, SqlContext(dialect, schema), findings)
        return findings

    def _analyze_text(self, code: str, ctx: SqlContext, findings: Findings) -> None:
        if ctx.depth > MAX_DEPTH:
            findings.hit("sql.dynamic_sql")
            return
        text = _expand_executable_comments(code)
        if text != code:
            findings.hit("sql.executable_comment")
        try:
            statements = sqlglot.parse(text, dialect=ctx.dialect)
        except Exception:  # any parser failure, including its own bugs: fail closed
            findings.hit("sql.unparseable")
            self._scan_tokens(text, ctx, findings)
            return
        for statement in statements:
            if statement is not None and not isinstance(statement, exp.Semicolon):
                self._judge_statement(statement, ctx, findings)

    # ---- lexical fallback -------------------------------------------------------

    def _scan_tokens(self, text: str, ctx: SqlContext, findings: Findings) -> None:
        """Match keyword sequences on tokens (comments and string contents excluded)."""
        try:
            tokens = Dialect.get_or_raise(ctx.dialect).tokenize(text)
            words = [_token_word(token) for token in tokens]
        except Exception:
            words = re.findall(r"[A-Za-z_][A-Za-z_0-9]*", text.upper())
        for index in range(len(words)):
            for length in (1, 2, 3):
                rule_id = self.lexical.get(tuple(words[index : index + length]))
                if rule_id:
                    findings.hit(rule_id)

    # ---- statements -------------------------------------------------------------

    def _judge_statement(self, stmt: exp.Expr, ctx: SqlContext, findings: Findings) -> None:
        if ctx.depth == 0:
            findings.result_lineage = None
        if isinstance(stmt, exp.Command):
            self._judge_command(stmt, ctx, findings)
            return
        findings.statement_types[_statement_type(stmt)] = None
        nodes = Nodes.collect(stmt)
        self._judge_top(stmt, nodes, ctx, findings)
        self._judge_nodes(stmt, nodes, ctx, findings)
        self._record_lineage(stmt, nodes, ctx, findings)

    def _judge_top(self, stmt: exp.Expr, nodes: Nodes, ctx: SqlContext, findings: Findings) -> None:
        if isinstance(stmt, exp.Query):
            if _unbounded(stmt, nodes.cte_bodies()):
                findings.hit("sql.unbounded_read")
        elif isinstance(stmt, exp.Drop):
            self._judge_drop(stmt, findings)
        elif isinstance(stmt, exp.TruncateTable):
            findings.hit("sql.truncate")
        elif isinstance(stmt, exp.Alter):
            actions = stmt.args.get("actions") or []
            dropping = any(isinstance(a, (exp.Drop, exp.DropPartition)) for a in actions)
            findings.hit("sql.alter_drop" if dropping else "sql.ddl")
            self._scan_tokens(stmt.sql(dialect=ctx.dialect), ctx, findings)
        elif isinstance(stmt, exp.Create):
            self._judge_create(stmt, findings)
        elif isinstance(stmt, (exp.Grant, exp.Revoke)):
            findings.hit("sql.grant_role")
        elif isinstance(stmt, exp.Kill):
            findings.hit("sql.kill_session")
        elif isinstance(stmt, exp.Copy):
            self._judge_copy(stmt, findings)
        elif isinstance(stmt, exp.Set):
            self._judge_set(stmt, findings)
        elif isinstance(stmt, (exp.Attach, exp.Install)):
            findings.hit(
                "sql.server_file_access" if isinstance(stmt, exp.Attach) else "sql.load_extension"
            )
        elif isinstance(stmt, exp.Pragma):
            self._judge_pragma(stmt, findings)
        elif not isinstance(
            stmt,
            (
                *WRITE_NODES,
                exp.Show,
                exp.Describe,
                exp.Summarize,
                exp.Transaction,
                exp.Commit,
                exp.Rollback,
                exp.Use,
            ),
        ):
            findings.hit("sql.unrecognized_statement")
            self._scan_tokens(stmt.sql(dialect=ctx.dialect), ctx, findings)

    def _judge_nodes(
        self, stmt: exp.Expr, nodes: Nodes, ctx: SqlContext, findings: Findings
    ) -> None:
        """Judge every node, wherever it sits: writes in CTEs, functions in subqueries."""
        for node in nodes.writers:
            if isinstance(node, (exp.Delete, exp.Update)):
                self._judge_delete_update(node, findings)
            elif isinstance(node, (exp.Insert, exp.Merge, exp.Into)):
                findings.hit("sql.write")
            if isinstance(node, WRITE_NODES) and node is not stmt:
                findings.statement_types[_statement_type(node)] = None
        for function in nodes.functions:
            self._judge_function(function, ctx, findings)
        table_names = {table_name(table).lower() for table in nodes.tables}
        if table_names & self.credential_tables:
            findings.hit("sql.credential_read")
        if table_names & self.statistics_tables:
            findings.hit("sql.statistics_read")
        if ctx.dialect == "duckdb" and any(_is_file(table) for table in nodes.tables):
            findings.hit("sql.server_file_access")
        if any(_is_federated(prop) for prop in nodes.properties):
            findings.hit("sql.foreign_server")

    def _judge_delete_update(self, node: exp.Expr, findings: Findings) -> None:
        findings.hit("sql.write")
        where = node.args.get("where")
        if where is None:
            findings.hit("sql.delete_without_where")
        elif _always_true(where.this):
            findings.hit("sql.always_true_where")

    def _judge_function(self, node: exp.Func, ctx: SqlContext, findings: Findings) -> None:
        name = _function_name(node)
        if name in self.dynamic_functions:
            self._judge_sql_argument(node, name, ctx, findings)
        elif name in self.file_functions:
            findings.hit("sql.server_file_access")
        elif name in self.foreign_functions:
            findings.hit("sql.foreign_server")
        elif name in self.kill_functions:
            findings.hit("sql.kill_session")
        elif name in self.setting_functions:
            findings.hit("sql.weaken_audit")
        elif name in self.credential_functions:
            findings.hit("sql.credential_read")
        elif name in self.admin_functions:
            findings.hit("sql.alter_system")
        elif name in self.write_functions:
            findings.hit("sql.write")

    def _judge_sql_argument(
        self, node: exp.Func, name: str, ctx: SqlContext, findings: Findings
    ) -> None:
        """A function that runs SQL text (``query_to_xml('SELECT ...')``) or reads a table
        named by a string: dynamic, and the statement is judged when it is a constant."""
        findings.hit("sql.dynamic_sql")
        arguments = list(node.expressions) if isinstance(node, exp.Anonymous) else []
        text = _fold(arguments[0]) if arguments else None
        if text is None:
            return
        if name in self.query_functions:
            self._analyze_text(text, ctx.deeper(), findings)
        elif name in self.table_functions:
            self._analyze_text(f"SELECT * FROM {text}", ctx.deeper(), findings)

    def _judge_drop(self, stmt: exp.Drop, findings: Findings) -> None:
        kind = str(stmt.args.get("kind") or "").upper()
        if stmt.args.get("materialized"):
            kind = f"MATERIALIZED {kind}"
        if kind in ROLE_OBJECTS:
            findings.hit("sql.grant_role")
        elif kind in self.drop_kinds:
            findings.hit("sql.drop_object")
        else:
            findings.hit("sql.ddl")

    def _judge_create(self, stmt: exp.Create, findings: Findings) -> None:
        findings.hit("sql.ddl")
        if stmt.args.get("expression") is not None and str(stmt.args.get("kind")) == "TABLE":
            findings.hit("sql.write")
        language = stmt.find(exp.LanguageProperty)
        if language is not None and language.this.name.lower() in self.bad_languages:
            findings.hit("sql.load_extension")

    def _judge_copy(self, stmt: exp.Copy, findings: Findings) -> None:
        files = stmt.args.get("files") or []
        to_client = all(
            isinstance(f, exp.Identifier) and f.name.upper() in ("STDIN", "STDOUT") for f in files
        )
        if not (files and to_client):
            findings.hit("sql.server_file_access")
        findings.hit("sql.write" if stmt.args.get("kind") else "sql.unbounded_read")

    def _judge_set(self, stmt: exp.Set, findings: Findings) -> None:
        for item in stmt.expressions:
            if not isinstance(item, exp.SetItem):
                continue
            scope = str(item.args.get("kind") or "").upper()
            if scope in ("GLOBAL", "PERSIST", "PERSIST_ONLY"):
                findings.hit("sql.server_setting")
            target = item.this
            name = target.this if isinstance(target, exp.EQ) else target
            if isinstance(name, exp.Expr) and _setting_name(name) in self.weak_settings:
                findings.hit("sql.weaken_audit")

    def _judge_pragma(self, stmt: exp.Pragma, findings: Findings) -> None:
        target = stmt.this
        name = _function_name(target) if isinstance(target, exp.Func) else target.name.lower()
        if name not in self.read_only_pragmas:
            findings.hit("sql.ddl")

    # ---- commands sqlglot keeps as raw text -----------------------------------

    def _judge_command(self, stmt: exp.Command, ctx: SqlContext, findings: Findings) -> None:
        verb = str(stmt.this).upper()
        rest = _command_text(stmt.args.get("expression"), ctx.dialect)
        words = rest.upper().split()
        findings.statement_types[verb] = None
        if verb == "DO":
            self._judge_do_block(rest, ctx, findings)
        elif verb in ("EXECUTE", "EXEC", "PREPARE", "CALL"):
            self._judge_dynamic(verb, rest, ctx, findings)
        elif verb == "EXPLAIN":
            self._analyze_text(_strip_explain_options(rest), ctx.deeper(), findings)
        elif _changes_role(verb, words):
            findings.hit("sql.grant_role")
        elif verb in ("SET", "RESET"):
            self._judge_set_words(words, findings)
        elif verb in ("CREATE", "ALTER") and words[:1] == ["EXTENSION"]:
            self._judge_extension(words, findings)
        elif verb in ("LOAD", "INSTALL"):
            findings.hit("sql.load_extension")
        elif verb in self.read_only_commands:
            self._scan_tokens(rest, ctx, findings)
        else:
            before = len(findings.rules)
            self._scan_tokens(f"{verb} {rest}", ctx, findings)
            if len(findings.rules) == before:
                findings.hit("sql.unrecognized_statement")

    def _judge_set_words(self, words: list[str], findings: Findings) -> None:
        """``SET [SESSION|LOCAL|GLOBAL] name = value`` that sqlglot kept as raw text."""
        names = re.split(r"[\s=]+", " ".join(words).lower())
        while names and names[0] in ("session", "local", "global", "persist"):
            if names.pop(0) in ("global", "persist"):
                findings.hit("sql.server_setting")
        if names and names[0].strip('"`').lstrip("@") in self.weak_settings:
            findings.hit("sql.weaken_audit")

    def _judge_extension(self, words: list[str], findings: Findings) -> None:
        names = {w.strip('";').lower() for w in words[1:]}
        findings.hit("sql.load_extension" if names & self.bad_extensions else "sql.ddl")

    def _judge_dynamic(self, verb: str, rest: str, ctx: SqlContext, findings: Findings) -> None:
        findings.hit("sql.dynamic_sql")
        body = rest
        if verb == "PREPARE":
            match = re.match(r"\s*[\w\"`]+\s*(?:\([^)]*\))?\s+(AS|FROM)\s+(.*)", rest, re.I | re.S)
            if match is None:
                self._scan_tokens(rest, ctx, findings)
                return
            body = match.group(2)
            if match.group(1).upper() == "AS":
                self._analyze_text(body, ctx.deeper(), findings)
                return
        elif verb == "EXECUTE":
            body = re.sub(r"^\s*IMMEDIATE\b", "", rest, flags=re.I)
        self._judge_built_sql(body, ctx, findings)

    def _judge_built_sql(self, expression: str, ctx: SqlContext, findings: Findings) -> None:
        """Fold a string expression (``'DR' || 'OP TABLE x'``) and judge the SQL it builds."""
        folded = fold_string(expression, ctx.dialect)
        if folded is not None:
            self._analyze_text(folded, ctx.deeper(), findings)
        else:
            self._scan_tokens(expression, ctx, findings)

    def _judge_do_block(self, rest: str, ctx: SqlContext, findings: Findings) -> None:
        findings.hit("sql.dynamic_sql")
        language = re.search(r"\bLANGUAGE\s+['\"]?(\w+)", DOLLAR_BODY.sub(" ", rest), re.I)
        if language and language.group(1).lower() in self.bad_languages:
            findings.hit("sql.load_extension")
        match = DOLLAR_BODY.search(rest)
        body = match.group(2) if match else rest.strip().strip("'")
        self._scan_tokens(body, ctx, findings)
        for chunk in _plpgsql_statements(body):
            head, _, tail = chunk.partition(" ")
            if head.upper() == "EXECUTE":
                self._judge_built_sql(tail.split(" USING ")[0], ctx, findings)
            elif head.upper() == "PERFORM":
                self._analyze_text(f"SELECT {tail}", ctx.deeper(), findings)
            else:
                self._judge_plpgsql_statement(chunk, ctx, findings)

    def _judge_plpgsql_statement(self, chunk: str, ctx: SqlContext, findings: Findings) -> None:
        """Judge one body statement as SQL; PL/pgSQL control flow only adds its rule hits."""
        inner = Findings()
        self._analyze_text(chunk, ctx.deeper(), inner)
        control_flow = {"sql.unparseable", "sql.unrecognized_statement"} & inner.rules.keys()
        if not control_flow:
            findings.merge(inner)
            return
        for rule_id in inner.rules:
            if rule_id not in control_flow:
                findings.hit(rule_id)

    # ---- lineage ------------------------------------------------------------------

    def _record_lineage(
        self, stmt: exp.Expr, nodes: Nodes, ctx: SqlContext, findings: Findings
    ) -> None:
        ctes = nodes.cte_bodies()
        written = _written_tables(nodes.writers)
        written_ids = {id(table) for table in written}
        for table in written:
            findings.tables_written[table_name(table)] = None
        for table in nodes.tables:
            if id(table) in written_ids or not isinstance(table.this, exp.Identifier):
                continue
            if not table.args.get("db") and table.name.lower() in ctes:
                continue
            findings.tables_read[table_name(table)] = None
        try:
            scopes = traverse_scope(stmt)
        except Exception:
            scopes = None
        for column in _columns_read(stmt, scopes, ctx.schema, set(ctes)):
            findings.columns_read[column] = None
        if ctx.depth == 0 and scopes:
            whole_rows = ctx.dialect in WHOLE_ROW_DIALECTS
            column_sets = any(isinstance(f, exp.Columns) for f in nodes.functions)
            findings.result_lineage = result_lineage(stmt, scopes[-1], whole_rows, column_sets)
            if findings.result_lineage is not None:
                findings.computed_from.update(
                    dict.fromkeys(findings.result_lineage.computed_from())
                )
        for column in _write_filter_columns(nodes.writers):
            findings.columns_read[column] = None


def _statement_type(node: exp.Expr) -> str:
    return "TRUNCATE" if isinstance(node, exp.TruncateTable) else node.key.upper()


def _changes_role(verb: str, words: list[str]) -> bool:
    if verb in ("CREATE", "ALTER", "DROP"):
        return bool(words) and words[0] in ROLE_OBJECTS
    if verb == "RENAME":
        return words[:1] == ["USER"]
    return verb in ("SET", "RESET") and (
        words[:1] in (["ROLE"], ["PASSWORD"]) or "AUTHORIZATION" in words
    )


def _command_text(rest: object, dialect: str) -> str:
    if isinstance(rest, exp.Literal):
        return rest.name
    if isinstance(rest, exp.Expr):
        return rest.sql(dialect=dialect)
    return str(rest or "")


def _token_word(token: Token) -> str:
    if token.token_type.name.endswith("STRING"):  # STRING, HEREDOC_STRING, BYTE_STRING, ...
        return "'"
    return token.text.upper()


def _function_name(node: exp.Func) -> str:
    if isinstance(node, exp.Anonymous):
        return node.name.lower()
    return node.sql_name().lower()


def _is_file(table: exp.Table) -> bool:
    """DuckDB reads a quoted path in FROM (``FROM '/etc/passwd'``) as a file."""
    identifier = table.this
    return (
        isinstance(identifier, exp.Identifier)
        and identifier.quoted
        and bool(FILE_LIKE_TABLE.search(identifier.name))
    )


def _setting_name(name: exp.Expr) -> str:
    text = name.sql().lower().strip('"`').lstrip("@")
    return re.sub(r"^(global|session|local|persist)\.", "", text)


def _is_federated(node: exp.Property) -> bool:
    return isinstance(node, exp.EngineProperty) and node.name.upper() in ("FEDERATED", "CONNECT")


def _strip_explain_options(rest: str) -> str:
    text = rest.strip()
    if text.startswith("("):
        text = text[text.find(")") + 1 :]
    options = r"^\s*((ANALYZE|ANALYSE|VERBOSE|QUERY\s+PLAN|FORMAT\s+\w+)\s+)*"
    return re.sub(options, "", text, flags=re.I)


def _plpgsql_statements(body: str) -> Iterator[str]:
    """Split a PL/pgSQL body into statements, dropping block keywords and labels."""
    for raw in body.split(";"):
        chunk = re.sub(r"^\s*(<<\w+>>\s*)?", "", raw)
        chunk = re.sub(
            r"^(DECLARE\b.*?\bBEGIN\b|BEGIN\b|END\b\s*\w*|EXCEPTION\b)",
            "",
            chunk,
            flags=re.I | re.S,
        ).strip()
        if chunk:
            yield " ".join(chunk.split())


def fold_string(expression: str, dialect: str) -> str | None:
    """The constant string an expression builds, or ``None`` if it depends on data."""
    try:
        node = sqlglot.parse_one(f"SELECT {expression}", dialect=dialect)
    except Exception:
        return None
    if not isinstance(node, exp.Select) or len(node.expressions) != 1:
        return None
    return _fold(node.expressions[0])


def _fold(node: exp.Expr) -> str | None:
    if isinstance(node, exp.Literal):
        return node.name
    if isinstance(node, (exp.Paren, exp.Cast)):
        return _fold(node.this)
    if isinstance(node, exp.DPipe):
        parts = [_fold(node.this), _fold(node.expression)]
    elif isinstance(node, (exp.Concat, exp.ConcatWs)):
        parts = [_fold(part) for part in node.expressions]
        if isinstance(node, exp.ConcatWs):
            sep, *parts = parts
            return None if sep is None or None in parts else sep.join(p for p in parts if p)
    elif isinstance(node, exp.Chr):
        codes = [_fold(part) for part in node.expressions]
        if None in codes or not all(str(c).isdigit() for c in codes):
            return None
        return "".join(chr(int(str(c))) for c in codes)
    else:
        return None
    if None in parts:
        return None
    return "".join(p for p in parts if p is not None)


def _always_true(condition: exp.Expr) -> bool:
    """A WHERE that holds for every row: constant, simplifies to TRUE, or ``x = x``."""
    if condition.find(exp.Column) is None:
        try:
            folded = simplify(condition.copy())
        except Exception:
            return True
        return not (isinstance(folded, (exp.Boolean, exp.Null)) and not folded.this)
    try:
        folded = simplify(condition.copy())
    except Exception:
        folded = condition
    if isinstance(folded, exp.Boolean) and folded.this:
        return True
    for disjunct in folded.flatten() if isinstance(folded, exp.Or) else [folded]:
        if disjunct.find(exp.Column) is None and _always_true(disjunct):
            return True
        if isinstance(disjunct, (exp.EQ, exp.GTE, exp.LTE, exp.Like, exp.ILike)) and (
            disjunct.this == disjunct.expression
        ):
            return True
    return False


def _star_projection(select: exp.Select) -> bool:
    return any(
        isinstance(e, exp.Star) or (isinstance(e, exp.Column) and isinstance(e.this, exp.Star))
        for e in select.expressions
    )


def _unbounded(query: exp.Expr, ctes: Mapping[str, exp.Expr]) -> bool:
    """SELECT * (or t.*) over whole tables with no WHERE, LIMIT or aggregation."""
    if isinstance(query, exp.SetOperation):
        return _unbounded(query.left, ctes) or _unbounded(query.right, ctes)
    if isinstance(query, exp.Subquery):
        return _unbounded(query.this, ctes)
    if not isinstance(query, exp.Select) or not _star_projection(query):
        return False
    where = query.args.get("where")
    if where is not None and not _always_true(where.this):
        return False
    if any(query.args.get(key) for key in BOUNDING_CLAUSES) and not _limit_is_void(query):
        return False
    sources = [query.args.get("from_") or query.args.get("from")]
    sources += list(query.args.get("joins") or [])
    for source in sources:
        inner = source.this if isinstance(source, (exp.From, exp.Join)) else source
        if isinstance(inner, exp.Table) and isinstance(inner.this, exp.Identifier):
            cte = ctes.get(inner.name.lower()) if not inner.args.get("db") else None
            if cte is None or _unbounded(cte, ctes):
                return True
        elif isinstance(inner, exp.Subquery) and _unbounded(inner.this, ctes):
            return True
    return False


def _limit_is_void(query: exp.Select) -> bool:
    """``LIMIT ALL`` / ``LIMIT NULL`` with no other bounding clause bounds nothing."""
    limit = query.args.get("limit")
    others = any(query.args.get(key) for key in BOUNDING_CLAUSES if key != "limit")
    value = limit.args.get("expression") if isinstance(limit, exp.Limit) else None
    void = isinstance(value, exp.Null) or (isinstance(value, exp.Var) and value.name == "ALL")
    return void and not others


def _written_tables(writers: Iterable[exp.Expr]) -> list[exp.Table]:
    targets: list[exp.Table] = []
    for node in writers:
        if not isinstance(node, exp.Copy) or node.args.get("kind"):
            target = node.this
            if isinstance(target, exp.Schema):
                target = target.this
            if isinstance(target, exp.Table):
                targets.append(target)
            targets.extend(t for t in node.args.get("tables") or [] if isinstance(t, exp.Table))
        if isinstance(node, exp.TruncateTable):
            targets.extend(t for t in node.expressions if isinstance(t, exp.Table))
    return targets


def _columns_read(
    stmt: exp.Expr, scopes: list[QueryScope] | None, schema: Schema | None, ctes: set[str]
) -> list[str]:
    """``table.column`` for every column read; ``*`` expanded where the schema is known.
    ``scopes``: sqlglot's scopes of the statement, None when it could not scope it."""
    if scopes is None:
        return sorted({col.name for col in stmt.find_all(exp.Column) if col.name})
    found: dict[str, None] = {}
    for scope in scopes:
        for column in _scope_columns(scope, schema, ctes):
            found[column] = None
    return list(found)


def _scope_columns(scope: QueryScope, schema: Schema | None, ctes: set[str]) -> Iterator[str]:
    tables = {
        alias: table_name(source)
        for alias, source in scope.sources.items()
        if isinstance(source, exp.Table)
        and isinstance(source.this, exp.Identifier)
        and (source.args.get("db") or source.name.lower() not in ctes)
    }
    only_table = next(iter(tables.values())) if len(scope.sources) == 1 and tables else None
    select = scope.expression
    if isinstance(select, exp.Select) and any(isinstance(e, exp.Star) for e in select.expressions):
        for table in tables.values():
            yield from _expand_star(table, schema)
    for column in scope.columns:
        if isinstance(column.this, exp.Star):
            if column.table in tables:
                yield from _expand_star(tables[column.table], schema)
            continue
        if not column.table and column.name in tables and column.name not in ctes:
            yield from _expand_star(tables[column.name], schema)  # whole-row reference
        elif column.table:
            if column.table in tables:
                yield f"{tables[column.table]}.{column.name}"
        elif only_table:
            yield f"{only_table}.{column.name}"
        elif tables:
            yield _resolve_unqualified(column.name, list(tables.values()), schema)


def _write_filter_columns(writers: Iterable[exp.Expr]) -> Iterator[str]:
    """Columns an UPDATE or DELETE reads from its own target (scopes do not cover them)."""
    for node in writers:
        target = node.this
        if not isinstance(node, (exp.Update, exp.Delete)) or not isinstance(target, exp.Table):
            continue
        own = {target.alias_or_name, target.name, ""}
        parts = [node.args.get("where"), *(node.args.get("expressions") or [])]
        for part in parts:
            for column in part.find_all(exp.Column) if part is not None else ():
                if column.table in own and column.find_ancestor(exp.Subquery) is None:
                    yield f"{table_name(target)}.{column.name}"


def _expand_star(table: str, schema: Schema | None) -> Iterator[str]:
    columns = _schema_columns(table, schema)
    if columns is None:
        yield f"{table}.*"
    else:
        yield from (f"{table}.{name}" for name in columns)


def _schema_columns(table: str, schema: Schema | None) -> list[str] | None:
    if not schema:
        return None
    short = table.rsplit(".", 1)[-1].lower()
    for name, columns in schema.items():
        if name.lower() in (table.lower(), short):
            return list(columns)
    return None


def _resolve_unqualified(column: str, tables: list[str], schema: Schema | None) -> str:
    if not schema:
        return column
    owners = [t for t in tables if column in (_schema_columns(t, schema) or ())]
    return f"{owners[0]}.{column}" if len(owners) == 1 else column
