"""The approval state machine against a real provenance store (DuckDB file)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from nbwarden.approvals import (
    ApprovalError,
    ApprovalService,
    ApprovalSettings,
    ApproverRule,
    Notifier,
    ProvenanceJournal,
    binding_hash,
    sha256_hex,
)
from nbwarden.config import AuditConfig
from nbwarden.provenance import ProvenanceStore

APPROVER = frozenset({"approver"})
ADMIN = frozenset({"admin", "approver"})
ANALYST = frozenset({"analyst"})
CODE = "DELETE FROM customers WHERE signup < '2020-01-01'"


class Clock:
    """A settable time source, so expiry is tested without sleeping."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store(tmp_path: Path, key_file: Path) -> Iterator[ProvenanceStore]:
    audit = AuditConfig(path=tmp_path / "audit.duckdb", key_file=key_file)
    store = ProvenanceStore(audit)
    yield store
    store.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make_service(
    store: ProvenanceStore, clock: Clock, rules: dict[str, ApproverRule] | None = None
) -> ApprovalService:
    settings = ApprovalSettings(request_ttl_s=600, grant_default_minutes=30, grant_max_minutes=60)
    return ApprovalService(ProvenanceJournal(store), settings, rules, Notifier(), clock=clock)


def new_request(service: ApprovalService, code: str = CODE, requester: str = "alice") -> Any:
    return service.create_request(
        kind="sql",
        target="prod",
        requester=requester,
        binding=binding_hash("sql", "prod", code, requester, {"limit": 5}),
        code_sha256=sha256_hex(code),
        code_masked=code,
        rules=["sql.delete"],
        reasons=["deletes rows"],
        purpose="cleanup",
    )


def test_one_time_approval_runs_once(store: ProvenanceStore, clock: Clock) -> None:
    service = make_service(store, clock)
    request = new_request(service)
    assert request.state == "pending"
    approved = service.approve(request.id, "bob", APPROVER, "legitimate_interests")
    assert approved.state == "approved"
    assert approved.basis == "legitimate_interests"
    auth = service.consume(request.id, request.binding, "alice", "exec-1")
    assert auth.approval_id == request.id and auth.approvers == ("bob",)
    assert service.get(request.id).state == "used"
    with pytest.raises(ApprovalError, match="already used"):
        service.consume(request.id, request.binding, "alice", "exec-2")


def test_changed_code_or_other_user_needs_a_new_approval(
    store: ProvenanceStore, clock: Clock
) -> None:
    service = make_service(store, clock)
    request = new_request(service)
    service.approve(request.id, "bob", APPROVER, "contract")
    one_char_changed = binding_hash("sql", "prod", CODE + " ", "alice", {"limit": 5})
    other_params = binding_hash("sql", "prod", CODE, "alice", {"limit": 6})
    for binding in (one_char_changed, other_params):
        with pytest.raises(ApprovalError, match="new approval"):
            service.consume(request.id, binding, "alice", "exec")
    with pytest.raises(ApprovalError, match="new approval"):
        service.consume(request.id, request.binding, "mallory", "exec")
    assert service.get(request.id).state == "approved"


def test_nobody_approves_their_own_request(store: ProvenanceStore, clock: Clock) -> None:
    service = make_service(store, clock)
    request = new_request(service, requester="root-admin")
    with pytest.raises(ApprovalError, match="own request"):
        service.approve(request.id, "root-admin", ADMIN, "contract")
    with pytest.raises(ApprovalError, match="not an approver"):
        service.approve(request.id, "carol", ANALYST, "contract")
    assert service.get(request.id).state == "pending"


def test_reject_needs_a_reason_and_ends_the_request(store: ProvenanceStore, clock: Clock) -> None:
    service = make_service(store, clock)
    request = new_request(service)
    with pytest.raises(ApprovalError, match="reason"):
        service.reject(request.id, "bob", APPROVER, "   ")
    rejected = service.reject(request.id, "bob", APPROVER, "no ticket for this")
    assert rejected.state == "rejected" and rejected.reject_reason == "no ticket for this"
    with pytest.raises(ApprovalError, match="rejected"):
        service.approve(request.id, "carol", APPROVER, "contract")
    with pytest.raises(ApprovalError, match="not approved"):
        service.consume(request.id, request.binding, "alice", "exec")


