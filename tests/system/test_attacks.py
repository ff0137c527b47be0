"""Attacks on a running gateway process: each is refused, and the refusal is on record.

Identity forgery and replay, self-approval, replaying a one-time approval with changed
code, reading another user's records, an analyst on approver and auditor routes, and
every SQL and shell evasion of the policy corpus sent as a governed cell.
"""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from benchmarks.system.fleet import GatewayProcess
from nbwarden.config import load_config
from nbwarden.policy import PolicyEngine
from nbwarden.provenance import ProvenanceStore
from nbwarden.server_extension import assertions
from tests.system.support import Workspace, assert_chain_verifies

pytestmark = [pytest.mark.postgres]

CORPUS = Path(__file__).resolve().parents[1] / "policy" / "data"
FLAGGED = "SELECT * FROM customers"
CELL = "%%sql prod\nSELECT id, city FROM customers WHERE id < 4"
KERNEL = "kernel-1"


def kernel_call(
    gateway: GatewayProcess, token: str, code: str, source: str, kernel_id: str = KERNEL
) -> tuple[int, Any]:
    body = {"kind": "sql", "code": code, "cell_source": source, "kernel_id": kernel_id}
    headers = {"Authorization": f"NBWarden-Assertion {token}"}
    return gateway.call(None, "POST", "execute", body, headers=headers)


def stamp(key: bytes, source: str, **kwargs: Any) -> str:
    claims = {"user": "alice", "kernel_id": KERNEL, "cell_id": "c1", "ttl_s": 120, **kwargs}
    return assertions.sign(key, source=source, **claims)


def recorded(workspace: Workspace) -> tuple[list[dict[str, Any]], list[Any]]:
    store = ProvenanceStore(load_config(workspace.config_path).audit, read_only=True)
    try:
        return store.search_executions(limit=100_000), store.approval_events()
    finally:
        store.close()


