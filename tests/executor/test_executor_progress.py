"""Rows fetched so far are reported while a long result streams in from PostgreSQL or
MariaDB."""

from __future__ import annotations

import asyncio

import pytest
from executor_support import ConfigMaker, GatewayMaker

from nbwarden.executor import ExecuteRequest, ExecutionError, Identity, Outcome
from nbwarden.executor.sql import FETCH_BATCH

ALICE = Identity(user="alice", roles=frozenset({"analyst"}), kernel_id="k1", session_id="s1")
BOB = Identity(user="bob", roles=frozenset({"analyst"}))
BATCHES = 4
SLOW_BATCHES = {
    "postgres": (
        f"SELECT g FROM generate_series(1, {BATCHES * FETCH_BATCH}) AS g, "
        f"LATERAL pg_sleep(CASE WHEN mod(g, {FETCH_BATCH}) = 0 THEN 0.3 ELSE 0 END)"
    ),
    "mariadb": (
        f"SELECT seq AS g FROM seq_1_to_{BATCHES * FETCH_BATCH} "
        f"WHERE SLEEP(IF(MOD(seq, {FETCH_BATCH}) = 0, 0.3, 0)) = 0"
    ),
}
"""A query per backend whose rows come in batches of ``FETCH_BATCH``, 0.3 s apart."""


@pytest.mark.parametrize(
    "backend",
    [
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("mariadb", marks=pytest.mark.mariadb),
    ],
)
def test_rows_fetched_grow_while_a_long_result_streams(
    make_gateway: GatewayMaker,
    make_config: ConfigMaker,
    backend: str,
    request: pytest.FixtureRequest,
) -> None:
    url = request.getfixturevalue(f"{backend}_url")
    gateway = make_gateway(make_config(extra_connections={"db": {"url": url}}))
    code = SLOW_BATCHES[backend]

    async def scenario() -> tuple[Outcome, list[int], list[float]]:
        cell = ExecuteRequest(kind="sql", target="db", code=code, cell_id="c1")
        task = asyncio.create_task(gateway.execute(cell, ALICE))
        rows_seen: list[int] = []
        elapsed_seen: list[float] = []
        while not task.done():
            for running in gateway.running_executions():
                rows_seen.append(running["rows_fetched"])
                elapsed_seen.append(running["elapsed_s"])
                progress = gateway.progress(running["execution_id"], ALICE)
                assert progress["rows_fetched"] >= rows_seen[-1]
                with pytest.raises(ExecutionError, match="not running"):
                    gateway.progress(running["execution_id"], BOB)
            await asyncio.sleep(0.05)
        return await task, rows_seen, elapsed_seen

    outcome, rows_seen, elapsed_seen = asyncio.run(scenario())
    assert outcome.status == "ok", outcome.error
    assert outcome.result is not None and outcome.result["row_count"] == BATCHES * FETCH_BATCH
    assert rows_seen == sorted(rows_seen) and elapsed_seen == sorted(elapsed_seen)
    partial = {rows for rows in rows_seen if 0 < rows < BATCHES * FETCH_BATCH}
    assert len(partial) >= 2, rows_seen
    assert not gateway.running_executions()


@pytest.mark.postgres
def test_a_cte_after_another_statement_streams_through_a_cursor(
    make_gateway: GatewayMaker, make_config: ConfigMaker, postgres_url: str
) -> None:
    gateway = make_gateway(make_config(extra_connections={"pg": {"url": postgres_url}}))
    code = (
        "SELECT 1; "
        "WITH doubled AS (SELECT generate_series(1, 3) * 2 AS n) SELECT n FROM doubled ORDER BY n"
    )
    request = ExecuteRequest(kind="sql", target="pg", code=code, purpose="probe")
    outcome = asyncio.run(gateway.execute(request, ALICE))
    assert outcome.status == "ok", outcome.error
    assert outcome.result is not None and outcome.result["rows"] == [[2], [4], [6]]
