"""The canonical record body is pinned: a change in its text would orphan every stored hash."""

from __future__ import annotations

from datetime import datetime

import duckdb
import pyarrow as pa

from nbwarden.provenance.chain import hmac_pads, hmac_sql, record_hash
from nbwarden.provenance.schema import APPROVAL_EVENTS, canonical_body_sql, table_schema

ROW = {
    "seq": 7,
    "approval_id": 'ap-é"1',
    "kind": "request",
    "state": "approved",
    "actor": "dpo\nx",
    "happened_at": datetime(2026, 3, 1, 9, 4, 5, 123456),
    "details": '{"a":[1,2]}',
}
BODY = (
    '["approval_events",7,"ap-é\\"1","request","approved","dpo\\nx",1772355845123456,'
    '"{\\"a\\":[1,2]}"]'
)


def test_body_text_is_stable_for_batches_and_stored_rows() -> None:
    con = duckdb.connect()
    batch = pa.Table.from_pylist([ROW], schema=table_schema(APPROVAL_EVENTS))
    con.register("batch", batch)
    assert con.execute(f"SELECT {canonical_body_sql(APPROVAL_EVENTS)} FROM batch").fetchone() == (
        BODY,
    )
    con.execute("CREATE TABLE approval_events AS SELECT * FROM batch")
    stored = con.execute(f"SELECT {canonical_body_sql(APPROVAL_EVENTS)} FROM approval_events")
    assert stored.fetchone() == (BODY,)


def test_record_hash_is_keyed_and_linked() -> None:
    first = record_hash(b"k" * 32, "0" * 64, BODY)
    assert first != record_hash(b"j" * 32, "0" * 64, BODY)
    assert first != record_hash(b"k" * 32, "1" * 64, BODY)
    assert len(first) == 64


def test_sql_hmac_is_the_python_record_hash() -> None:
    """The verifier's vectorised HMAC must agree with the writer's, for any key length."""
    con = duckdb.connect()
    for key in (b"k" * 32, bytes(range(100))):
        prev = record_hash(key, "0" * 64, "x")
        sql = f"SELECT {hmac_sql('$prev || chr(10) || $body')}"
        [(computed,)] = con.execute(sql, {"prev": prev, "body": BODY, **hmac_pads(key)}).fetchall()
        assert computed == record_hash(key, prev, BODY)
