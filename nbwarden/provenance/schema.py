"""Tables, migrations and the canonical content expression of each chained table.

Every chained record lives in one of three append-only tables and carries ``seq`` (its
place in the one global chain), ``prev_hash`` and ``hash``. A record's hash is an HMAC
over the previous hash and the record's canonical body (:func:`canonical_body_sql`,
:func:`canonical_body`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import duckdb
import pyarrow as pa

GENESIS_HASH = "0" * 64

CHAIN_TAIL = (("prev_hash", "VARCHAR"), ("hash", "VARCHAR"))

EXECUTION_STARTS = "execution_starts"
EXECUTION_ENDS = "execution_ends"
APPROVAL_EVENTS = "approval_events"
SUBJECT_INDEX = "subject_index"
CHECKPOINTS = "checkpoints"

CHAINED_COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    EXECUTION_STARTS: (
        ("seq", "BIGINT"),
        ("id", "VARCHAR"),
        ("started_at", "TIMESTAMP"),
        ("user_name", "VARCHAR"),
        ("roles", "VARCHAR"),
        ("kernel_id", "VARCHAR"),
        ("session_id", "VARCHAR"),
        ("notebook", "VARCHAR"),
        ("cell_id", "VARCHAR"),
        ("execution_count", "BIGINT"),
        ("purpose", "VARCHAR"),
        ("legal_basis", "VARCHAR"),
        ("kind", "VARCHAR"),
        ("target", "VARCHAR"),
        ("code_masked", "VARCHAR"),
        ("code_hash", "VARCHAR"),
        ("statement_types", "VARCHAR"),
        ("tables_read", "VARCHAR"),
        ("tables_written", "VARCHAR"),
        ("columns_read", "VARCHAR"),
        ("columns_written", "VARCHAR"),
        ("verdict", "VARCHAR"),
        ("rule_ids", "VARCHAR"),
        ("approval_id", "VARCHAR"),
    ),
    EXECUTION_ENDS: (
        ("seq", "BIGINT"),
        ("id", "VARCHAR"),
        ("ended_at", "TIMESTAMP"),
        ("status", "VARCHAR"),
        ("rows_returned", "BIGINT"),
        ("entity_counts", "VARCHAR"),
        ("source_columns", "VARCHAR"),
        ("unmasked_columns", "VARCHAR"),
        ("unmasked_entities", "VARCHAR"),
        ("subject_count", "BIGINT"),
        ("subjects_digest", "VARCHAR"),
        ("error_masked", "VARCHAR"),
    ),
    APPROVAL_EVENTS: (
        ("seq", "BIGINT"),
        ("approval_id", "VARCHAR"),
        ("kind", "VARCHAR"),
        ("state", "VARCHAR"),
        ("actor", "VARCHAR"),
        ("happened_at", "TIMESTAMP"),
        ("details", "VARCHAR"),
    ),
}

TIME_COLUMN = {
    EXECUTION_STARTS: "started_at",
    EXECUTION_ENDS: "ended_at",
    APPROVAL_EVENTS: "happened_at",
}
REF_COLUMN = {EXECUTION_STARTS: "id", EXECUTION_ENDS: "id", APPROVAL_EVENTS: "approval_id"}

_SUBJECT_COLUMNS_V1: tuple[tuple[str, str], ...] = (
    ("execution_id", "VARCHAR"),
    ("entity_type", "VARCHAR"),
    ("subject_hmac", "VARCHAR"),
    ("result_column", "VARCHAR"),
    ("source", "VARCHAR"),
    ("masked", "BOOLEAN"),
)
SUBJECT_COLUMNS = (*_SUBJECT_COLUMNS_V1, ("subject_key", "BIGINT"))

SUBJECT_KEY_HEX_DIGITS = 15


def subject_key_sql(subject_hmac: str) -> str:
    """SQL for :func:`subject_key` of the HMAC text ``subject_hmac`` evaluates to."""
    return f"TRY_CAST(('0x' || left({subject_hmac}, {SUBJECT_KEY_HEX_DIGITS})) AS BIGINT)"


SUBJECT_KEY_SQL = subject_key_sql("subject_hmac")
"""``subject_key`` as the verifier recomputes it from ``subject_hmac``."""


def subject_key(subject_hmac: str) -> int:
    """The indexed lookup key of a subject HMAC: its first 60 bits.

    DuckDB maintains its ART index at every commit; over a BIGINT that costs about half
    of what it costs over the 64-character HMAC, which made the subject index the largest
    part of recording a 1,000-row result. Lookups filter on the full HMAC afterwards, and
    the verifier checks that every key matches its HMAC.
    """
    return int(subject_hmac[:SUBJECT_KEY_HEX_DIGITS], 16)


_ARROW_TYPES = {
    "BIGINT": pa.int64(),
    "VARCHAR": pa.large_string(),
    "TIMESTAMP": pa.timestamp("us"),
    "BOOLEAN": pa.bool_(),
}


def _create_table(name: str, columns: tuple[tuple[str, str], ...]) -> str:
    body = ", ".join(f"{col} {kind}" for col, kind in columns)
    return f"CREATE TABLE {name} ({body})"


def _schema_v1() -> list[str]:
    statements = [
        _create_table(table, columns + CHAIN_TAIL) for table, columns in CHAINED_COLUMNS.items()
    ]
    statements += [
        _create_table(SUBJECT_INDEX, _SUBJECT_COLUMNS_V1),
        f"""CREATE TABLE {CHECKPOINTS} (
            number BIGINT, created_at TIMESTAMP, reason VARCHAR, head_seq BIGINT,
            head_hash VARCHAR, purged_through BIGINT, anchor_hash VARCHAR, signature VARCHAR)""",
        f"CREATE INDEX starts_id ON {EXECUTION_STARTS} (id)",
        f"CREATE INDEX ends_id ON {EXECUTION_ENDS} (id)",
        f"CREATE INDEX subject_hmac ON {SUBJECT_INDEX} (subject_hmac)",
        f"""CREATE VIEW executions AS
            SELECT s.*, e.ended_at, coalesce(e.status, 'started') AS status, e.rows_returned,
                   e.entity_counts, e.source_columns, e.unmasked_columns, e.unmasked_entities,
                   e.subject_count, e.error_masked
            FROM {EXECUTION_STARTS} s LEFT JOIN {EXECUTION_ENDS} e USING (id)""",
    ]
    return statements


def _schema_v2() -> list[str]:
    """Index subjects by ``subject_key`` instead of the HMAC text. DuckDB cannot index a
    column updated in the same transaction, so the table is rebuilt."""
    rebuilt = f"{SUBJECT_INDEX}_v2"
    return [
        f"CREATE TABLE {rebuilt} AS SELECT *, {SUBJECT_KEY_SQL} AS subject_key"
        f" FROM {SUBJECT_INDEX}",
        f"DROP TABLE {SUBJECT_INDEX}",
        f"ALTER TABLE {rebuilt} RENAME TO {SUBJECT_INDEX}",
        f"CREATE INDEX subject_key ON {SUBJECT_INDEX} (subject_key)",
    ]


PENDING_SUBJECTS = "subject_lines"
"""Column of ``execution_ends`` (schema version 3, not chained): the sorted subject index
lines of an execution whose rows are not in ``subject_index`` yet; NULL once they are."""


def _schema_v3() -> list[str]:
    """The end record carries its subject lines until the writer indexes them when idle:
    inserting and indexing thousands of subject rows cost most of a result's commit."""
    return [f"ALTER TABLE {EXECUTION_ENDS} ADD COLUMN {PENDING_SUBJECTS} VARCHAR"]


