"""Hash chain links, signed checkpoints and the verifier."""

from __future__ import annotations

import hashlib
import heapq
import hmac
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb

from nbwarden.provenance.models import ProvenanceError, VerifyReport
from nbwarden.provenance.schema import (
    CHAINED_COLUMNS,
    CHECKPOINTS,
    EXECUTION_ENDS,
    GENESIS_HASH,
    REF_COLUMN,
    SUBJECT_INDEX,
    SUBJECT_LINE_SQL,
    canonical_body_sql,
)

_EMPTY_DIGEST = hashlib.sha256(b"").hexdigest()


def record_hash(key: bytes, prev_hash: str, body: str) -> str:
    """HMAC-SHA-256 over the previous hash and the record's canonical body.

    Keying the chain means nobody without the key can forge a record that links, not even
    at the tail after the last checkpoint. The body holds ``seq``, so moving a record
    changes its hash.
    """
    return hmac.digest(key, f"{prev_hash}\n{body}".encode(), "sha256").hex()


def subjects_digest(lines: list[str]) -> str:
    return hashlib.sha256("\n".join(sorted(lines)).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement: the chain up to ``head_seq`` ends in ``head_hash``.

    ``purged_through``/``anchor_hash`` say where the retained chain starts: records up to
    ``purged_through`` were removed by retention and the next record links to ``anchor_hash``.
    """

    number: int
    created_at_us: int
    reason: str
    head_seq: int
    head_hash: str
    purged_through: int
    anchor_hash: str

    def payload(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":")).encode()

    def sign(self, key: bytes) -> str:
        return hmac.new(key, self.payload(), hashlib.sha256).hexdigest()

    def signature_ok(self, key: bytes, signature: str) -> bool:
        return hmac.compare_digest(self.sign(key), signature)


def head_file_path(store_path: Path) -> Path:
    """The latest signed checkpoint, kept beside the store so a rolled-back file shows."""
    return store_path.with_name(store_path.name + ".head")


def write_head_file(path: Path, checkpoint: Checkpoint, signature: str) -> None:
    body = json.dumps({"checkpoint": asdict(checkpoint), "signature": signature})
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="ascii") as handle:
        handle.write(body)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def read_head_file(path: Path) -> tuple[Checkpoint, str] | None:
    if not path.exists():
        return None
    try:
        raw = json.loads(path.read_text(encoding="ascii"))
        return Checkpoint(**raw["checkpoint"]), str(raw["signature"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ProvenanceError(f"head file {path} is unreadable: {type(exc).__name__}") from None


def load_checkpoints(con: duckdb.DuckDBPyConnection) -> list[tuple[Checkpoint, str]]:
    rows = con.execute(
        f"""SELECT number, epoch_us(created_at), reason, head_seq, head_hash, purged_through,
                   anchor_hash, signature FROM {CHECKPOINTS} ORDER BY number"""
    ).fetchall()
    return [(Checkpoint(*row[:7]), str(row[7])) for row in rows]


class _Broken(Exception):
    def __init__(self, first_bad: str | None, problem: str) -> None:
        super().__init__(problem)
        self.first_bad = first_bad
        self.problem = problem
        self.checked = 0


ChainRow = tuple[int, str, str, str, str, str, bool]
"""seq, table, record ref (id), canonical body, prev_hash, hash, subject digest matches."""


def _table_query(table: str, last_seq: int) -> str:
    source, digest_ok = f"{table} t", "TRUE"
    if table == EXECUTION_ENDS:
        source += (
            " LEFT JOIN (SELECT execution_id, sha256(array_to_string(list_sort(list("
            f"{SUBJECT_LINE_SQL})), chr(10))) AS digest FROM {SUBJECT_INDEX}"
            " GROUP BY execution_id) d ON d.execution_id = t.id"
        )
        digest_ok = f"t.subjects_digest = coalesce(d.digest, '{_EMPTY_DIGEST}')"
    return (
        f"SELECT t.seq, t.{REF_COLUMN[table]}, {canonical_body_sql(table, 't')}, t.prev_hash,"
        f" t.hash, {digest_ok} FROM {source} WHERE t.seq <= {int(last_seq)} ORDER BY t.seq"
    )


def table_rows(con: duckdb.DuckDBPyConnection, table: str, query: str) -> Iterator[ChainRow]:
    """Stream one chained table in seq order, decoded in Arrow batches.

    ``query`` selects seq, ref, canonical body, prev_hash, hash and the digest check.
    """
    for batch in con.sql(query).to_arrow_reader(50_000):
        seqs, refs, bodies, prevs, hashes, digests = (c.to_pylist() for c in batch.columns)
        for seq, ref, body, prev, stored, digest_ok in zip(
            seqs, refs, bodies, prevs, hashes, digests, strict=True
        ):
            yield seq, table, ref, body, prev, stored, digest_ok


def last_seq(con: duckdb.DuckDBPyConnection) -> int:
    union = " UNION ALL ".join(f"SELECT max(seq) AS seq FROM {table}" for table in CHAINED_COLUMNS)
    row = con.execute(f"SELECT coalesce(max(seq), 0) FROM ({union})").fetchone()
    return int(row[0]) if row else 0


def chain_rows(cursors: Sequence[duckdb.DuckDBPyConnection], up_to: int) -> Iterator[ChainRow]:
    """Every chained record up to seq ``up_to``, merged into seq order (one cursor per table).

    Records are only appended and committed in seq order, so bounding each stream by a seq
    committed before the streams start gives every stream the same set of records.
    """
    streams = [
        table_rows(cursor, table, _table_query(table, up_to))
        for cursor, table in zip(cursors, CHAINED_COLUMNS, strict=True)
    ]
    return heapq.merge(*streams, key=lambda row: row[0])


def _name(row: ChainRow) -> str:
    return f"seq {row[0]} ({row[1]} {row[2]})"


def _check_checkpoints(
    key: bytes, checkpoints: list[tuple[Checkpoint, str]], head: tuple[Checkpoint, str] | None
) -> None:
    for checkpoint, signature in checkpoints:
        if not checkpoint.signature_ok(key, signature):
            raise _Broken(
                f"checkpoint {checkpoint.number}", "checkpoint signature is invalid (forged)"
            )
    if head is None:
        if checkpoints:
            raise _Broken(None, "the head file is missing although the store has checkpoints")
        return
    head_checkpoint, head_signature = head
    if not head_checkpoint.signature_ok(key, head_signature):
        raise _Broken("head file", "head file signature is invalid (forged)")
    stored = {cp.number: (cp, sig) for cp, sig in checkpoints}
    if stored.get(head_checkpoint.number) != head:
        raise _Broken(
            f"checkpoint {head_checkpoint.number}",
            "the latest checkpoint in the head file is missing from the store "
            "(checkpoints deleted or the file was rolled back)",
        )


def _orphan_subjects(con: duckdb.DuckDBPyConnection) -> str | None:
    row = con.execute(
        f"""SELECT execution_id FROM {SUBJECT_INDEX} s
            WHERE NOT EXISTS (SELECT 1 FROM {EXECUTION_ENDS} e WHERE e.id = s.execution_id)
            LIMIT 1"""
    ).fetchone()
    return None if row is None else str(row[0])


def _walk(
    db: duckdb.DuckDBPyConnection,
    key: bytes,
    bounds: tuple[int, int],
    anchor: str,
    signed: dict[int, Checkpoint],
) -> int:
    """Recompute the chain from ``bounds[0]`` + 1 to ``bounds[1]``; return the last seq seen."""
    start_seq, up_to = bounds
    expected_seq, prev = start_seq + 1, anchor
    last_signed = start_seq
    cursors = [db.cursor() for _ in CHAINED_COLUMNS]
    try:
        for row in chain_rows(cursors, up_to):
            prev = _check_record(key, row, expected_seq, prev)
            seq = row[0]
            checkpoint = signed.get(seq)
            if checkpoint is not None and checkpoint.head_hash != prev:
                raise _Broken(
                    f"between seq {last_signed + 1} and {seq}",
                    f"chain differs from signed checkpoint {checkpoint.number} (records rewritten)",
                )
            if checkpoint is not None:
                last_signed = seq
            expected_seq = seq + 1
    except _Broken as broken:
        broken.checked = expected_seq - start_seq - 1
        raise
    finally:
        for cursor in cursors:
            cursor.close()
    return expected_seq - 1


def _check_record(key: bytes, row: ChainRow, expected_seq: int, prev: str) -> str:
    """Return the record's recomputed hash, or raise _Broken naming it."""
    seq, _, _, body, prev_hash, stored_hash, digest_ok = row
    if seq < expected_seq:
        raise _Broken(_name(row), "record is duplicated or out of order (inserted or moved)")
    if seq > expected_seq:
        raise _Broken(
            _name(row), f"records {expected_seq}..{seq - 1} before it are missing (deleted)"
        )
    if prev_hash != prev:
        raise _Broken(_name(row), "link to the previous record is broken (inserted or moved)")
    computed = record_hash(key, prev, body)
    if computed != stored_hash:
        raise _Broken(_name(row), "record content does not match its hash (edited)")
    if not digest_ok:
        raise _Broken(_name(row), "the subject index rows of this execution were changed")
    return computed


def verify_chain(db: duckdb.DuckDBPyConnection, key: bytes, store_path: Path) -> VerifyReport:
    """Check every link, content hash, subject digest and signed checkpoint.

    The head file is read before the checkpoints table because the writer publishes it
    only after the checkpoint committed.
    """
    head = read_head_file(head_file_path(store_path))
    meta = db.cursor()
    try:
        return _verify(db, meta, key, head)
    finally:
        meta.close()


def _verify(
    db: duckdb.DuckDBPyConnection,
    meta: duckdb.DuckDBPyConnection,
    key: bytes,
    head: tuple[Checkpoint, str] | None,
) -> VerifyReport:
    checkpoints = load_checkpoints(meta)
    up_to = last_seq(meta)
    checked = 0
    try:
        _check_checkpoints(key, checkpoints, head)
        latest = checkpoints[-1][0] if checkpoints else None
        start_seq = latest.purged_through if latest else 0
        anchor = latest.anchor_hash if latest else GENESIS_HASH
        signed = {cp.head_seq: cp for cp, _ in checkpoints if cp.head_seq > start_seq}
        seen_up_to = _walk(db, key, (start_seq, up_to), anchor, signed)
        checked = seen_up_to - start_seq
        newest_head = max((cp.head_seq for cp, _ in checkpoints), default=0)
        if newest_head > seen_up_to:
            raise _Broken(
                f"seq {seen_up_to + 1}",
                f"records {seen_up_to + 1}..{newest_head} covered by a signed checkpoint are "
                "missing (tail truncated)",
            )
        orphan = _orphan_subjects(meta)
        if orphan is not None:
            raise _Broken(f"subject index of {orphan}", "subject rows without a recorded end")
    except _Broken as broken:
        return VerifyReport(False, broken.checked or checked, broken.first_bad, broken.problem)
    return VerifyReport(True, checked)
