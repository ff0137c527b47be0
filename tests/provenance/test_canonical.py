"""The canonical record body is pinned: a change in its text would orphan every stored hash."""

from __future__ import annotations

from datetime import datetime

import duckdb
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nbwarden.provenance.chain import hmac_pads, hmac_sql, record_hash
from nbwarden.provenance.schema import (
    APPROVAL_EVENTS,
    CHAINED_COLUMNS,
    EXECUTION_ENDS,
    EXECUTION_STARTS,
    SUBJECT_COLUMNS,
    SUBJECT_LINE_SQL,
    arrow_schema,
    canonical_body,
    canonical_body_sql,
    subject_line_affixes,
    table_schema,
)

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


def test_python_body_is_the_pinned_text() -> None:
    assert canonical_body(APPROVAL_EVENTS, list(ROW.values())) == BODY


_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
_VALUES = {
    "BIGINT": st.integers(-(2**63), 2**63 - 1),
    "VARCHAR": _TEXT,
    "TIMESTAMP": st.datetimes(datetime(1900, 1, 1), datetime(2200, 1, 1)),
}


def _record(table: str) -> st.SearchStrategy[list[object]]:
    return st.tuples(*(st.none() | _VALUES[kind] for _, kind in CHAINED_COLUMNS[table])).map(list)


def sql_body(table: str, values: list[object]) -> str:
    con = duckdb.connect()
    schema = (
        table_schema(table).remove(len(CHAINED_COLUMNS[table])).remove(len(CHAINED_COLUMNS[table]))
    )
    batch = pa.Table.from_pylist([dict(zip(schema.names, values, strict=True))], schema=schema)
    con.register("batch", batch)
    [(body,)] = con.execute(f"SELECT {canonical_body_sql(table)} FROM batch").fetchall()
    return str(body)


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from([EXECUTION_STARTS, EXECUTION_ENDS, APPROVAL_EVENTS]).flatmap(
        lambda table: st.tuples(st.just(table), _record(table))
    )
)
def test_python_body_is_the_verifiers_sql_body(record: tuple[str, list[object]]) -> None:
    """The writer's Python text and the verifier's SQL agree on any values: control
    characters, quotes, backslashes, non-ASCII, NULLs, negative times."""
    table, values = record
    assert canonical_body(table, values) == sql_body(table, values)


@pytest.mark.parametrize(
    "text", ["a\x01b", "typed \\u0041 escape", "both \x1f and \\u001f", "tab\there", "\\\\u00"]
)
def test_python_body_takes_the_exact_path_for_escapes(text: str) -> None:
    values: list[object] = [7, "ap-1", "request", "pending", text, datetime(2026, 3, 1), "{}"]
    assert canonical_body(APPROVAL_EVENTS, values) == sql_body(APPROVAL_EVENTS, values)


def test_subject_lines_are_the_verifiers_sql_lines() -> None:
    rows = [
        ("e1", "PERSON", "ab" * 32, "name", "customers.name", True, 1),
        ("e1", "EMAIL_ADDRESS", "cd" * 32, None, None, False, 2),
        ("e1", "PERSON", "ef" * 32, "nom_é", None, True, 3),
    ]
    names = [name for name, _ in SUBJECT_COLUMNS]
    table = pa.Table.from_pylist(
        [dict(zip(names, row, strict=True)) for row in rows], schema=arrow_schema(SUBJECT_COLUMNS)
    )
    con = duckdb.connect()
    con.register("subjects", table)
    query = f"SELECT {SUBJECT_LINE_SQL} FROM subjects"
    expected = [line for (line,) in con.execute(query).fetchall()]
    lines = []
    for _, entity, digest, column, source, masked, _ in rows:
        prefix, suffix = subject_line_affixes(entity, column, source, masked)
        lines.append(prefix + digest + suffix)
    assert lines == expected


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
