"""SQL execution with the gateway's credentials: row cap, timeout, cancellation, Arrow out."""

from __future__ import annotations

import datetime
import decimal
import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import sqlalchemy as sa
import sqlglot
from sqlglot import TokenType

from nbwarden.config import ConnectionConfig
from nbwarden.executor.models import ExecutionError

CancelFunction = Callable[[], None]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SqlResult:
    table: pa.Table
    types: list[str]
    truncated: bool
    rows_affected: int | None
    elapsed_s: float


class StatementCancelled(ExecutionError):
    """The running statement was cancelled by its owner or by the timeout."""

    def __init__(self, timed_out: bool) -> None:
        super().__init__("statement timed out" if timed_out else "statement cancelled")
        self.timed_out = timed_out


class CancelHandle:
    """Cancels the statement running on one DB connection or process, from any thread.

    A driver cancel sent just before the statement reaches the server is lost, so once
    cancelling is requested it is repeated until the runner detaches. It also carries the
    count of rows fetched so far, which the gateway reports as progress while it runs.
    """

    RETRY_S = 0.25

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cancel: CancelFunction | None = None
        self._detached = threading.Event()
        self.requested = False
        self.timed_out = False
        self.rows_fetched = 0

    def attach(self, cancel: CancelFunction) -> None:
        with self._lock:
            self._cancel = cancel
            self._detached.clear()

    def detach(self) -> None:
        with self._lock:
            self._cancel = None
            self._detached.set()

    def cancel(self, timed_out: bool = False) -> None:
        with self._lock:
            if self.requested:
                return
            self.requested = True
            self.timed_out = timed_out
        threading.Thread(target=self._keep_cancelling, daemon=True).start()

    def _keep_cancelling(self) -> None:
        while True:
            with self._lock:
                cancel = self._cancel
            if cancel is not None:
                _call_quietly(cancel)
            if self._detached.wait(self.RETRY_S):
                return


class SqlRunner:
    """One SQLAlchemy engine per configured connection, created on first use."""

    def __init__(self, connections: dict[str, ConnectionConfig]) -> None:
        self.connections = connections
        self._engines: dict[str, sa.Engine] = {}
        self._lock = threading.Lock()

    def engine(self, name: str) -> sa.Engine:
        with self._lock:
            if name not in self._engines:
                engine = sa.create_engine(self.connections[name].url, pool_pre_ping=True)
                if engine.dialect.name == "sqlite":
                    sa.event.listen(engine, "connect", _tolerant_sqlite_text)
                self._engines[name] = engine
            return self._engines[name]

    def run(
        self,
        name: str,
        code: str,
        params: dict[str, Any] | None,
        handle: CancelHandle,
    ) -> SqlResult:
        """Run every statement of ``code`` in one transaction; the last one gives the result."""
        config = self.connections[name]
        engine = self.engine(name)
        started = time.perf_counter()
        timer = threading.Timer(config.timeout_s, handle.cancel, kwargs={"timed_out": True})
        timer.daemon = True
        with engine.connect() as conn:
            handle.attach(_cancel_function(engine, conn))
            timer.start()
            try:
                statements = split_statements(code, config.dialect)
                result = _run_statements(conn, statements, params, handle)
                table, types, truncated, affected = result(config.row_cap)
                conn.commit()
            except sa.exc.DBAPIError:
                if handle.requested:
                    raise StatementCancelled(handle.timed_out) from None
                raise
            finally:
                timer.cancel()
                handle.detach()
                if handle.requested:
                    conn.invalidate()  # a late cancel must never hit the next user's query
        if handle.requested:
            raise StatementCancelled(handle.timed_out)
        return SqlResult(table, types, truncated, affected, time.perf_counter() - started)

    def dispose(self) -> None:
        with self._lock:
            for engine in self._engines.values():
                engine.dispose()
            self._engines.clear()


