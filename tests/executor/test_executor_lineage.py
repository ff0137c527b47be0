"""An analyst cannot read personal data back by transforming it in SQL: result columns
computed from personal columns are masked by where they come from (real PostgreSQL and
MariaDB)."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from executor_support import ConfigMaker, GatewayMaker, create_text_table, drop_table
from faker import Faker

from nbwarden.executor import ExecuteRequest, Gateway, Identity, Outcome

ALICE = Identity(user="alice", roles=frozenset({"analyst"}), kernel_id="k1")
TABLE = "lineage_customers"
pytestmark = pytest.mark.postgres


def synthetic_people() -> list[dict[str, Any]]:
    fake = Faker("en_GB")
    Faker.seed(2024)
    return [
        {"id": i, "name": fake.name(), "email": fake.unique.email(), "iban": fake.iban()}
        for i in range(1, 6)
    ]


@pytest.fixture(scope="module")
def people(postgres_url: str) -> Iterator[list[dict[str, Any]]]:
    rows = synthetic_people()
    engine = create_text_table(postgres_url, TABLE, rows)
    yield rows
    drop_table(engine, TABLE)


@pytest.fixture
def gateway(make_gateway: GatewayMaker, make_config: ConfigMaker, postgres_url: str) -> Gateway:
    return make_gateway(make_config(extra_connections={"pg": {"url": postgres_url}}))


def submit(gateway: Gateway, code: str, target: str = "pg", kind: str = "sql") -> Outcome:
    request = ExecuteRequest(kind=kind, target=target, code=code, purpose="lineage test")
    return asyncio.run(gateway.execute(request, ALICE))


def run(gateway: Gateway, sql: str, target: str = "pg") -> Outcome:
    outcome = submit(gateway, sql, target)
    assert outcome.status == "ok", outcome.error
    return outcome


def readable_forms(value: str) -> list[str]:
    """The value and what the queries below turn it into, down to six characters."""
    forms = [value, value[::-1], value.upper(), value.lower(), value.replace(" ", "")]
    forms += [base64.b64encode(value.encode()).decode(), value.encode().hex()]
    forms += [value.encode().hex().upper()]
    forms += [value[:12], value[12:], value.split("@")[0], " ".join(value)]
    forms += [json.dumps(list(value))[1:-1], json.dumps(value.split())[1:-1]]
    return [form for form in forms if len(form) >= 6]


@pytest.mark.parametrize(
    "select",
    [
        "reverse(email) AS x",
        "upper(name) AS x",
        "encode(convert_to(email, 'UTF8'), 'base64') AS x",
        "encode(convert_to(name, 'UTF8'), 'hex') AS x",
        "substr(iban, 1, 12) AS a, substr(iban, 13) AS b",
        "split_part(email, '@', 1) AS x",
        "array_to_string(regexp_split_to_array(name, ''), ' ') AS x",
        "regexp_split_to_array(email, '') AS x",
        "string_to_array(name, ' ') AS x",
        "email AS note",
    ],
)
def test_personal_data_transformed_in_sql_stays_masked(
    gateway: Gateway, people: list[dict[str, Any]], select: str
) -> None:
    outcome = run(gateway, f"SELECT {select} FROM {TABLE} ORDER BY id")
    assert_nothing_readable(outcome, people, select)


def assert_nothing_readable(outcome: Outcome, people: list[dict[str, Any]], select: str) -> None:
    shown = json.dumps(outcome.to_dict(), default=str)
    for person in people:
        for field in ("name", "email", "iban"):
            leaked = sum(form in shown for form in readable_forms(person[field]))
            assert leaked == 0, f"{field} readable in {select}"


@pytest.mark.mariadb
def test_the_same_on_mariadb(
    make_gateway: GatewayMaker, make_config: ConfigMaker, mariadb_url: str
) -> None:
    rows = synthetic_people()
    engine = create_text_table(mariadb_url, TABLE, rows)
    try:
        gateway = make_gateway(make_config(extra_connections={"maria": {"url": mariadb_url}}))
        for select in (
            "reverse(email) AS x",
            "to_base64(email) AS x",
            "hex(name) AS x",
            "concat(substr(iban, 1, 12), '') AS a, substr(iban, 13) AS b",
            "substring_index(email, '@', 1) AS x",
        ):
            outcome = run(gateway, f"SELECT {select} FROM {TABLE} ORDER BY id", "maria")
            assert_nothing_readable(outcome, rows, select)
    finally:
        drop_table(engine, TABLE)


def test_the_same_transformation_through_a_cte_and_a_subquery(
    gateway: Gateway, people: list[dict[str, Any]]
) -> None:
    outcome = run(
        gateway,
        f"WITH t AS (SELECT id, reverse(email) AS r FROM {TABLE})"
        " SELECT * FROM (SELECT r AS shown FROM t ORDER BY id) s",
    )
    assert outcome.result is not None
    assert [row[0] for row in outcome.result["rows"]] == ["<EMAIL_ADDRESS>"] * len(people)


def test_the_same_transformation_in_a_lateral_subquery(
    gateway: Gateway, people: list[dict[str, Any]]
) -> None:
    outcome = run(
        gateway,
        f"SELECT l.* FROM {TABLE} c CROSS JOIN LATERAL (SELECT reverse(c.email) AS r) l LIMIT 10",
    )
    assert_nothing_readable(outcome, people, "LATERAL")


def test_numbers_and_categories_computed_from_personal_columns_stay_readable(
    gateway: Gateway, people: list[dict[str, Any]]
) -> None:
    outcome = run(
        gateway,
        "SELECT length(name) AS letters,"
        " CASE WHEN email LIKE '%.com' THEN 'com' ELSE 'other' END AS tld"
        f" FROM {TABLE} ORDER BY id",
    )
    assert outcome.result is not None
    expected = [[len(p["name"]), "com" if p["email"].endswith(".com") else "other"] for p in people]
    assert outcome.result["rows"] == expected
    assert outcome.result["masked"] == {}


def test_a_sql_client_in_a_shell_cell_that_changes_personal_columns_waits_for_approval(
    make_gateway: GatewayMaker, make_config: ConfigMaker
) -> None:
    """Its output is masked as text, where a reversed address is no longer one."""
    gateway = make_gateway(make_config())
    code = f'psql -c "SELECT reverse(email) FROM {TABLE} LIMIT 5"'
    outcome = submit(gateway, code, "local", "shell")
    assert outcome.status == "pending" and outcome.verdict is not None
    assert "shell.sql_transforms_personal_data" in outcome.verdict["rules"]


def rows_of(outcome: Outcome) -> list[list[Any]]:
    assert outcome.result is not None
    return list(outcome.result["rows"])


def test_an_iban_two_characters_at_a_time_stays_masked(
    gateway: Gateway, people: list[dict[str, Any]]
) -> None:
    """A partial mask keeps an IBAN's first two characters; a fragment is masked whole."""
    windows = ", ".join(f"substr(iban, {start}, 2) AS w{start}" for start in range(1, 23, 2))
    outcome = run(gateway, f"SELECT {windows} FROM {TABLE} ORDER BY id")
    cells = [cell for row in rows_of(outcome) for cell in row]
    assert len(cells) == 11 * len(people)
    assert cells == ["<IBAN_CODE>"] * len(cells)


