"""Load: 16 governed kernels, 50 SQL cells each, concurrently, against PostgreSQL.

Each kernel's last cell is flagged (an unbounded read) and waits for a DPO, who approves
requests as they come in from another client. Every execution must be recorded exactly
once, every approval used exactly once, and the chain must verify.
"""

from __future__ import annotations

import asyncio
import statistics
from collections import Counter
from typing import Any

import pytest

from benchmarks.system.fleet import GatewayProcess, GovernedKernel, start_kernels, stop_kernels
from nbwarden.config import load_config
from nbwarden.provenance import ProvenanceStore
from tests.system.support import Workspace, assert_chain_verifies

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.timeout(420)]

KERNELS = 16
CELLS = 50


def allowed_cell(kernel: int, cell: int) -> str:
    low = (kernel * CELLS + cell) % 50 + 1
    return (
        "%%sql prod\n"
        f"SELECT id, name, email, phone, city, spend FROM customers WHERE id BETWEEN {low} "
        f"AND {low + 9} ORDER BY id"
    )


FLAGGED_CELL = "%%sql prod\nSELECT * FROM customers"
"""The same in every kernel: each held cell still gets a request of its own."""


async def run_kernel(kernel: GovernedKernel, index: int) -> list[Any]:
    runs = [await kernel.run(allowed_cell(index, cell)) for cell in range(CELLS - 1)]
    runs.append(await kernel.run(FLAGGED_CELL, timeout_s=180))
    return runs


async def approve_as_they_come(gateway: GatewayProcess, stop: asyncio.Event) -> set[str]:
    approved: set[str] = set()
    while not stop.is_set():
        status, pending = await asyncio.to_thread(
            gateway.call, "dpo2", "GET", "approvals?state=pending"
        )
        assert status == 200, pending
        for request in pending:
            status, body = await asyncio.to_thread(
                gateway.call,
                "dpo2",
                "POST",
                f"approvals/{request['id']}/approve",
                {"basis": "legitimate_interests", "justification": "load test"},
            )
            assert status == 200, body
            approved.add(request["id"])
        await asyncio.sleep(0.5)
    return approved


async def load(gateway: GatewayProcess, workspace: Workspace) -> tuple[list[Any], set[str]]:
    users = ["alice" if i % 2 == 0 else "bob" for i in range(KERNELS)]
    kernels = await start_kernels(workspace.config_path, gateway.url, users, purpose="load test")
    stop = asyncio.Event()
    approver = asyncio.create_task(approve_as_they_come(gateway, stop))
    cells = asyncio.ensure_future(
        asyncio.gather(*(run_kernel(k, i) for i, k in enumerate(kernels)))
    )
    try:
        await asyncio.wait({cells, approver}, return_when=asyncio.FIRST_COMPLETED)
        if approver.done():
            cells.cancel()
            approver.result()
            raise AssertionError("the approver stopped before the cells finished")
        per_kernel = await cells
    finally:
        stop.set()
        await stop_kernels(kernels)
    return [run for runs in per_kernel for run in runs], await approver


def test_sixteen_kernels_fifty_cells_each(
    workspace: Workspace,
    customers: list[dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    gateway = workspace.gateway("load").start()
    try:
        runs, approved = asyncio.run(load(gateway, workspace))
        status, verify = gateway.call("auditor", "GET", "audit/verify")
        assert status == 200 and verify["ok"] is True, verify
    finally:
        gateway.stop()

    failed = [run.text[:300] for run in runs if run.status != "ok"]
    assert not failed, failed
    assert len(runs) == KERNELS * CELLS
    shown_ids = [run.execution_ids[-1] for run in runs if run.execution_ids]
    assert len(shown_ids) == KERNELS * CELLS, "a cell did not show its execution id"
    assert len(set(shown_ids)) == len(shown_ids), "two cells showed the same execution"
    for run in runs:
        for row in customers:
            assert row["email"] not in run.text and row["name"] not in run.text

    store = ProvenanceStore(load_config(workspace.config_path).audit, read_only=True)
    try:
        executions = store.search_executions(connection="prod", limit=100_000)
        events = store.approval_events()
    finally:
        store.close()
    by_status = Counter(row["status"] for row in executions)
    assert by_status == {"ok": KERNELS * CELLS, "pending": KERNELS}, by_status
    recorded_ok = Counter(row["id"] for row in executions if row["status"] == "ok")
    assert set(recorded_ok) == set(shown_ids) and set(recorded_ok.values()) == {1}

    assert len(approved) == KERNELS
    final_state = {event.approval_id: event.state for event in events}
    assert {final_state[approval_id] for approval_id in approved} == {"used"}
    used_by = [row["approval_id"] for row in executions if row.get("approval_id")]
    assert sorted(used_by) == sorted(approved), "an approval was lost or used twice"
    assert_chain_verifies(workspace.config_path)

    allowed = [run.latency_s for i, run in enumerate(runs) if i % CELLS != CELLS - 1]
    p95 = statistics.quantiles(allowed, n=20)[-1]
    with capsys.disabled():
        print(
            f"\nload: {KERNELS} kernels x {CELLS} cells: allowed-cell latency "
            f"p50 {statistics.median(allowed) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms "
            f"({len(allowed)} cells)"
        )
