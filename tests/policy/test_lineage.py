"""Where the result's columns come from (nbwarden.policy.lineage)."""

from __future__ import annotations

import pytest
import sqlglot

from nbwarden.policy import PolicyEngine
from nbwarden.policy.lineage import ResultLineage, result_lineage


def lineage(sql: str) -> ResultLineage:
    found = result_lineage(sqlglot.parse_one(sql, read="postgres"))
    assert found is not None
    return found


def sources(sql: str) -> list[tuple[str, set[str], bool]]:
    return [(c.name, set(c.sources), c.unchanged) for c in lineage(sql).by_position]


def test_plain_and_renamed_columns_pass_their_source_on_unchanged() -> None:
    assert sources("SELECT id, email AS contact FROM customers") == [
        ("id", {"customers.id"}, True),
        ("contact", {"customers.email"}, True),
    ]


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT reverse(email) AS x FROM customers", {"customers.email"}),
        ("SELECT encode(convert_to(c.name, 'UTF8'), 'hex') FROM customers c", {"customers.name"}),
        (
            "SELECT coalesce(nickname, name) AS n FROM crm.people",
            {"crm.people.nickname", "crm.people.name"},
        ),
        (
            "WITH t AS (SELECT upper(email) AS u FROM customers) SELECT u FROM t",
            {"customers.email"},
        ),
        ("SELECT * FROM (SELECT lower(name) AS n FROM customers) s", {"customers.name"}),
        ("SELECT (SELECT max(iban) FROM accounts) AS note", {"accounts.iban"}),
        (
            "SELECT reverse(email) FROM customers UNION SELECT name FROM staff",
            {"customers.email", "staff.name"},
        ),
        ("SELECT u FROM customers, unnest(array[reverse(email)]) AS u", {"customers.email"}),
        ("SELECT l.r FROM customers, LATERAL (SELECT reverse(email) AS r) l", {"customers.email"}),
        (
            "SELECT reverse(email) AS r FROM customers UNION SELECT * FROM staff",
            {"customers.email"},
        ),
    ],
)
def test_a_computed_column_comes_from_the_columns_in_its_value(
    sql: str, expected: set[str]
) -> None:
    (column,) = lineage(sql).by_position
    assert expected <= column.sources and not column.unchanged


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT CASE WHEN email LIKE '%.org' THEN 'org' ELSE 'other' END AS tld FROM customers",
        "SELECT email IS NULL AS missing FROM customers",
        "SELECT row_number() OVER (PARTITION BY email ORDER BY name) AS rn FROM customers",
        "SELECT count(*) AS n FROM customers",
    ],
)
def test_columns_in_conditions_only_are_no_source(sql: str) -> None:
    (column,) = lineage(sql).by_position
    assert column.sources == frozenset()


def test_after_a_star_over_a_table_columns_are_known_by_name() -> None:
    found = lineage("SELECT c.*, lower(c.name) AS shown FROM customers c")
    assert found.by_position == ()
    column = found.column(7, "Shown")
    assert column is not None and column.sources == {"customers.name"}
    assert found.column(0, "id") is None


def test_statements_that_return_no_query_result_have_none() -> None:
    assert result_lineage(sqlglot.parse_one("UPDATE t SET a = 1", read="postgres")) is None


def test_the_verdict_carries_the_last_statements_lineage() -> None:
    verdict = PolicyEngine().check_sql(
        "SELECT name FROM customers LIMIT 1; SELECT reverse(email) AS x FROM customers LIMIT 5"
    )
    assert verdict.result_lineage is not None
    (column,) = verdict.result_lineage.by_position
    assert column.name == "x" and column.sources == {"customers.email"}


def is_personal(column: str) -> bool:
    return column in ("email", "name")


@pytest.mark.parametrize(
    ("command", "flagged"),
    [
        ('psql -c "SELECT reverse(email) FROM customers LIMIT 5"', True),
        ("mysql -e 'SELECT upper(c.name) FROM crm.customers c LIMIT 3'", True),
        ('psql -c "SELECT email FROM customers LIMIT 5"', False),
        ('psql -c "SELECT reverse(city) FROM customers LIMIT 5"', False),
    ],
)
def test_a_sql_client_showing_personal_columns_changed_needs_approval(
    command: str, flagged: bool
) -> None:
    """Its output is masked as text, where ``reverse(email)`` is no longer an address."""
    verdict = PolicyEngine().check_shell(command, is_personal=is_personal)
    assert ("shell.sql_transforms_personal_data" in verdict.rules) is flagged
    assert verdict.action == ("flag" if flagged else "allow")
