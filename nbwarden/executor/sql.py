"""SQL execution with the gateway's credentials: row cap, timeout, cancellation, Arrow out."""

from __future__ import annotations

import bisect
import contextlib
import datetime
import decimal
import heapq
import itertools
import json
import logging
import operator
import select
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
import psycopg.adapt
import psycopg.types.string
import pyarrow as pa
import sqlalchemy as sa
import sqlglot
from psycopg.abc import Buffer
from sqlglot import Token, TokenType

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
    truncated_by: str | None = None
    """The cap that cut the result: ``row_cap`` or ``result_cap_bytes``."""


@dataclass(frozen=True)
class ResultCaps:
    """How much of a result is read: at most ``rows`` rows and ``bytes`` bytes, as
    :func:`_column_bytes` counts them."""

    rows: int
    bytes: int


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


class _Watchdog:
    """Times statements out from one shared thread, instead of starting a timer thread per
    query (which costs about as much as a small query)."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._deadlines: list[tuple[float, int, CancelHandle]] = []
        self._watched: set[int] = set()
        self._tickets = itertools.count()
        self._thread: threading.Thread | None = None

    def watch(self, timeout_s: float, handle: CancelHandle) -> int:
        """Cancel ``handle`` (as timed out) in ``timeout_s`` unless ``forget`` comes first."""
        with self._condition:
            ticket = next(self._tickets)
            deadline = (time.monotonic() + timeout_s, ticket, handle)
            heapq.heappush(self._deadlines, deadline)
            self._watched.add(ticket)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="sql-timeout", daemon=True)
                self._thread.start()
            if self._deadlines[0] is deadline:  # else the thread wakes earlier anyway
                self._condition.notify()
        return ticket

    def forget(self, ticket: int) -> None:
        with self._condition:
            self._watched.discard(ticket)
            self._drop_forgotten()

    def _drop_forgotten(self) -> None:
        """Pop the forgotten deadlines that come first (usually all of them: statements
        mostly end in the order they started)."""
        while self._deadlines and self._deadlines[0][1] not in self._watched:
            heapq.heappop(self._deadlines)

    def _run(self) -> None:
        with self._condition:
            while True:
                self._drop_forgotten()
                if not self._deadlines:
                    self._condition.wait()
                    continue
                deadline, ticket, handle = self._deadlines[0]
                wait = deadline - time.monotonic()
                if wait > 0:
                    self._condition.wait(wait)
                    continue
                heapq.heappop(self._deadlines)
                self._watched.discard(ticket)
                handle.cancel(timed_out=True)  # under the lock: never after ``forget``


_WATCHDOG = _Watchdog()


class _NoDriverText(logging.Filter):
    """Keeps the type of an error SQLAlchemy logs itself (closing a cursor, resetting a
    pooled connection) and drops its text: a driver message can quote a data value
    (``Key (email)=(...) already exists``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if error is not None:
            record.msg = f"{record.getMessage()} ({type(error).__name__})"
            record.args, record.exc_info, record.exc_text = (), None, None
        return True


_NO_DRIVER_TEXT = _NoDriverText()


def _keep_driver_text_out_of_logs(engine: sa.Engine) -> None:
    for logger in (engine.logger, engine.pool.logger):
        if isinstance(logger, sa.log.InstanceLogger):  # echo wraps the logger
            logger = logger.logger
        logger.addFilter(_NO_DRIVER_TEXT)


class SqlRunner:
    """One SQLAlchemy engine per configured connection, created on first use."""

    def __init__(self, connections: dict[str, ConnectionConfig]) -> None:
        self.connections = connections
        self._engines: dict[str, sa.Engine] = {}
        self._lock = threading.Lock()

    def engine(self, name: str) -> sa.Engine:
        with self._lock:
            if name not in self._engines:
                url = sa.make_url(self.connections[name].url)
                psycopg_driver = url.get_dialect().driver == "psycopg"
                socket_check = psycopg_driver and hasattr(select, "poll")
                engine = sa.create_engine(url, pool_pre_ping=not socket_check)
                _keep_driver_text_out_of_logs(engine)
                if socket_check:
                    sa.event.listen(engine, "checkout", _refuse_closed_by_server)
                if engine.dialect.name == "sqlite":
                    sa.event.listen(engine, "connect", _tolerant_sqlite_text)
                if psycopg_driver:  # before SQLAlchemy's first query
                    sa.event.listen(engine, "connect", _text_loaders, insert=True)
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
        with engine.connect() as conn:
            handle.attach(_cancel_function(engine, conn))
            ticket = _WATCHDOG.watch(config.timeout_s, handle)
            try:
                statements = _split(code, config.dialect)
                streams = _streams(conn, statements[-1], config.dialect)
                caps = ResultCaps(config.row_cap, config.result_cap_bytes)
                fetched = _run_statements(conn, statements, params, handle, caps, streams)
                table, types, truncated_by, affected = fetched
                if handle.requested:  # cancelled after the last statement: roll it back
                    raise StatementCancelled(handle.timed_out)
                if not conn.invalidated:  # else a lone capped query, cut on the server
                    conn.commit()
            except sa.exc.DBAPIError:
                if handle.requested:
                    raise StatementCancelled(handle.timed_out) from None
                raise
            finally:
                _WATCHDOG.forget(ticket)
                handle.detach()
                if handle.requested:
                    conn.invalidate()  # a late cancel must never hit the next user's query
        elapsed = time.perf_counter() - started
        return SqlResult(table, types, truncated_by is not None, affected, elapsed, truncated_by)

    def dispose(self) -> None:
        with self._lock:
            for engine in self._engines.values():
                engine.dispose()
            self._engines.clear()


Statement = tuple[str, list[Token] | None]
"""A statement as written, with its tokens (None: it could not be tokenized)."""


def split_statements(code: str, dialect: str) -> list[str]:
    """The statements of a cell, as written (no re-rendering), split on top-level ``;``."""
    return [text for text, _ in _split(code, dialect)]


def _split(code: str, dialect: str) -> list[Statement]:
    """``split_statements`` keeping each statement's tokens, so that deciding how to read
    the last one needs no second tokenisation."""
    tokens = _tokenize(code, dialect)
    if tokens is None:
        return [(code, None)]
    statements: list[Statement] = []
    start = first = 0
    for index, token in enumerate(tokens):
        if token.token_type == TokenType.SEMICOLON:
            statements.append((code[start : token.start], tokens[first:index]))
            start, first = token.end + 1, index + 1
    statements.append((code[start:], tokens[first:]))
    return [(text.strip(), part) for text, part in statements if text.strip()] or [(code, tokens)]


def _tokenize(code: str, dialect: str) -> list[Token] | None:
    try:
        return sqlglot.Dialect.get_or_raise(dialect).tokenize(code)
    except Exception:
        return None


Fetched = tuple[pa.Table, list[str], str | None, int | None]
"""The table, its Arrow type strings, the cap that cut it (if one did), rows affected."""

FETCH_BATCH = 2000
"""Rows per fetch: small enough that the rows-fetched counter moves during long results."""
FIXED_VALUE_BYTES = 8
"""What each value counts toward the byte cap, text, binary and JSON adding their length."""

Batch = tuple[list[str], Any, Sequence[Any]]
"""Column names, the DB-API cursor description and the next rows of a result."""

Reader = Callable[[int], Batch]
"""Gives a batch of at most ``n`` rows."""

Streamer = Callable[
    [sa.Connection, str, dict[str, Any] | None, bool], contextlib.AbstractContextManager[Reader]
]
"""Runs a query so that its rows arrive in batches, and gives the reader of those batches;
the flag says whether the query is the cell's only statement."""

_CURSOR = "nbwarden_result"
"""The cursor a streamed statement is declared as; committing the transaction closes it."""

_QUERY_START = frozenset({TokenType.SELECT, TokenType.VALUES, TokenType.WITH})
_NOT_IN_A_CURSOR = frozenset(
    {TokenType.INSERT, TokenType.UPDATE, TokenType.DELETE, TokenType.MERGE, TokenType.INTO}
)


def _run_statements(
    conn: sa.Connection,
    statements: Sequence[Statement],
    params: dict[str, Any] | None,
    handle: CancelHandle,
    caps: ResultCaps,
    stream_last: Streamer | None,
) -> Fetched:
    """Every statement in turn; the last one's rows are read through ``stream_last`` if
    given, so that they arrive in batches."""
    last: sa.CursorResult[Any] | None = None
    for index, (statement, _tokens) in enumerate(statements):
        if handle.requested:
            raise StatementCancelled(handle.timed_out)
        if last is not None:
            last.close()
        if stream_last is not None and index == len(statements) - 1:
            with stream_last(conn, statement, params, index == 0) as read:
                return _fetch(read, caps, handle)
        last = _execute(conn, statement, params)
    if last is not None and last.returns_rows:
        fetched = _fetch(_result_reader(last), caps, handle)
        last.close()
        return fetched
    affected = last.rowcount if last is not None and last.rowcount >= 0 else None
    return pa.table({}), [], None, affected


def _execute(
    conn: sa.Connection, statement: str, params: dict[str, Any] | None, **options: Any
) -> sa.CursorResult[Any]:
    """``statement`` run with its parameters, if any, and SQLAlchemy execution ``options``."""
    if params:
        return conn.execute(sa.text(statement), params, execution_options=options)
    return conn.exec_driver_sql(_literal_percent(conn, statement), execution_options=options)


def _literal_percent(conn: sa.Connection, statement: str) -> str:
    """Drivers with ``%s`` placeholders read every ``%`` as one (``LIKE 'a%'``, ``7 % 3``);
    a statement sent without parameters has ``%`` doubled so it reaches the server as typed.
    """
    if conn.dialect.paramstyle in ("format", "pyformat"):
        return statement.replace("%", "%%")
    return statement


def _streams(conn: sa.Connection, statement: Statement, dialect: str) -> Streamer | None:
    """How to read ``statement`` so that its rows arrive in batches; None: as the driver
    gives them.

    Only plain queries: PostgreSQL cannot declare a cursor over DML or ``SELECT INTO``,
    and MySQL's unbuffered cursor is for statements that return rows.
    """
    streaming = STREAMING_BACKENDS.get(conn.dialect.name)
    if streaming is None:
        return None
    text, tokens = statement
    if dialect != streaming.dialect:
        tokens = _tokenize(text, streaming.dialect)
    if not tokens:
        return None
    kinds = {token.token_type for token in tokens}
    if tokens[0].token_type in _QUERY_START and not kinds & _NOT_IN_A_CURSOR:
        return streaming.stream
    return None


def _result_reader(result: sa.CursorResult[Any]) -> Reader:
    """Batches of a result the driver holds, computes or streams as it goes (SQLite,
    DuckDB, MySQL)."""
    columns, description = list(result.keys()), result.cursor.description
    return lambda wanted: (columns, description, result.fetchmany(wanted))


@contextlib.contextmanager
def _declared_cursor(
    conn: sa.Connection, statement: str, params: dict[str, Any] | None, _alone: bool
) -> Iterator[Reader]:
    """PostgreSQL: ``statement`` declared as a server-side cursor, read one ``FETCH`` a
    batch: no describe, ``CLOSE`` or one-row prefetch round trips, which SQLAlchemy's
    ``stream_results`` adds to every query on psycopg. Rows past the row cap are never
    computed: the commit closes the cursor."""
    _execute(conn, f"DECLARE {_CURSOR} NO SCROLL CURSOR FOR {statement}", params).close()

    def read(wanted: int) -> Batch:
        with conn.exec_driver_sql(f"FETCH FORWARD {wanted} FROM {_CURSOR}") as result:
            cursor = result.cursor  # the rows are in memory: plain tuples, no Row objects
            return list(result.keys()), cursor.description, cursor.fetchall()

    yield read


@contextlib.contextmanager
def _unbuffered_cursor(
    conn: sa.Connection, statement: str, params: dict[str, Any] | None, alone: bool
) -> Iterator[Reader]:
    """MySQL/MariaDB: the server sends every result as it goes; SQLAlchemy's
    ``stream_results`` has the driver read it through an unbuffered cursor (pymysql
    ``SSCursor``) instead of all of it at execute, at no extra round trip.

    The protocol cannot stop a result half-way. When the row cap cuts the cell's only
    statement, the statement is killed on the server (it would go on computing rows
    nobody reads); otherwise the rest is read and dropped, so the cell's earlier
    statements can still be committed.
    """
    with _execute(conn, statement, params, stream_results=True) as result:
        read = _result_reader(result)
        ended = False

        def read_and_note_the_end(wanted: int) -> Batch:
            nonlocal ended
            batch = read(wanted)
            ended = len(batch[2]) < wanted
            return batch

        yield read_and_note_the_end
        if alone and not ended:
            _kill_and_drop(conn, result.cursor)
        elif result.cursor is not None:  # None once the driver read the end of the result
            _drain(result.cursor)


def _kill_and_drop(conn: sa.Connection, cursor: Any) -> None:
    """End a statement the row cap cut: ``KILL QUERY`` from another connection, read up to
    the error it ends with, and drop the connection, so a kill that arrived after the
    statement ended cannot reach the next statement sent on it. The cell's only statement
    returned rows, so its transaction holds nothing to commit."""
    _call_quietly(_cancel_function(conn.engine, conn))
    with contextlib.suppress(Exception):  # "Query execution was interrupted"
        cursor.close()
    conn.invalidate()


def _drain(cursor: Any) -> None:
    """Read the rows past the row cap. An error among them is not the cell's (PostgreSQL
    never computes those rows): the capped rows stand, and only the error's type is
    logged, as a driver message can quote a value (SQLAlchemy would log all of it)."""
    try:
        cursor.close()
    except Exception as exc:
        log.warning(
            "rows past the row cap ended with %s; the capped rows stand", type(exc).__name__
        )


@dataclass(frozen=True)
class Streaming:
    """How a backend streams a query's rows, and the sqlglot dialect that tokenizes it."""

    dialect: str
    stream: Streamer


STREAMING_BACKENDS = {
    "postgresql": Streaming("postgres", _declared_cursor),
    "mysql": Streaming("mysql", _unbuffered_cursor),
    "mariadb": Streaming("mysql", _unbuffered_cursor),
}
"""Backends whose driver buffers a whole result at execute unless asked to stream it."""


def _fetch(read: Reader, caps: ResultCaps, handle: CancelHandle) -> Fetched:
    """Up to ``caps.rows`` rows and ``caps.bytes`` bytes, in batches, so the rows-fetched
    counter moves during long results. Once a batch shows how large rows are, the next
    one asks for little more than the bytes left: a result of large values stops soon
    after the cap instead of holding a whole batch of them."""
    parts: list[_Columns] = []
    first: Batch | None = None
    rows = size = 0
    cut_by: str | None = None
    while cut_by is None:
        wanted = _batch_size(rows, size, caps)
        batch = read(wanted)
        first = first or batch
        part = _Columns.of_rows(batch[2], len(batch[0]))
        if size + part.bytes > caps.bytes:
            part = part.head_within(caps.bytes - size)
            cut_by = "result_cap_bytes"
        parts.append(part)
        rows, size = rows + part.length, size + part.bytes
        if rows > caps.rows:
            cut_by = "row_cap"
        handle.rows_fetched = min(rows, caps.rows)
        if len(batch[2]) < wanted:
            break
    names, description, _ = first or ([], None, [])
    declared = [_declared_decimal(column) for column in description or []]
    numeric_text = [_is_numeric(column) for column in description or []]
    columns, kinds = _Columns.joined(parts, len(names), min(rows, caps.rows))
    table, types = _columns_to_arrow(unique_names(names), columns, kinds, declared, numeric_text)
    return table, types, cut_by, None


def _batch_size(rows: int, size: int, caps: ResultCaps) -> int:
    wanted = min(FETCH_BATCH, caps.rows + 1 - rows)
    if rows:
        wanted = min(wanted, (caps.bytes - size) // max(1, size // rows) + 1)
    return max(1, wanted)


class _Columns:
    """A batch of rows as columns, with the types in each column and the batch's bytes
    (:func:`_column_bytes`); the Arrow conversion reads both instead of a second pass."""

    def __init__(self, values: list[Sequence[Any]], length: int) -> None:
        self.values = values
        self.length = length
        self.kinds = [set(map(type, column)) for column in values]
        variable = sum(map(_column_bytes, values, self.kinds))
        self.bytes = FIXED_VALUE_BYTES * length * len(values) + variable

    @classmethod
    def of_rows(cls, rows: Sequence[Sequence[Any]], width: int) -> _Columns:
        values: list[Sequence[Any]] = [() for _ in range(width)]
        if rows:
            values = list(zip(*rows, strict=True))
        return cls(values, len(rows))

    def head_within(self, budget: int) -> _Columns:
        """The first rows whose bytes add up to at most ``budget``."""
        sizes = [FIXED_VALUE_BYTES * len(self.values)] * self.length
        for column in self.values:
            sizes = list(map(operator.add, sizes, map(_value_bytes, column)))
        fits = bisect.bisect_right(list(itertools.accumulate(sizes)), budget)
        return _Columns([column[:fits] for column in self.values], fits)

    @staticmethod
    def joined(
        parts: list[_Columns], width: int, rows: int
    ) -> tuple[list[Sequence[Any]], list[set[type]]]:
        """The first ``rows`` rows of all batches, as columns, with their value types."""
        if len(parts) == 1:
            values = parts[0].values
            kinds = parts[0].kinds
        else:
            values = [
                list(itertools.chain.from_iterable(p.values[i] for p in parts))
                for i in range(width)
            ]
            kinds = [set().union(*(p.kinds[i] for p in parts)) for i in range(width)]
        if sum(part.length for part in parts) > rows:
            values = [column[:rows] for column in values]
        return values, kinds


_LENGTH_TYPES = (str, bytes, bytearray, memoryview)
_JSON_TYPES = (dict, list, tuple)


def _column_bytes(column: Sequence[Any], kinds: set[type]) -> int:
    """The characters of a column's text, the bytes of its binary values and the length of
    its JSON values as text (each value's ``FIXED_VALUE_BYTES`` are counted apart)."""
    if not any(issubclass(kind, (*_LENGTH_TYPES, *_JSON_TYPES)) for kind in kinds):
        return 0
    if all(issubclass(kind, (*_LENGTH_TYPES, type(None))) for kind in kinds):
        return sum(map(len, filter(None, column)))
    return sum(map(_value_bytes, column))


def _value_bytes(value: Any) -> int:
    if isinstance(value, _LENGTH_TYPES):
        return len(value)
    if isinstance(value, _JSON_TYPES):
        return len(json.dumps(value, default=str, ensure_ascii=False))
    return 0


_PG_NUMERIC = 1700


def _is_numeric(column: Any) -> bool:
    """Whether a column is PostgreSQL ``numeric``, which psycopg reads as text here
    (:func:`_text_loaders`)."""
    return isinstance(column, psycopg.Column) and column.type_code == _PG_NUMERIC


def _declared_decimal(column: Any) -> pa.DataType | None:
    """``decimal128(p, s)`` for a PostgreSQL ``numeric(p, s)`` column, which saves scanning
    its values; None for any other column, or when Arrow could not hold it.

    Only psycopg's description says precision and scale reliably (MySQL drivers give a
    display width), so it is recognised by its type: ``psycopg.Column``.
    """
    if not _is_numeric(column):
        return None
    precision, scale = column.precision, column.scale
    if precision is None or scale is None:
        return None
    if 0 < precision <= 38 and 0 <= scale <= precision:
        return pa.decimal128(precision, scale)
    return None


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


def rows_to_arrow(
    columns: list[str],
    rows: Sequence[Sequence[Any]],
    declared: Sequence[pa.DataType | None] = (),
) -> tuple[pa.Table, list[str]]:
    """An Arrow table of the rows; binary values become text (invalid UTF-8 replaced)
    so the masker can see into them; values Arrow cannot type become strings.

    ``declared`` may give a decimal type per column (from the database's column type); a
    value that does not fit it is never rounded: the column is then typed by its values.
    """
    batch = _Columns.of_rows(rows, len(columns))
    return _columns_to_arrow(columns, batch.values, batch.kinds, declared)


def _columns_to_arrow(
    names: list[str],
    columns: Sequence[Sequence[Any]],
    kinds_per_column: Sequence[set[type]],
    declared: Sequence[pa.DataType | None],
    numeric_text: Sequence[bool] = (),
) -> tuple[pa.Table, list[str]]:
    """``rows_to_arrow`` for rows already in columns, with the value types of each;
    ``numeric_text`` marks the columns that hold PostgreSQL ``numeric`` values as text."""
    arrays: list[pa.Array] = []
    types: list[str] = []
    for index, (values, all_kinds) in enumerate(zip(columns, kinds_per_column, strict=True)):
        kinds = all_kinds - {type(None)}
        hint = declared[index] if index < len(declared) else None
        if index < len(numeric_text) and numeric_text[index] and kinds == {str}:
            array = _numeric_text_array(values, hint)
        elif kinds == {decimal.Decimal}:
            array = _decimal_array(values, hint)
        elif kinds == {str}:
            array = _to_array(values, pa.string())  # what inference gives, 4 times faster
        elif kinds <= _ARROW_READY:
            array = _to_array(values)
        else:
            array = _to_array([_plain(value) for value in values])
        arrays.append(array)
        is_binary = any(issubclass(kind, bytes | bytearray | memoryview) for kind in kinds)
        types.append("binary" if is_binary else str(array.type))
    return pa.Table.from_arrays(arrays, names=names), types


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


def _numeric_text_array(values: Sequence[str | None], declared: pa.DataType | None) -> pa.Array:
    """PostgreSQL ``numeric`` text parsed by Arrow at the declared type, about twice as
    fast as psycopg's ``Decimal`` per value and the checks on it. Arrow refuses a value
    that would lose a digit or does not fit; such values, ``NaN``, infinities and an
    undeclared column are read as Decimals and typed as :func:`_decimal_array` types
    them."""
    if declared is not None:
        try:
            return pa.array(values, pa.string()).cast(declared)
        except (pa.ArrowInvalid, pa.ArrowTypeError, ValueError):
            pass
    return _decimal_array([None if v is None else decimal.Decimal(v) for v in values], declared)


def _decimal_array(values: Sequence[Any], declared: pa.DataType | None) -> pa.Array:
    if declared is not None and _at_scale(values, declared.scale):
        try:
            return pa.array(values, declared)  # raises when a value has too many digits
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError):
            pass
    return _to_array(values, _decimal_type(values))


def _at_scale(values: Sequence[Any], scale: int) -> bool:
    """Whether every value has exactly ``scale`` decimal places, as PostgreSQL gives a
    ``numeric(p, s)`` column. pyarrow refuses most values that would lose a digit at the
    declared scale but turns some tiny ones into 0 (``9.9E-25`` at scale 10), so only
    values already at the scale take the declared type."""
    quantum = decimal.Decimal(1).scaleb(-scale)
    return all(value is None or value.same_quantum(quantum) for value in values)


def _decimal_type(values: Sequence[Any]) -> pa.DataType | None:
    """The type pyarrow would infer for a column of Decimals, found about 10 times faster;
    None for NaN, infinities or more than 38 digits (left to inference)."""
    finite = [value for value in values if value is not None]
    if not all(map(decimal.Decimal.is_finite, finite)):
        return None
    scale = max(0, -min(_exponents(finite), default=0))
    integer_digits = max(0, max(map(decimal.Decimal.adjusted, finite), default=0) + 1)
    precision = integer_digits + scale
    return pa.decimal128(max(precision, 1), scale) if precision <= 38 else None


def _exponents(finite: list[decimal.Decimal]) -> list[int]:
    """The exponents of finite Decimals: a column's values usually share one, which is
    checked without unpacking each value."""
    if finite and all(map(finite[0].same_quantum, finite)):
        return [int(finite[0].as_tuple().exponent)]
    return [int(value.as_tuple().exponent) for value in finite]


def _to_array(values: Sequence[Any], type_: pa.DataType | None = None) -> pa.Array:
    try:
        return pa.array(values, type_)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError, ValueError):
        return pa.array([None if v is None else str(v) for v in values], type=pa.string())


