"""Where each column of a query's result comes from: the table columns whose values flow
into it, through functions, subqueries, CTEs and set operations.

The masker decides by a result column's name and values; an analyst can hide both
(``SELECT reverse(email) AS x``). The gateway gives the masker this lineage, so a column
computed from ``customers.email`` is masked as an e-mail address whatever it is called and
however its values were changed. Only columns that flow into a value count: a column in
a condition (``CASE WHEN email LIKE ...``, ``email = ...``) or a window's ``PARTITION BY``
decides which value is shown, not what it is; nor does a column only counted or measured
(``count(email)``, ``length(name)``).

In PostgreSQL and DuckDB a table's name stands for its whole row (``SELECT c FROM
customers c``, ``row_to_json(c)``, ``c::text``): such a column comes from ``customers.*``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

from sqlglot import exp
from sqlglot.optimizer.scope import Scope, build_scope

UNKNOWN = "?"
"""A source the lineage cannot follow (a set-returning function over its arguments, a
column no source in scope names)."""

WHOLE_ROW = "*"
"""The column part of a source that is a table's whole row: ``customers.*``."""

WHOLE_ROW_DIALECTS = frozenset({"postgres", "duckdb"})
"""The dialects in which a table's name, used as a value, is its whole row."""

_MEASURES = (exp.Count, exp.Length, exp.ArraySize)
_MEASURE_NAMES = frozenset(
    {"octet_length", "bit_length", "cardinality", "json_array_length", "jsonb_array_length"}
)
"""Functions whose result tells how many or how long, not what: applied to a column, that
column does not flow into the result."""

_ROW_AS_JSON = frozenset({"row_to_json", "to_json", "to_jsonb", "jsonb_agg"})
"""Functions that give a whole row as JSON keyed by its column names (``JSONArrayAgg``,
PostgreSQL's ``json_agg``, too)."""


@dataclass(frozen=True)
class OutputColumn:
    """One column of the result: its name as written (the alias, else the column's name,
    else ``""``), the ``table.column`` values it is computed from, and whether it is one
    of them unchanged."""

    name: str
    sources: frozenset[str]
    unchanged: bool

    @property
    def whole_row(self) -> bool:
        """Whether it holds whole rows of a table (``customers.*``): unchanged means as
        the row itself or its JSON, keyed by the table's column names."""
        return any(source.endswith("." + WHOLE_ROW) for source in self.sources)


@dataclass(frozen=True)
class _Star:
    """``*`` or ``t.*`` over tables whose columns the lineage does not know: the result's
    columns from here on are known by name only. ``changed``: computed on (DuckDB's
    ``upper(COLUMNS('name|email'))``, whose columns keep their sources' names)."""

    tables: tuple[str, ...]
    changed: bool = False


Outputs = list[OutputColumn | _Star]


@dataclass(frozen=True)
class ResultLineage:
    """The lineage of a query's result columns: the first ones by position, up to the first
    ``*`` over a table (whose columns the lineage does not know), and those after it by
    name (lower case)."""

    by_position: tuple[OutputColumn, ...]
    by_name: dict[str, OutputColumn]
    rest: OutputColumn | None = None
    """What a column neither position nor name finds holds: unknown (None) after a ``*``,
    computed from unknown sources after a ``_Star`` computed on."""

    def computed_from(self) -> list[str]:
        """The sources that some result column shows changed."""
        columns = [*self.by_position, *self.by_name.values()]
        found = {s for column in columns if not column.unchanged for s in column.sources}
        return sorted(found - {UNKNOWN})

    def column(self, position: int, name: str) -> OutputColumn | None:
        if position < len(self.by_position):
            return self.by_position[position]
        found = self.by_name.get(name.lower())
        return found or (replace(self.rest, name=name) if self.rest else None)


