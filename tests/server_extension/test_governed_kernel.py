"""The real `nbwarden` kernel behind the Jupyter server: stamp -> kernel -> gateway -> masked.

A governed SQL cell sent over the kernel websocket reaches the gateway with the
server's assertion and comes back masked; the kernel's environment holds the gateway
URL but no credential of any configured connection. (Readable files and running the
kernel as another OS user: tests/kernel/test_provisioner.py.)
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from faker import Faker
from jupyter_client.session import Session

from nbwarden.kernel.provisioner import register_provisioner
from tests.server_extension.test_websocket import open_kernel, run_cell

REPO = Path(__file__).resolve().parents[2]
PASSWORD = secrets.token_hex(12)


@pytest.fixture
def nb_connections(
    shop_url: str, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    monkeypatch.setenv("NBW_TEST_PG_PASSWORD", PASSWORD)
    with_password = postgres_url.replace("postgres@", "postgres:${NBW_TEST_PG_PASSWORD}@", 1)
    monkeypatch.setenv(
        "ANALYTICS_DATABASE_URL", with_password.replace("${NBW_TEST_PG_PASSWORD}", PASSWORD)
    )
    return {"shop": shop_url, "pg": with_password}


@pytest.fixture
def nbwarden_kernelspec(jp_kernel_dir: Path) -> str:
    register_provisioner()
    spec = json.loads((REPO / "share/jupyter/kernels/nbwarden/kernel.json").read_text())
    spec["argv"][0] = sys.executable
    (jp_kernel_dir / "nbwarden").mkdir(parents=True, exist_ok=True)
    (jp_kernel_dir / "nbwarden" / "kernel.json").write_text(json.dumps(spec))
    return "nbwarden"


@pytest.mark.postgres
@pytest.mark.slow
async def test_sql_cell_through_the_server_and_a_clean_kernel_environment(
    jp_serverapp: Any,
    jp_fetch: Any,
    jp_ws_fetch: Any,
    api: Any,
    nbwarden_kernelspec: str,
    customers: list[Any],
) -> None:
    kernel_id, ws = await open_kernel(jp_fetch, jp_ws_fetch, nbwarden_kernelspec, v1=True)
    session = Session()
    sql_cell = "%%sql shop << found\nSELECT id, email FROM customers WHERE id = 1"
    probe = (
        "import os, json\n"
        "print(json.dumps({'rows': found.values.tolist(), 'env': dict(os.environ)}))"
    )
    try:
        await run_cell(ws, session, sql_cell, "cell-sql", v1=True)
        printed = await run_cell(ws, session, probe, "cell-probe", v1=True)
    finally:
        ws.close()
    seen = json.loads(printed)
    assert seen["rows"][0][0] == 1
    assert seen["rows"][0][1] != customers[0][2], "a raw e-mail reached the kernel"
    env_text = json.dumps(seen["env"])
    assert PASSWORD not in env_text
    assert "NBWARDEN_CONFIG" not in seen["env"]
    api_url = jp_serverapp.connection_url.rstrip("/") + "/nbwarden/api"
    assert seen["env"]["NBWARDEN_GATEWAY_URL"] == api_url

    status, records = await api("auditor", "GET", "executions", params={"user": "alice"})
    assert status == 200
    governed = [r for r in records if r["kind"] == "sql" and r["kernel_id"] == kernel_id]
    assert len(governed) == 1 and governed[0]["cell_id"] == "cell-sql", records
    cells = {r["cell_id"] for r in records if r["kind"] == "python"}
    assert {"cell-sql", "cell-probe"} <= cells


@pytest.mark.postgres
@pytest.mark.slow
async def test_sql_result_reaches_the_kernel_as_arrow_with_its_types(
    jp_fetch: Any, jp_ws_fetch: Any, nbwarden_kernelspec: str, postgres_url: str
) -> None:
    table = f"ledger_{secrets.token_hex(3)}"
    columns = "id, email, amount, at, day, score"
    fake = Faker()
    rows = [
        {"id": i, "email": fake.email(), "amount": f"{i}.25", "at": fake.date_time(tzinfo=dt.UTC)}
        for i in range(1, 4)
    ]
    engine = sa.create_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                f"CREATE TABLE {table} (id int, email text, amount numeric(8,2), "
                "at timestamptz, day date DEFAULT '2026-03-01', score float8 DEFAULT 'NaN')"
            )
        )
        conn.execute(sa.text(f"INSERT INTO {table} VALUES (:id, :email, :amount, :at)"), rows)
    engine.dispose()
    _kernel_id, ws = await open_kernel(jp_fetch, jp_ws_fetch, nbwarden_kernelspec, v1=True)
    session = Session()
    cell = f"%%sql pg << found\nSELECT {columns} FROM {table}"
    probe = (
        "import json, math\n"
        "bundle = found._repr_mimebundle_()\n"
        "print(json.dumps({'amount': str(found.amount.sum()), 'at': str(found['at'].dtype),\n"
        "    'day': type(found.day[0]).__name__, 'nan': math.isnan(found.score[0]),\n"
        "    'masked': bundle['text/html'].count('masked by nbwarden'),\n"
        "    'text': bundle['text/plain'].splitlines()[-1],\n"
        "    'emails': list(found.email)}))"
    )
    try:
        await run_cell(ws, session, cell, "cell-sql", v1=True)
        seen = json.loads(await run_cell(ws, session, probe, "cell-probe", v1=True))
    finally:
        ws.close()
    assert seen["amount"] == "6.75"
    assert seen["at"].startswith("datetime64") and "UTC" in seen["at"]
    assert seen["day"] == "date"
    assert seen["nan"] is True, "a float NaN arrives as a float (JSON would carry text)"
    assert seen["masked"] == len(rows)
    assert seen["text"] == "[3 rows x 6 columns]"
    assert not set(seen["emails"]) & {row["email"] for row in rows}
