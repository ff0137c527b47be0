"""The provenance store: one writer thread owns the DuckDB file and appends in batches."""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import hmac
import json
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

import duckdb
import pyarrow as pa

from nbwarden.caches import BoundedCache
from nbwarden.config import AuditConfig
from nbwarden.identifiers import normalize_identifier
from nbwarden.keys import (
    CHAIN_SIGNATURE,
    SUBJECT_INDEX,
    KeyFileError,
    derive_key,
    load_master_key,
    load_or_create_master_key,
)
from nbwarden.provenance import queries
from nbwarden.provenance.chain import (
    Checkpoint,
    chain_hashes,
    head_file_path,
    load_checkpoints,
    verify_chain,
    write_head_file,
)
from nbwarden.provenance.models import (
    END_STATUSES,
    EXECUTION_KINDS,
    ApprovalEvent,
    ExecutionEnd,
    ExecutionStart,
    GroupedSubjects,
    ProvenanceError,
    SubjectLike,
    VerifyReport,
    utc_naive,
)
from nbwarden.provenance.schema import (
    APPROVAL_EVENTS,
    CHAIN_TAIL,
    CHAINED_COLUMNS,
    CHECKPOINTS,
    EXECUTION_ENDS,
    EXECUTION_STARTS,
    GENESIS_HASH,
    PENDING_SUBJECTS,
    SCHEMA_VERSION,
    SUBJECT_COLUMNS,
    TIME_COLUMN,
    arrow_schema,
    canonical_body,
    epoch_us,
    index_pending_subjects,
    migrate,
    pending_subject_seqs,
    schema_version,
    splits_back,
    subject_key,
    subject_line_affixes,
)
from nbwarden.provenance.schema import SUBJECT_INDEX as SUBJECT_INDEX_TABLE

P = ParamSpec("P")
T = TypeVar("T")
MAX_BATCH = 4096
GROUP_COMMIT_LINGER_S = 0.0005
MAX_QUEUE = 4 * MAX_BATCH
"""Callers block when this many appends wait, so a burst cannot starve durable calls."""
INDEX_WHEN_IDLE_S = 0.05
"""The writer moves pending subject lines into ``subject_index`` once nothing was queued
for this long (between cells, in a notebook)."""
INDEX_BACKLOG_LINES = 500_000
"""...or once this many lines wait, so a store that is never idle keeps its index small."""
SUBJECT_HMAC_CACHE_ENTRIES = 200_000
SubjectColumns = list[list[Any]]
"""Subject index rows as one list per column of ``SUBJECT_COLUMNS``."""
_STORED_AFTER_CHAIN = {EXECUTION_ENDS: ((PENDING_SUBJECTS, "VARCHAR"),)}
"""Columns a record table holds after its chain columns (not covered by the hash)."""
_RECORD_SCHEMAS = {
    table: arrow_schema(columns + CHAIN_TAIL + _STORED_AFTER_CHAIN.get(table, ()))
    for table, columns in CHAINED_COLUMNS.items()
}
_SUBJECT_SCHEMA = arrow_schema(SUBJECT_COLUMNS)
_OPEN_PATHS: set[Path] = set()
_OPEN_LOCK = threading.Lock()


_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _json(value: Any) -> str:
    return _JSON.encode(value) if value else ("{}" if isinstance(value, dict) else "[]")


@dataclass(slots=True)
class _Append:
    """One record to chain: its content columns in schema order, without ``seq``.

    ``future`` is set only for durable calls; a non-durable failure is reported by the
    next call (``_deferred_error``).
    """

    table: str
    row: tuple[Any, ...]
    future: Future[int] | None = None
    subject_lines: str | None = None
    """An end record's sorted subject lines, indexed later by the writer."""
    subjects: SubjectColumns | None = None
    """Subject rows to index with the record (lines that would not split back)."""
    seq: int = 0


@dataclass
class _Command:
    name: str
    argument: Any = None
    future: Future[Any] = field(default_factory=Future)


