"""The REST API through a real Jupyter server with the extension, on a SQLite shop."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest

from nbwarden.config import load_config
from nbwarden.server_extension.client import GatewayClient
from tests.server_extension.conftest import auth


async def test_whoami_and_connections(api: Any) -> None:
    status, me = await api("dpo", "GET", "whoami")
    assert status == 200
    assert me == {"user": "dpo", "roles": ["analyst", "approver"]}
    status, connections = await api("nobody", "GET", "connections")
    assert status == 200
    assert [c["name"] for c in connections["connections"]] == ["shop"]
    assert "url" not in json.dumps(connections)
    assert "sqlite" not in json.dumps(connections).replace('"sqlite"', "")


async def test_allowed_select_returns_masked_rows(api: Any, customers: list[Any]) -> None:
    body = {"kind": "sql", "target": "shop", "code": "SELECT id, name, email FROM customers"}
    status, outcome = await api("alice", "POST", "execute", body)
    assert status == 200, outcome
    assert outcome["status"] == "ok"
    result = outcome["result"]
    assert result["row_count"] == len(customers)
    emails = {row[result["columns"].index("email")] for row in result["rows"]}
    assert not emails & {c[2] for c in customers}, "raw e-mail addresses left the gateway"
    assert result["entity_counts"].get("EMAIL_ADDRESS", 0) >= len(customers)


async def test_flag_approve_run_and_replay_refused(api: Any) -> None:
    code = "UPDATE customers SET phone = NULL WHERE id = 3"
    body = {"kind": "sql", "target": "shop", "code": code}
    status, held = await api("alice", "POST", "execute", body)
    assert status == 202 and held["status"] == "pending", held
    approval_id = held["approval"]["id"]

    status, queue = await api("dpo", "GET", "approvals", params={"state": "pending"})
    assert status == 200 and [r["id"] for r in queue] == [approval_id]
    assert code not in json.dumps(queue) or "phone" in code  # masked code, not data

    status, refused = await api(
        "alice", "POST", f"approvals/{approval_id}/approve", {"basis": "contract"}
    )
    assert status == 403, refused

    status, approved = await api(
        "dpo",
        "POST",
        f"approvals/{approval_id}/approve",
        {"basis": "contract", "justification": "customer asked to remove the number"},
    )
    assert status == 200 and approved["state"] == "approved", approved

    status, ran = await api("alice", "POST", "execute", {**body, "approval_id": approval_id})
    assert status == 200 and ran["status"] == "ok", ran

    status, again = await api("alice", "POST", "execute", {**body, "approval_id": approval_id})
    assert status != 200 and again["status"] != "ok", "an approval ran twice"
    status, twice = await api(
        "dpo", "POST", f"approvals/{approval_id}/approve", {"basis": "contract"}
    )
    assert status in (403, 409), twice


async def test_flag_reject_and_block(api: Any) -> None:
    body = {"kind": "sql", "target": "shop", "code": "DELETE FROM customers WHERE id = 4"}
    status, held = await api("bob", "POST", "execute", body)
    assert status == 202
    approval_id = held["approval"]["id"]
    status, rejected = await api(
        "dpo", "POST", f"approvals/{approval_id}/reject", {"reason": "no ticket"}
    )
    assert status == 200 and rejected["state"] == "rejected"
    status, outcome = await api("bob", "POST", "execute", {**body, "approval_id": approval_id})
    assert status == 403 and outcome["status"] == "rejected", outcome

    status, blocked = await api(
        "bob", "POST", "execute", {"kind": "sql", "target": "shop", "code": "DELETE FROM customers"}
    )
    assert status == 403 and blocked["status"] == "blocked"
    assert "sql.delete_without_where" in blocked["verdict"]["rules"]

    status, search = await api(
        "auditor", "GET", "executions", params={"user": "bob", "status": "blocked"}
    )
    assert status == 200 and len(search) == 1 and search[0]["user"] == "bob"


async def test_grant_lets_flagged_cells_run(api: Any) -> None:
    body = {"kind": "sql", "target": "shop", "code": "UPDATE customers SET name = 'x' WHERE id = 1"}
    status, grant = await api(
        "alice",
        "POST",
        "grants",
        {"user": "bob", "target": "shop", "basis": "contract", "justification": "cleanup"},
    )
    assert status == 403
    status, grant = await api(
        "dpo",
        "POST",
        "grants",
        {
            "user": "bob",
            "target": "shop",
            "basis": "contract",
            "minutes": 10,
            "justification": "data cleanup ticket",
        },
    )
    assert status == 201, grant
    status, ran = await api("bob", "POST", "execute", body)
    assert status == 200 and ran["status"] == "ok", ran
    status, revoked = await api("dpo", "POST", f"grants/{grant['id']}/revoke")
    assert status == 200 and revoked["state"] == "revoked"
    status, _held = await api("bob", "POST", "execute", body)
    assert status == 202
    status, self_grant = await api(
        "dpo",
        "POST",
        "grants",
        {"user": "dpo", "target": "shop", "basis": "contract", "justification": "me"},
    )
    assert status == 403, self_grant


async def test_unmask_with_legal_basis(api: Any, customers: list[Any]) -> None:
    email = customers[1][2]
    code = "UPDATE customers SET name = name WHERE id = 2 RETURNING email"
    body = {"kind": "sql", "target": "shop", "code": code, "purpose": "erasure check"}
    status, held = await api("alice", "POST", "execute", body)
    assert status == 202, held
    approval_id = held["approval"]["id"]
    unmask = {"basis": "legal_obligation", "unmask_columns": ["email"]}
    status, refused = await api("dpo", "POST", f"approvals/{approval_id}/approve", unmask)
    assert status == 403 and "justification" in refused["error"]
    status, approved = await api(
        "dpo",
        "POST",
        f"approvals/{approval_id}/approve",
        {**unmask, "justification": "court order 12/2026 names this customer"},
    )
    assert status == 200 and approved["unmask_columns"] == ["email"], approved

    status, ran = await api("alice", "POST", "execute", {**body, "approval_id": approval_id})
    assert status == 200, ran
    assert ran["result"]["rows"] == [[email]], "the approved column was not shown"

    status, record = await api("auditor", "GET", f"executions/{ran['execution_id']}")
    assert record["legal_basis"] == "legal_obligation" and record["approval_id"] == approval_id
    status, report = await api("auditor", "POST", "dsar", {"email": email.upper()})
    assert status == 200
    shown = [e for e in report["executions"] if e["execution_id"] == ran["execution_id"]]
    assert shown and shown[0]["shown"] == "shown" and shown[0]["legal_basis"] == "legal_obligation"


async def test_self_approval_refused_and_the_cli_client(api: Any, nb_config_path: Path) -> None:
    body = {"kind": "sql", "target": "shop", "code": "UPDATE customers SET name = 'y' WHERE id = 5"}
    status, held = await api("dpo", "POST", "execute", body)
    assert status == 202
    approval_id = held["approval"]["id"]
    status, refused = await api(
        "dpo",
        "POST",
        f"approvals/{approval_id}/approve",
        {"basis": "contract", "justification": "mine"},
    )
    assert status == 403 and "error" in refused

    config = load_config(nb_config_path)
    as_dpo2 = GatewayClient.for_running_gateway(config, act_as="dpo2")
    assert as_dpo2 is not None, "the embedded gateway wrote no runtime file"
    body = {"basis": "contract", "justification": "second approver"}
    approved = await asyncio.to_thread(as_dpo2.post, f"approvals/{approval_id}/approve", body)
    assert approved["state"] == "approved" and approved["approvers"] == ["dpo2"]
    operator = GatewayClient.for_running_gateway(config)
    assert operator is not None
    assert (await asyncio.to_thread(operator.get, "audit/verify"))["ok"] is True


async def test_errors_are_json_and_safe(api: Any, jp_fetch: Any) -> None:
    status, missing = await api("dpo", "GET", "approvals/does-not-exist")
    assert status == 404 and set(missing) == {"error"}
    status, route = await api("dpo", "GET", "no/such/route")
    assert status == 404 and "error" in route
    response = await jp_fetch(
        "nbwarden",
        "api",
        "execute",
        method="POST",
        body="{not json",
        headers=auth("alice"),
        raise_error=False,
    )
    assert response.code == 400 and json.loads(response.body)["error"]
    big = json.dumps({"kind": "sql", "target": "shop", "code": "x" * (3 * 1024 * 1024)})
    response = await jp_fetch(
        "nbwarden",
        "api",
        "execute",
        method="POST",
        body=big,
        headers=auth("alice"),
        raise_error=False,
    )
    assert response.code == 413
    assert b"Traceback" not in response.body


@pytest.mark.parametrize("code", ["SELECT json_extract('{not json', '$.a')"])
async def test_sql_error_is_recorded_and_safe(api: Any, code: str) -> None:
    status, outcome = await api(
        "alice", "POST", "execute", {"kind": "sql", "target": "shop", "code": code}
    )
    assert status == 422 and outcome["status"] == "error" and outcome["error"]
    status, verify = await api("auditor", "GET", "audit/verify")
    assert status == 200 and verify["ok"] is True


async def test_openapi_describes_every_route(api: Any) -> None:
    import schemathesis

    status, document = await api("nobody", "GET", "openapi.json")
    assert status == 200 and document["openapi"].startswith("3.")
    schema = schemathesis.openapi.from_dict(document)
    operations = {(op.ok().method.upper(), op.ok().path) for op in schema.get_all_operations()}
    from tests.server_extension.test_authorization import TABLE

    described = {(m, "/" + re.sub(r"/(e1|a1|g1)(?=/|$)", "/{id}", p)) for m, p, _, _ in TABLE}
    normalised = {(m, re.sub(r"\{[a-z_]+\}", "{id}", p)) for m, p in operations}
    assert normalised == described


async def test_approval_events_carry_no_code(jp_serverapp: Any, api: Any) -> None:
    from nbwarden.server_extension.events import APPROVAL_SCHEMA_ID

    received: list[dict[str, Any]] = []

    async def listen(logger: Any, schema_id: str, data: dict[str, Any]) -> None:
        received.append(data)

    jp_serverapp.event_logger.add_listener(schema_id=APPROVAL_SCHEMA_ID, listener=listen)
    code = "UPDATE customers SET email = 'someone@example.org' WHERE id = 6"
    status, held = await api(
        "alice", "POST", "execute", {"kind": "sql", "target": "shop", "code": code}
    )
    assert status == 202
    await api("dpo", "POST", f"approvals/{held['approval']['id']}/reject", {"reason": "no"})
    for _ in range(50):
        if len(received) >= 2:
            break
        await asyncio.sleep(0.05)
    states = [(e["id"], e["state"]) for e in received]
    assert (held["approval"]["id"], "pending") in states
    assert (held["approval"]["id"], "rejected") in states
    assert "someone@example.org" not in json.dumps(received)
    assert all(e["requester"] == "alice" for e in received)


async def test_names_found_only_in_free_text_are_answered_by_dsar(api: Any) -> None:
    """Notes naming people the result has no name column for: the masker finds the names
    (spaCy's small model alone missed about one in five), and a DSAR by each name lists
    the execution."""
    from faker import Faker

    names = []
    for index, locale in enumerate(("pl_PL", "nl_NL", "de_DE", "fr_FR", "sv_SE", "it_IT")):
        fake = Faker(locale)
        fake.seed_instance(15 + index)
        names += [f"{fake.first_name()} {fake.last_name()}" for _ in range(2)]
    notes = [f"Dear support, I ({name}, born 1984-03-02) moved last month." for name in names]
    quoted = [note.replace("'", "''") for note in notes]
    code = " UNION ALL ".join(f"SELECT '{note}' AS note" for note in quoted)
    body = {"kind": "sql", "target": "shop", "code": code, "purpose": "support review"}
    status, ran = await api("alice", "POST", "execute", body)
    assert status == 200 and ran["status"] == "ok", ran
    masked = " ".join(row[0] for row in ran["result"]["rows"])
    for name in names:
        assert not set(name.split()) & set(re.findall(r"\w+", masked)), "a name left the gateway"
        status, report = await api("auditor", "POST", "dsar", {"name": name.upper()})
        assert status == 200
        assert ran["execution_id"] in {e["execution_id"] for e in report["executions"]}


async def test_a_phone_number_is_found_by_dsar_however_the_request_writes_it(api: Any) -> None:
    """The masker reads a national number with the profile's regions (``020 7946 0958`` is
    British); a request for it written the same way was read as American and found
    nothing, as was one written with ``00`` for ``+``. A French ``01 23 45 67 89`` is
    valid in Ireland too, which comes first in the profile: a request for the French
    number finds it as well."""
    code = "SELECT '020 7946 0958' AS phone UNION ALL SELECT '01 23 45 67 89' AS phone"
    body = {"kind": "sql", "target": "shop", "code": code, "purpose": "support review"}
    status, ran = await api("alice", "POST", "execute", body)
    assert status == 200 and ran["status"] == "ok", ran
    requests = ["020 7946 0958", "(020) 7946-0958", "+44 20 7946 0958", "0044 20 79460958"]
    for written in [*requests, "+33 1 23 45 67 89", "01 23 45 67 89"]:
        status, report = await api("auditor", "POST", "dsar", {"phone": written})
        assert status == 200
        assert [e["execution_id"] for e in report["executions"]] == [ran["execution_id"]]
    status, report = await api("auditor", "POST", "dsar", {"phone": "+44 20 7946 0959"})
    assert report["executions"] == []


async def test_a_dsar_naming_more_than_one_person_s_identifiers_is_refused(api: Any) -> None:
    names = [["PERSON", f"Person {index}"] for index in range(21)]
    status, body = await api("auditor", "POST", "dsar", {"identifiers": names})
    assert status == 400 and "at most 20" in body["error"]


async def test_an_id_the_masker_took_for_another_type_is_found_by_dsar(api: Any) -> None:
    """A value that passes the checks of two types is masked as the one tried first: a
    Dutch BSN with a leading 0 as a phone number, an Austrian social security number as a
    Danish CPR, a French NIR as a card number. The person asks for it as what it is."""
    ids = {"NL_BSN": "047256837", "AT_SVNR": "2610181012", "FR_NIR": "249087919196749"}
    code = " UNION ALL ".join(f"SELECT '{value}' AS ref" for value in ids.values())
    body = {"kind": "sql", "target": "shop", "code": code, "purpose": "support review"}
    status, ran = await api("alice", "POST", "execute", body)
    assert status == 200 and ran["status"] == "ok", ran
    assert not set(ids.values()) & {row[0] for row in ran["result"]["rows"]}
    for entity, value in ids.items():
        status, report = await api("auditor", "POST", "dsar", {"ids": {entity: value}})
        assert status == 200
        assert [e["execution_id"] for e in report["executions"]] == [ran["execution_id"]]
    status, report = await api("auditor", "POST", "dsar", {"ids": {"NL_BSN": "111222333"}})
    assert report["executions"] == []