def _schema_v4() -> list[str]:
    """No ART index on ``subject_key``: DuckDB rewrites a changed ART whole at every
    checkpoint, so the pause grew with the history (about 100 ms at 5M subject rows) and
    hit whichever cell's commit crossed the WAL threshold. A scan of the BIGINT column
    finds a subject in a few milliseconds at that size."""
    return ["DROP INDEX IF EXISTS subject_key"]


MIGRATIONS: tuple[tuple[int, list[str]], ...] = (
    (1, _schema_v1()),
    (2, _schema_v2()),
    (3, _schema_v3()),
    (4, _schema_v4()),
)
"""(version, statements): append new versions; never edit an applied one."""

SCHEMA_VERSION = MIGRATIONS[-1][0]


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    """The version of the file's schema; 0 for a new file."""
    found = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'schema_version'"
    ).fetchone()
    if not found or not found[0]:
        return 0
    row = con.execute("SELECT max(version) FROM schema_version").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def migrate(con: duckdb.DuckDBPyConnection) -> None:
    """Bring the file to :data:`SCHEMA_VERSION`, each version in one transaction."""
    con.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER, applied_at TIMESTAMP)")
    current = schema_version(con)
    for version, statements in MIGRATIONS:
        if version <= current:
            continue
        con.execute("BEGIN TRANSACTION")
        for statement in statements:
            con.execute(statement)
        con.execute("INSERT INTO schema_version VALUES (?, now()::TIMESTAMP)", [version])
        con.execute("COMMIT")


def arrow_schema(columns: tuple[tuple[str, str], ...]) -> pa.Schema:
    """The writer's Arrow types; VARCHAR is ``large_string`` because pyarrow 26 converts
    Python strings about 40x slower when asked for ``string`` explicitly."""
    return pa.schema([(name, _ARROW_TYPES[kind]) for name, kind in columns])


def table_schema(table: str) -> pa.Schema:
    return arrow_schema(CHAINED_COLUMNS[table] + CHAIN_TAIL)


def canonical_body_sql(table: str, alias: str = "") -> str:
    """SQL expression: the canonical text of one record, which the chain HMAC covers.

    DuckDB's ``json_array`` of the table name and the content columns in order, timestamps
    as integer microseconds. The verifier evaluates it over the stored rows, so the heavy
    part of verification runs vectorised; the writer builds the same text in Python
    (:func:`canonical_body`). ``tests/provenance`` pins the text of a sample record and
    checks both on arbitrary text, so a DuckDB upgrade that changed it would fail the
    tests, not the verifier.
    """
    prefix = f"{alias}." if alias else ""
    parts = [f"'{table}'"]
    for name, kind in CHAINED_COLUMNS[table]:
        ref = f"{prefix}{name}"
        parts.append(f"epoch_us({ref})" if kind == "TIMESTAMP" else ref)
    return f"json_array({', '.join(parts)})::VARCHAR"


