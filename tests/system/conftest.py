"""Fixtures of the system suite: the real stack (gateway process, kernels, PostgreSQL,
DuckDB). Shared code lives in ``tests.system.support``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from faker import Faker

from benchmarks.system.fleet import GatewayProcess
from tests.system.support import (
    CUSTOMERS,
    PERSONAL_COLUMNS,
    PLANTED,
    Planted,
    Workspace,
    write_workspace,
)


@pytest.fixture(scope="session")
def planted() -> Planted:
    return PLANTED


@pytest.fixture(scope="session")
def customers(postgres_url: str) -> list[dict[str, Any]]:
    """A ``customers`` table of synthetic people in the session's PostgreSQL database."""
    fake = Faker()
    fake.seed_instance(20261129)
    rows = [
        {
            "id": i,
            "name": fake.name(),
            "email": fake.unique.email(),
            "phone": fake.phone_number(),
            "iban": fake.iban(),
            "city": fake.city(),
            "spend": i * 10,
            "notes": f"{fake.name()} asked about invoice {i}",
        }
        for i in range(1, CUSTOMERS + 1)
    ]
    engine = sa.create_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "CREATE TABLE IF NOT EXISTS customers (id int primary key, name text, email text,"
                " phone text, iban text, city text, spend int, notes text)"
            )
        )
        conn.execute(sa.text("DELETE FROM customers"))
        conn.execute(
            sa.text(
                "INSERT INTO customers VALUES"
                " (:id, :name, :email, :phone, :iban, :city, :spend, :notes)"
            ),
            rows,
        )
        conn.execute(sa.text("CREATE SEQUENCE IF NOT EXISTS side_effects"))
    engine.dispose()
    for row in rows:
        PLANTED.add(*(str(row[column]) for column in PERSONAL_COLUMNS), row["notes"])
    return rows


@pytest.fixture
def make_workspace(
    tmp_path: Path, postgres_url: str, customers: list[dict[str, Any]]
) -> Iterator[Callable[..., Workspace]]:
    made: list[Workspace] = []

    def make(**kwargs: Any) -> Workspace:
        made.append(write_workspace(tmp_path, {"prod": postgres_url}, **kwargs))
        return made[-1]

    yield make
    for workspace in made:
        workspace.kill_gateways()


@pytest.fixture
def workspace(make_workspace: Callable[..., Workspace]) -> Workspace:
    return make_workspace()


@pytest.fixture
def gateway(workspace: Workspace) -> Iterator[GatewayProcess]:
    started = workspace.gateway().start()
    try:
        yield started
    finally:
        started.stop()
