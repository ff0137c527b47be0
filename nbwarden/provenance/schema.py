"""Tables, migrations and the canonical content expression of each chained table.

Every chained record lives in one of three append-only tables and carries ``seq`` (its
place in the one global chain), ``prev_hash`` and ``hash``. A record's hash is an HMAC
over the previous hash and the record's canonical body (:func:`canonical_body_sql`).
"""

from __future__ import annotations

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

SUBJECT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("execution_id", "VARCHAR"),
    ("entity_type", "VARCHAR"),
    ("subject_hmac", "VARCHAR"),
    ("result_column", "VARCHAR"),
    ("source", "VARCHAR"),
    ("masked", "BOOLEAN"),
)

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
        _create_table(SUBJECT_INDEX, SUBJECT_COLUMNS),
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


MIGRATIONS: tuple[tuple[int, list[str]], ...] = ((1, _schema_v1()),)
"""(version, statements): append new versions; never edit an applied one."""

SCHEMA_VERSION = MIGRATIONS[-1][0]


def migrate(con: duckdb.DuckDBPyConnection) -> None:
    """Bring the file to :data:`SCHEMA_VERSION`, each version in one transaction."""
    con.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER, applied_at TIMESTAMP)")
    row = con.execute("SELECT max(version) FROM schema_version").fetchone()
    current = int(row[0]) if row and row[0] is not None else 0
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
    as integer microseconds. The writer evaluates it over each Arrow batch before inserting
    and the verifier over the stored rows, so both agree by construction and the heavy part
    of verification runs vectorised. ``tests/provenance`` pins the text of a sample record
    so a DuckDB upgrade that changed it would fail the tests, not the verifier.
    """
    prefix = f"{alias}." if alias else ""
    parts = [f"'{table}'"]
    for name, kind in CHAINED_COLUMNS[table]:
        ref = f"{prefix}{name}"
        parts.append(f"epoch_us({ref})" if kind == "TIMESTAMP" else ref)
    return f"json_array({', '.join(parts)})::VARCHAR"


SUBJECT_LINE_SQL = (
    "entity_type || chr(9) || subject_hmac || chr(9) || coalesce(result_column, '') || chr(9)"
    " || coalesce(source, '') || chr(9) || CASE WHEN masked THEN 'masked' ELSE 'shown' END"
)
"""One subject index row as text; the end record holds sha256 of its sorted lines."""


def subject_line(
    entity_type: str, subject_hmac: str, column: str | None, source: str | None, masked: bool
) -> str:
    state = "masked" if masked else "shown"
    return "\t".join((entity_type, subject_hmac, column or "", source or "", state))
