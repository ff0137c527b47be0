"""Hash chain links, signed checkpoints and the verifier."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from nbwarden.provenance.models import ProvenanceError, VerifyReport
from nbwarden.provenance.schema import (
    CHAINED_COLUMNS,
    CHECKPOINTS,
    EXECUTION_ENDS,
    GENESIS_HASH,
    PENDING_SUBJECTS,
    REF_COLUMN,
    SUBJECT_INDEX,
    SUBJECT_KEY_SQL,
    SUBJECT_LINE_SQL,
    canonical_body_sql,
)

_EMPTY_DIGEST = hashlib.sha256(b"").hexdigest()
_SHA256_BLOCK = 64


def record_hash(key: bytes, prev_hash: str, body: str) -> str:
    """HMAC-SHA-256 over the previous hash and the record's canonical body.

    Keying the chain means nobody without the key can forge a record that links, not even
    at the tail after the last checkpoint. The body holds ``seq``, so moving a record
    changes its hash.
    """
    return hmac.digest(key, f"{prev_hash}\n{body}".encode(), "sha256").hex()


def chain_hashes(key: bytes, prev_hash: str, bodies: Iterable[str]) -> list[str]:
    """The hashes of consecutive records linked from ``prev_hash``: :func:`record_hash` in a
    tight loop (the chain is sequential, so this is the one per-record Python step left)."""
    hashes: list[str] = []
    append, digest = hashes.append, hmac.digest
    for body in bodies:
        prev_hash = digest(key, f"{prev_hash}\n{body}".encode(), "sha256").hex()
        append(prev_hash)
    return hashes


def subject_digests_sql(source: str = SUBJECT_INDEX) -> str:
    """Per execution: the count and digest of its subject rows (sha256 of sorted lines),
    and how many of them have a lookup key that does not match their HMAC.

    ``list_sort`` over a grouped ``list`` costs about half of an ordered ``string_agg``.
    """
    return (
        "SELECT execution_id, count(*) AS n, sha256(array_to_string(list_sort(list("
        f"{SUBJECT_LINE_SQL})), chr(10))) AS digest,"
        f" count(*) FILTER (WHERE subject_key IS DISTINCT FROM {SUBJECT_KEY_SQL}) AS bad_keys"
        f" FROM {source} GROUP BY execution_id"
    )


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
    def __init__(self, first_bad: str | None, problem: str, checked: int = 0) -> None:
        super().__init__(problem)
        self.first_bad = first_bad
        self.problem = problem
        self.checked = checked


def hmac_pads(key: bytes) -> dict[str, bytes]:
    """The inner and outer HMAC-SHA-256 key blocks (RFC 2104), as query parameters."""
    block = hashlib.sha256(key).digest() if len(key) > _SHA256_BLOCK else key
    block = block.ljust(_SHA256_BLOCK, b"\0")
    return {
        "ipad": bytes(byte ^ 0x36 for byte in block),
        "opad": bytes(byte ^ 0x5C for byte in block),
    }


def hmac_sql(message: str) -> str:
    """SQL for the hex HMAC-SHA-256 of the text ``message``, keyed by :func:`hmac_pads`.

    Byte for byte what :func:`record_hash` computes, so the verifier recomputes every
    record hash vectorised inside DuckDB instead of one Python call per record.
    """
    inner = f"unhex(sha256($ipad::BLOB || encode({message})))"
    return f"sha256($opad::BLOB || {inner})"


_PROBLEMS = (
    "record is duplicated or out of order (inserted or moved)",
    "records {expected}..{before} before it are missing (deleted)",
    "link to the previous record is broken (inserted or moved)",
    "record content does not match its hash (edited)",
    "the subject index rows of this execution were changed",
    "chain differs from signed checkpoint {checkpoint} (records rewritten)",
)
"""What the verifier reports, by the problem code its query assigns (first that applies)."""


def _table_query(position: int, table: str) -> str:
    """One chained table as (seq, table position, ref, prev_hash, hash, hash ok, digest ok)."""
    source, digest_ok = f"{table} t", "TRUE"
    if table == EXECUTION_ENDS:
        source += f" LEFT JOIN ({subject_digests_sql()}) d ON d.execution_id = t.id"
        pending = f"t.{PENDING_SUBJECTS}"
        digest_ok = (
            f"CASE WHEN {pending} IS NULL THEN"
            f" t.subjects_digest IS NOT DISTINCT FROM coalesce(d.digest, '{_EMPTY_DIGEST}')"
            " AND t.subject_count IS NOT DISTINCT FROM coalesce(d.n, 0)"
            " AND coalesce(d.bad_keys, 0) = 0"
            f" ELSE t.subjects_digest IS NOT DISTINCT FROM sha256({pending})"
            f" AND t.subject_count IS NOT DISTINCT FROM len(string_split({pending}, chr(10)))"
            " AND d.n IS NULL END"
        )
    recomputed = hmac_sql(f"t.prev_hash || chr(10) || {canonical_body_sql(table, 't')}")
    return (
        f"SELECT t.seq, {position} AS position, t.{REF_COLUMN[table]}::VARCHAR AS ref,"
        f" t.prev_hash, t.hash, t.hash IS NOT DISTINCT FROM {recomputed} AS hash_ok,"
        f" {digest_ok} AS digest_ok FROM {source} WHERE t.seq <= $up_to OR t.seq IS NULL"
    )


def _first_problem_query() -> str:
    """The first record, in chain order, that a sequential walk would reject, and why.

    A walk stops at the first bad record, so every record before it matched its stored
    hash; comparing each link with the previous record's stored hash (``lag``) is then
    the same check as comparing it with the recomputed one.
    """
    union = " UNION ALL ".join(
        _table_query(position, table) for position, table in enumerate(CHAINED_COLUMNS)
    )
    return f"""
        WITH records AS ({union}),
        walked AS (
            SELECT r.*, coalesce(lag(seq) OVER w, $start_seq) AS prev_seq,
                   coalesce(lag(hash) OVER w, $anchor) AS prev_stored, c.head_hash AS signed
            FROM records r LEFT JOIN signed_heads c ON c.head_seq = r.seq
            WINDOW w AS (ORDER BY seq, position)),
        judged AS (
            SELECT *, CASE
                WHEN seq IS NULL OR seq <= prev_seq THEN 0
                WHEN seq > prev_seq + 1 THEN 1
                WHEN prev_hash IS DISTINCT FROM prev_stored THEN 2
                WHEN NOT hash_ok THEN 3
                WHEN NOT digest_ok THEN 4
                WHEN signed IS NOT NULL AND signed IS DISTINCT FROM hash THEN 5
                END AS problem
            FROM walked)
        SELECT seq, position, ref, prev_seq, problem FROM judged
        WHERE problem IS NOT NULL ORDER BY seq NULLS LAST, position LIMIT 1"""


def last_seq(con: duckdb.DuckDBPyConnection) -> int:
    union = " UNION ALL ".join(f"SELECT max(seq) AS seq FROM {table}" for table in CHAINED_COLUMNS)
    [(seq,)] = con.execute(f"SELECT coalesce(max(seq), 0) FROM ({union})").fetchall()
    return int(seq)


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
    rows = con.execute(
        f"""SELECT execution_id FROM {SUBJECT_INDEX} s
            WHERE NOT EXISTS (SELECT 1 FROM {EXECUTION_ENDS} e WHERE e.id = s.execution_id)
            LIMIT 1"""
    ).fetchall()
    return str(rows[0][0]) if rows else None


def _walk(
    con: duckdb.DuckDBPyConnection,
    key: bytes,
    bounds: tuple[int, int],
    anchor: str,
    signed: dict[int, Checkpoint],
) -> None:
    """Recheck every record from ``bounds[0]`` + 1 to ``bounds[1]`` in one vectorised query.

    Raises _Broken for the first record a sequential walk from ``anchor`` would reject.
    """
    start_seq, up_to = bounds
    heads = pa.table(
        {
            "head_seq": pa.array(list(signed), pa.int64()),
            "head_hash": pa.array([cp.head_hash for cp in signed.values()], pa.string()),
        }
    )
    con.register("signed_heads", heads)
    try:
        parameters = {"up_to": up_to, "start_seq": start_seq, "anchor": anchor, **hmac_pads(key)}
        rows = con.execute(_first_problem_query(), parameters).fetchall()
    finally:
        con.unregister("signed_heads")
    if not rows:
        return
    [(seq, position, ref, prev_seq, problem)] = rows
    checked = int(prev_seq) - start_seq
    if problem == 5:
        last_signed = max((s for s in signed if s < seq), default=start_seq)
        message = _PROBLEMS[5].format(checkpoint=signed[seq].number)
        raise _Broken(f"between seq {last_signed + 1} and {seq}", message, checked)
    table = list(CHAINED_COLUMNS)[position]
    message = _PROBLEMS[problem].format(expected=int(prev_seq) + 1, before=(seq or 0) - 1)
    raise _Broken(f"seq {seq} ({table} {ref})", message, checked)


def verify_chain(db: duckdb.DuckDBPyConnection, key: bytes, store_path: Path) -> VerifyReport:
    """Check every link, content hash, subject digest and signed checkpoint.

    The head file is read before the checkpoints table because the writer publishes it
    only after the checkpoint committed.
    """
    head = read_head_file(head_file_path(store_path))
    con = db.cursor()
    try:
        return _verify(con, key, head)
    finally:
        con.close()


def _verify(
    con: duckdb.DuckDBPyConnection, key: bytes, head: tuple[Checkpoint, str] | None
) -> VerifyReport:
    checkpoints = load_checkpoints(con)
    up_to = last_seq(con)
    checked = 0
    try:
        _check_checkpoints(key, checkpoints, head)
        latest = checkpoints[-1][0] if checkpoints else None
        start_seq = latest.purged_through if latest else 0
        anchor = latest.anchor_hash if latest else GENESIS_HASH
        signed = {cp.head_seq: cp for cp, _ in checkpoints if cp.head_seq > start_seq}
        _walk(con, key, (start_seq, up_to), anchor, signed)
        seen_up_to = max(up_to, start_seq)
        checked = seen_up_to - start_seq
        newest_head = max((cp.head_seq for cp, _ in checkpoints), default=0)
        if newest_head > seen_up_to:
            raise _Broken(
                f"seq {seen_up_to + 1}",
                f"records {seen_up_to + 1}..{newest_head} covered by a signed checkpoint are "
                "missing (tail truncated)",
                checked,
            )
        orphan = _orphan_subjects(con)
        if orphan is not None:
            raise _Broken(
                f"subject index of {orphan}", "subject rows without a recorded end", checked
            )
    except _Broken as broken:
        return VerifyReport(False, broken.checked, broken.first_bad, broken.problem)
    return VerifyReport(True, checked)