def result_lineage(
    statement: exp.Expr,
    root: Scope | None = None,
    whole_rows: bool = True,
    column_sets: bool = True,
) -> ResultLineage | None:
    """The lineage of a query's result; None for a statement that is no query or that the
    lineage cannot follow. ``root``: the statement's root scope, when the caller has it;
    ``whole_rows``: whether a table's name used as a value is its whole row (see
    ``WHOLE_ROW_DIALECTS``); ``column_sets``: whether the statement may hold DuckDB's
    ``COLUMNS(...)`` (a caller that knows it holds none saves a walk of each column)."""
    if not isinstance(statement, exp.Query):
        return None
    try:
        root = root or build_scope(statement)
        lineage = _Lineage(whole_rows, column_sets)
        outputs = lineage.outputs(root) if root is not None else None
    except Exception:  # sqlglot cannot scope every statement it parses: no lineage
        return None
    if outputs is None:
        return None
    star = next((i for i, output in enumerate(outputs) if isinstance(output, _Star)), len(outputs))
    named = [output for output in outputs[star:] if isinstance(output, OutputColumn)]
    changed = any(isinstance(output, _Star) and output.changed for output in outputs)
    return ResultLineage(
        tuple(output for output in outputs[:star] if isinstance(output, OutputColumn)),
        {output.name.lower(): output for output in named if output.name},
        OutputColumn("", frozenset({UNKNOWN}), False) if changed else None,
    )