def split_statements(code: str, dialect: str) -> list[str]:
    """The statements of a cell, as written (no re-rendering), split on top-level ``;``."""
    try:
        tokens = sqlglot.Dialect.get_or_raise(dialect).tokenize(code)
    except Exception:
        return [code]
    statements: list[str] = []
    start = 0
    for token in tokens:
        if token.token_type == TokenType.SEMICOLON:
            statements.append(code[start : token.start])
            start = token.end + 1
    statements.append(code[start:])
    return [s.strip() for s in statements if s.strip()] or [code]


FetchResult = Callable[[int], tuple[pa.Table, list[str], bool, int | None]]

FETCH_BATCH = 2000
"""Rows per fetch: small enough that the rows-fetched counter moves during long results."""

STREAMING_BACKENDS = {"postgresql": "postgres"}
"""Backends whose driver buffers a whole result at execute unless asked for a server-side
cursor, with the sqlglot dialect that tokenizes their SQL."""

_QUERY_START = frozenset({TokenType.SELECT, TokenType.VALUES, TokenType.WITH})
_NOT_IN_A_CURSOR = frozenset(
    {TokenType.INSERT, TokenType.UPDATE, TokenType.DELETE, TokenType.MERGE, TokenType.INTO}
)


def _run_statements(
    conn: sa.Connection,
    statements: Sequence[str],
    params: dict[str, Any] | None,
    handle: CancelHandle,
) -> FetchResult:
    last: sa.CursorResult[Any] | None = None
    for index, statement in enumerate(statements):
        if handle.requested:
            raise StatementCancelled(handle.timed_out)
        if last is not None:
            last.close()
        is_last = index == len(statements) - 1
        options = {"stream_results": is_last and _streams(conn, statement)}
        last = (
            conn.execute(sa.text(statement), params, execution_options=options)
            if params
            else conn.exec_driver_sql(_literal_percent(conn, statement), execution_options=options)
        )
    if last is not None and last.returns_rows:
        return _fetcher(last, list(last.keys()), handle)
    affected = last.rowcount if last is not None and last.rowcount >= 0 else None
    return lambda _cap: (pa.table({}), [], False, affected)


def _literal_percent(conn: sa.Connection, statement: str) -> str:
    """Drivers with ``%s`` placeholders read every ``%`` as one (``LIKE 'a%'``, ``7 % 3``);
    a statement sent without parameters has ``%`` doubled so it reaches the server as typed.
    """
    if conn.dialect.paramstyle in ("format", "pyformat"):
        return statement.replace("%", "%%")
    return statement


def _streams(conn: sa.Connection, statement: str) -> bool:
    """Whether to read ``statement`` through a server-side cursor, so rows arrive in batches.

    Only plain queries: PostgreSQL cannot declare a cursor over DML or ``SELECT INTO``.
    """
    dialect = STREAMING_BACKENDS.get(conn.dialect.name)
    if dialect is None:
        return False
    try:
        tokens = sqlglot.Dialect.get_or_raise(dialect).tokenize(statement)
    except Exception:
        return False
    kinds = {token.token_type for token in tokens}
    return bool(tokens) and tokens[0].token_type in _QUERY_START and not kinds & _NOT_IN_A_CURSOR


def _fetcher(cursor: sa.CursorResult[Any], columns: list[str], handle: CancelHandle) -> FetchResult:
    def fetch(cap: int) -> tuple[pa.Table, list[str], bool, int | None]:
        rows: list[Any] = []
        while len(rows) <= cap:
            wanted = min(FETCH_BATCH, cap + 1 - len(rows))
            batch = cursor.fetchmany(wanted)
            rows.extend(batch)
            handle.rows_fetched = min(len(rows), cap)
            if len(batch) < wanted:
                break
        cursor.close()
        truncated = len(rows) > cap
        table, types = rows_to_arrow(unique_names(columns), [tuple(r) for r in rows[:cap]])
        return table, types, truncated, None

    return fetch


