"""The provenance store: one writer thread owns the DuckDB file and appends in batches.

A batch is durable once the journal holds it (``journal.py``); the writer folds the
journal into DuckDB between cells, before reads and commands, and when it grows.
"""

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
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar, cast

import duckdb
import pyarrow as pa

from nbwarden.caches import misses
from nbwarden.config import AuditConfig
from nbwarden.identifiers import (
    EMAIL,
    IP_ADDRESS,
    PERSON,
    PHONE,
    SWEDISH_PERSONAL_NUMBER,
    USER_NAME,
    email_as_written,
    name_forms_with_titles,
    normalize_id,
    normalize_identifier,
    phone_forms,
    swedish_personal_number_forms,
    url_decoded,
)
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
from nbwarden.provenance.journal import Journal, JournalRecord, journal_path, read_records
from nbwarden.provenance.models import (
    DSAR_MAX_IDENTIFIERS,
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
"""The writer folds the journal into DuckDB and moves pending subject lines into
``subject_index`` once nothing was queued for this long (between cells, in a notebook)."""
FOLD_RECORDS = 2048
FOLD_BYTES = 8 * 1024 * 1024
"""...or once the journal holds this many records or bytes, so a store that is never idle
keeps its journal (and its replay after a crash) small."""
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
        self._subject_hmacs = _SubjectHmacs(
            derive_key(master, SUBJECT_INDEX), SUBJECT_HMAC_CACHE_ENTRIES
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
        self._journaled: list[JournalRecord] = []
        """Records in the journal that DuckDB does not hold yet. The writer alone changes
        it; a read folds it first while it is not empty."""
        self._journal: Journal | None = None
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
        journal = journal_path(self.path)
        journaled = journal.exists() and journal.stat().st_size > 0
        if self.read_only and (
            schema_version(db) < SCHEMA_VERSION or pending_subject_seqs(db) or journaled
        ):
            db.close()
            self._bring_up_to_date()
            db = self._open(read_only=True)
        return db

    def _bring_up_to_date(self) -> None:
        """Migrate the file, replay the journal and index the subject lines a stopped gateway
        left pending, so a reader without a gateway sees what the gateway would show."""
        db = self._open(read_only=False)
        try:
            self._replay_journal(db)
            journal_path(self.path).unlink(missing_ok=True)
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
        self._replay_journal(con)
        self._journal = Journal(journal_path(self.path))
        self._journal.clear()
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

    def _replay_journal(self, con: duckdb.DuckDBPyConnection) -> None:
        """Commit the journal's records that DuckDB does not hold (the process stopped before
        folding them), once each is checked to continue the chain from DuckDB's head."""
        path = journal_path(self.path)
        head_seq, head_hash = self._read_head(con)
        records = [record for record in read_records(path) if record.seq > head_seq]
        for record in records:
            if not self._continues(record, head_seq, head_hash):
                raise ProvenanceError(
                    f"the audit journal {path} does not continue the chain of {self.path} at "
                    f"record {record.seq}: the store was rolled back or the journal altered; "
                    "move the journal aside to open the store, and keep it for investigation"
                )
            head_seq, head_hash = record.seq, record.hash
        if not records:
            return
        try:
            con.execute("BEGIN TRANSACTION")
            _insert_journaled(con, records)
            con.execute("COMMIT")
        except duckdb.Error as exc:
            _rollback(con)
            raise ProvenanceError(f"cannot replay the audit journal {path}: {exc}") from None

    def _continues(self, record: JournalRecord, head_seq: int, head_hash: str) -> bool:
        """The record is the next in the chain, and its subject lines (which the chain
        covers through the end record's digest) are the ones it was written with."""
        return (
            record.seq == head_seq + 1
            and record.prev_hash == head_hash
            and canonical_body(record.table, (record.seq, *record.row)) == record.body
            and chain_hashes(self._signing_key, head_hash, [record.body]) == [record.hash]
            and (record.subject_lines is None or _lines_match_digest(record))
        )

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
        text, count, splits = self._subject_lines(end)
        row = (  # the order of CHAINED_COLUMNS[EXECUTION_ENDS] after seq
            execution_id,
            utc_naive(end.ended_at),
            end.status,
            end.rows,
            _json(dict(end.entity_counts)),
            _json(dict(end.source_columns)),
            _json(sorted(end.unmasked_columns)),
            _json(sorted(end.unmasked_entities)),
            count,
            _lines_digest(text),
            end.error,
        )
        item = _Append(EXECUTION_ENDS, row)
        if count and splits:
            item.subject_lines = text
        elif count:
            item.subjects = self._subject_rows(execution_id, end)
        try:
            self._append(item, durable)
        except ProvenanceError:
            with self._ids_lock:
                self._open_ids.add(execution_id)
            raise

    def _subject_lines(self, end: ExecutionEnd) -> tuple[str, int, bool]:
        """The end record's subject index lines (``SUBJECT_LINE_SQL``), sorted, as one text;
        how many; and whether they split back into rows.

        A line is ``prefix + HMAC + suffix``, the affixes shared by a group (entity type and
        column), so a group costs one lookup of its cached HMACs, a sort of them and a join,
        not a string per subject (:func:`_sorted_lines`)."""
        by_prefix: dict[str, list[tuple[str, list[str]]]] = {}
        count, splits = 0, True
        for entity, column, source, masked, identifiers in _subject_groups(end):
            prefix, suffix = subject_line_affixes(entity, column, source, masked)
            splits = splits and splits_back(entity, column, source)
            hmacs = self._subject_hmacs.group(entity, identifiers)
            if hmacs:
                by_prefix.setdefault(prefix, []).append((suffix, hmacs))
                count += len(hmacs)
        return _sorted_lines(by_prefix, splits), count, splits

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
        return self._subject_hmacs.one(entity_type, identifier)

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
        """Wait until everything queued before this call is durable (in the journal)."""
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
                if self._fold(con) is None:
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
        if self._journal is not None:
            self._journal.close()
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
            idle_work = self._pending or self._journaled
            batch = [self._queue.get(timeout=INDEX_WHEN_IDLE_S if idle_work else None)]
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
        """Every command but ``flush`` (durable is enough) works on DuckDB, so the journal is
        folded first."""
        if command.name != "flush":
            folding_error = self._fold(con)
            if folding_error is not None:
                command.future.set_exception(folding_error)
                return
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
        """Chain the batch and make it durable in the journal; fold the journal once it is large."""
        if not appends:
            return
        state = self._state()
        try:
            records = self._chain(appends)
            assert self._journal is not None
            self._journal.append(records)
        except Exception as exc:
            self._restore(state)
            error = _as_provenance_error(exc)
            self._deferred_error = error
            for item in appends:
                _fail(item, error)
            return
        self._journaled += records
        for item in appends:
            if item.future is not None:
                item.future.set_result(item.seq)
        if len(self._journaled) >= FOLD_RECORDS or self._journal.size >= FOLD_BYTES:
            self._fold(con)

    def _fold(self, con: duckdb.DuckDBPyConnection) -> ProvenanceError | None:
        """Commit the journaled records to DuckDB (with an interval checkpoint when one is
        due), then empty the journal. On failure they stay in the journal, appends stop (fail
        closed) and the error is returned; reopening the store replays them."""
        if not self._journaled:
            return None
        state = self._state()
        try:
            con.execute("BEGIN TRANSACTION")
            _insert_journaled(con, self._journaled)
            if self._since_checkpoint >= self.checkpoint_every:
                self._write_checkpoint(con, "interval")
            con.execute("COMMIT")
        except Exception as exc:
            _rollback(con)
            self._restore(state)
            self._deferred_error = _as_provenance_error(exc)
            return self._deferred_error
        self._publish_head()
        for record in self._journaled:
            if record.subject_lines is not None:
                self._note_pending(record.seq, record.subject_lines.count("\n") + 1)
        self._journaled = []
        assert self._journal is not None
        try:
            self._journal.clear()
        except OSError as exc:
            self._deferred_error = ProvenanceError(
                f"cannot empty the audit journal: {exc.strerror}"
            )
        if self._pending_lines >= INDEX_BACKLOG_LINES:
            self._index_subjects(con)
        return None

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

    def _chain(self, appends: list[_Append]) -> list[JournalRecord]:
        """Give the batch the next seqs and link it to the head (one loop chains the
        canonical bodies)."""
        first = self._head_seq + 1
        for seq, item in enumerate(appends, start=first):
            item.seq = seq
        bodies = [canonical_body(item.table, (item.seq, *item.row)) for item in appends]
        hashes = chain_hashes(self._signing_key, self._head_hash, bodies)
        prev_hashes = [self._head_hash, *hashes[:-1]]
        records = [
            JournalRecord(
                item.table,
                item.seq,
                item.row,
                body,
                prev,
                record_hash,
                item.subject_lines,
                item.subjects,
            )
            for item, body, prev, record_hash in zip(
                appends, bodies, prev_hashes, hashes, strict=True
            )
        ]
        self._head_seq += len(appends)
        self._head_hash = hashes[-1]
        self._since_checkpoint += len(appends)
        return records

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
        """Commit queued appends and the journal to DuckDB before a read, so it sees them.

        A failed write left nothing more to read, so the read goes on; a failed fold left
        durable records that DuckDB does not hold, so the read fails rather than answer
        without them (they are replayed when the store is opened again)."""
        if not (self._unflushed or self._journaled):
            return
        self._unflushed = False
        try:
            if self._deferred_error is not None:
                raise self._deferred_error
            self._run_command("fold")
        except ProvenanceError:
            if self._journaled:
                raise

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

    def dsar(
        self, identifiers: Iterable[tuple[str, str]], phone_regions: Sequence[str] = ("US",)
    ) -> list[dict[str, Any]]:
        """Every execution that returned data of the subject named by raw identifiers.
        ``phone_regions``: the masking profile's, with which the masker read national
        phone numbers. An ID is looked up as every type of ID or number the index holds:
        a value that passes the checks of two types is masked as the one the masker tried
        first (a Dutch BSN with a leading 0 as a phone number, a French NIR as a card),
        and the person asks for it as what it is."""
        identifiers = list(identifiers)
        if len(identifiers) > DSAR_MAX_IDENTIFIERS:
            raise ProvenanceError(
                f"a subject access request names one person: at most {DSAR_MAX_IDENTIFIERS} "
                "identifiers"
            )
        if not identifiers:
            raise ProvenanceError("a subject access request needs at least one identifier")
        self.index_subjects()
        asks_for_an_id = any(entity not in _NOT_IDS for entity, _ in identifiers)
        types = self._read(queries.subject_entity_types) if asks_for_an_id else []
        pairs = sorted(
            {
                (as_type, self._subject_hmacs.digest(as_type, normalised))
                for entity, value in identifiers
                for as_type in _types_to_look_up(entity, types)
                for normalised in _subject_forms(as_type, value, phone_regions)
            }
        )
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


def _sorted_lines(by_prefix: dict[str, list[tuple[str, list[str]]]], splits: bool) -> str:
    """The subject lines ``prefix + HMAC + suffix`` of the groups, sorted as whole lines are,
    joined by line breaks; ``by_prefix`` maps each prefix to its groups' suffixes and HMACs.

    When the lines split back, a prefix (entity type and a tab) holds no other tab, so no
    prefix starts another and lines of different prefixes never interleave: the blocks go in
    the order of their prefixes. Within a group every HMAC has 64 hex digits, so the HMACs
    alone decide the order and the group is one join. Groups that share a prefix (one type
    in several columns) are sorted as whole lines, and so is everything otherwise.
    """
    if not splits:
        lines = [
            prefix + digest + suffix
            for prefix, groups in by_prefix.items()
            for suffix, hmacs in groups
            for digest in hmacs
        ]
        lines.sort()
        return "\n".join(lines)
    parts: list[str] = []
    for prefix in sorted(by_prefix):
        parts += _prefix_block(prefix, by_prefix[prefix])
        parts.append("\n")
    return "".join(parts[:-1])


def _prefix_block(prefix: str, groups: list[tuple[str, list[str]]]) -> tuple[str, ...]:
    """The sorted lines of the groups that share ``prefix``, in pieces to concatenate: one
    join of all pieces copies each block once (concatenating a block of 1,000 lines to its
    affixes copied 100 kB twice more, into freshly faulted pages)."""
    if len(groups) == 1:
        [(suffix, hmacs)] = groups
        hmacs.sort()
        return prefix, (suffix + "\n" + prefix).join(hmacs), suffix
    rests = sorted(digest + suffix for suffix, hmacs in groups for digest in hmacs)
    return prefix, ("\n" + prefix).join(rests)


_NOT_IDS = frozenset({EMAIL, PERSON, PHONE})
"""Types a request looks up as themselves only."""


def _types_to_look_up(entity_type: str, indexed: Sequence[str]) -> list[str]:
    """An ID's own type and every other type of ID or number the index holds; an e-mail
    address, phone number or name only as itself."""
    if entity_type in _NOT_IDS:
        return [entity_type]
    return list(dict.fromkeys([entity_type, *(t for t in indexed if t not in (EMAIL, PERSON))]))


def _subject_forms(entity_type: str, value: str, phone_regions: Sequence[str]) -> list[str]:
    """The normalised forms a subject access request for ``value`` looks up: besides its
    own, a phone number as the masker reads it written nationally, and the forms records
    written before 2026-12-07 hold (a name with a title or a suffix, an e-mail address with
    its subaddress or, found in quotes, the single quote or backtick before it, a
    personnummer with its century, an IP address or a login name without its dots and
    dashes, in capitals)."""
    if entity_type == PHONE:
        return phone_forms(value, phone_regions)
    normalised = normalize_identifier(entity_type, value, phone_regions)
    forms = [normalised]
    if entity_type == PERSON:
        forms += name_forms_with_titles(normalised)
    elif entity_type == EMAIL:
        forms.append(email_as_written(value))
        forms += [f"{quote}{form}" for form in forms for quote in "'`"]
    elif entity_type == SWEDISH_PERSONAL_NUMBER:
        forms += swedish_personal_number_forms(normalised)
    elif entity_type in (IP_ADDRESS, USER_NAME):
        forms.append(normalize_id(url_decoded(entity_type, value)))
    return list(dict.fromkeys(forms))


class _SubjectHmacs:
    """Subject HMACs cached per entity type, keyed by identifier, so a group of subjects
    looks its HMACs up with one ``map`` over a dict (a tuple key per subject cost three
    times that). Bounded like ``BoundedCache``: full at ``max_entries``, it empties. In
    memory only: its keys are identifiers."""

    def __init__(self, key: bytes, max_entries: int) -> None:
        self._key = key
        self._max_entries = max_entries
        self._by_type: dict[str, dict[str, str]] = {}
        self._entries = 0

    def digest(self, entity_type: str, identifier: str) -> str:
        """``keys.keyed_hash`` of type and identifier, through the one-shot C HMAC."""
        return hmac.digest(self._key, f"{entity_type}\x1f{identifier}".encode(), "sha256").hex()

    def one(self, entity_type: str, identifier: str) -> str:
        """:meth:`digest`, cached."""
        found = self._by_type.get(entity_type, {}).get(identifier)
        if found is None:
            if self._entries >= self._max_entries:
                self._by_type, self._entries = {}, 0
            found = self.digest(entity_type, identifier)
            self._by_type.setdefault(entity_type, {})[identifier] = found
            self._entries += 1
        return found

    def group(self, entity_type: str, identifiers: Iterable[str]) -> list[str]:
        """The HMACs of one type's identifiers, in their order: one ``map`` over the cache
        when it holds them all (a re-run), else one pass that leaves a gap for each of the
        few new ones (the next page's), each then computed."""
        if not isinstance(identifiers, Collection):
            identifiers = list(identifiers)
        cached = self._by_type.get(entity_type, {})
        with contextlib.suppress(KeyError):
            return list(map(cached.__getitem__, identifiers))
        ordered = list(identifiers)
        hmacs = list(map(cached.get, ordered))
        for position in misses(hmacs):
            hmacs[position] = self.one(entity_type, ordered[position])
        return cast(list[str], hmacs)


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


def _insert_journaled(con: duckdb.DuckDBPyConnection, records: list[JournalRecord]) -> None:
    """Journaled records into their tables, one insert per table, with their subject rows."""
    by_table: dict[str, list[tuple[Any, ...]]] = {}
    for record in records:
        by_table.setdefault(record.table, []).append(_stored_row(record))
    for table, rows in by_table.items():
        _insert_records(con, table, rows)
    subjects = [record.subjects for record in records if record.subjects is not None]
    if subjects:
        _insert_arrow(con, SUBJECT_INDEX_TABLE, _subject_table(subjects))


_DIGEST = [name for name, _ in CHAINED_COLUMNS[EXECUTION_ENDS]].index("subjects_digest") - 1
"""Where an end record's row (its columns after ``seq``) holds its subject lines' digest."""


def _lines_digest(lines: str) -> str:
    """An end record's ``subjects_digest``: sha256 of its sorted subject lines."""
    return hashlib.sha256(lines.encode("utf-8")).hexdigest()


def _lines_match_digest(record: JournalRecord) -> bool:
    return bool(_lines_digest(record.subject_lines or "") == record.row[_DIGEST])


def _stored_row(record: JournalRecord) -> tuple[Any, ...]:
    """A record as its table stores it: seq, content, chain columns, then the rest."""
    stored = (record.seq, *record.row, record.prev_hash, record.hash)
    if record.table == EXECUTION_ENDS:
        return (*stored, record.subject_lines)
    return stored


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
