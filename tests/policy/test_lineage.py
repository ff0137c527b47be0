"""Where the result's columns come from (nbwarden.policy.lineage)."""

from __future__ import annotations

import pytest
import sqlglot

from nbwarden.policy import PolicyEngine
from nbwarden.policy.lineage import UNKNOWN, ResultLineage, result_lineage


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
        "SELECT count(DISTINCT email) AS n FROM customers",
        "SELECT length(name) AS letters FROM customers",
        "SELECT octet_length(c.email) AS size FROM customers c",
    ],
)
def test_columns_in_conditions_or_only_counted_are_no_source(sql: str) -> None:
    (column,) = lineage(sql).by_position
    assert column.sources == frozenset()


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT ascii(substr(name, 1, 1)) AS code FROM customers",
        "SELECT get_byte(convert_to(email, 'UTF8'), 0) AS code FROM customers",
        "SELECT length(split_part(email, 'a', 1)) AS first_a FROM customers",
        "SELECT min(name) AS first FROM customers",
    ],
)
def test_a_number_from_a_columns_letters_or_a_measure_of_a_part_of_it_comes_from_it(
    sql: str,
) -> None:
    (column,) = lineage(sql).by_position
    assert column.sources == {"customers." + ("email" if "email" in sql else "name")}


@pytest.mark.parametrize(
    ("sql", "unchanged"),
    [
        ("SELECT c FROM customers c", True),
        ("SELECT customers FROM customers", True),
        ("SELECT row_to_json(c) FROM customers c", True),
        ("SELECT json_agg(c) FROM customers c", True),
        ("SELECT c::text FROM customers c", False),
        ("SELECT (c.*)::text FROM customers c", False),
        ("SELECT replace(row_to_json(c)::text, 'name', 'x') FROM customers c", False),
        ("SELECT s FROM (SELECT * FROM customers) s", False),
        ("SELECT l.r FROM customers c, LATERAL (SELECT c AS r) l", True),
    ],
)
def test_a_tables_name_as_a_value_is_its_whole_row(sql: str, unchanged: bool) -> None:
    (column,) = lineage(sql).by_position
    assert column.whole_row and column.sources == {"customers.*"}
    assert column.unchanged is unchanged


def test_a_subquerys_whole_row_comes_from_its_columns() -> None:
    """Its JSON keys are the subquery's names (``a``), not the table's."""
    (column,) = lineage(
        "SELECT row_to_json(x) FROM (SELECT name AS a FROM customers) x"
    ).by_position
    assert column.sources == {"customers.name"} and not column.unchanged


def test_whole_rows_only_in_the_dialects_that_have_them() -> None:
    """In MySQL a column may share its table's name; it is that column."""
    mysql = sqlglot.parse_one("SELECT status FROM status", read="mysql")
    found = result_lineage(mysql, whole_rows=False)
    assert found is not None
    assert [set(c.sources) for c in found.by_position] == [{"status.status"}]


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


def duckdb_lineage(sql: str) -> ResultLineage:
    found = result_lineage(sqlglot.parse_one(sql, read="duckdb"))
    assert found is not None
    return found


def test_duckdbs_star_options_keep_columns_in_place() -> None:
    """``EXCLUDE`` drops a column, ``RENAME`` renames it, ``REPLACE`` computes it anew."""
    found = duckdb_lineage(
        "SELECT * EXCLUDE (id) RENAME (x AS y) FROM (SELECT id, reverse(email) AS x, name FROM t) s"
    )
    assert [(c.name, set(c.sources)) for c in found.by_position] == [
        ("y", {"t.email"}),
        ("name", {"t.name"}),
    ]
    replaced = duckdb_lineage("SELECT * REPLACE (substr(iban, 3, 2) AS iban) FROM t")
    column = replaced.column(4, "IBAN")
    assert column is not None and column.sources == {"t.iban"} and not column.unchanged


def test_columns_computed_by_duckdbs_columns_are_changed_from_unknown_sources() -> None:
    """``substr(COLUMNS('iban'), 3, 2)`` is named ``iban``: its own name gives the entity."""
    found = duckdb_lineage("SELECT substr(COLUMNS('iban|name'), 3, 2) FROM t")
    column = found.column(0, "iban")
    assert column is not None and column.sources == {UNKNOWN} and not column.unchanged
    plain = duckdb_lineage("SELECT COLUMNS('iban'), reverse(email) AS x FROM t")
    assert plain.column(0, "iban") is None
    x = plain.column(1, "x")
    assert x is not None and x.sources == {"t.email"}