class _Lineage:
    def __init__(self, whole_rows: bool, column_sets: bool) -> None:
        self._outputs: dict[int, Outputs | None] = {}
        self._whole_rows = whole_rows
        self._column_sets = column_sets

    def outputs(self, scope: Scope) -> Outputs | None:
        key = id(scope)
        if key not in self._outputs:
            self._outputs[key] = None  # a recursive CTE refers to itself: unknown
            self._outputs[key] = self._compute(scope)
        return self._outputs[key]

    def _compute(self, scope: Scope) -> Outputs | None:
        expression = scope.expression
        if isinstance(expression, exp.SetOperation):
            return self._set_operation(scope)
        if isinstance(expression, exp.Select):
            return self._select(scope, expression)
        inner = [source for source in scope.sources.values() if isinstance(source, Scope)]
        if len(inner) == 1:  # LATERAL (SELECT ...)
            return self.outputs(inner[0])
        return None

    def _set_operation(self, scope: Scope) -> Outputs | None:
        """Columns named by the first branch, holding what every branch puts there; a
        branch's column after its ``*`` over a table is unknown and adds nothing."""
        branches = [self.outputs(branch) for branch in scope.set_operation_scopes]
        if not branches or any(branch is None for branch in branches):
            return None
        first = branches[0]
        assert first is not None
        merged: Outputs = []
        for position, output in enumerate(first):
            if isinstance(output, _Star):
                merged.append(output)
                break
            columns = [_known_at(branch, position) for branch in branches if branch]
            known = [column for column in columns if column is not None]
            merged.append(
                OutputColumn(
                    output.name,
                    frozenset().union(*(column.sources for column in known)),
                    len(known) == len(columns) and all(column.unchanged for column in known),
                )
            )
        return merged

    def _select(self, scope: Scope, select: exp.Select) -> Outputs:
        outputs: Outputs = []
        for projection in select.selects:
            if isinstance(projection, exp.Star):
                outputs += self._star_options(scope, projection, self._star(scope, None))
            elif isinstance(projection, exp.Column) and isinstance(projection.this, exp.Star):
                expanded = self._star(scope, projection.table)
                outputs += self._star_options(scope, projection.this, expanded)
            elif self._column_sets and projection.find(exp.Columns):
                outputs.append(_Star((), changed=not isinstance(projection.unalias(), exp.Columns)))
            else:
                outputs.append(self._projection(scope, projection))
        return outputs

    def _star_options(self, scope: Scope, star: exp.Star, expanded: Outputs) -> Outputs:
        """DuckDB's ``* EXCLUDE (...)``, ``* REPLACE (expr AS name)`` and ``* RENAME (a AS
        b)``; a replaced column of a table whose columns the lineage does not know follows
        the ``*``, found by name."""
        excluded = {column.name.lower() for column in star.args.get("except_") or []}
        renamed = {a.this.name.lower(): a.alias for a in star.args.get("rename") or []}
        replaced = {
            alias.alias.lower(): self._projection(scope, alias)
            for alias in star.args.get("replace") or []
        }
        options: Outputs = []
        for output in expanded:
            if isinstance(output, OutputColumn) and output.name.lower() not in excluded:
                key = output.name.lower()
                output = replaced.pop(key, output)
                options.append(replace(output, name=renamed.get(key, output.name)))
            elif isinstance(output, _Star):
                options.append(output)
        return options + list(replaced.values())

    def _star(self, scope: Scope, alias: str | None) -> Outputs:
        expanded: Outputs = []
        for name, (node, source) in scope.selected_sources.items():
            if alias and name != alias:
                continue
            if isinstance(source, Scope):
                child = self.outputs(source)
                expanded += child if child is not None else [_Star(())]
            else:
                expanded.append(_Star((table_name(node),)))
        return expanded

    def _projection(self, scope: Scope, projection: exp.Expr) -> OutputColumn:
        value = projection.unalias()
        sources: set[str] = set()
        row = _row_as_json_argument(value)
        unchanged = isinstance(value, exp.Column) or (
            row is not None and _names_a_row(scope, row, None, self._whole_rows)
        )
        for node in _value_nodes(value):
            if isinstance(node, exp.Column):
                found, same = self._column(scope, node)
            else:
                found, same = self._scalar_subquery(scope, node)
            sources |= found
            unchanged = unchanged and same
        return OutputColumn(projection.alias_or_name, frozenset(sources), unchanged)

    def _column(
        self, scope: Scope, column: exp.Column, skip: Scope | None = None
    ) -> tuple[frozenset[str], bool]:
        """The sources of a column reference, and whether it passes them on unchanged."""
        if _names_a_row(scope, column, skip, self._whole_rows):
            return self._whole_row(scope, column.table or column.name)
        if column.table:
            candidates = [scope.sources[column.table]] if column.table in scope.sources else []
        else:
            candidates = [source for source in scope.sources.values() if source is not skip]
        if not candidates and scope.parent is not None:
            return self._column(scope.parent, column, skip=scope)  # correlated or LATERAL
        if not candidates:
            return frozenset({UNKNOWN}), False
        sources: set[str] = set()
        unchanged = len(candidates) == 1
        for source in candidates:
            if isinstance(source, exp.Table):
                sources.add(f"{table_name(source)}.{column.name}")
                continue
            found, same = self._derived(source, column.name)
            sources |= found
            unchanged = unchanged and same
        return frozenset(sources), unchanged

    def _whole_row(self, scope: Scope, alias: str) -> tuple[frozenset[str], bool]:
        """``c``, ``c.*`` as a value: every column of source ``c``."""
        source = scope.sources[alias]
        if not isinstance(source, Scope):
            return frozenset({f"{table_name(source)}.{WHOLE_ROW}"}), True
        outputs = self.outputs(source)
        if outputs is None:
            return self._function_arguments(source), False
        sources: set[str] = set()
        for output in outputs:
            if isinstance(output, _Star):
                sources.update(f"{table}.{WHOLE_ROW}" for table in output.tables)
            else:
                sources |= output.sources
        return frozenset(sources or {UNKNOWN}), False

    def _derived(self, source: Scope, name: str) -> tuple[frozenset[str], bool]:
        """Column ``name`` of a subquery, CTE or set-returning function."""
        outputs = self.outputs(source)
        if outputs is None:
            return self._function_arguments(source), False
        for output in outputs:
            if isinstance(output, OutputColumn) and output.name.lower() == name.lower():
                return output.sources, output.unchanged
        stars = [output for output in outputs if isinstance(output, _Star)]
        tables = [table for star in stars for table in star.tables]
        if tables:
            return frozenset(f"{table}.{name}" for table in tables), len(tables) == 1
        return frozenset(), False

    def _function_arguments(self, source: Scope) -> frozenset[str]:
        """A set-returning function (``unnest(array[email])``) yields what its arguments
        hold; they refer to the scope around it."""
        outer = source.parent
        if outer is None:
            return frozenset({UNKNOWN})
        sources: set[str] = set()
        for node in _value_nodes(source.expression):
            if isinstance(node, exp.Column):
                sources |= self._column(outer, node, skip=source)[0]
        return frozenset(sources or {UNKNOWN})

    def _scalar_subquery(self, scope: Scope, subquery: exp.Subquery) -> tuple[frozenset[str], bool]:
        for child in scope.subquery_scopes:
            if child.expression is subquery.this:
                outputs = self.outputs(child)
                if outputs and isinstance(outputs[0], OutputColumn):
                    return outputs[0].sources, outputs[0].unchanged
        return frozenset({UNKNOWN}), False