def _tolerant_sqlite_text(dbapi_connection: Any, _record: Any) -> None:
    """SQLite TEXT may hold invalid UTF-8: replace bad bytes instead of failing the query."""
    dbapi_connection.text_factory = lambda raw: raw.decode("utf-8", errors="replace")


class _ReplacingTextLoader(psycopg.adapt.Loader):
    def load(self, data: Buffer) -> str:
        return bytes(data).decode("utf-8", errors="replace")


_TEXT_TYPES = (0, "text", "varchar", "bpchar", "name", '"char"')
"""The types psycopg reads with its text loader; 0 stands for any type it has no loader for."""


def _text_loaders(dbapi_connection: Any, _record: Any) -> None:
    """``numeric`` is read as text, which Arrow parses (:func:`_numeric_text_array`).

    A ``SQL_ASCII`` database stores any bytes, and psycopg gives its text as ``bytes``,
    which SQLAlchemy's own first query (the server version) cannot read. Its text is read
    as UTF-8 with bad bytes replaced, as for SQLite."""
    adapters = dbapi_connection.adapters
    if dbapi_connection.info.encoding == "ascii":  # psycopg's name for SQL_ASCII
        for type_ in (*_TEXT_TYPES, "numeric"):
            adapters.register_loader(type_, _ReplacingTextLoader)
    else:
        adapters.register_loader("numeric", psycopg.types.string.TextLoader)


def _refuse_closed_by_server(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """At checkout, drop a pooled psycopg connection the server has closed (restart,
    terminated backend): the pool then opens a new one.

    Stands in for ``pool_pre_ping``, a round trip per query: an idle healthy connection has
    nothing to read, while one the server closed reads as its error and end of file. Polling
    the socket costs no round trip.
    """
    if _closed_by_server(dbapi_connection):
        raise sa.exc.DisconnectionError("connection closed by the server")


def _closed_by_server(raw: Any) -> bool:
    try:
        if raw.closed or raw.broken:
            return True
        poller = select.poll()
        poller.register(raw.pgconn.socket, select.POLLIN)
        return bool(poller.poll(0))
    except Exception:
        return True


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
