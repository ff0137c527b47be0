"""allow / flag-approve-run / block through the REST API on every kind of real database."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

TABLE = f"customers_{secrets.token_hex(3)}"


def seed(url: str, customers: list[tuple[int, str, str, str]]) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {TABLE}"))
            conn.execute(
                sa.text(
                    f"CREATE TABLE {TABLE} (id INTEGER PRIMARY KEY, name VARCHAR(100), "
                    "email VARCHAR(100), phone VARCHAR(40))"
                )
            )
            conn.execute(
                sa.text(f"INSERT INTO {TABLE} VALUES (:id, :name, :email, :phone)"),
                [dict(zip(("id", "name", "email", "phone"), c, strict=True)) for c in customers],
            )
    finally:
        engine.dispose()


def phone_of(url: str, customer_id: int) -> Any:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(
                sa.text(f"SELECT phone FROM {TABLE} WHERE id = :id"), {"id": customer_id}
            ).scalar()
    finally:
        engine.dispose()


@pytest.fixture
def nb_connections(
    tmp_path: Path,
    postgres_url: str,
    mariadb_url: str,
    shop_url: str,
    customers: list[tuple[int, str, str, str]],
) -> dict[str, str]:
    urls = {
        "postgres": postgres_url,
        "mariadb": mariadb_url,
        "duckdb": f"duckdb:///{tmp_path / 'warehouse.duckdb'}",
        "sqlite": shop_url,
    }
    for url in urls.values():
        seed(url, customers)
    return urls


@pytest.mark.postgres
@pytest.mark.mariadb
async def test_governed_cells_on_every_backend(
    api: Any, nb_connections: dict[str, str], customers: list[tuple[int, str, str, str]]
) -> None:
    raw_emails = {c[2] for c in customers}
    for name, url in nb_connections.items():
        select = {"kind": "sql", "target": name, "code": f"SELECT id, email FROM {TABLE}"}
        status, outcome = await api("alice", "POST", "execute", select)
        assert status == 200, (name, outcome)
        result = outcome["result"]
        assert result["row_count"] == len(customers), name
        assert not {row[1] for row in result["rows"]} & raw_emails, name

        update = {
            "kind": "sql",
            "target": name,
            "code": f"UPDATE {TABLE} SET phone = NULL WHERE id = 2",
        }
        status, held = await api("alice", "POST", "execute", update)
        assert status == 202, (name, held)
        assert phone_of(url, 2) is not None, f"{name}: a flagged cell ran before approval"
        approval_id = held["approval"]["id"]
        status, _ = await api(
            "dpo",
            "POST",
            f"approvals/{approval_id}/approve",
            {"basis": "contract", "justification": "erasure request"},
        )
        assert status == 200
        status, ran = await api("alice", "POST", "execute", {**update, "approval_id": approval_id})
        assert status == 200, (name, ran)
        assert phone_of(url, 2) is None, name

        status, blocked = await api(
            "alice",
            "POST",
            "execute",
            {"kind": "sql", "target": name, "code": f"DELETE FROM {TABLE}"},
        )
        assert status == 403 and blocked["status"] == "blocked", name
        assert phone_of(url, 1) is not None, f"{name}: a blocked cell ran"

    status, verify = await api("auditor", "GET", "audit/verify")
    assert status == 200 and verify["ok"] is True
    status, dsar = await api("auditor", "POST", "dsar", {"email": customers[0][2]})
    assert status == 200
    assert {e["connection"] for e in dsar["executions"]} >= set(nb_connections), dsar


@pytest.mark.postgres
@pytest.mark.mariadb
async def test_kernel_cancels_its_running_statement(
    api: Any, nb_connections: dict[str, str], key_file: Path
) -> None:
    from tests.server_extension.test_assertions import kernel_headers

    source = "%%sql postgres\nSELECT pg_sleep(20)"
    headers = kernel_headers(key_file, source)
    body = {
        "kind": "sql",
        "target": "postgres",
        "code": "SELECT pg_sleep(20)",
        "cell_source": source,
    }
    running = asyncio.ensure_future(api(None, "POST", "execute", body, headers))
    for _ in range(100):
        status, cancelled = await api(None, "POST", "executions/current/cancel", {}, headers)
        if status != 404:
            break
        await asyncio.sleep(0.1)
    assert status == 200 and cancelled["cancelled"] is True, cancelled
    status, outcome = await asyncio.wait_for(running, timeout=15)
    assert outcome["status"] == "error" and "cancel" in outcome["error"]
    status, record = await api("auditor", "GET", f"executions/{outcome['execution_id']}")
    assert record["status"] == "cancelled"
