"""The governed request end to end on real components (no mocks)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from executor_support import Clock, ConfigMaker, GatewayMaker
from faker import Faker

from nbwarden.config import Config
from nbwarden.executor import ExecuteRequest, ExecutionError, Gateway, Identity, Outcome
from nbwarden.executor.gateway import source_columns
from nbwarden.executor.payload import ResultPayload, read_arrow_answer
from nbwarden.masking import Masker
from nbwarden.policy import PolicyEngine

ALICE = Identity(user="alice", roles=frozenset({"analyst"}), kernel_id="k1", session_id="s1")
BOB = Identity(user="bob", roles=frozenset({"approver"}))
ROOT = Identity(user="root", roles=frozenset({"admin", "approver", "analyst"}))
SAFE_SELECT = "SELECT id, name, email FROM customers ORDER BY id LIMIT 5"
FLAGGED = "SELECT * FROM customers ORDER BY id"


def run(gateway: Gateway, code: str, identity: Identity = ALICE, **fields: Any) -> Outcome:
    request = ExecuteRequest(
        kind=fields.pop("kind", "sql"),
        target=fields.pop("target", "prod"),
        code=code,
        purpose=fields.pop("purpose", "churn study"),
        notebook=fields.pop("notebook", "a.ipynb"),
        cell_id="c1",
        **fields,
    )
    return asyncio.run(gateway.execute(request, identity))


def record(gateway: Gateway, outcome: Outcome) -> dict[str, Any]:
    assert outcome.execution_id is not None
    found = gateway.store.get_execution(outcome.execution_id)
    assert found is not None
    return found


def assert_no_raw(outcome: Outcome, gateway: Gateway, values: list[str]) -> None:
    shown = json.dumps(outcome.to_dict(), default=str)
    stored = json.dumps(record(gateway, outcome), default=str)
    for value in values:
        assert value not in shown and value not in stored


def test_allowed_select_is_masked_recorded_and_indexed(
    make_gateway: GatewayMaker, customers: list[dict[str, Any]]
) -> None:
    gateway = make_gateway()
    outcome = run(gateway, SAFE_SELECT)
    assert outcome.status == "ok", outcome.error
    result = outcome.result
    assert result is not None
    assert result["columns"] == ["id", "name", "email"]
    assert result["row_count"] == 5 and result["truncated"] is False
    assert "truncated_by" not in result
    assert [row[0] for row in result["rows"]] == [1, 2, 3, 4, 5]
    assert result["masked"]["email"] == [0, 1, 2, 3, 4]
    assert result["entity_counts"].get("EMAIL_ADDRESS") == 5
    raw_emails = [c["email"] for c in customers[:5]]
    assert_no_raw(outcome, gateway, raw_emails)
    stored = record(gateway, outcome)
    assert stored["status"] == "ok" and stored["rows_returned"] == 5
    assert stored["code_hash"] and stored["purpose"] == "churn study"
    hits = gateway.store.dsar([("EMAIL_ADDRESS", raw_emails[2])])
    assert [hit["execution_id"] for hit in hits] == [outcome.execution_id]
    assert hits[0]["shown"] == "masked" and "EMAIL_ADDRESS" in hits[0]["categories"]


def test_blocked_statement_is_refused_and_recorded(make_gateway: GatewayMaker) -> None:
    gateway = make_gateway()
    outcome = run(gateway, "DELETE FROM customers")
    assert outcome.status == "blocked"
    assert outcome.error and "blocked" in outcome.error
    assert outcome.verdict and outcome.verdict["action"] == "block"
    assert record(gateway, outcome)["status"] == "blocked"
    assert run(gateway, "SELECT count(*) AS n FROM customers").result["rows"] == [[20]]


def test_flag_then_approval_by_another_user_runs_exactly_once(make_gateway: GatewayMaker) -> None:
    gateway = make_gateway()
    held = run(gateway, FLAGGED)
    assert held.status == "pending" and held.approval is not None
    assert record(gateway, held)["status"] == "pending"
    approval_id = held.approval["id"]
    assert run(gateway, FLAGGED).approval["id"] == approval_id  # a retry reuses the request
    with pytest.raises(Exception, match="own request"):
        gateway.approvals.approve(approval_id, "alice", ROOT.roles, "contract")
    gateway.approvals.approve(approval_id, "bob", BOB.roles, "legitimate_interests")

    ran = run(gateway, FLAGGED, approval_id=approval_id)
    assert ran.status == "ok", ran.error
    assert ran.result["row_count"] == 10 and ran.result["truncated"] is True
    assert ran.result["truncated_by"] == "row_cap"
    stored = record(gateway, ran)
    assert stored["approval_id"] == approval_id
    assert stored["legal_basis"] == "legitimate_interests"

    replay = run(gateway, FLAGGED, approval_id=approval_id)
    assert replay.status == "error" and "used" in (replay.error or "")
    assert record(gateway, replay)["status"] == "error"

    changed = run(gateway, FLAGGED + " ", approval_id=approval_id)
    assert changed.status == "error" and "new approval" in (changed.error or "")
    assert run(gateway, FLAGGED).status == "pending"  # used up: a fresh request


def test_rerunning_the_approved_cell_uses_its_approval(make_gateway: GatewayMaker) -> None:
    gateway = make_gateway()
    held = run(gateway, FLAGGED)
    gateway.approvals.approve(held.approval["id"], "bob", BOB.roles, "contract")
    other_user = run(gateway, FLAGGED, identity=ROOT)
    assert other_user.status == "pending" and other_user.approval["id"] != held.approval["id"]
    rerun = run(gateway, FLAGGED)
    assert rerun.status == "ok", rerun.error
    assert rerun.approval["state"] == "used" and rerun.approval["id"] == held.approval["id"]
    assert record(gateway, rerun)["approval_id"] == held.approval["id"]


def test_the_same_cell_held_in_two_kernels_gets_a_request_for_each(
    make_gateway: GatewayMaker,
) -> None:
    """Sharing one request left the second kernel with an approval already used."""
    gateway = make_gateway()
    second_kernel = Identity(user="alice", roles=ALICE.roles, kernel_id="k2", session_id="s2")
    first = run(gateway, FLAGGED)
    second = run(gateway, FLAGGED, identity=second_kernel)
    assert first.status == second.status == "pending"
    assert first.approval is not None and second.approval is not None
    assert first.approval["id"] != second.approval["id"]
    assert run(gateway, FLAGGED, identity=second_kernel).approval["id"] == second.approval["id"]
    for held in (first, second):
        gateway.approvals.approve(held.approval["id"], "bob", BOB.roles, "contract")
    ran_first = run(gateway, FLAGGED, approval_id=first.approval["id"])
    ran_second = run(gateway, FLAGGED, identity=second_kernel, approval_id=second.approval["id"])
    assert ran_first.status == ran_second.status == "ok", (ran_first.error, ran_second.error)
    assert record(gateway, ran_second)["approval_id"] == second.approval["id"]


def test_admins_cannot_approve_their_own_cells(make_gateway: GatewayMaker) -> None:
    gateway = make_gateway()
    held = run(gateway, FLAGGED, identity=ROOT)
    with pytest.raises(Exception, match="own request"):
        gateway.approvals.approve(held.approval["id"], "root", ROOT.roles, "contract")


def test_rejected_approval_is_reported_with_its_reason(make_gateway: GatewayMaker) -> None:
    gateway = make_gateway()
    held = run(gateway, FLAGGED)
    email = "ann.kim@example.com"
    reason = f"use the reporting replica, ask {email}"
    gateway.approvals.reject(held.approval["id"], "bob", BOB.roles, reason)
    outcome = run(gateway, FLAGGED, approval_id=held.approval["id"])
    assert outcome.status == "rejected"
    assert "use the reporting replica" in (outcome.error or "")
    assert record(gateway, outcome)["status"] == "rejected"
    assert_no_raw(outcome, gateway, [email])
    events = json.dumps([e.details for e in gateway.store.approval_events()], default=str)
    assert email not in events and "reporting replica" in events


def test_expired_approval_is_refused(make_gateway: GatewayMaker, make_config: ConfigMaker) -> None:
    clock = Clock()
    gateway = make_gateway(make_config(gateway={"approval_ttl_s": 60}), clock=clock)
    held = run(gateway, FLAGGED)
    gateway.approvals.approve(held.approval["id"], "bob", BOB.roles, "contract")
    clock.now += 61
    outcome = run(gateway, FLAGGED, approval_id=held.approval["id"])
    assert outcome.status == "error" and "expired" in (outcome.error or "")


def test_grant_covers_flagged_cells_for_its_window_only(make_gateway: GatewayMaker) -> None:
    clock = Clock()
    gateway = make_gateway(clock=clock)
    gateway.approvals.create_grant(
        user="alice",
        target="prod",
        granted_by="bob",
        roles=BOB.roles,
        basis="legitimate_interests",
        justification="incident 4711",
        minutes=30,
        rules=["sql.unbounded_read"],
    )
    inside = run(gateway, FLAGGED)
    assert inside.status == "ok", inside.error
    assert record(gateway, inside)["legal_basis"] == "legitimate_interests"
    assert run(gateway, "UPDATE customers SET city = 'x' WHERE id = 1").status == "pending"
    clock.now += 30 * 60 + 1
    assert run(gateway, FLAGGED).status == "pending"


def test_unmask_with_legal_basis_shows_the_column_and_is_recorded(
    make_gateway: GatewayMaker, customers: list[dict[str, Any]]
) -> None:
    gateway = make_gateway()
    held = run(gateway, FLAGGED)
    assert held.status == "pending"
    approval_id = held.approval["id"]
    gateway.approvals.approve(
        approval_id,
        "bob",
        BOB.roles,
        "legal_obligation",
        "court order 17/2026",
        unmask_columns=["email"],
    )
    outcome = run(gateway, FLAGGED, approval_id=approval_id)
    assert outcome.status == "ok", outcome.error
    rows = outcome.result["rows"][:3]
    assert [row[2] for row in rows] == [c["email"] for c in customers[:3]]
    assert "email" not in outcome.result["masked"]
    stored = record(gateway, outcome)
    assert stored["unmasked_columns"] == ["email"]
    assert stored["legal_basis"] == "legal_obligation"


def test_n_of_group_comes_from_the_connection(
    make_gateway: GatewayMaker, make_config: ConfigMaker, tmp_path: Path
) -> None:
    config = make_config(
        extra_connections={
            "hr": {
                "url": f"duckdb:///{tmp_path / 'sales.duckdb'}",
                "approvers": ["bob", "carol"],
                "required_approvals": 2,
            }
        }
    )
    gateway = make_gateway(config)
    held = run(gateway, FLAGGED, target="hr")
    approval_id = held.approval["id"]
    assert held.approval["required_approvals"] == 2
    with pytest.raises(Exception, match="approver group"):
        gateway.approvals.approve(approval_id, "dave", BOB.roles, "contract")
    gateway.approvals.approve(approval_id, "bob", BOB.roles, "contract")
    assert run(gateway, FLAGGED, target="hr", approval_id=approval_id).status == "pending"
    gateway.approvals.approve(approval_id, "carol", BOB.roles, "contract")
    assert run(gateway, FLAGGED, target="hr", approval_id=approval_id).status == "ok"


def test_unknown_connection_and_database_errors_are_clear(make_gateway: GatewayMaker) -> None:
    gateway = make_gateway()
    unknown = run(gateway, "SELECT 1", target="nope")
    assert unknown.status == "error" and "unknown connection" in (unknown.error or "")
    assert record(gateway, unknown)["status"] == "error"
    missing = run(gateway, "SELECT id FROM customers2 LIMIT 1")
    assert missing.status == "error"
    assert "customers2" in (missing.error or "") and "duckdb://" not in (missing.error or "")
    assert "Traceback" not in (missing.error or "")
    malformed = run(gateway, "SELEC id FROM customers")
    assert malformed.status in ("pending", "blocked")


def test_too_large_cell_is_refused_before_anything(make_gateway: GatewayMaker) -> None:
    gateway = make_gateway()
    big = "SELECT 1 AS x -- " + "a" * 1_000_000
    outcome = run(gateway, big)
    assert outcome.status == "error" and "bytes" in (outcome.error or "")
    stored = record(gateway, outcome)
    assert stored["status"] == "error" and len(stored["code_masked"]) < 200


def test_binary_null_and_non_utf8_values_are_masked(make_gateway: GatewayMaker) -> None:
    gateway = make_gateway()
    email = "lena.vogt@example.org"
    code = (
        f"SELECT 1 AS id, encode('{email}') AS blob, NULL AS missing, "
        f"'\\xff'::BLOB || encode(' {email}') AS broken"
    )
    outcome = run(gateway, code)
    assert outcome.status == "ok", outcome.error
    assert outcome.result["types"][1] == "binary"
    row = outcome.result["rows"][0]
    assert row[2] is None
    assert email not in json.dumps(outcome.to_dict())


@pytest.mark.postgres
def test_postgres_timeout_is_an_error_with_a_record(
    make_gateway: GatewayMaker, make_config: ConfigMaker, postgres_url: str
) -> None:
    config = make_config(extra_connections={"pg": {"url": postgres_url, "timeout_s": 0.5}})
    gateway = make_gateway(config)
    outcome = run(gateway, "SELECT pg_sleep(30)", target="pg")
    assert outcome.status == "error" and "timed out" in (outcome.error or "")
    assert record(gateway, outcome)["status"] == "cancelled"
    assert "postgres" not in (outcome.error or "")


@pytest.mark.postgres
def test_owner_cancels_a_running_statement(
    make_gateway: GatewayMaker, make_config: ConfigMaker, postgres_url: str
) -> None:
    gateway = make_gateway(make_config(extra_connections={"pg": {"url": postgres_url}}))

    async def scenario() -> Outcome:
        request = ExecuteRequest(kind="sql", target="pg", code="SELECT pg_sleep(30)")
        task = asyncio.create_task(gateway.execute(request, ALICE))
        while not gateway.running_executions():
            await asyncio.sleep(0.05)
        (running,) = gateway.running_executions()
        assert running["user"] == "alice" and running["kernel_id"] == "k1"
        execution_id = running["execution_id"]
        with pytest.raises(ExecutionError, match="only the user"):
            await gateway.cancel(execution_id, BOB)
        assert await gateway.cancel(execution_id, ALICE)
        return await asyncio.wait_for(task, 10)

    outcome = asyncio.run(scenario())
    assert outcome.status == "error" and "cancelled" in (outcome.error or "")


def test_names_in_array_and_json_columns_are_masked(
    make_gateway: GatewayMaker, make_config: ConfigMaker, postgres_url: str
) -> None:
    """A PostgreSQL ``text[]`` of names and ``jsonb`` with names under a key that names
    nothing (``owner``) or in an array: psycopg gives lists and text, masked leaf by leaf."""
    fake = Faker()
    Faker.seed(77)
    teams = [[fake.name() for _ in range(3)] for _ in range(20)]
    engine = sa.create_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE teams (id int, members text[], doc jsonb)"))
        conn.execute(
            sa.text("INSERT INTO teams VALUES (:id, :members, CAST(:doc AS jsonb))"),
            [
                {"id": i, "members": team, "doc": json.dumps({"owner": team[0], "crew": team})}
                for i, team in enumerate(teams)
            ],
        )
    engine.dispose()
    gateway = make_gateway(make_config(extra_connections={"pg": {"url": postgres_url}}))
    outcome = run(gateway, "SELECT id, members, doc FROM teams ORDER BY id LIMIT 20", target="pg")
    assert outcome.status == "ok", outcome.error
    assert_no_raw(outcome, gateway, [name for team in teams for name in team])
    assert outcome.result["masked"]["members"] == list(range(20))
    assert outcome.result["entity_counts"]["PERSON"] == 20 * (3 + 4)


NOTES = 3000
SLOW_TO_MASK = (
    "SELECT 'Call from Marta Kowalczyk-' || range || ' about the Harbour Street order '"
    f" || range AS notes FROM range({NOTES}) LIMIT {NOTES}"
)
"""A free-text column of distinct notes: NER reads each, for seconds."""


def test_owner_cancels_while_the_result_is_masked(
    make_gateway: GatewayMaker, make_config: ConfigMaker
) -> None:
    """A cancel after the statement stops masking (or drops the masked result): the
    execution ends ``cancelled``, and nothing is returned."""
    wide = {"url": "duckdb:///:memory:", "row_cap": NOTES}
    gateway = make_gateway(make_config(extra_connections={"wide": wide}))

    async def scenario() -> Outcome:
        request = ExecuteRequest(kind="sql", target="wide", code=SLOW_TO_MASK)
        task = asyncio.create_task(gateway.execute(request, ALICE))
        running: list[dict[str, Any]] = []
        while not task.done() and not any(r["rows_fetched"] == NOTES for r in running):
            await asyncio.sleep(0.01)
            running = gateway.running_executions()
        assert not task.done(), "masking ended before it could be cancelled"
        assert await gateway.cancel(running[0]["execution_id"], ALICE)
        return await asyncio.wait_for(task, 60)

    outcome = asyncio.run(scenario())
    assert outcome.status == "error" and outcome.error == "cancelled by the user"
    assert outcome.result is None
    assert record(gateway, outcome)["status"] == "cancelled"


SLOW_VISITS = 6000
"""Distinct notes, none of them masked by an earlier test: NER reads each, for seconds."""


def test_masking_counts_toward_the_statement_timeout(
    make_gateway: GatewayMaker, make_config: ConfigMaker
) -> None:
    """A connection's ``timeout_s`` bounds the statement and the masking of its result:
    past it, masking stops, nothing is returned and the execution is recorded cancelled."""
    code = (
        "SELECT 'Visit by Tomasz Nowak-' || range || ' to the Quay Road depot ' || range"
        f" AS notes FROM range({SLOW_VISITS})"
    )
    quick = {"url": "duckdb:///:memory:", "row_cap": SLOW_VISITS, "timeout_s": 1}
    gateway = make_gateway(make_config(extra_connections={"quick": quick}))

    async def scenario() -> tuple[Outcome, int]:
        request = ExecuteRequest(kind="sql", target="quick", code=code)
        task = asyncio.create_task(gateway.execute(request, ALICE))
        fetched = 0
        while not task.done():
            await asyncio.sleep(0.01)
            fetched = max([fetched] + [r["rows_fetched"] for r in gateway.running_executions()])
        return await task, fetched

    outcome, fetched = asyncio.run(scenario())
    assert fetched == SLOW_VISITS  # the statement ended: masking was what ran out of time
    assert outcome.status == "error"
    assert outcome.error == "timed out after 1 s while its result was masked and was cancelled"
    assert outcome.result is None
    assert record(gateway, outcome)["status"] == "cancelled"


def test_masking_shell_output_counts_toward_the_target_timeout(
    make_gateway: GatewayMaker, make_config: ConfigMaker, tmp_path: Path
) -> None:
    workdir = tmp_path / "work"
    workdir.mkdir(exist_ok=True)
    quick = {"local": {"kind": "local", "workdir": str(workdir), "timeout_s": 1}}
    gateway = make_gateway(make_config(shell=quick))
    command = f"seq {SLOW_VISITS} | sed 's/.*/Visit by Marek Zielinski-& to the Dock Lane depot &/'"
    outcome = run(gateway, command, kind="shell", target="local")
    assert outcome.status == "error"
    assert outcome.error == "timed out after 1 s while its result was masked and was cancelled"
    assert outcome.result is None
    assert record(gateway, outcome)["status"] == "cancelled"


def test_shell_output_is_masked_and_destructive_commands_blocked(
    make_gateway: GatewayMaker,
) -> None:
    gateway = make_gateway()
    email = "jonas.berg@example.net"
    outcome = run(gateway, f"echo contact {email}", kind="shell", target="local")
    assert outcome.status == "ok", outcome.error
    assert outcome.result["exit_code"] == 0
    assert email not in outcome.result["stdout"] and "contact" in outcome.result["stdout"]
    assert outcome.result["entity_counts"].get("EMAIL_ADDRESS") == 1
    blocked = run(gateway, "rm -rf /", kind="shell", target="local")
    assert blocked.status == "blocked"
    assert record(gateway, blocked)["status"] == "blocked"


def test_masking_failure_withholds_everything(
    make_gateway: GatewayMaker, make_config: ConfigMaker
) -> None:
    broken = Masker.for_profile("default", spacy_model="no_such_spacy_model")
    gateway = make_gateway(masker_=broken)
    outcome = run(gateway, "SELECT name FROM customers ORDER BY id LIMIT 3")
    assert outcome.status == "withheld"
    assert outcome.result is None
    assert record(gateway, outcome)["status"] == "withheld"


def test_nothing_runs_when_the_audit_store_cannot_record(make_gateway: GatewayMaker) -> None:
    gateway = make_gateway()
    gateway.store.close()
    outcome = run(gateway, SAFE_SELECT)
    assert outcome.status == "error" and outcome.result is None
    assert outcome.execution_id is None and "nothing ran" in (outcome.error or "")


def test_require_purpose(make_gateway: GatewayMaker, make_config: ConfigMaker) -> None:
    gateway = make_gateway(make_config(policy={"require_purpose": True}))
    outcome = run(gateway, SAFE_SELECT, purpose=None)
    assert outcome.status == "blocked" and "purpose" in (outcome.error or "")


def test_from_config_builds_every_part(make_config: ConfigMaker, customers: Any) -> None:
    config: Config = make_config()
    gateway = Gateway.from_config(config)
    try:
        assert run(gateway, "SELECT count(*) AS n FROM customers").result["rows"] == [[20]]
    finally:
        gateway.close()


def test_source_columns_only_where_unambiguous() -> None:
    class Verdict:
        columns_read = ["customers.email", "customers.id", "orders.id"]

    assert source_columns(["email", "id", "total"], Verdict()) == {"email": "customers.email"}


def test_source_columns_follow_the_lineage() -> None:
    verdict = PolicyEngine().check_sql(
        "SELECT upper(c.email) AS contact, o.id FROM customers c JOIN orders o ON o.cid = c.id"
    )
    assert source_columns(["contact", "id"], verdict) == {
        "contact": "customers.email",
        "id": "orders.id",
    }


def test_database_that_is_down_gives_a_clear_error_without_secrets(
    make_gateway: GatewayMaker, make_config: ConfigMaker
) -> None:
    url = "postgresql+psycopg://svc_reader:Pw-9f3k2@127.0.0.1:1/sales"
    gateway = make_gateway(make_config(extra_connections={"down": {"url": url}}))
    outcome = run(gateway, "SELECT 1 AS one", target="down")
    assert outcome.status == "error" and outcome.error
    for secret in ("Pw-9f3k2", "svc_reader", "127.0.0.1", "postgresql", "sales"):
        assert secret not in outcome.error
    stored = record(gateway, outcome)
    assert stored["status"] == "error" and "Pw-9f3k2" not in json.dumps(stored, default=str)


def test_personal_data_in_the_purpose_and_notebook_is_masked_in_the_record(
    make_gateway: GatewayMaker, customers: list[dict[str, Any]]
) -> None:
    gateway = make_gateway()
    email = customers[0]["email"]
    notebook = f"cases/complaint {email}.ipynb"
    plain = run(gateway, SAFE_SELECT, purpose=f"complaint from {email}", notebook=notebook)
    held = run(gateway, FLAGGED, purpose=f"complaint from {email}", notebook=notebook)
    assert plain.status == "ok" and held.status == "pending"
    stored = record(gateway, plain)
    assert stored["purpose"].startswith("complaint from ")
    assert stored["notebook"].startswith("cases/complaint ")
    assert_no_raw(plain, gateway, [email])
    assert_no_raw(held, gateway, [email])


@pytest.mark.parametrize(
    ("code", "column", "expected"),
    [
        ("SHOW TABLES", "name", ["customers"]),
        ("PRAGMA table_info('customers')", "name", ["id", "name", "email", "city"]),
        ("DESCRIBE customers", "column_name", ["id", "name", "email", "city"]),
    ],
)
def test_a_description_of_the_schema_shows_its_names(
    make_gateway: GatewayMaker,
    make_config: ConfigMaker,
    customers: list[dict[str, Any]],
    code: str,
    column: str,
    expected: list[str],
) -> None:
    """Its ``name`` column holds table and column names, not people's."""
    outcome = run(make_gateway(make_config()), code)
    assert outcome.status == "ok" and outcome.result is not None
    position = outcome.result["columns"].index(column)
    assert [row[position] for row in outcome.result["rows"]] == expected
    assert outcome.result["entity_counts"] == {}


