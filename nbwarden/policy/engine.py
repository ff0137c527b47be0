"""The policy engine: code in, :class:`Verdict` out (allow, flag or block)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from nbwarden.config import PolicyConfig
from nbwarden.policy.errors import PolicyError
from nbwarden.policy.rulepack import SEVERITY, Action, RulePack, Scope
from nbwarden.policy.shell import ShellAnalyzer
from nbwarden.policy.sql import Schema, SqlAnalyzer
from nbwarden.policy.verdict import Findings, Verdict

DEFAULT_DIALECT = "postgres"


class PolicyEngine:
    """Judges SQL and shell cells against one rule pack. Thread-safe: it keeps no state."""

    def __init__(self, pack: RulePack | None = None, *, require_purpose: bool = False) -> None:
        self.pack = pack or RulePack.load()
        self.require_purpose = require_purpose
        self.sql = SqlAnalyzer(self.pack)
        self.shell = ShellAnalyzer(self.pack, self.sql.analyze)

    @classmethod
    def from_config(cls, config: PolicyConfig) -> PolicyEngine:
        pack = RulePack.load(config.rules, config.overrides)
        return cls(pack, require_purpose=config.require_purpose)

    def check_sql(
        self,
        code: str,
        dialect: str = DEFAULT_DIALECT,
        *,
        connection: str | None = None,
        role: str | None = None,
        purpose: str | None = None,
        unmasked_columns: Iterable[str] = (),
        sensitive_columns: Iterable[str] = (),
        schema: Schema | None = None,
    ) -> Verdict:
        """Judge SQL. ``unmasked_columns``: columns (``col`` or ``table.col``, ``*`` for all)
        whose output is asked for unmasked; ``sensitive_columns``: ``table.column`` names
        the connection marks sensitive; ``schema``: table -> column names, to resolve ``*``.
        """
        with _engine_failures():
            findings = self.sql.analyze(code, dialect, schema)
        if _reads_sensitive_unmasked(findings, sensitive_columns, unmasked_columns):
            findings.hit("sql.sensitive_unmasked")
        return self._verdict("sql", dialect, findings, Scope(connection, role, purpose))

    def check_shell(
        self,
        code: str,
        *,
        target: str | None = None,
        role: str | None = None,
        purpose: str | None = None,
        is_personal: Callable[[str], bool] | None = None,
    ) -> Verdict:
        """Judge shell code. ``is_personal``: whether a column name names personal data
        (the masking profile's column hints); a database client whose output is computed
        from such a column then needs approval (``shell.sql_transforms_personal_data``)."""
        with _engine_failures():
            findings = self.shell.analyze(code)
        if is_personal and any(is_personal(c.rsplit(".", 1)[-1]) for c in findings.computed_from):
            findings.hit("shell.sql_transforms_personal_data")
        return self._verdict("shell", None, findings, Scope(target, role, purpose))

    def check(self, kind: str, code: str, dialect: str | None = None, **scope: Any) -> Verdict:
        """Either check; ``target`` and ``connection`` name the same thing, and SQL-only
        arguments (sensitive columns, schema) are ignored for shell code."""
        target = scope.pop("target", None)
        if kind == "sql":
            scope.setdefault("connection", target)
            return self.check_sql(code, dialect or DEFAULT_DIALECT, **scope)
        if kind == "shell":
            return self.check_shell(
                code,
                target=target or scope.get("connection"),
                role=scope.get("role"),
                purpose=scope.get("purpose"),
            )
        raise PolicyError(f"unknown kind {kind!r}: expected 'sql' or 'shell'")

    def _verdict(self, kind: str, dialect: str | None, findings: Findings, scope: Scope) -> Verdict:
        if self.require_purpose and not (scope.purpose or "").strip():
            findings.hit("policy.purpose_required")
        action: Action = "allow"
        rules: list[str] = []
        reasons: list[str] = []
        for rule_id in findings.rules:
            rule = self.pack.resolve(rule_id, scope)
            if rule is None or rule.action == "allow":
                continue
            rules.append(rule.id)
            reasons.append(rule.reason)
            if SEVERITY[rule.action] > SEVERITY[action]:
                action = rule.action
        return Verdict(
            action=action,
            rules=rules,
            reasons=reasons,
            kind=kind,
            dialect=dialect,
            statement_types=list(findings.statement_types),
            tables_read=list(findings.tables_read),
            tables_written=list(findings.tables_written),
            columns_read=list(findings.columns_read),
            result_lineage=findings.result_lineage,
        )


@contextmanager
def _engine_failures() -> Iterator[None]:
    """Turn a bug in a detector into :class:`PolicyError`, without the user's code in it."""
    try:
        yield
    except PolicyError:
        raise
    except Exception as exc:
        raise PolicyError(f"policy evaluation failed ({type(exc).__name__})") from None


def _reads_sensitive_unmasked(
    findings: Findings, sensitive: Iterable[str], unmasked: Iterable[str]
) -> bool:
    """True when a sensitive column may be read (fail closed on ``*`` and unresolved names)
    and its unmasked output is asked for."""
    wanted = {name.lower() for name in unmasked}
    if not wanted:
        return False
    for entry in sensitive:
        table, _, column = entry.lower().rpartition(".")
        if not ({"*", column, entry.lower()} & wanted):
            continue
        for read in findings.columns_read:
            read_table, _, read_column = read.lower().rpartition(".")
            same_table = not read_table or not table or _same_table(read_table, table)
            if same_table and read_column in (column, "*"):
                return True
    return False


def _same_table(read: str, configured: str) -> bool:
    return read == configured or read.rsplit(".", 1)[-1] == configured.rsplit(".", 1)[-1]
