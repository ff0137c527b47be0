"""Faults: the record survives crashes, a database restart, a full disk, a masking failure
and an approval that expires while its execution starts. Each ends with nothing lost and
``nbwarden audit verify`` passing."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from benchmarks.system.fleet import GatewayProcess
from nbwarden.config import load_config
from nbwarden.executor import ExecuteRequest, Gateway, Identity
from nbwarden.masking import MaskingError
from nbwarden.provenance import ProvenanceStore
from tests.system.support import Planted, Workspace, assert_chain_verifies

pytestmark = [pytest.mark.postgres]

ALICE = Identity(user="alice", roles=frozenset({"analyst"}), kernel_id="k-alice")
BOB = Identity(user="bob", roles=frozenset({"analyst"}), kernel_id="k-bob")
DPO = "dpo"
APPROVER_ROLES = frozenset({"analyst", "approver"})
FLAGGED = "SELECT * FROM customers"
SIDE_EFFECT = "SELECT nextval('side_effects') AS n"
"""A sequence advances outside transactions: proof that a statement really ran."""
SLEEP = "SELECT pg_sleep(30) AS slept"


def call_in_background(gateway: GatewayProcess, *args: Any) -> None:
    """A call whose answer never comes: the gateway is killed while it serves it."""

    def call() -> None:
        with contextlib.suppress(httpx.HTTPError):
            gateway.call(*args)

    threading.Thread(target=call, daemon=True).start()


def wait_for(check: Callable[[], Any], timeout_s: float = 60) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError("the condition did not hold in time")


def sequence_value(postgres_url: str) -> int:
    engine = sa.create_engine(postgres_url)
    try:
        with engine.connect() as conn:
            row = conn.execute(sa.text("SELECT last_value, is_called FROM side_effects")).one()
    finally:
        engine.dispose()
    return int(row[0]) if row[1] else 0


def records(workspace: Workspace) -> list[dict[str, Any]]:
    store = ProvenanceStore(load_config(workspace.config_path).audit, read_only=True)
    try:
        return store.search_executions(limit=100_000)
    finally:
        store.close()


def started_execution(gateway: GatewayProcess, target: str) -> str:
    def running() -> list[dict[str, Any]]:
        status, rows = gateway.call("auditor", "GET", "executions?status=started")
        assert status == 200, rows
        return [row for row in rows if row["target"] == target]

    return str(wait_for(running)[0]["id"])


@pytest.mark.slow
def test_gateway_sigkill_mid_execution_and_mid_approval(
    workspace: Workspace, customers: list[dict[str, Any]]
) -> None:
    gateway = workspace.gateway("sigkill-1").start()
    status, held = gateway.call("bob", "POST", "execute", {"kind": "sql", "code": FLAGGED})
    assert status == 202, held
    first = held["approval"]["id"]
    status, held = gateway.call("alice", "POST", "execute", {"kind": "sql", "code": FLAGGED})
    assert status == 202, held
    second = held["approval"]["id"]
    call_in_background(gateway, "alice", "POST", "execute", {"kind": "sql", "code": SLEEP})
    running_id = started_execution(gateway, "prod")
    gateway.stop(signal.SIGKILL)

    gateway = workspace.gateway("sigkill-2").start()
    status, record = gateway.call("auditor", "GET", f"executions/{running_id}")
    assert status == 200 and record["status"] == "incomplete", record
    for approval_id in (first, second):
        assert gateway.call(DPO, "GET", f"approvals/{approval_id}")[1]["state"] == "pending"
    approve = {"basis": "contract", "justification": "crash drill"}
    status, body = gateway.call(DPO, "POST", f"approvals/{first}/approve", approve)
    assert status == 200 and body["state"] == "approved", body
    call_in_background(gateway, DPO, "POST", f"approvals/{second}/approve", approve)
    time.sleep(0.05)
    gateway.stop(signal.SIGKILL)

    gateway = workspace.gateway("sigkill-3").start()
    try:
        assert gateway.call(DPO, "GET", f"approvals/{first}")[1]["state"] == "approved"
        state = gateway.call(DPO, "GET", f"approvals/{second}")[1]["state"]
        assert state in ("pending", "approved"), state
        if state == "pending":
            assert gateway.call(DPO, "POST", f"approvals/{second}/approve", approve)[0] == 200
        for user, approval_id in (("bob", first), ("alice", second)):
            body = {"kind": "sql", "code": FLAGGED, "approval_id": approval_id}
            status, done = gateway.call(user, "POST", "execute", body)
            assert status == 200 and done["result"]["row_count"] == len(customers), done
            status, replay = gateway.call(user, "POST", "execute", body)
            assert status == 422 and "used" in replay["error"], replay
    finally:
        gateway.stop()
    assert_chain_verifies(workspace.config_path)


@contextlib.contextmanager
def postgres_kept_running() -> Iterator[None]:
    try:
        yield
    finally:
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", "15", "main", "start"],
            capture_output=True,
            check=False,
        )


@pytest.mark.slow
def test_postgres_restart_during_a_query(
    workspace: Workspace, gateway: GatewayProcess, postgres_url: str
) -> None:
    if os.geteuid() != 0:
        pytest.skip("restarting PostgreSQL needs root")
    answers: list[tuple[int, Any]] = []
    query = {"kind": "sql", "code": SLEEP}
    caller = threading.Thread(
        target=lambda: answers.append(gateway.call("alice", "POST", "execute", query))
    )
    with postgres_kept_running():
        caller.start()
        running_id = started_execution(gateway, "prod")
        restart = ["pg_ctlcluster", "--skip-systemctl-redirect", "15", "main", "restart"]
        subprocess.run(restart, check=True, capture_output=True, timeout=120)
        caller.join(timeout=90)
    status, body = answers[0]
    assert status == 422 and body["status"] == "error", body
    assert postgres_url not in body["error"] and "Traceback" not in body["error"]
    ran = gateway.call("alice", "POST", "execute", {"kind": "sql", "code": "SELECT 1 AS one"})
    assert ran[0] == 200 and ran[1]["result"]["rows"] == [[1]], ran
    status, record = gateway.call("auditor", "GET", f"executions/{running_id}")
    assert record["status"] == "error", record
    status, verify = gateway.call("auditor", "GET", "audit/verify")
    assert verify["ok"] is True, verify
    gateway.stop()
    assert_chain_verifies(workspace.config_path)


@contextlib.contextmanager
def tiny_tmpfs(directory: Path, size: str = "2m") -> Iterator[Path]:
    directory.mkdir(parents=True)
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(directory)], check=True
    )
    try:
        yield directory
    finally:
        subprocess.run(["umount", "-l", str(directory)], check=False)


def fill(directory: Path) -> Path:
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)
    return filler


def execute(gateway: Gateway, code: str, identity: Identity = ALICE, **fields: Any) -> Any:
    request = ExecuteRequest(kind="sql", target="prod", code=code, **fields)
    return asyncio.run(gateway.execute(request, identity))


@pytest.mark.slow
def test_disk_full_on_the_audit_path_fails_closed(
    make_workspace: Callable[..., Workspace], tmp_path: Path, postgres_url: str, planted: Planted
) -> None:
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs to fill the audit disk needs root")
    with tiny_tmpfs(tmp_path / "audit-disk") as disk:
        workspace = make_workspace(audit_dir=disk)
        config = load_config(workspace.config_path)
        gateway = Gateway.from_config(config)
        try:
            assert execute(gateway, SIDE_EFFECT).status == "ok"
            filler = fill(disk)
            recorded, refused = run_until_refused(gateway, postgres_url)
            filler.unlink()
        finally:
            with contextlib.suppress(Exception):
                gateway.close()
        gateway = Gateway.from_config(config)
        try:
            for execution_id in recorded:
                assert gateway.store.get_execution(execution_id) is not None
            assert execute(gateway, SIDE_EFFECT).status == "ok"
            assert gateway.store.verify().ok
        finally:
            gateway.close()
        assert refused >= 3
        assert_chain_verifies(workspace.config_path)
        keep_for_the_privacy_scan(disk, planted)


def run_until_refused(gateway: Gateway, postgres_url: str) -> tuple[list[str], int]:
    """Run a side effect on a full audit disk until the store refuses three in a row.

    A full file system may still have room in the last page of the WAL, so the first
    records can commit: what matters is that a statement runs only once its start record
    is durable, and that no result leaves without its end record. Returns the ids the
    gateway named (each must be in the store after a restart) and the refusals.
    """
    recorded: list[str] = []
    refused = 0
    for _ in range(30):
        before = sequence_value(postgres_url)
        outcome = execute(gateway, SIDE_EFFECT)
        if outcome.execution_id is None:
            assert sequence_value(postgres_url) == before, "a statement ran unrecorded"
            assert "audit store" in (outcome.error or ""), outcome.error
            refused += 1
            if refused == 3:
                break
            continue
        recorded.append(outcome.execution_id)
        if outcome.status != "ok":
            assert outcome.status in ("error", "withheld") and outcome.result is None
            assert "audit store" in (outcome.error or ""), outcome.error
    return recorded, refused


def keep_for_the_privacy_scan(disk: Path, planted: Planted) -> None:
    kept = disk.parent / "audit-copy"
    kept.mkdir()
    for path in disk.glob("nbwarden.duckdb*"):
        (kept / path.name).write_bytes(path.read_bytes())
    planted.duckdb_files.remove(disk / "nbwarden.duckdb")
    planted.duckdb_files.append(kept / "nbwarden.duckdb")


def test_masking_failure_withholds_the_result(
    workspace: Workspace, customers: list[dict[str, Any]]
) -> None:
    """Fault injection: the masker raises as a broken recognizer would."""
    gateway = Gateway.from_config(load_config(workspace.config_path))

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise MaskingError("injected recognizer failure")

    try:
        gateway.masker.mask_table = broken  # type: ignore[method-assign]
        outcome = execute(gateway, "SELECT name, email FROM customers WHERE id < 5")
        assert outcome.status == "withheld" and outcome.result is None, outcome
        shown = repr(outcome.to_dict())
        for row in customers:
            assert row["email"] not in shown and row["name"] not in shown
        record = gateway.store.get_execution(str(outcome.execution_id))
        assert record is not None and record["status"] == "withheld"
        assert not record.get("subject_count")
    finally:
        gateway.close()
    assert_chain_verifies(workspace.config_path)


@pytest.mark.slow
def test_expired_approval_races_its_execution(
    make_workspace: Callable[..., Workspace], postgres_url: str
) -> None:
    workspace = make_workspace(extra="[gateway]\napproval_ttl_s = 2\n")
    gateway = Gateway.from_config(load_config(workspace.config_path))
    code = "SELECT nextval('side_effects') AS n, * FROM customers"
    try:
        held = execute(gateway, code, BOB)
        assert held.status == "pending", held
        approval_id = held.approval["id"]
        approved = gateway.approvals.approve(approval_id, DPO, APPROVER_ROLES, "contract")
        before = sequence_value(postgres_url)
        time.sleep(max(0.0, approved.expires_at - time.time() - 0.05))
        with ThreadPoolExecutor(max_workers=4) as pool:
            outcomes = list(
                pool.map(lambda _: execute(gateway, code, BOB, approval_id=approval_id), range(4))
            )
        late = execute(gateway, code, BOB, approval_id=approval_id)
        ran = [outcome for outcome in outcomes if outcome.status == "ok"]
        assert len(ran) <= 1, "one approval ran twice"
        assert late.status != "ok"
        rows_per_run = len(ran[0].result["rows"]) if ran else 0
        assert sequence_value(postgres_url) - before == rows_per_run, "a refused run executed"
        state = gateway.approvals.get(approval_id).state
        assert state == ("used" if ran else "expired"), state
        for outcome in [*outcomes, late]:
            assert gateway.store.get_execution(str(outcome.execution_id)) is not None
    finally:
        gateway.close()
    assert_chain_verifies(workspace.config_path)
