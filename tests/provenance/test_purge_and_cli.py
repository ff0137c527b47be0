"""Retention purge keeps the chain verifiable; the dsar and audit commands."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from nbwarden.cli import main
from nbwarden.config import AuditConfig
from nbwarden.identifiers import EMAIL
from nbwarden.provenance import (
    ApprovalEvent,
    ExecutionEnd,
    ProvenanceError,
    ProvenanceStore,
    Subject,
)
from tests.provenance.history import SOURCE_COLUMNS, make_people, sample_start


def run_at(store: ProvenanceStore, when: datetime, user: str, subjects: list[Subject]) -> str:
    execution_id = store.record_start(sample_start(user, started_at=when))
    store.record_end(
        execution_id,
        ExecutionEnd(status="ok", subjects=subjects, source_columns=SOURCE_COLUMNS, ended_at=when),
    )
    return execution_id


def test_purge_removes_old_records_and_the_chain_still_verifies(audit: AuditConfig) -> None:
    old, recent = make_people(2)
    now = datetime.now(UTC)
    with ProvenanceStore(audit) as store:
        for day in (90, 80, 70):
            run_at(store, now - timedelta(days=day), "alice", old.subjects(("e", "p", "n")))
        store.record_approval(ApprovalEvent("ap-1", "request", "pending", "a", now - timedelta(60)))
        kept = run_at(store, now - timedelta(days=2), "bob", recent.subjects(("e", "p", "n")))
        assert len(store.dsar([(EMAIL, old.email)])) == 3
        assert store.purge() == 7
        assert store.dsar([(EMAIL, old.email)]) == []
        assert store.approval_events() == []
        assert store.purge(30) == 0
        report = store.verify()
        assert report.ok and report.checked == 2, report
        run_at(store, now, "carol", [])
    with ProvenanceStore(audit, read_only=True) as reader:
        report = reader.verify()
        assert report.ok and report.checked == 4, report
        assert [e["execution_id"] for e in reader.dsar([(EMAIL, recent.email)])] == [kept]
    con = duckdb.connect(str(audit.path))
    assert con.execute("SELECT count(*) FROM subject_index").fetchone() == (3,)
    con.execute("UPDATE execution_starts SET user_name = 'eve' WHERE id = ?", [kept])
    con.close()
    with ProvenanceStore(audit, read_only=True) as reader:
        assert not reader.verify().ok


def test_purge_refuses_a_chain_that_does_not_verify(audit: AuditConfig) -> None:
    with ProvenanceStore(audit) as store:
        run_at(store, datetime.now(UTC) - timedelta(days=90), "alice", [])
    con = duckdb.connect(str(audit.path))
    con.execute("UPDATE execution_starts SET purpose = 'hidden'")
    con.close()
    with ProvenanceStore(audit) as store, pytest.raises(ProvenanceError, match="refusing"):
        store.purge(30)


@pytest.fixture
def config_file(audit: AuditConfig, tmp_path: Path) -> Path:
    path = tmp_path / "nbwarden.toml"
    path.write_text(
        f'[audit]\npath = "{audit.path}"\nkey_file = "{audit.key_file}"\nretention_days = 30\n'
    )
    return path


def test_dsar_command_in_every_format(
    audit: AuditConfig, config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    person = make_people(1)[0]
    with ProvenanceStore(audit) as store:
        execution_id = run_at(
            store, datetime.now(UTC), "alice", person.subjects(("email", "p", "n"))
        )
    base = ["dsar", "--config", str(config_file), "--email", person.email.upper()]

    assert main([*base, "--format", "json"]) == 0
    [entry] = json.loads(capsys.readouterr().out)
    assert entry["execution_id"] == execution_id
    assert entry["sources"] == ["customers.email"]

    assert main([*base, "--phone", person.phone, "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [row["execution_id"] for row in rows] == [execution_id]
    assert rows[0]["categories"] == "EMAIL_ADDRESS; PHONE_NUMBER"

    assert main([*base, "--format", "html"]) == 0
    page = capsys.readouterr().out
    assert "(a) Purposes of the processing" in page and "churn study" in page
    assert "(g) Where the data came from" in page and "customers.email" in page
    assert "kept for 30 days" in page
    assert person.email not in page and person.email.lower() not in page


def test_dsar_command_rejects_bad_input(
    config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["dsar", "--config", str(config_file)]) == 2
    assert main(["dsar", "--config", str(config_file), "--id", "IBAN"]) == 2
    assert "TYPE=VALUE" in capsys.readouterr().err
    assert main(["dsar", "--config", str(config_file), "--email", "a@b.c"]) == 3
    assert "does not exist" in capsys.readouterr().err


def test_audit_subjects_and_purge_commands(
    audit: AuditConfig, config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    people = make_people(3)
    now = datetime.now(UTC)
    with ProvenanceStore(audit) as store:
        run_at(store, now - timedelta(days=40), "alice", people[0].subjects(("e", "p", "n")))
        run_at(store, now, "alice", [s for p in people[1:] for s in p.subjects(("e", "p", "n"))])
    assert main(["audit", "subjects", "--user", "alice", "--config", str(config_file)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["subjects"] == 9 and report["executions"] == 2
    since = (now - timedelta(days=1)).isoformat()
    args = ["audit", "subjects", "--user", "alice", "--since", since, "--config", str(config_file)]
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["by_entity_type"][EMAIL] == 2
    assert main(["audit", "purge", "--config", str(config_file)]) == 0
    assert "purged 2 records" in capsys.readouterr().out
    assert main(["audit", "verify", "--config", str(config_file)]) == 0
