"""An end record carries its subject lines until the writer indexes them, when idle or
before a read of the subject index; nothing is lost in between, not even in a crash."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import pytest
from faker import Faker

from nbwarden.config import AuditConfig
from nbwarden.identifiers import EMAIL
from nbwarden.provenance import ExecutionEnd, ProvenanceStore, Subject
from nbwarden.provenance import store as store_module
from tests.provenance.history import sample_start

Faker.seed(11)
FAKE = Faker()
EMAILS = [FAKE.unique.email() for _ in range(5)]

CRASHING_WRITER = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    from nbwarden.config import AuditConfig
    from nbwarden.provenance import ExecutionEnd, ExecutionStart, ProvenanceStore, Subject
    from nbwarden.provenance import store as store_module

    store_module.INDEX_WHEN_IDLE_S = 3600
    store = ProvenanceStore(AuditConfig(path=Path(sys.argv[1]), key_file=Path(sys.argv[2])))
    execution_id = store.record_start(ExecutionStart(
        user="alice", kind="sql", target="prod", code_masked="SELECT 1", code_hash="ab" * 32))
    subjects = [Subject("EMAIL_ADDRESS", email, "email") for email in sys.argv[4:]]
    store.record_end(execution_id, ExecutionEnd(status="ok", subjects=subjects))
    if sys.argv[3] == "folded":
        store.stats()
    print(execution_id, flush=True)
    os._exit(0)
    """
)


def counts(store: ProvenanceStore) -> tuple[int, int]:
    """(end records with pending lines, subject index rows), read without indexing, once
    the journal is folded into the tables (as every read does first)."""
    store.stats()
    con = store._db.cursor()
    try:
        pending = con.execute("SELECT count(subject_lines) FROM execution_ends").fetchone()
        indexed = con.execute("SELECT count(*) FROM subject_index").fetchone()
    finally:
        con.close()
    assert pending is not None and indexed is not None
    return int(pending[0]), int(indexed[0])


def eventually(store: ProvenanceStore, expected: tuple[int, int]) -> tuple[int, int]:
    """``counts`` once they are ``expected`` (the writer indexes after it answers)."""
    deadline = time.monotonic() + 10
    while counts(store) != expected and time.monotonic() < deadline:
        time.sleep(0.02)
    return counts(store)


def record(store: ProvenanceStore, column: str = "email") -> str:
    execution_id = store.record_start(sample_start())
    subjects = [Subject(EMAIL, email.lower(), column) for email in EMAILS]
    store.record_end(execution_id, ExecutionEnd(status="ok", rows=5, subjects=subjects))
    return execution_id


def crash_after_a_result(audit: AuditConfig, left: str = "folded") -> str:
    """A gateway process that recorded a result and died before indexing its subjects:
    ``left`` ``"folded"`` into the DuckDB tables, or only in the ``"journal"``."""
    arguments = [str(audit.path), str(audit.key_file), left, *EMAILS]
    child = subprocess.run(
        [sys.executable, "-c", CRASHING_WRITER, *arguments],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return child.stdout.strip()


@pytest.fixture
def never_idle(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_module, "INDEX_WHEN_IDLE_S", 3600)


@pytest.mark.usefixtures("never_idle")
def test_a_result_is_recorded_before_its_subjects_are_indexed(store: ProvenanceStore) -> None:
    execution_id = record(store)
    assert counts(store) == (1, 0)
    assert store.verify().ok
    found = store.dsar([(EMAIL, EMAILS[2])])
    assert [entry["execution_id"] for entry in found] == [execution_id]
    assert counts(store) == (0, len(EMAILS))
    assert store.verify().ok
    assert store.subjects_seen("alice")["subjects"] == len(EMAILS)


def test_the_writer_indexes_subjects_once_idle(store: ProvenanceStore) -> None:
    record(store)
    assert eventually(store, (0, len(EMAILS))) == (0, len(EMAILS))


@pytest.mark.usefixtures("never_idle")
def test_a_writer_that_is_never_idle_indexes_a_large_backlog(
    store: ProvenanceStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "INDEX_BACKLOG_LINES", 2 * len(EMAILS))
    record(store)
    assert counts(store) == (1, 0)
    record(store)
    assert eventually(store, (0, 2 * len(EMAILS))) == (0, 2 * len(EMAILS))


@pytest.mark.usefixtures("never_idle")
def test_a_column_name_that_would_not_split_back_is_indexed_at_once(
    store: ProvenanceStore,
) -> None:
    execution_id = record(store, column="e\tmail\n")
    assert counts(store) == (0, len(EMAILS))
    [entry] = store.dsar([(EMAIL, EMAILS[0])])
    assert entry["execution_id"] == execution_id
    assert store.verify().ok


@pytest.mark.parametrize("left", ["folded", "journal"])
def test_subjects_left_pending_by_a_crash_are_found_without_a_gateway(
    audit: AuditConfig, left: str
) -> None:
    execution_id = crash_after_a_result(audit, left)
    with ProvenanceStore(audit, read_only=True) as reader:
        assert [e["execution_id"] for e in reader.dsar([(EMAIL, EMAILS[4])])] == [execution_id]
        assert reader.verify().ok


@pytest.mark.parametrize("left", ["folded", "journal"])
def test_a_reopened_store_indexes_what_a_crash_left_pending(audit: AuditConfig, left: str) -> None:
    execution_id = crash_after_a_result(audit, left)
    with ProvenanceStore(audit) as store:
        assert [e["execution_id"] for e in store.dsar([(EMAIL, EMAILS[0])])] == [execution_id]
        assert counts(store) == (0, len(EMAILS))
        assert store.verify().ok


@pytest.mark.parametrize(
    "change",
    [
        "subject_lines = replace(subject_lines, 'email', 'mail')",
        "subject_lines = NULL",
        "subject_lines = subject_lines || chr(10) || subject_lines",
    ],
)
def test_changed_pending_subject_lines_fail_verification(audit: AuditConfig, change: str) -> None:
    import duckdb

    crash_after_a_result(audit)
    con = duckdb.connect(str(audit.path))
    con.execute(f"UPDATE execution_ends SET {change} WHERE subject_lines IS NOT NULL")
    con.close()
    with ProvenanceStore(audit, read_only=True) as reader:
        report = reader.verify()
    assert not report.ok
    assert report.problem == "the subject index rows of this execution were changed"
