"""What ``SqlRunner.run`` costs beside a plain SQLAlchemy ``fetchall`` on PostgreSQL.

    python -m benchmarks.executor.sql_fetch [--url URL] [--repeat R]

Makes a table of 1,000 rows (int id, five text columns, two numeric(12,2)) and reads the
first 1 and all 1,000 rows, in the same run: the baseline is plain SQLAlchemy (pooled
connection, ``exec_driver_sql``, ``fetchall``) with no cap, timeout, cancel or Arrow; then
the same SELECT through ``SqlRunner.run``. Medians and their ratio.
"""

from __future__ import annotations

import argparse
import secrets

import sqlalchemy as sa
from faker import Faker

from benchmarks.executor.fetch_bench import median_ms
from nbwarden.config import ConnectionConfig
from nbwarden.executor.sql import CancelHandle, SqlRunner

ROWS = 1000


def make_table(engine: sa.Engine, table: str) -> None:
    fake = Faker()
    Faker.seed(42)
    rows = [
        {
            "id": i,
            "name": fake.name(),
            "email": fake.email(),
            "phone": fake.phone_number(),
            "city": fake.city(),
            "note": fake.sentence(),
            "spend": round(i * 1.37, 2),
            "balance": round(-i * 7.11, 2),
        }
        for i in range(ROWS)
    ]
    with engine.begin() as conn:
        conn.exec_driver_sql(
            f"CREATE TABLE {table} (id int, name text, email text, phone text, city text,"
            " note text, spend numeric(12,2), balance numeric(12,2))"
        )
        conn.execute(
            sa.text(
                f"INSERT INTO {table} VALUES (:id, :name, :email, :phone, :city, :note,"
                " :spend, :balance)"
            ),
            rows,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--repeat", type=int, default=300)
    args = parser.parse_args()
    table = f"nbwarden_bench_{secrets.token_hex(4)}"
    engine = sa.create_engine(args.url)
    config = ConnectionConfig(name="pg", url=args.url, dialect="postgres", row_cap=10_000)
    runner = SqlRunner({"pg": config})
    make_table(engine, table)
    try:
        print(f"SELECT on PostgreSQL (int, 5 text, 2 numeric(12,2)), median of {args.repeat}")
        for limit in (1, ROWS):
            query = f"SELECT * FROM {table} ORDER BY id LIMIT {limit}"

            def plain(query: str = query) -> object:
                with engine.connect() as conn:
                    return conn.exec_driver_sql(query).fetchall()

            def governed(query: str = query) -> object:
                return runner.run("pg", query, None, CancelHandle())

            base = median_ms(plain, args.repeat)
            ours = median_ms(governed, args.repeat)
            print(f"  {limit:>5} rows  plain SQLAlchemy fetchall : {base:8.3f} ms")
            print(f"  {limit:>5} rows  SqlRunner.run             : {ours:8.3f} ms")
            print(f"  {limit:>5} rows  ratio                     : {ours / base:8.2f} x")
    finally:
        runner.dispose()
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP TABLE {table}")
        engine.dispose()


if __name__ == "__main__":
    main()