def test_sqlites_catalog_shows_its_names(
    make_gateway: GatewayMaker, make_config: ConfigMaker, tmp_path: Path
) -> None:
    import sqlite3

    database = tmp_path / "crm.sqlite"
    with sqlite3.connect(database) as con:
        con.execute("CREATE TABLE people (id INTEGER, name TEXT)")
    gateway = make_gateway(make_config(extra_connections={"crm": {"url": f"sqlite:///{database}"}}))
    outcome = run(gateway, "SELECT name FROM sqlite_master WHERE type = 'table'", target="crm")
    assert outcome.result is not None and outcome.result["rows"] == [["people"]]


def test_the_arrow_answer_is_written_by_the_gateway_only_when_asked(
    make_gateway: GatewayMaker, customers: list[dict[str, Any]]
) -> None:
    """``arrow=True``: no JSON rows, and the whole answer as an Arrow stream, written while
    the end record was made durable; it reads back as the JSON answer."""
    gateway = make_gateway()
    request = ExecuteRequest(kind="sql", target="prod", code=SAFE_SELECT, cell_id="c1")
    as_json = gateway.execute_sync(request, ALICE)
    as_arrow = gateway.execute_sync(request, ALICE, arrow=True)
    assert isinstance(as_json.result, ResultPayload)
    assert isinstance(as_arrow.result, ResultPayload)
    assert as_json.result.arrow_answer is None and "rows" in as_json.result
    assert as_arrow.result.arrow_answer is not None and "rows" not in as_arrow.result
    answer = read_arrow_answer(as_arrow.result.arrow_answer)
    assert answer["execution_id"] == as_arrow.execution_id
    assert answer["verdict"] == as_arrow.verdict
    table = answer["result"].pop("table")
    assert table.to_pylist() == [
        dict(zip(as_json.result["columns"], row, strict=True)) for row in as_json.result["rows"]
    ]
    assert answer["result"]["masked"] == as_json.result["masked"] != {}
    assert record(gateway, as_arrow)["status"] == "ok"
