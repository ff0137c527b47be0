"""A store written by an earlier schema version opens, migrates and keeps every answer."""

from __future__ import annotations

import duckdb

from nbwarden.config import AuditConfig
from nbwarden.identifiers import EMAIL
from nbwarden.provenance import ProvenanceStore
from nbwarden.provenance.schema import SCHEMA_VERSION, _schema_v1
from tests.provenance.history import record_history


def downgrade_to_v1(audit: AuditConfig) -> None:
    """Give the file the version 1 subject index (no lookup key, the HMAC text indexed)
    and end records without pending subject lines (version 3)."""
    con = duckdb.connect(str(audit.path))
    assert con.execute("SELECT count(subject_lines) FROM execution_ends").fetchone() == (0,)
    con.execute("DROP VIEW executions")
    con.execute("CREATE TABLE v2 AS SELECT * EXCLUDE (subject_lines) FROM execution_ends")
    con.execute("DROP TABLE execution_ends")
    con.execute("ALTER TABLE v2 RENAME TO execution_ends")
    for statement in _schema_v1():
        if statement.startswith(("CREATE INDEX ends_id", "CREATE VIEW")):
            con.execute(statement)
    con.execute(
        "CREATE TABLE v1 AS SELECT execution_id, entity_type, subject_hmac, result_column,"
        " source, masked FROM subject_index"
    )
    con.execute("DROP TABLE subject_index")
    con.execute("ALTER TABLE v1 RENAME TO subject_index")
    con.execute("CREATE INDEX subject_hmac ON subject_index (subject_hmac)")
    con.execute("DELETE FROM schema_version WHERE version > 1")
    con.close()


def test_version_1_store_migrates_and_keeps_dsar_and_verification(audit: AuditConfig) -> None:
    with ProvenanceStore(audit) as store:
        history = record_history(store, executions=30, people=10)
    assert any(history.seen_by.values()), "the history must name subjects to look up"
    downgrade_to_v1(audit)
    with ProvenanceStore(audit) as store:
        assert store.verify().ok
        for person in history.people:
            found = {e["execution_id"] for e in store.dsar([(EMAIL, person.email)])}
            assert found == history.seen_by.get(person.email, set())
    con = duckdb.connect(str(audit.path), read_only=True)
    assert con.execute("SELECT max(version) FROM schema_version").fetchone() == (SCHEMA_VERSION,)
    indexes = {row[0] for row in con.execute("SELECT index_name FROM duckdb_indexes()").fetchall()}
    con.close()
    assert {"starts_id", "ends_id"} <= indexes
    assert not {"subject_key", "subject_hmac"} & indexes


def test_read_only_open_of_a_version_1_store_migrates_it_first(audit: AuditConfig) -> None:
    """``nbwarden dsar`` without a running gateway opens the file read-only."""
    with ProvenanceStore(audit) as store:
        history = record_history(store, executions=12, people=6)
    assert any(history.seen_by.values()), "the history must name subjects to look up"
    downgrade_to_v1(audit)
    with ProvenanceStore(audit, read_only=True) as store:
        assert store.verify().ok
        for person in history.people:
            found = {e["execution_id"] for e in store.dsar([(EMAIL, person.email)])}
            assert found == history.seen_by.get(person.email, set())