def unique_names(columns: Sequence[str]) -> list[str]:
    """Column names made unique (``id``, ``id_1``) so unmasking by name is never ambiguous."""
    taken: set[str] = set()
    names: list[str] = []
    for column in columns:
        base = str(column) or "column"
        name, suffix = base, 0
        while name in taken:
            suffix += 1
            name = f"{base}_{suffix}"
        taken.add(name)
        names.append(name)
    return names


def rows_to_arrow(columns: list[str], rows: list[tuple[Any, ...]]) -> tuple[pa.Table, list[str]]:
    """An Arrow table of the rows; binary values become text (invalid UTF-8 replaced)
    so the masker can see into them; values Arrow cannot type become strings."""
    arrays: list[pa.Array] = []
    types: list[str] = []
    for index in range(len(columns)):
        values = [row[index] for row in rows]
        kinds = set(map(type, values)) - {type(None)}
        is_binary = any(issubclass(kind, bytes | bytearray | memoryview) for kind in kinds)
        array = _to_array(
            values if kinds <= _ARROW_READY else [_plain(v) for v in values],
            _decimal_type(values) if kinds == {decimal.Decimal} else None,
        )
        arrays.append(array)
        types.append("binary" if is_binary else str(array.type))
    return pa.Table.from_arrays(arrays, names=columns), types


_ARROW_READY = {
    str,
    int,
    float,
    bool,
    decimal.Decimal,
    datetime.datetime,
    datetime.date,
    datetime.time,
    datetime.timedelta,
}
"""Value types ``_plain`` passes through unchanged: a column of only these skips it."""


def _plain(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, default=str, ensure_ascii=False)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    module = type(value).__module__
    if module in ("datetime", "decimal"):
        return value
    return str(value)


def _decimal_type(values: list[Any]) -> pa.DataType | None:
    """The type pyarrow would infer for a column of Decimals, found about 3 times faster;
    None for NaN, infinities or more than 38 digits (left to inference)."""
    shapes = [value.as_tuple() for value in values if value is not None]
    exponents = [shape.exponent for shape in shapes]
    if not all(isinstance(exponent, int) for exponent in exponents):
        return None
    scale = max(0, -min(exponents, default=0))
    integer_digits = max(0, max((len(s.digits) + int(s.exponent) for s in shapes), default=1))
    precision = integer_digits + scale
    return pa.decimal128(max(precision, 1), scale) if precision <= 38 else None


def _to_array(values: list[Any], type_: pa.DataType | None = None) -> pa.Array:
    try:
        return pa.array(values, type_)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError, ValueError):
        return pa.array([None if v is None else str(v) for v in values], type=pa.string())


def _tolerant_sqlite_text(dbapi_connection: Any, _record: Any) -> None:
    """SQLite TEXT may hold invalid UTF-8: replace bad bytes instead of failing the query."""
    dbapi_connection.text_factory = lambda raw: raw.decode("utf-8", errors="replace")


def _call_quietly(cancel: CancelFunction) -> None:
    """A failed cancel must not kill the timer thread; the statement then simply finishes."""
    try:
        cancel()
    except Exception:
        log.warning("cancelling a statement failed", exc_info=False)


def _cancel_function(engine: sa.Engine, conn: sa.Connection) -> CancelFunction:
    """How to stop the statement running on ``conn`` from another thread, per driver."""
    raw: Any = conn.connection.dbapi_connection
    backend = engine.dialect.name
    if backend == "postgresql":
        return lambda: raw.cancel_safe() if hasattr(raw, "cancel_safe") else raw.cancel()
    if backend in ("mysql", "mariadb"):
        thread_id = int(raw.thread_id())

        def kill_query() -> None:
            with engine.connect() as killer:
                killer.exec_driver_sql(f"KILL QUERY {thread_id}")

        return kill_query
    if hasattr(raw, "interrupt"):
        return lambda: raw.interrupt()
    return lambda: raw.close()