class ProvenanceStore:
    """The single writer of one provenance file; thread-safe.

    Appends from any thread go through a queue to one writer thread, which chains and
    inserts them in batches, one transaction per batch. ``durable=True`` (the default)
    returns once that transaction committed; ``durable=False`` returns at once and the
    record is durable after the next :meth:`flush` or durable call.
    """

    def __init__(self, audit: AuditConfig, *, read_only: bool = False) -> None:
        self.path = Path(audit.path).resolve()
        self.retention_days = audit.retention_days
        self.checkpoint_every = max(1, audit.checkpoint_every)
        self.read_only = read_only
        master = self._master_key(Path(audit.key_file), read_only)
        self._subject_key = derive_key(master, SUBJECT_INDEX)
        self._subject_hmacs: BoundedCache[tuple[str, str], str] = BoundedCache(
            SUBJECT_HMAC_CACHE_ENTRIES
        )
        self._signing_key = derive_key(master, CHAIN_SIGNATURE)
        self._claim_path()
        try:
            self._db = self._connect()
        except BaseException:
            self._release_path()
            raise
        self._queue: queue.Queue[_Append | _Command] = queue.Queue(maxsize=MAX_QUEUE)
        self._open_ids: set[str] = set()
        self._ids_lock = threading.Lock()
        self._closed = False
        self._unflushed = False
        """Set by a non-durable append; a read commits it first (read your own writes)."""
        self._deferred_error: ProvenanceError | None = None
        self._submit_lock = threading.Lock()
        self._maintenance = threading.Lock()
        """Held by verify and purge so a verification never sees half a purge."""
        self._unpublished_head: tuple[Checkpoint, str] | None = None
        self._pending: tuple[int, int] | None = None
        """First and last seq of end records whose subject lines the writer has yet to
        index (writer thread only)."""
        self._pending_lines = 0
        self._writer: threading.Thread | None = None
        if not read_only:
            atexit.register(self.close)
            try:
                self._start_writer()
            except BaseException:
                self.close()
                raise

    # -- opening ----------------------------------------------------------------------

    @staticmethod
    def _master_key(key_file: Path, read_only: bool) -> bytes:
        try:
            if read_only:
                return load_master_key(key_file)
            return load_or_create_master_key(key_file)
        except FileNotFoundError:
            raise ProvenanceError(f"audit key file {key_file} does not exist") from None
        except (KeyFileError, OSError) as exc:
            raise ProvenanceError(f"audit key file: {exc}") from None

    def _claim_path(self) -> None:
        with _OPEN_LOCK:
            if self.path in _OPEN_PATHS:
                raise ProvenanceError(f"{self.path} is already open in this process")
            _OPEN_PATHS.add(self.path)

    def _release_path(self) -> None:
        with _OPEN_LOCK:
            _OPEN_PATHS.discard(self.path)

    def _connect(self) -> duckdb.DuckDBPyConnection:
        if self.read_only and not self.path.exists():
            raise ProvenanceError(f"audit store {self.path} does not exist")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = self._open(read_only=self.read_only)
        if self.read_only and (schema_version(db) < SCHEMA_VERSION or pending_subject_seqs(db)):
            db.close()
            self._bring_up_to_date()
            db = self._open(read_only=True)
        return db

    def _bring_up_to_date(self) -> None:
        """Migrate the file and index the subject lines a stopped gateway left pending,
        so a reader without a gateway sees what the gateway would show."""
        db = self._open(read_only=False)
        try:
            seqs = pending_subject_seqs(db)
            if seqs is not None:
                index_pending_subjects(db, seqs)
        except duckdb.Error as exc:
            raise ProvenanceError(f"cannot index the subjects of {self.path}: {exc}") from None
        finally:
            db.close()

    def _open(self, *, read_only: bool) -> duckdb.DuckDBPyConnection:
        """A connection to the file; read-write ones bring its schema up to date (so a
        read-only open of a file written by an older version migrates it first)."""
        try:
            db = duckdb.connect(str(self.path), read_only=read_only)
        except duckdb.IOException as exc:
            if "lock" in str(exc).lower():
                raise ProvenanceError(
                    f"audit store {self.path} is held by another process (the gateway); "
                    "use the gateway API"
                ) from None
            raise ProvenanceError(f"cannot open audit store {self.path}: {exc}") from None
        except duckdb.Error as exc:
            raise ProvenanceError(f"cannot open audit store {self.path}: {exc}") from None
        try:
            if not read_only:
                migrate(db)
        except duckdb.Error as exc:
            db.close()
            raise ProvenanceError(f"cannot migrate audit store {self.path}: {exc}") from None
        return db

    def _start_writer(self) -> None:
        con = self._db.cursor()
        self._head_seq, self._head_hash = self._read_head(con)
        checkpoints = load_checkpoints(con)
        latest = checkpoints[-1][0] if checkpoints else None
        self._checkpoint_number = latest.number if latest else 0
        self._purged_through = latest.purged_through if latest else 0
        self._anchor_hash = latest.anchor_hash if latest else GENESIS_HASH
        self._since_checkpoint = self._head_seq - (latest.head_seq if latest else 0)
        self._pending = pending_subject_seqs(con)
        dangling = [
            str(row[0])
            for row in con.execute(
                f"""SELECT s.id FROM {EXECUTION_STARTS} s ANTI JOIN {EXECUTION_ENDS} e
                    USING (id) ORDER BY s.seq"""
            ).fetchall()
        ]
        self._writer = threading.Thread(
            target=self._writer_loop, args=(con,), name="provenance-writer", daemon=True
        )
        self._writer.start()
        self._recover_dangling(dangling)

    def _read_head(self, con: duckdb.DuckDBPyConnection) -> tuple[int, str]:
        union = " UNION ALL ".join(
            f"SELECT seq, hash FROM {table} WHERE seq = (SELECT max(seq) FROM {table})"
            for table in CHAINED_COLUMNS
        )
        row = con.execute(f"SELECT seq, hash FROM ({union}) ORDER BY seq DESC LIMIT 1").fetchone()
        if row is not None:
            return int(row[0]), str(row[1])
        checkpoints = load_checkpoints(con)
        if checkpoints:
            latest = checkpoints[-1][0]
            return latest.purged_through, latest.anchor_hash
        return 0, GENESIS_HASH

    def _recover_dangling(self, dangling: list[str]) -> None:
        """Close executions a crashed process left open, visibly, then checkpoint."""
        with self._ids_lock:
            self._open_ids.update(dangling)
        message = "the gateway stopped before this execution ended"
        for execution_id in dangling:
            self.record_end(
                execution_id, ExecutionEnd(status="incomplete", error=message), durable=False
            )
        if dangling or self._since_checkpoint > 0:
            self.checkpoint("recovery")
        else:
            self.flush()

    # -- appending --------------------------------------------------------------------

    def record_start(self, start: ExecutionStart, *, durable: bool = True) -> str:
        if start.kind not in EXECUTION_KINDS:
            raise ProvenanceError(f"unknown execution kind {start.kind!r}")
        execution_id = str(uuid.uuid4())
        row = (  # the order of CHAINED_COLUMNS[EXECUTION_STARTS] after seq
            execution_id,
            utc_naive(start.started_at),
            start.user,
            _json(sorted(start.roles)),
            start.kernel_id,
            start.session_id,
            start.notebook,
            start.cell_id,
            start.execution_count,
            start.purpose,
            start.legal_basis,
            start.kind,
            start.target,
            start.code_masked,
            start.code_hash,
            _json(list(start.statement_types)),
            _json(list(start.tables_read)),
            _json(list(start.tables_written)),
            _json(list(start.columns_read)),
            _json(list(start.columns_written)),
            start.verdict,
            _json(list(start.rule_ids)),
            start.approval_id,
        )
        with self._ids_lock:
            self._open_ids.add(execution_id)
        try:
            self._append(_Append(EXECUTION_STARTS, row), durable)
        except ProvenanceError:
            with self._ids_lock:
                self._open_ids.discard(execution_id)
            raise
        return execution_id

    def record_end(self, execution_id: str, end: ExecutionEnd, *, durable: bool = True) -> None:
        if end.status not in END_STATUSES:
            raise ProvenanceError(f"unknown execution status {end.status!r}")
        with self._ids_lock:
            if execution_id not in self._open_ids:
                raise ProvenanceError(f"execution {execution_id} is not open in this store")
            self._open_ids.discard(execution_id)
        lines, splits = self._subject_lines(end)
        text = "\n".join(lines)
        row = (  # the order of CHAINED_COLUMNS[EXECUTION_ENDS] after seq
            execution_id,
            utc_naive(end.ended_at),
            end.status,
            end.rows,
            _json(dict(end.entity_counts)),
            _json(dict(end.source_columns)),
            _json(sorted(end.unmasked_columns)),
            _json(sorted(end.unmasked_entities)),
            len(lines),
            hashlib.sha256(text.encode("utf-8")).hexdigest(),
            end.error,
        )
        item = _Append(EXECUTION_ENDS, row)
        if lines and splits:
            item.subject_lines = text
        elif lines:
            item.subjects = self._subject_rows(execution_id, end)
        try:
            self._append(item, durable)
        except ProvenanceError:
            with self._ids_lock:
                self._open_ids.add(execution_id)
            raise

    def _subject_lines(self, end: ExecutionEnd) -> tuple[list[str], bool]:
        """The end record's subject index lines (``SUBJECT_LINE_SQL``), sorted and unique,
        and whether they split back into rows. Built per group of entity type and column,
        so a subject costs one cached HMAC and one string concatenation."""
        lines: list[str] = []
        splits = True
        cached, hmac_of = self._subject_hmacs.get, self.subject_hmac
        for entity, column, source, masked, identifiers in _subject_groups(end):
            prefix, suffix = subject_line_affixes(entity, column, source, masked)
            splits = splits and splits_back(entity, column, source)
            lines += [
                prefix + (cached((entity, value)) or hmac_of(entity, value)) + suffix
                for value in identifiers
            ]
        lines.sort()
        return lines, splits

    def _subject_rows(self, execution_id: str, end: ExecutionEnd) -> SubjectColumns:
        """The subject index rows of an end record, as columns in ``SUBJECT_COLUMNS`` order,
        for the rare record whose lines would not split back into them."""
        rows: dict[tuple[str, str, str | None], tuple[str | None, bool]] = {}
        for entity, column, source, masked, identifiers in _subject_groups(end):
            for identifier in identifiers:
                rows[(entity, self.subject_hmac(entity, identifier), column)] = (source, masked)
        entity_types, digests, columns = (list(part) for part in zip(*rows, strict=True))
        sources, masked_flags = (list(part) for part in zip(*rows.values(), strict=True))
        return [
            [execution_id] * len(rows),
            entity_types,
            digests,
            columns,
            sources,
            masked_flags,
            [subject_key(digest) for digest in digests],
        ]

    def subject_hmac(self, entity_type: str, identifier: str) -> str:
        """``keys.keyed_hash`` of type and normalised identifier, through the one-shot C
        HMAC. A bounded in-memory cache serves re-run cells, whose results name the same
        subjects again (like the masker's caches, it never reaches disk)."""
        cache_key = (entity_type, identifier)
        found = self._subject_hmacs.get(cache_key)
        if found is None:
            message = f"{entity_type}\x1f{identifier}".encode()
            found = self._subject_hmacs.put(
                cache_key, hmac.digest(self._subject_key, message, "sha256").hex()
            )
        return found

    def record_approval(self, event: ApprovalEvent, *, durable: bool = True) -> None:
        row = (
            event.approval_id,
            event.kind,
            event.state,
            event.actor,
            utc_naive(event.time),
            _json(dict(event.details)),
        )
        self._append(_Append(APPROVAL_EVENTS, row), durable)

    def _append(self, item: _Append, durable: bool) -> None:
        if durable:
            item.future = Future()
        else:
            self._unflushed = True
        self._submit(item)
        if item.future is not None:
            self._wait(item.future)

    def _submit(self, item: _Append | _Command) -> None:
        if self.read_only:
            raise ProvenanceError("the audit store is open read-only")
        if self._deferred_error is not None:
            raise self._deferred_error
        with self._submit_lock:
            if self._closed:
                raise ProvenanceError("the audit store is closed")
            self._queue.put(item)

    @staticmethod
    def _wait(future: Future[Any]) -> Any:
        try:
            return future.result()
        except ProvenanceError:
            raise
        except duckdb.Error as exc:
            raise ProvenanceError(f"audit store write failed: {type(exc).__name__}") from None

    def flush(self) -> None:
        """Wait until everything queued before this call is committed."""
        self._run_command("flush")
        if self._deferred_error is not None:
            raise self._deferred_error

    def checkpoint(self, reason: str = "manual") -> None:
        self._run_command("checkpoint", reason)

    def _run_command(self, name: str, argument: Any = None) -> Any:
        command = _Command(name, argument)
        self._submit(command)
        return self._wait(command.future)

    # -- the writer thread ------------------------------------------------------------

    def _writer_loop(self, con: duckdb.DuckDBPyConnection) -> None:
        stopping = False
        while not stopping:
            batch = self._next_batch()
            if not batch:
                self._index_subjects(con)
                continue
            appends: list[_Append] = []
            for item in batch:
                if isinstance(item, _Append) and not stopping:
                    appends.append(item)
                    continue
                self._commit_appends(con, appends)
                appends = []
                if isinstance(item, _Append) or stopping:
                    _fail(item, ProvenanceError("the audit store is closed"))
                    continue
                stopping = item.name == "stop"
                self._execute_command(con, item)
            self._commit_appends(con, appends)
        con.close()

    def _state(self) -> tuple[int, str, int, int, int, str]:
        return (
            self._head_seq,
            self._head_hash,
            self._since_checkpoint,
            self._checkpoint_number,
            self._purged_through,
            self._anchor_hash,
        )

    def _restore(self, state: tuple[int, str, int, int, int, str]) -> None:
        """Undo in-memory chain state after a rolled-back transaction."""
        (
            self._head_seq,
            self._head_hash,
            self._since_checkpoint,
            self._checkpoint_number,
            self._purged_through,
            self._anchor_hash,
        ) = state
        self._unpublished_head = None

    def _next_batch(self) -> list[_Append | _Command]:
        """Block for one item, then take what is queued. When several appends were
        queued, callers are busy: linger once so those about to enqueue share the commit
        (group commit). A lone append is committed at once, so one caller never waits.
        Empty when the writer was idle while subject lines wait to be indexed."""
        try:
            batch = [self._queue.get(timeout=INDEX_WHEN_IDLE_S if self._pending else None)]
        except queue.Empty:
            return []
        for attempt in range(2):
            while len(batch) < MAX_BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            appends = sum(isinstance(item, _Append) for item in batch)
            if attempt == 1 or appends < 2 or len(batch) >= MAX_BATCH:
                break
            time.sleep(GROUP_COMMIT_LINGER_S)
        return batch

    def _execute_command(self, con: duckdb.DuckDBPyConnection, command: _Command) -> None:
        if command.name in ("index", "stop"):
            error = self._index_subjects(con)
            if error is not None and command.name == "index":
                command.future.set_exception(error)
                return
        state = self._state()
        try:
            result: Any = None
            unsealed = self._since_checkpoint > 0
            if command.name == "checkpoint" or (command.name == "stop" and unsealed):
                con.execute("BEGIN TRANSACTION")
                self._write_checkpoint(con, command.argument or command.name)
                con.execute("COMMIT")
                self._publish_head()
            elif command.name == "purge":
                result = self._purge(con, int(command.argument))
            command.future.set_result(result)
        except Exception as exc:
            _rollback(con)
            self._restore(state)
            command.future.set_exception(_as_provenance_error(exc))

    def _commit_appends(self, con: duckdb.DuckDBPyConnection, appends: list[_Append]) -> None:
        if not appends:
            return
        state = self._state()
        try:
            con.execute("BEGIN TRANSACTION")
            self._insert_chained(con, appends)
            if self._since_checkpoint >= self.checkpoint_every:
                self._write_checkpoint(con, "interval")
            con.execute("COMMIT")
            self._publish_head()
        except Exception as exc:
            _rollback(con)
            self._restore(state)
            error = _as_provenance_error(exc)
            self._deferred_error = error
            for item in appends:
                _fail(item, error)
            return
        for item in appends:
            if item.subject_lines is not None:
                self._note_pending(item.seq, item.subject_lines.count("\n") + 1)
            if item.future is not None:
                item.future.set_result(item.seq)
        if self._pending_lines >= INDEX_BACKLOG_LINES:
            self._index_subjects(con)

    def _note_pending(self, seq: int, lines: int) -> None:
        low = self._pending[0] if self._pending else seq
        self._pending = (low, seq)
        self._pending_lines += lines

    def _index_subjects(self, con: duckdb.DuckDBPyConnection) -> ProvenanceError | None:
        """Move pending subject lines into ``subject_index``; on failure they stay pending
        (committed in their end records) and the error is returned."""
        if self._pending is None:
            return None
        try:
            index_pending_subjects(con, self._pending)
        except Exception as exc:
            _rollback(con)
            return ProvenanceError(
                f"the subject index cannot be brought up to date ({type(exc).__name__})"
            )
        self._pending, self._pending_lines = None, 0
        return None

    def _insert_chained(self, con: duckdb.DuckDBPyConnection, appends: list[_Append]) -> None:
        """Give the batch the next seqs, link it to the head and insert it, table by table.

        One loop chains the canonical bodies; each table's rows go in with one insert.
        """
        first = self._head_seq + 1
        by_table: dict[str, list[_Append]] = {}
        for seq, item in enumerate(appends, start=first):
            item.seq = seq
            by_table.setdefault(item.table, []).append(item)
        bodies = [canonical_body(item.table, (item.seq, *item.row)) for item in appends]
        hashes = chain_hashes(self._signing_key, self._head_hash, bodies)
        prev_hashes = [self._head_hash, *hashes[:-1]]
        for table, items in by_table.items():
            rows = [
                _stored_row(item, prev_hashes[item.seq - first], hashes[item.seq - first])
                for item in items
            ]
            _insert_records(con, table, rows)
        subjects = [item.subjects for item in appends if item.subjects is not None]
        if subjects:
            _insert_arrow(con, SUBJECT_INDEX_TABLE, _subject_table(subjects))
        self._head_seq += len(appends)
        self._head_hash = hashes[-1]
        self._since_checkpoint += len(appends)

    def _write_checkpoint(self, con: duckdb.DuckDBPyConnection, reason: str) -> None:
        created = utc_naive(None)
        checkpoint = Checkpoint(
            number=self._checkpoint_number + 1,
            created_at_us=epoch_us(created),
            reason=reason,
            head_seq=self._head_seq,
            head_hash=self._head_hash,
            purged_through=self._purged_through,
            anchor_hash=self._anchor_hash,
        )
        signature = checkpoint.sign(self._signing_key)
        con.execute(
            f"INSERT INTO {CHECKPOINTS} VALUES (?, make_timestamp(?), ?, ?, ?, ?, ?, ?)",
            [
                checkpoint.number,
                checkpoint.created_at_us,
                reason,
                checkpoint.head_seq,
                checkpoint.head_hash,
                checkpoint.purged_through,
                checkpoint.anchor_hash,
                signature,
            ],
        )
        self._unpublished_head = (checkpoint, signature)
        self._checkpoint_number = checkpoint.number
        self._since_checkpoint = 0

    def _purge(self, con: duckdb.DuckDBPyConnection, older_than_days: int) -> int:
        with self._maintenance:
            return self._purge_verified(con, older_than_days)

    def _purge_verified(self, con: duckdb.DuckDBPyConnection, older_than_days: int) -> int:
        report = verify_chain(self._db, self._signing_key, self.path)
        if not report.ok:
            raise ProvenanceError(
                f"refusing to purge a chain that does not verify: {report.first_bad}"
            )
        cutoff = utc_naive(None) - timedelta(days=older_than_days)
        boundary = self._purge_boundary(con, cutoff)
        if boundary <= self._purged_through:
            return 0
        anchor = self._hash_at(con, boundary)
        con.execute("BEGIN TRANSACTION")
        con.execute(
            f"""DELETE FROM subject_index WHERE execution_id IN
                (SELECT id FROM {EXECUTION_ENDS} WHERE seq <= ?)""",
            [boundary],
        )
        removed = 0
        for table in CHAINED_COLUMNS:
            row = con.execute(f"DELETE FROM {table} WHERE seq <= ?", [boundary]).fetchone()
            removed += int(row[0]) if row else 0
        self._purged_through, self._anchor_hash = boundary, anchor
        self._write_checkpoint(con, "purge")
        con.execute("COMMIT")
        self._publish_head()
        return removed

    def _publish_head(self) -> None:
        """Write the head file, only once its checkpoint is committed.

        Never raises: the records are committed and the in-memory head must stay. A failure
        stops further appends (fail closed) until the store is reopened.
        """
        if self._unpublished_head is None:
            return
        head, self._unpublished_head = self._unpublished_head, None
        try:
            write_head_file(head_file_path(self.path), *head)
        except OSError as exc:
            self._deferred_error = ProvenanceError(f"cannot write the head file: {exc.strerror}")

    def _purge_boundary(self, con: duckdb.DuckDBPyConnection, cutoff: datetime) -> int:
        """The highest seq such that it and every record before it are older than cutoff."""
        union = " UNION ALL ".join(
            f"SELECT min(seq) AS seq FROM {table} WHERE {TIME_COLUMN[table]} >= ?"
            for table in CHAINED_COLUMNS
        )
        row = con.execute(f"SELECT min(seq) FROM ({union})", [cutoff] * 3).fetchone()
        first_kept = row[0] if row else None
        return self._head_seq if first_kept is None else int(first_kept) - 1

    @staticmethod
    def _hash_at(con: duckdb.DuckDBPyConnection, seq: int) -> str:
        union = " UNION ALL ".join(
            f"SELECT hash FROM {table} WHERE seq = ?" for table in CHAINED_COLUMNS
        )
        row = con.execute(union, [seq] * 3).fetchone()
        if row is None:
            raise ProvenanceError(f"record {seq} is missing")
        return str(row[0])

    # -- reading ----------------------------------------------------------------------

    def _reader(self) -> duckdb.DuckDBPyConnection:
        if self._closed:
            raise ProvenanceError("the audit store is closed")
        self._settle()
        return self._db.cursor()

    def index_subjects(self) -> None:
        """Commit what is queued and index every pending subject line (reads of the
        subject index do this first); raises when it cannot, as an answer missing
        subjects would look complete."""
        if not self.read_only and not self._closed:
            self._unflushed = False
            self._run_command("index")

    def _settle(self) -> None:
        """Commit queued non-durable appends before a read, so it sees them."""
        if self._unflushed and self._deferred_error is None:
            self._unflushed = False
            with contextlib.suppress(ProvenanceError):
                self._run_command("flush")

    def verify(self) -> VerifyReport:
        if self._closed:
            raise ProvenanceError("the audit store is closed")
        self._settle()
        try:
            with self._maintenance:
                return verify_chain(self._db, self._signing_key, self.path)
        except duckdb.Error as exc:
            raise _as_provenance_error(exc) from None

    def purge(self, older_than_days: int | None = None) -> int:
        """Remove records older than the period; return how many chained records went."""
        days = self.retention_days if older_than_days is None else older_than_days
        if days <= 0:
            raise ProvenanceError("purge needs a retention period of at least one day")
        return int(self._run_command("purge", days))

    def approval_events(self) -> list[ApprovalEvent]:
        return self._read(queries.approval_events)

    def dsar(self, identifiers: Iterable[tuple[str, str]]) -> list[dict[str, Any]]:
        """Every execution that returned data of the subject named by raw identifiers."""
        pairs = sorted(
            {
                (entity, self.subject_hmac(entity, normalize_identifier(entity, value)))
                for entity, value in identifiers
            }
        )
        if not pairs:
            raise ProvenanceError("a subject access request needs at least one identifier")
        self.index_subjects()
        return self._read(queries.dsar, pairs)

    def subjects_seen(
        self, user: str, since: datetime | None = None, until: datetime | None = None
    ) -> dict[str, Any]:
        self.index_subjects()
        return self._read(queries.subjects_seen, user, since, until)

    def search_executions(self, **filters: Any) -> list[dict[str, Any]]:
        return self._read(queries.search_executions, **filters)

    def get_execution(self, execution_id: str) -> dict[str, Any] | None:
        return self._read(queries.get_execution, execution_id)

    def stats(self) -> dict[str, Any]:
        return self._read(queries.stats)

    def _read(
        self,
        query: Callable[Concatenate[duckdb.DuckDBPyConnection, P], T],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        con = self._reader()
        try:
            return query(con, *args, **kwargs)
        except duckdb.Error as exc:
            raise _as_provenance_error(exc) from None
        finally:
            con.close()

    # -- closing ----------------------------------------------------------------------

    def close(self) -> None:
        """Write a final signed checkpoint and release the file."""
        if self._closed:
            return
        try:
            if self._writer is not None:
                stop = _Command("stop", "close")
                with self._submit_lock:
                    self._closed = True
                    self._queue.put(stop)
                self._writer.join()
                self._wait(stop.future)
        finally:
            self._closed = True
            atexit.unregister(self.close)
            self._db.close()
            self._release_path()

    def __enter__(self) -> ProvenanceStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def open_executions(self) -> Sequence[str]:
        with self._ids_lock:
            return sorted(self._open_ids)


def _subject_groups(
    end: ExecutionEnd,
) -> Iterable[tuple[str, str | None, str | None, bool, Iterable[str]]]:
    """Per entity type and result column: its source column, whether it was masked, and
    the identifiers seen."""
    shown_columns, shown_entities = set(end.unmasked_columns), set(end.unmasked_entities)
    for (entity, column), identifiers in _grouped(end.subjects).items():
        masked = not (column in shown_columns or entity in shown_entities)
        yield entity, column, end.source_columns.get(column or ""), masked, identifiers


def _grouped(
    subjects: Sequence[SubjectLike] | GroupedSubjects,
) -> Mapping[tuple[str, str | None], Iterable[str]]:
    """Identifiers by entity type and column, each once."""
    if isinstance(subjects, GroupedSubjects):
        return subjects.groups()
    groups: dict[tuple[str, str | None], dict[str, None]] = {}
    for subject in subjects:
        groups.setdefault((subject.entity_type, subject.column), {})[subject.identifier] = None
    return groups


def _columns_table(rows: list[tuple[Any, ...]], schema: pa.Schema) -> pa.Table:
    """An Arrow table from row tuples in schema order, one ``pa.array`` per column."""
    columns = zip(*rows, strict=True)
    return pa.Table.from_arrays(
        [pa.array(values, field.type) for values, field in zip(columns, schema, strict=True)],
        schema=schema,
    )


def _subject_table(parts: list[SubjectColumns]) -> pa.Table:
    """The subject rows of a whole batch as one Arrow table (one per end record would cost
    more than the insert when results are small)."""
    columns = [[value for part in parts for value in part[i]] for i in range(len(_SUBJECT_SCHEMA))]
    return pa.Table.from_arrays(
        [
            pa.array(values, field.type)
            for values, field in zip(columns, _SUBJECT_SCHEMA, strict=True)
        ],
        schema=_SUBJECT_SCHEMA,
    )


def _stored_row(item: _Append, prev_hash: str, record_hash: str) -> tuple[Any, ...]:
    """A record as its table stores it: seq, content, chain columns, then the rest."""
    if item.table == EXECUTION_ENDS:
        return (item.seq, *item.row, prev_hash, record_hash, item.subject_lines)
    return (item.seq, *item.row, prev_hash, record_hash)


def _insert_records(
    con: duckdb.DuckDBPyConnection, table: str, rows: list[tuple[Any, ...]]
) -> None:
    """One row through a prepared statement (about half of what building an Arrow table
    costs for it), several as one Arrow table built column by column (which checks
    their types)."""
    if len(rows) == 1:
        con.execute(f"INSERT INTO {table} VALUES ({', '.join('?' * len(rows[0]))})", rows[0])
    else:
        _insert_arrow(con, table, _columns_table(rows, _RECORD_SCHEMAS[table]))


def _insert_arrow(con: duckdb.DuckDBPyConnection, table: str, arrow: pa.Table) -> None:
    con.from_arrow(arrow).insert_into(table)


def _fail(item: _Append | _Command, error: ProvenanceError) -> None:
    if item.future is not None:
        item.future.set_exception(error)


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    with contextlib.suppress(duckdb.Error):
        con.execute("ROLLBACK")


def _as_provenance_error(exc: BaseException) -> ProvenanceError:
    """Only the error type: driver messages can quote the values being written."""
    if isinstance(exc, ProvenanceError):
        return exc
    return ProvenanceError(f"audit store failure ({type(exc).__name__})")