def test_requests_and_approvals_expire(store: ProvenanceStore, clock: Clock) -> None:
    service = make_service(store, clock)
    pending = new_request(service)
    clock.now += 601
    assert service.get(pending.id).state == "expired"
    with pytest.raises(ApprovalError, match="expired"):
        service.approve(pending.id, "bob", APPROVER, "contract")

    approved = new_request(service, code=CODE + " AND 1=1")
    service.approve(approved.id, "bob", APPROVER, "contract")
    clock.now += 601
    with pytest.raises(ApprovalError, match="expired"):
        service.consume(approved.id, approved.binding, "alice", "exec")


def test_withdraw_is_for_the_requester_only(store: ProvenanceStore, clock: Clock) -> None:
    service = make_service(store, clock)
    request = new_request(service)
    with pytest.raises(ApprovalError, match="requester"):
        service.withdraw(request.id, "bob")
    assert service.withdraw(request.id, "alice").state == "withdrawn"


def test_n_approvals_from_the_connection_group(store: ProvenanceStore, clock: Clock) -> None:
    service = make_service(store, clock, {"prod": ApproverRule(("bob", "carol"), 2)})
    request = new_request(service)
    assert request.required_approvals == 2
    with pytest.raises(ApprovalError, match="approver group"):
        service.approve(request.id, "dave", ADMIN, "contract")
    first = service.approve(
        request.id, "bob", APPROVER, "contract", "ticket 12", unmask_columns=["email", "phone"]
    )
    assert first.state == "pending" and len(first.decisions) == 1
    with pytest.raises(ApprovalError, match="already approved"):
        service.approve(request.id, "bob", APPROVER, "contract")
    final = service.approve(
        request.id, "carol", APPROVER, "contract", "ticket 12", unmask_columns=["email"]
    )
    assert final.state == "approved"
    assert final.unmask_columns == ("email",)


def test_unmasking_needs_a_legal_basis_and_justification(
    store: ProvenanceStore, clock: Clock
) -> None:
    service = make_service(store, clock)
    request = new_request(service)
    with pytest.raises(ApprovalError, match="legal basis"):
        service.approve(request.id, "bob", APPROVER, "because", "x", unmask_columns=["email"])
    with pytest.raises(ApprovalError, match="justification"):
        service.approve(request.id, "bob", APPROVER, "contract", "", unmask_columns=["email"])
    service.approve(
        request.id,
        "bob",
        APPROVER,
        "legal_obligation",
        "court order 7",
        unmask_columns=["email"],
        unmask_entities=["PHONE_NUMBER"],
    )
    auth = service.consume(request.id, request.binding, "alice", "exec")
    assert auth.unmask_columns == ("email",)
    assert auth.unmask_entities == ("PHONE_NUMBER",)
    assert auth.basis == "legal_obligation" and auth.justification == "court order 7"


def test_grant_covers_its_window_scope_and_user_only(store: ProvenanceStore, clock: Clock) -> None:
    service = make_service(store, clock)
    with pytest.raises(ApprovalError, match="themselves"):
        service.create_grant(
            user="bob",
            target="prod",
            granted_by="bob",
            roles=ADMIN,
            basis="contract",
            justification="incident",
        )
    with pytest.raises(ApprovalError, match="1 to 60 minutes"):
        service.create_grant(
            user="alice",
            target="prod",
            granted_by="bob",
            roles=APPROVER,
            basis="contract",
            justification="incident",
            minutes=61,
        )
    grant = service.create_grant(
        user="alice",
        target="prod",
        granted_by="bob",
        roles=APPROVER,
        basis="contract",
        justification="incident 4711",
        rules=["sql.delete"],
    )
    assert grant.ends_at - grant.starts_at == 30 * 60
    assert service.covering_grant("alice", "prod", ["sql.delete"]) is not None
    assert service.covering_grant("alice", "prod", ["sql.drop"]) is None
    assert service.covering_grant("alice", "staging", ["sql.delete"]) is None
    assert service.covering_grant("mallory", "prod", ["sql.delete"]) is None
    clock.now += 30 * 60
    assert service.covering_grant("alice", "prod", ["sql.delete"]) is None

    second = service.create_grant(
        user="alice",
        target="prod",
        granted_by="bob",
        roles=APPROVER,
        basis="contract",
        justification="incident 4712",
    )
    assert service.covering_grant("alice", "prod", ["sql.anything"]) is not None
    service.revoke_grant(second.id, "carol", APPROVER)
    assert service.covering_grant("alice", "prod", ["sql.anything"]) is None