def test_letter_codes_stay_masked_and_lengths_readable(
    gateway: Gateway, people: list[dict[str, Any]]
) -> None:
    codes = ", ".join(f"ascii(substr(name, {i}, 1)) AS c{i}" for i in range(1, 8))
    outcome = run(gateway, f"SELECT {codes}, length(name) AS n FROM {TABLE} ORDER BY id")
    rows = rows_of(outcome)
    assert all(row[:-1] == ["<PERSON>"] * 7 for row in rows)
    assert [row[-1] for row in rows] == [len(person["name"]) for person in people]


@pytest.mark.parametrize(
    "select", ["c", "c::text", "replace(row_to_json(c)::text, '\"name\"', '\"x\"')"]
)
def test_a_whole_row_as_one_value_is_masked_whole(
    gateway: Gateway, people: list[dict[str, Any]], select: str
) -> None:
    outcome = run(gateway, f"SELECT {select} AS x FROM {TABLE} c ORDER BY id")
    assert_nothing_readable(outcome, people, select)
    assert all(row[0].startswith("ROW_") for row in rows_of(outcome))
    assert outcome.result is not None and outcome.result["entity_counts"] == {"ROW": len(people)}


def test_a_whole_row_as_json_is_masked_field_by_field(
    gateway: Gateway, people: list[dict[str, Any]]
) -> None:
    outcome = run(gateway, f"SELECT row_to_json(c) AS doc FROM {TABLE} c ORDER BY id")
    assert_nothing_readable(outcome, people, "row_to_json(c)")
    documents = [
        row[0] if isinstance(row[0], dict) else json.loads(row[0]) for row in rows_of(outcome)
    ]
    assert [document["id"] for document in documents] == [person["id"] for person in people]
    assert all(document["email"].startswith("EMAIL_ADDRESS_") for document in documents)