def refused_kernel_calls(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [row for row in rows if "gateway.identity_assertion" in (row.get("rule_ids") or [])]


def test_forged_replayed_and_misdirected_assertions(
    workspace: Workspace, gateway: GatewayProcess
) -> None:
    key = assertions.assertion_key(load_config(workspace.config_path).audit.key_file)
    code = CELL.split("\n", 1)[1]
    valid = stamp(key, CELL)
    assert kernel_call(gateway, valid, code, CELL)[0] == 200

    attempts = {
        "forged key": (stamp(secrets.token_bytes(32), CELL), code, CELL, KERNEL),
        "tampered claims": (
            valid.replace(valid[3], "A" if valid[3] != "A" else "B", 1),
            code,
            CELL,
            KERNEL,
        ),
        "expired": (stamp(key, CELL, now=time.time() - 600), code, CELL, KERNEL),
        "other kernel": (valid, code, CELL, "kernel-2"),
        "changed code": (valid, "SELECT name, email FROM customers WHERE id < 4", CELL, KERNEL),
        "changed source": (valid, "SELECT 2", "%%sql prod\nSELECT 2", KERNEL),
        "garbage": ("not-a-token", code, CELL, KERNEL),
    }
    for name, (token, sent_code, source, kernel_id) in attempts.items():
        status, body = kernel_call(gateway, token, sent_code, source, kernel_id)
        assert status == 403, (name, body)
        assert "result" not in body or body.get("result") is None
    as_approver = {"Authorization": f"NBWarden-Assertion {valid}"}
    status, _ = gateway.call(
        None, "POST", "approvals/x1/approve", {"basis": "contract"}, headers=as_approver
    )
    assert status == 403
    assert gateway.call(None, "GET", "audit/verify", headers=as_approver)[0] == 403
    gateway.stop()
    rows, _ = recorded(workspace)
    assert len(refused_kernel_calls(rows)) >= len(attempts)
    assert_chain_verifies(workspace.config_path)


def test_self_approval_and_approval_replay_with_changed_code(
    workspace: Workspace, gateway: GatewayProcess, customers: list[dict[str, Any]]
) -> None:
    status, held = gateway.call("dpo", "POST", "execute", {"kind": "sql", "code": FLAGGED})
    assert status == 202, held
    own = held["approval"]["id"]
    status, body = gateway.call(
        "dpo", "POST", f"approvals/{own}/approve", {"basis": "contract", "justification": "mine"}
    )
    assert status in (403, 409), body
    assert gateway.call("dpo", "GET", f"approvals/{own}")[1]["state"] == "pending"

    status, held = gateway.call("alice", "POST", "execute", {"kind": "sql", "code": FLAGGED})
    approval_id = held["approval"]["id"]
    status, body = gateway.call(
        "dpo",
        "POST",
        f"approvals/{approval_id}/approve",
        {"basis": "contract", "justification": "ticket 12"},
    )
    assert status == 200 and body["state"] == "approved", body
    changed = {
        "kind": "sql",
        "code": "SELECT * FROM customers; DELETE FROM customers",
        "approval_id": approval_id,
    }
    status, body = gateway.call("alice", "POST", "execute", changed)
    assert status in (403, 422) and body["result"] is None, body
    for other in ("SELECT *, email AS e FROM customers", FLAGGED + " "):
        status, body = gateway.call(
            "alice", "POST", "execute", {"kind": "sql", "code": other, "approval_id": approval_id}
        )
        assert status in (403, 422) and body["result"] is None, body
    status, body = gateway.call(
        "bob", "POST", "execute", {"kind": "sql", "code": FLAGGED, "approval_id": approval_id}
    )
    assert status in (403, 422) and body["result"] is None, body
    run = {"kind": "sql", "code": FLAGGED, "approval_id": approval_id}
    status, body = gateway.call("alice", "POST", "execute", run)
    assert status == 200 and body["result"]["row_count"] == len(customers), body
    status, body = gateway.call("alice", "POST", "execute", run)
    assert status == 422 and body["result"] is None, body
    gateway.stop()

    rows, events = recorded(workspace)
    refused = [row for row in rows if row["status"] in ("error", "blocked")]
    assert len(refused) == 6, refused
    self_approval = [r for r in refused if "gateway.authorization" in (r.get("rule_ids") or [])]
    assert [r["user"] for r in self_approval] == ["dpo"], self_approval
    assert [e.state for e in events if e.approval_id == own] == ["pending"]
    assert_chain_verifies(workspace.config_path)


def test_no_reading_of_other_users_records_and_no_role_escalation(
    workspace: Workspace, gateway: GatewayProcess
) -> None:
    status, done = gateway.call(
        "alice", "POST", "execute", {"kind": "sql", "code": "SELECT id FROM customers WHERE id = 1"}
    )
    assert status == 200
    mine = done["execution_id"]
    status, held = gateway.call("alice", "POST", "execute", {"kind": "sql", "code": FLAGGED})
    approval_id = held["approval"]["id"]

    assert gateway.call("alice", "GET", f"executions/{mine}")[0] == 200
    assert gateway.call("bob", "GET", f"executions/{mine}")[0] == 404
    assert gateway.call("bob", "GET", f"approvals/{approval_id}")[0] == 404
    assert all(a["requester"] == "bob" for a in gateway.call("bob", "GET", "approvals")[1])
    assert gateway.call("bob", "POST", f"approvals/{approval_id}/withdraw")[0] in (403, 409)

    analyst_refused = [
        ("POST", f"approvals/{approval_id}/approve", {"basis": "contract"}),
        ("POST", f"approvals/{approval_id}/reject", {"reason": "no"}),
        ("GET", "grants", None),
        (
            "POST",
            "grants",
            {
                "user": "bob",
                "target": "prod",
                "basis": "contract",
                "justification": "x",
                "minutes": 30,
            },
        ),
        ("POST", "grants/g1/revoke", {}),
        ("GET", "executions", None),
        ("POST", "dsar", {"email": "someone@example.com"}),
        ("GET", "audit/verify", None),
        ("GET", "audit/stats", None),
    ]
    for method, path, body in analyst_refused:
        status, answer = gateway.call("bob", method, path, body)
        assert status == 403, (method, path, answer)
    for method, path, body in analyst_refused[:5]:
        assert gateway.call("auditor", method, path, body)[0] == 403, path
    assert gateway.call("auditor", "POST", "execute", {"kind": "sql", "code": "SELECT 1"})[0] == 403
    assert gateway.call(None, "GET", "whoami")[0] == 403
    assert gateway.call("dpo", "GET", f"approvals/{approval_id}")[1]["state"] == "pending"
    log = gateway.log_path
    gateway.stop()
    logged = log.read_text(encoding="utf-8")
    refusals = len(analyst_refused) + len(analyst_refused[:5]) + 2
    assert logged.count("403 ") >= refusals, "a refusal left no trace in the log"
    assert_chain_verifies(workspace.config_path)


def corpus(name: str) -> list[dict[str, Any]]:
    return list(yaml.safe_load((CORPUS / name).read_text(encoding="utf-8"))["dangerous"])


def test_policy_corpus_evasions_are_refused_and_recorded(
    workspace: Workspace, gateway: GatewayProcess
) -> None:
    engine = PolicyEngine()
    sql = [e["code"] for e in corpus("sql_corpus.yaml") if e["dialect"] == "postgres"]
    shell = [e["code"] for e in corpus("shell_corpus.yaml")]
    for code in sql:
        assert engine.check_sql(code, dialect="postgres").action != "allow", code
    for code in shell:
        assert engine.check_shell(code, target="local").action != "allow", code
    cells = [("sql", code) for code in sql] + [("shell", code) for code in shell]
    for kind, code in cells:
        status, body = gateway.call("alice", "POST", "execute", {"kind": kind, "code": code})
        assert status in (202, 403), (code, body)
        assert body["result"] is None
    gateway.stop()
    rows, _ = recorded(workspace)
    governed = [row for row in rows if row["kind"] in ("sql", "shell")]
    assert len(governed) == len(cells)
    assert {row["status"] for row in governed} <= {"blocked", "pending"}
    assert {row["verdict"] for row in governed} <= {"block", "flag"}
    assert_chain_verifies(workspace.config_path)