def test_approval_with_grant_minutes_opens_a_grant(store: ProvenanceStore, clock: Clock) -> None:
    service = make_service(store, clock)
    request = new_request(service)
    approved = service.approve(
        request.id, "bob", APPROVER, "contract", "on-call week", grant_minutes=15
    )
    assert approved.grant_id is not None
    auth = service.covering_grant("alice", "prod", ["sql.delete"])
    assert auth is not None and auth.grant_id == approved.grant_id


def test_state_survives_a_restart_and_every_change_is_chained(
    tmp_path: Path, key_file: Path, clock: Clock
) -> None:
    audit = AuditConfig(path=tmp_path / "audit.duckdb", key_file=key_file)
    store = ProvenanceStore(audit)
    service = make_service(store, clock)
    pending = new_request(service)
    approved = new_request(service, code="UPDATE t SET x = 1")
    service.approve(approved.id, "bob", APPROVER, "contract")
    service.create_grant(
        user="alice",
        target="prod",
        granted_by="bob",
        roles=APPROVER,
        basis="contract",
        justification="incident",
    )
    store.close()

    reopened = ProvenanceStore(audit)
    try:
        events = reopened.approval_events()
        assert [(e.kind, e.state) for e in events] == [
            ("request", "pending"),
            ("request", "pending"),
            ("request", "approved"),
            ("grant", "active"),
        ]
        assert all(e.details["snapshot"].get("code_masked") != "raw" for e in events)
        restored = make_service(reopened, clock)
        assert restored.get(pending.id).state == "pending"
        assert restored.get(approved.id).state == "approved"
        assert restored.covering_grant("alice", "prod", ["sql.delete"]) is not None
        restored.consume(approved.id, approved.binding, "alice", "exec")
        with pytest.raises(ApprovalError, match="already used"):
            make_service(reopened, clock).consume(approved.id, approved.binding, "alice", "e")
        assert reopened.verify().ok
    finally:
        reopened.close()


def test_hooks_get_events_without_code(store: ProvenanceStore, clock: Clock) -> None:
    service = make_service(store, clock)
    received: list[dict[str, Any]] = []
    service.notifier.hooks.append(received.append)
    request = new_request(service)
    service.approve(request.id, "bob", APPROVER, "contract")
    assert [(e["id"], e["state"]) for e in received] == [
        (request.id, "pending"),
        (request.id, "approved"),
    ]
    assert received[1]["approver"] == "bob" and received[1]["requester"] == "alice"
    for event in received:
        assert CODE not in json.dumps(event)


def test_webhook_posts_slack_compatible_json(store: ProvenanceStore, clock: Clock) -> None:
    bodies: list[dict[str, Any]] = []
    done = threading.Event()

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            bodies.append(json.loads(self.rfile.read(length)))
            self.send_response(200)
            self.end_headers()
            done.set()

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.handle_request, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/hook"
        settings = ApprovalSettings(request_ttl_s=600)
        service = ApprovalService(
            ProvenanceJournal(store), settings, None, Notifier([url]), clock=clock
        )
        request = new_request(service)
        assert done.wait(10)
    finally:
        server.server_close()
    assert bodies[0]["event"]["id"] == request.id
    assert "pending" in bodies[0]["text"] and "prod" in bodies[0]["text"]
    assert CODE not in json.dumps(bodies[0])
