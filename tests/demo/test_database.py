"""Filling SQLite, DuckDB and PostgreSQL with the same SQLAlchemy code."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from nbwarden.demo import DemoError
from nbwarden.demo.database import DATA_TABLES, customers, prepare_database, sqlite_url
from nbwarden.demo.synthetic import generate

ROWS = 150
SEED = 3


def stored_customer(url: str, customer_id: int) -> dict[str, object]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            query = sa.select(customers).where(customers.c.customer_id == customer_id)
            return dict(conn.execute(query).mappings().one())
    finally:
        engine.dispose()


def assert_filled(url: str) -> None:
    expected = generate(ROWS, SEED)
    database = prepare_database(url, ROWS, SEED)
    assert not database.reused
    assert database.row_counts == {name: len(rows) for name, rows in expected.tables().items()}
    assert database.subject_email == expected.customers[0]["email"]
    customer = stored_customer(url, 5)
    for column in ("full_name", "email", "phone", "iban", "national_id", "birth_date"):
        assert customer[column] == expected.customers[4][column]
    again = prepare_database(url, ROWS, SEED)
    assert again.reused and again.row_counts == database.row_counts


def test_sqlite_file(tmp_path: Path) -> None:
    assert_filled(sqlite_url(tmp_path / "prod.sqlite"))


def test_duckdb_file_keeps_json_payloads(tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path / 'prod.duckdb'}"
    assert_filled(url)
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        emails = conn.execute(
            sa.text("SELECT payload->>'email' FROM events WHERE customer_id IS NOT NULL LIMIT 5")
        ).scalars()
        assert all("@" in email for email in emails)
    engine.dispose()


@pytest.mark.postgres
def test_postgresql(demo_pg_url: str) -> None:
    assert_filled(demo_pg_url)


def test_other_seed_or_size_regenerates(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "prod.sqlite")
    prepare_database(url, ROWS, SEED)
    bigger = prepare_database(url, ROWS + 10, SEED)
    assert not bigger.reused
    assert bigger.row_counts["customers"] == ROWS + 10


def test_tables_it_did_not_create_are_never_dropped(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "prod.sqlite")
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE customers (id INTEGER PRIMARY KEY, note TEXT)"))
        conn.execute(sa.text("INSERT INTO customers VALUES (1, 'keep me')"))
    with pytest.raises(DemoError, match="did not create"):
        prepare_database(url, ROWS, SEED)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT note FROM customers")).scalar_one() == "keep me"
        assert set(sa.inspect(conn).get_table_names()) == {"customers"}
    engine.dispose()


def test_an_unreachable_server_gives_a_clear_error_without_the_password() -> None:
    url = "postgresql+psycopg://demo:s3cret-pw@127.0.0.1:1/nowhere"
    with pytest.raises(DemoError) as caught:
        prepare_database(url, ROWS, SEED)
    message = str(caught.value)
    assert "s3cret-pw" not in message
    assert "127.0.0.1" in message


def test_data_tables_are_the_generated_ones() -> None:
    assert set(DATA_TABLES) == set(generate(5, SEED).tables())