_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_DUCKDB_ESCAPES: dict[int, str] = {
    **{code: f"\\u{code:04X}" for code in range(0x20)},
    ord("\b"): "\\b",
    ord("\f"): "\\f",
    ord("\n"): "\\n",
    ord("\r"): "\\r",
    ord("\t"): "\\t",
    ord('"'): '\\"',
    ord("\\"): "\\\\",
}
"""How DuckDB's JSON writer escapes a string: control characters as upper-case ``\\u00XX``
except the five short forms; everything else, non-ASCII included, as is."""


def canonical_body(table: str, values: Sequence[Any]) -> str:
    """The text :func:`canonical_body_sql` gives for one record's content values (``seq``
    first, then the columns of ``CHAINED_COLUMNS[table]`` in order), built in Python.

    The writer uses this on its hot path, where one DuckDB query per batch cost more than
    the insert itself; the verifier keeps the SQL, so a divergence fails verification and
    ``tests/provenance/test_canonical.py`` checks both agree on arbitrary text. Python's
    JSON encoder writes what DuckDB writes, except that DuckDB spells the escape of a
    control character in upper case; a record with a ``\\u00`` in its text (such an escape,
    or the same six characters typed) takes the slower, exact path.
    """
    items: list[Any] = [table]
    for (_, kind), value in zip(CHAINED_COLUMNS[table], values, strict=True):
        if value is None or kind == "VARCHAR":
            items.append(value)
        elif kind == "TIMESTAMP":
            items.append(epoch_us(value))
        else:
            items.append(int(value))
    body = _JSON.encode(items)
    if "\\u00" not in body:
        return body
    parts = [
        "null"
        if item is None
        else f'"{item.translate(_DUCKDB_ESCAPES)}"'
        if isinstance(item, str)
        else str(item)
        for item in items
    ]
    return f"[{','.join(parts)}]"


def epoch_us(moment: datetime) -> int:
    """Microseconds since 1970 of a naive UTC timestamp, as DuckDB's ``epoch_us``."""
    return (moment - datetime(1970, 1, 1)) // timedelta(microseconds=1)


SUBJECT_LINE_SQL = (
    "entity_type || chr(9) || subject_hmac || chr(9) || coalesce(result_column, '') || chr(9)"
    " || coalesce(source, '') || chr(9) || CASE WHEN masked THEN 'masked' ELSE 'shown' END"
)
"""One subject index row as text; the end record holds sha256 of its sorted lines."""


def subject_line_affixes(
    entity_type: str, column: str | None, source: str | None, masked: bool
) -> tuple[str, str]:
    """``SUBJECT_LINE_SQL`` of a subject row is ``prefix + subject_hmac + suffix``; the
    affixes are shared by every subject of one type in one column."""
    shown = "masked" if masked else "shown"
    return f"{entity_type}\t", f"\t{column or ''}\t{source or ''}\t{shown}"


def splits_back(*fields: str | None) -> bool:
    """Whether subject lines with these fields split back into their rows (no field holds
    a tab or a line break)."""
    return not any(field and ("\t" in field or "\n" in field) for field in fields)


def pending_subject_seqs(con: duckdb.DuckDBPyConnection) -> tuple[int, int] | None:
    """The first and last seq of the end records whose subject lines wait to be indexed."""
    row = con.execute(
        f"SELECT min(seq), max(seq) FROM {EXECUTION_ENDS} WHERE {PENDING_SUBJECTS} IS NOT NULL"
    ).fetchone()
    return (int(row[0]), int(row[1])) if row and row[0] is not None else None


def index_pending_subjects(con: duckdb.DuckDBPyConnection, seqs: tuple[int, int]) -> None:
    """Move the pending subject lines of the end records ``seqs`` (first, last) into
    ``subject_index``, in one transaction. Vectorised in DuckDB, so the writer holds no
    Python lock while the gateway serves the next cell."""
    where = f"seq BETWEEN $low AND $high AND {PENDING_SUBJECTS} IS NOT NULL"
    field = "split_part(line, chr(9), {})".format
    bounds = {"low": seqs[0], "high": seqs[1]}
    con.execute("BEGIN TRANSACTION")
    con.execute(
        f"""INSERT INTO {SUBJECT_INDEX}
            SELECT id, {field(1)}, {field(2)}, nullif({field(3)}, ''), nullif({field(4)}, ''),
                   {field(5)} = 'masked',
                   {subject_key_sql(field(2))}
            FROM (SELECT id, unnest(string_split({PENDING_SUBJECTS}, chr(10))) AS line
                  FROM {EXECUTION_ENDS} WHERE {where})""",
        bounds,
    )
    con.execute(f"UPDATE {EXECUTION_ENDS} SET {PENDING_SUBJECTS} = NULL WHERE {where}", bounds)
    con.execute("COMMIT")
