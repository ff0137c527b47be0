"""A kernel polls the progress of its running cell: elapsed time and rows fetched."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest

from nbwarden.executor.sql import FETCH_BATCH
from nbwarden.kernel.client import GatewayClient
from nbwarden.kernel.display import CellStatus
from nbwarden.kernel.runner import CellRequest, GovernedRun
from nbwarden.server_extension.handlers import API_PREFIX
from tests.server_extension.test_assertions import kernel_headers

ROWS = 3 * FETCH_BATCH
SLOW = (
    f"SELECT g FROM generate_series(1, {ROWS}) AS g, "
    f"LATERAL pg_sleep(CASE WHEN mod(g, {FETCH_BATCH}) = 0 THEN 0.4 ELSE 0 END)"
)
SOURCE = f"%%sql postgres\n{SLOW}"
PROGRESS = "executions/current/progress"


@pytest.fixture
def nb_connections(shop_url: str, postgres_url: str) -> dict[str, str]:
    return {"shop": shop_url, "postgres": postgres_url}


@pytest.mark.postgres
async def test_only_the_cells_kernel_sees_its_progress(api: Any, key_file: Path) -> None:
    headers = kernel_headers(key_file, SOURCE)
    other_kernel = kernel_headers(key_file, SOURCE, kernel_id="k-2")
    other_user = kernel_headers(key_file, SOURCE, user="dpo")
    status, _ = await api(None, "GET", PROGRESS, None, headers)
    assert status == 404
    body = {"kind": "sql", "target": "postgres", "code": SLOW, "cell_source": SOURCE}
    running = asyncio.ensure_future(api(None, "POST", "execute", body, headers))
    seen: list[dict[str, Any]] = []
    while not running.done():
        status, progress = await api(None, "GET", PROGRESS, None, headers)
        if status == 200:
            seen.append(progress)
            assert (await api(None, "GET", PROGRESS, None, other_kernel))[0] == 404
            assert (await api(None, "GET", PROGRESS, None, other_user))[0] == 404
            assert (await api("alice", "GET", PROGRESS))[0] == 400
            assert (await api("auditor", "GET", PROGRESS))[0] == 403
        await asyncio.sleep(0.1)
    status, outcome = await running
    assert status == 200 and outcome["status"] == "ok", outcome
    assert {p["id"] for p in seen} == {outcome["execution_id"]}
    rows = [p["rows_fetched"] for p in seen]
    assert rows == sorted(rows) and len({r for r in rows if 0 < r < ROWS}) >= 2, rows
    assert [p["elapsed_s"] for p in seen] == sorted(p["elapsed_s"] for p in seen)
    status, _ = await api(None, "GET", PROGRESS, None, headers)
    assert status == 404


class RecordedStatus(CellStatus):
    """The cell's status output, kept as the lines the notebook would show in turn."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def show(self, text: str, **nbwarden: Any) -> None:
        self.lines.append(text)


@pytest.mark.postgres
async def test_the_kernel_shows_rows_fetched_while_the_cell_runs(
    jp_serverapp: Any, jp_fetch: Any, key_file: Path
) -> None:
    """``jp_fetch`` makes the test server accept connections on its port."""
    token = kernel_headers(key_file, SOURCE)["Authorization"].split(" ", 1)[1]
    client = GatewayClient(jp_serverapp.connection_url.rstrip("/") + "/" + API_PREFIX)
    status = RecordedStatus()
    request = CellRequest(
        kind="sql", target="postgres", code=SLOW, cell_source=SOURCE, kernel_id="k-1"
    )
    try:
        outcome = await asyncio.to_thread(GovernedRun(client, token, status).run, request)
    finally:
        client.close()
    assert outcome.result["row_count"] == ROWS
    counted = [
        re.fullmatch(r"running on the gateway · [\d.]+ s · ([\d,]+) rows? fetched", line)
        for line in status.lines
    ]
    rows = [int(match.group(1).replace(",", "")) for match in counted if match]
    assert rows == sorted(rows) and any(0 < r < ROWS for r in rows), status.lines