def _known_at(outputs: Outputs, position: int) -> OutputColumn | None:
    for index, output in enumerate(outputs):
        if isinstance(output, _Star):
            return None
        if index == position:
            return output
    return None


def _names_a_row(scope: Scope, column: exp.Column, skip: Scope | None, bare: bool) -> bool:
    """``c.*`` inside an expression, or (``bare``) a lone ``c`` where ``c`` is a source
    in scope and not the subquery looking up its parent (``skip``)."""
    if isinstance(column.this, exp.Star):
        return column.table in scope.sources
    source = scope.sources.get(column.name)
    return bare and not column.table and source is not None and source is not skip


def _row_as_json_argument(node: exp.Expr) -> exp.Column | None:
    """The ``c`` of ``row_to_json(c)`` and the like: the row's values under its column
    names."""
    argument = _first_argument(node, (exp.JSONArrayAgg,), _ROW_AS_JSON)
    return argument if isinstance(argument, exp.Column) else None


def _is_measure(node: exp.Expr) -> bool:
    """A count or a length of columns (``count(DISTINCT email)``, ``length(name)``)."""
    argument = _first_argument(node, _MEASURES, _MEASURE_NAMES)
    if isinstance(argument, exp.Distinct):
        return all(isinstance(column, exp.Column) for column in argument.expressions)
    return isinstance(argument, exp.Column | exp.Star)


def _first_argument(
    node: exp.Expr, classes: tuple[type[exp.Expr], ...], names: frozenset[str]
) -> exp.Expr | None:
    """The first argument of ``node`` if it calls one of ``classes`` or a function sqlglot
    does not know by one of ``names``."""
    if isinstance(node, classes):
        argument = node.this
    elif isinstance(node, exp.Anonymous) and str(node.this).lower() in names:
        argument = node.expressions[0] if node.expressions else None
    else:
        return None
    return argument if isinstance(argument, exp.Expr) else None


def _value_nodes(node: exp.Expr) -> Iterator[exp.Column | exp.Subquery]:
    """The column references and scalar subqueries whose values flow into ``node``'s."""
    if isinstance(node, exp.Column):
        yield node
        return
    if _is_measure(node):
        return
    if isinstance(node, exp.Subquery):
        yield node
        return
    if isinstance(node, exp.Predicate | exp.Connector | exp.Not | exp.Exists):
        return
    if isinstance(node, exp.Case):
        branches = [branch.args.get("true") for branch in node.args.get("ifs") or []]
        parts = [*branches, node.args.get("default")]
    elif isinstance(node, exp.If):
        parts = [node.args.get("true"), node.args.get("false")]
    elif isinstance(node, exp.Window):
        parts = [node.this]
    else:
        parts = list(node.iter_expressions())
    for part in parts:
        if isinstance(part, exp.Expr):
            yield from _value_nodes(part)


def table_name(table: exp.Expr) -> str:
    """``schema.table`` as written; a derived table's alias."""
    if isinstance(table, exp.Table):
        return ".".join(part.name for part in table.parts)
    return table.alias_or_name