def test_whole_rows_and_letter_lists_in_duckdb(
    make_gateway: GatewayMaker, make_config: ConfigMaker, customers: list[dict[str, Any]]
) -> None:
    """DuckDB gives ``c`` as a struct keyed by the column names (as text it is masked
    whole) and ``string_split`` as a list."""
    gateway = make_gateway(make_config())
    for select in ("c", "c::VARCHAR", "string_split(email, '')", "string_split(name, '')"):
        outcome = run(gateway, f"SELECT {select} AS x FROM customers c ORDER BY id", "prod")
        shown = json.dumps(outcome.to_dict(), default=str)
        for field in ("name", "email"):
            forms = [form for person in customers for form in readable_forms(person[field])]
            assert sum(form in shown for form in forms) == 0, f"{field} readable in {select}"


def test_duckdbs_star_options_and_columns_stay_masked(
    make_gateway: GatewayMaker, make_config: ConfigMaker, customers: list[dict[str, Any]]
) -> None:
    """``REPLACE`` and ``COLUMNS`` name a computed column after its source: a pseudonym of
    three letters under ``name`` could be decoded, as a placeholder it cannot."""
    gateway = make_gateway(make_config())
    for select, expected in (
        ("* REPLACE (substr(name, 1, 3) AS name)", {"name": "<PERSON>"}),
        ("substr(COLUMNS('name|email'), 1, 3)", {"name": "<PERSON>", "email": "<EMAIL_ADDRESS>"}),
        ("COLUMNS('id|city'), reverse(email) AS x", {"x": "<EMAIL_ADDRESS>"}),
    ):
        outcome = run(gateway, f"SELECT {select} FROM customers c ORDER BY id LIMIT 5", "prod")
        assert outcome.result is not None
        columns = outcome.result["columns"]
        for name, placeholder in expected.items():
            position = columns.index(name)
            assert [row[position] for row in rows_of(outcome)] == [placeholder] * 5, select


def test_summarize_shows_no_personal_value(
    make_gateway: GatewayMaker, make_config: ConfigMaker, customers: list[dict[str, Any]]
) -> None:
    """DuckDB's ``SUMMARIZE``: each column's ``min`` and ``max`` in one row per column."""
    gateway = make_gateway(make_config())
    for sql in ("SUMMARIZE customers", "SUMMARIZE SELECT reverse(name) AS name FROM customers"):
        outcome = run(gateway, sql, "prod")
        shown = json.dumps(rows_of(outcome))
        for field in ("name", "email"):
            forms = [form for person in customers for form in readable_forms(person[field])]
            assert sum(form in shown for form in forms) == 0, f"{field} readable in {sql}"
    ids = run(gateway, "SUMMARIZE SELECT id FROM customers", "prod")
    assert [row[2:4] for row in rows_of(ids)] == [["1", str(len(customers))]]


def test_a_catalog_of_column_statistics_needs_approval(
    gateway: Gateway, people: list[dict[str, Any]]
) -> None:
    """``pg_stats`` holds sample values of every column of every table."""
    sql = f"SELECT attname, histogram_bounds FROM pg_stats WHERE tablename = '{TABLE}'"
    outcome = submit(gateway, sql)
    assert outcome.status == "pending" and outcome.verdict is not None
    assert outcome.verdict["rules"] == ["sql.statistics_read"]


@pytest.mark.parametrize(
    "value",
    [
        "make_date(2000, 1, ascii(substr(name, 1, 1)))",
        "chr(ascii(substr(name, 1, 1)) + 2000000)",
        "make_time(ascii(substr(name, 1, 1)), 0, 0)",
    ],
)
def test_an_error_does_not_echo_a_letters_code(
    gateway: Gateway, people: list[dict[str, Any]], value: str
) -> None:
    """PostgreSQL names the value it could not use: "date field value out of range:
    2000-01-71", a name a letter at a time."""
    outcome = submit(gateway, f"SELECT {value} FROM {TABLE} ORDER BY id")
    assert outcome.status == "error" and outcome.error is not None
    assert "<redacted>" in outcome.error
    assert str(ord(people[0]["name"][0])) not in outcome.error
