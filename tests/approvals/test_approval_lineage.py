"""Approval requests carry the verdict's lineage and the masking the profile predicts."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from faker import Faker

from nbwarden.approvals import (
    ApprovalRequest,
    ApprovalService,
    Notifier,
    ProvenanceJournal,
    binding_hash,
    sha256_hex,
)
from nbwarden.approvals.models import CHECKED_BY_CONTENT
from nbwarden.config import AuditConfig, parse_config
from nbwarden.executor import ExecuteRequest, Gateway, Identity
from nbwarden.executor.gateway import approval_service
from nbwarden.masking import Masker
from nbwarden.masking.columns import hinted_entity
from nbwarden.masking.profile import load_profile
from nbwarden.policy import PolicyEngine
from nbwarden.provenance import ProvenanceStore

WRITE_AND_READ = (
    "UPDATE customers SET city = 'x' WHERE id IN (SELECT o.customer_id FROM orders o); "
    "SELECT email, phone, signup FROM customers"
)


@pytest.fixture
def store(tmp_path: Path, key_file: Path) -> Iterator[ProvenanceStore]:
    store = ProvenanceStore(AuditConfig(path=tmp_path / "audit.duckdb", key_file=key_file))
    yield store
    store.close()


def hinted_service(store: ProvenanceStore) -> ApprovalService:
    profile = load_profile("default")
    return ApprovalService(
        ProvenanceJournal(store),
        notifier=Notifier(),
        predict_entity=lambda name: hinted_entity(profile, name),
    )


def held_request(service: ApprovalService, code: str = WRITE_AND_READ) -> ApprovalRequest:
    verdict = PolicyEngine().check_sql(code, "postgres")
    assert verdict.action == "flag"
    return service.create_request(
        kind="sql",
        target="prod",
        requester="alice",
        binding=binding_hash("sql", "prod", code, "alice", None),
        code_sha256=sha256_hex(code),
        code_masked=code,
        rules=verdict.rules,
        reasons=verdict.reasons,
        purpose="cleanup",
        lineage=verdict,
    )


def test_request_carries_lineage_and_predicted_masking(store: ProvenanceStore) -> None:
    request = json.loads(json.dumps(held_request(hinted_service(store)).to_dict()))
    assert request["statement_types"] == ["UPDATE", "SELECT"]
    assert request["tables_read"] == ["orders", "customers"]
    assert request["tables_written"] == ["customers"]
    assert request["tables"] == ["orders", "customers"]
    assert "customers.email" in request["columns"]
    assert request["masking"]["customers.email"] == "EMAIL_ADDRESS"
    assert request["masking"]["customers.phone"] == "PHONE_NUMBER"
    assert request["masking"]["customers.signup"] == CHECKED_BY_CONTENT
    assert set(request["masking"]) == set(request["columns"])


def test_lineage_is_in_the_approval_event_and_survives_a_restart(
    store: ProvenanceStore,
) -> None:
    request = held_request(hinted_service(store))
    events = [e for e in store.approval_events() if e.approval_id == request.id]
    snapshot = events[-1].details["snapshot"]
    assert snapshot["tables_written"] == ["customers"]
    assert snapshot["masking"]["customers.phone"] == "PHONE_NUMBER"
    restarted = ApprovalService(ProvenanceJournal(store), notifier=Notifier())
    replayed = restarted.get(request.id)
    assert replayed == request
    assert replayed.masking["customers.email"] == "EMAIL_ADDRESS"


def test_without_lineage_or_hints_the_request_says_so(store: ProvenanceStore) -> None:
    plain = ApprovalService(ProvenanceJournal(store), notifier=Notifier())
    request = held_request(plain)
    assert request.columns
    assert set(request.masking.values()) == {CHECKED_BY_CONTENT}


def test_gateway_holds_a_cell_with_its_lineage_and_no_values(
    tmp_path: Path, key_file: Path
) -> None:
    fake = Faker()
    Faker.seed(77)
    emails = [fake.unique.email() for _ in range(5)]
    with duckdb.connect(str(tmp_path / "crm.duckdb")) as con:
        con.execute("CREATE TABLE customers (id INTEGER, email TEXT, note TEXT)")
        con.executemany("INSERT INTO customers VALUES (?, ?, 'n')", list(enumerate(emails)))
    config = parse_config(
        {
            "audit": {"path": str(tmp_path / "audit.duckdb"), "key_file": str(key_file)},
            "connections": {"crm": {"url": f"duckdb:///{tmp_path / 'crm.duckdb'}"}},
        },
        base_dir=tmp_path,
    )
    masker = Masker.for_profile("default", pseudonym_key=secrets.token_bytes(32))
    store = ProvenanceStore(config.audit)
    gateway = Gateway(
        config, PolicyEngine(), masker, store, approval_service(config, store, masker)
    )
    try:
        code = f"UPDATE customers SET note = 'gone' WHERE email = '{emails[0]}'"
        request = ExecuteRequest(kind="sql", target="crm", code=code, purpose="erasure")
        outcome = asyncio.run(gateway.execute(request, Identity("alice", frozenset({"analyst"}))))
        assert outcome.status == "pending" and outcome.approval is not None
        held = gateway.approvals.get(outcome.approval["id"])
        assert held.tables_written == ("customers",)
        assert held.statement_types == ("UPDATE",)
        assert held.masking.get("customers.email") == "EMAIL_ADDRESS"
        recorded = json.dumps([e.details for e in store.approval_events()], default=str)
        assert "customers" in recorded and emails[0] not in recorded
    finally:
        gateway.close()
