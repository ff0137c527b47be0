"""A database client's output in a shell cell is masked as the table it is, column by
column, like a SQL cell's result (real psql and mysql clients, real servers)."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from executor_support import ConfigMaker, GatewayMaker, create_text_table, drop_table
from faker import Faker

from nbwarden.executor import ExecuteRequest, Gateway, Identity

ALICE = Identity(user="alice", roles=frozenset({"analyst"}), kernel_id="k1")
TABLE = "shell_people"
QUERY = f"SELECT name, email, postcode, iban FROM {TABLE} ORDER BY id LIMIT 20"


def synthetic_people() -> list[dict[str, Any]]:
    fake = Faker("en_GB")
    Faker.seed(606)
    return [
        {
            "id": i,
            "name": fake.name(),
            "email": fake.unique.email(),
            "postcode": fake.postcode(),
            "iban": fake.iban(),
        }
        for i in range(20)
    ]


@pytest.fixture
def people_in(request: pytest.FixtureRequest) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    url = request.getfixturevalue(request.param)
    rows = synthetic_people()
    engine = create_text_table(url, TABLE, rows)
    yield url, rows
    drop_table(engine, TABLE)


def client_command(url: str) -> str:
    parts = sa.make_url(url)
    assert shutil.which("psql") and shutil.which("mysql"), "the psql and mysql clients"
    if parts.get_backend_name() == "postgresql":
        return f'psql "postgresql://{parts.username}@{parts.host}:{parts.port}/{parts.database}"'
    return f"mysql -h {parts.host} -P {parts.port} -u {parts.username} {parts.database}"


@pytest.mark.postgres
@pytest.mark.mariadb
@pytest.mark.parametrize(
    ("people_in", "option"),
    [
        ("postgres_url", "-c"),
        ("postgres_url", "-A -c"),
        ("postgres_url", "-x -c"),
        ("mariadb_url", "-e"),
        ("mariadb_url", "-E -e"),
    ],
    indirect=["people_in"],
)
def test_a_clients_table_is_masked_by_its_columns(
    make_gateway: GatewayMaker,
    make_config: ConfigMaker,
    people_in: tuple[str, list[dict[str, Any]]],
    option: str,
) -> None:
    url, rows = people_in
    gateway: Gateway = make_gateway(make_config())
    code = f'{client_command(url)} {option} "{QUERY}"'
    request = ExecuteRequest(kind="shell", target="local", code=code, purpose="shell tables")
    outcome = asyncio.run(gateway.execute(request, ALICE))
    assert outcome.status == "ok" and outcome.result is not None, outcome.error
    stdout = outcome.result["stdout"]
    assert stdout.count("\n") >= len(rows)
    for field in ("name", "email", "postcode", "iban"):
        assert sum(row[field] in stdout for row in rows) == 0, f"{field} readable"
    assert sum(
        f" {row['postcode'][:3]}" in stdout
        or f"\t{row['postcode'][:3]}" in stdout
        or f"|{row['postcode'][:3]}" in stdout
        for row in rows
    ) == len(rows)
    assert outcome.result["entity_counts"]["POSTAL_CODE"] == len(rows)
