"""``POST execute`` answered as an Arrow IPC stream to a client that asks for one.

A real Jupyter server with the extension and a real PostgreSQL table with typed columns:
the Arrow answer carries the masked table with its types and the JSON envelope in the
schema metadata; refusals, pending approvals and shell cells stay JSON, and a client
that does not ask for Arrow gets the JSON answer as before.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import secrets
from typing import Any

import pyarrow as pa
import pytest
import sqlalchemy as sa
from faker import Faker

from nbwarden.executor.payload import ARROW_STREAM, read_arrow_answer
from nbwarden.kernel.display import result_frame
from nbwarden.server_extension.handlers import accepts
from tests.server_extension.conftest import auth

TABLE = f"accounts_{secrets.token_hex(3)}"
SELECT = f"SELECT id, email, balance, opened_at, first_day, birth_date FROM {TABLE} ORDER BY id"


@pytest.fixture
def accounts(postgres_url: str) -> list[dict[str, Any]]:
    fake = Faker()
    Faker.seed(11)
    rows = [
        {
            "id": i,
            "email": fake.unique.email(),
            "balance": decimal.Decimal(f"{fake.pyint(0, 99999)}.{fake.pyint(10, 99)}"),
            "opened_at": fake.date_time(tzinfo=dt.UTC).replace(microsecond=0),
            "first_day": fake.date_object(),
            "birth_date": fake.date_of_birth(),
        }
        for i in range(1, 6)
    ]
    engine = sa.create_engine(postgres_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {TABLE}"))
            conn.execute(
                sa.text(
                    f"CREATE TABLE {TABLE} (id int primary key, email text, balance numeric(12,2),"
                    " opened_at timestamptz, first_day date, birth_date date)"
                )
            )
            conn.execute(
                sa.text(
                    f"INSERT INTO {TABLE} VALUES (:id, :email, :balance, :opened_at, :first_day,"
                    " :birth_date)"
                ),
                rows,
            )
    finally:
        engine.dispose()
    return rows


@pytest.fixture
def nb_connections(shop_url: str, postgres_url: str) -> dict[str, str]:
    return {"shop": shop_url, "pg": postgres_url}


async def post_execute(jp_fetch: Any, body: dict[str, Any], accept: str | None) -> Any:
    headers = auth("alice")
    if accept is not None:
        headers["Accept"] = accept
    return await jp_fetch(
        "nbwarden",
        "api",
        "execute",
        method="POST",
        body=json.dumps(body),
        headers=headers,
        raise_error=False,
    )


@pytest.mark.postgres
async def test_an_arrow_client_gets_the_masked_table_with_its_types(
    jp_fetch: Any, accounts: list[dict[str, Any]]
) -> None:
    body = {"kind": "sql", "target": "pg", "code": SELECT}
    response = await post_execute(jp_fetch, body, f"{ARROW_STREAM}, application/json;q=0.9")
    assert response.code == 200
    assert response.headers["Content-Type"].startswith(ARROW_STREAM)
    answer = read_arrow_answer(response.body)
    assert answer["status"] == "ok" and answer["execution_id"]
    assert answer["verdict"]["action"] == "allow"
    result = answer["result"]
    assert "rows" not in result and result["row_count"] == len(accounts)
    table = result["table"]
    assert isinstance(table, pa.Table) and table.num_rows == len(accounts)
    assert table.schema.metadata is None, "the envelope stays out of the user's table"
    assert pa.types.is_decimal(table.schema.field("balance").type)
    assert pa.types.is_timestamp(table.schema.field("opened_at").type)
    emails = table.column("email").to_pylist()
    assert not set(emails) & {a["email"] for a in accounts}, "a raw e-mail left the gateway"
    assert result["masked"]["email"] == list(range(len(accounts)))
    assert result["masked"]["birth_date"] == list(range(len(accounts)))
    assert result["entity_counts"]["EMAIL_ADDRESS"] == len(accounts)

    frame = result_frame(result, answer["execution_id"])
    assert frame["balance"].sum() == sum(a["balance"] for a in accounts)
    assert frame["opened_at"].iloc[0] == accounts[0]["opened_at"]
    assert frame["first_day"].iloc[0] == accounts[0]["first_day"]
    assert all(isinstance(v, str) for v in frame["birth_date"]), "a placeholder stays text"
    assert frame._repr_html_().count('title="masked by nbwarden"') == 2 * len(accounts)


@pytest.mark.postgres
async def test_the_arrow_frame_matches_the_json_frame(
    jp_fetch: Any, accounts: list[dict[str, Any]]
) -> None:
    body = {"kind": "sql", "target": "pg", "code": SELECT}
    arrow = read_arrow_answer((await post_execute(jp_fetch, body, ARROW_STREAM)).body)
    plain = json.loads((await post_execute(jp_fetch, body, None)).body)
    from_arrow = result_frame(arrow["result"], None)
    from_json = result_frame(plain["result"], None)
    assert list(from_arrow.columns) == list(from_json.columns)
    assert from_arrow.astype(str).values.tolist() == from_json.astype(str).values.tolist()
    assert arrow["result"]["masked"] == plain["result"]["masked"]


@pytest.mark.postgres
async def test_clients_that_do_not_ask_for_arrow_get_json(
    jp_fetch: Any, accounts: list[dict[str, Any]]
) -> None:
    body = {"kind": "sql", "target": "pg", "code": SELECT}
    for accept in (None, "application/json", "*/*", f"{ARROW_STREAM};q=0, application/json"):
        response = await post_execute(jp_fetch, body, accept)
        assert response.code == 200, accept
        assert response.headers["Content-Type"].startswith("application/json"), accept
        result = json.loads(response.body)["result"]
        assert len(result["rows"]) == len(accounts), accept


async def test_refusals_pending_errors_and_shell_stay_json_for_an_arrow_client(
    jp_fetch: Any,
) -> None:
    update = "UPDATE customers SET phone = 1 WHERE id = 3"
    cases = [
        ({"kind": "sql", "target": "shop", "code": "DELETE FROM customers"}, 403, "blocked"),
        ({"kind": "sql", "target": "shop", "code": update}, 202, "pending"),
        ({"kind": "sql", "target": "shop", "code": "SELECT nope FROM customers"}, 422, "error"),
        ({"kind": "shell", "target": "local", "code": "echo hello"}, 200, "ok"),
    ]
    for body, code, state in cases:
        response = await post_execute(jp_fetch, body, ARROW_STREAM)
        assert response.code == code, body
        assert response.headers["Content-Type"].startswith("application/json"), body
        answer = json.loads(response.body)
        assert (answer.get("status") or answer.get("state")) == state, answer
    assert "hello" in answer["result"]["stdout"]


async def test_openapi_names_both_answers_of_execute(jp_fetch: Any) -> None:
    response = await jp_fetch("nbwarden", "api", "openapi.json", headers=auth("alice"))
    execute = json.loads(response.body)["paths"]["/execute"]["post"]
    assert set(execute["responses"]["200"]["content"]) == {"application/json", ARROW_STREAM}
    assert "Accept" in execute["description"]


def test_accept_header_names_arrow_only_with_a_positive_weight() -> None:
    assert accepts(ARROW_STREAM, ARROW_STREAM)
    assert accepts(f"application/json;q=0.5, {ARROW_STREAM} ; q=1", ARROW_STREAM)
    assert not accepts(f"{ARROW_STREAM};q=0", ARROW_STREAM)
    assert not accepts(f"{ARROW_STREAM};q=x", ARROW_STREAM)
    assert not accepts("*/*", ARROW_STREAM)
    assert not accepts("", ARROW_STREAM)
