"""Gateway benchmark: what governing a SQL cell costs, and that the event loop stays free.

    python -m benchmarks.executor.bench [--rows N] [--repeat R]

On a synthetic DuckDB table (Faker, seeded) it measures, in the same run:
  * the median time of one governed SELECT through Gateway.execute_sync (policy, masking,
    two durable provenance records) beside the baseline: the same SELECT through plain
    SQLAlchemy into an Arrow table, with no policy, masking or record;
  * the parts of the overhead: policy check, masking the result, recording start+end;
  * the event loop's worst tick delay while 4 governed cells run concurrently through
    ``await gateway.execute`` (baseline: the same loop idle).
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import sqlalchemy as sa
from faker import Faker

from nbwarden.config import parse_config
from nbwarden.executor import ExecuteRequest, Gateway, Identity
from nbwarden.executor.gateway import approval_service
from nbwarden.executor.sql import rows_to_arrow
from nbwarden.keys import load_or_create_master_key
from nbwarden.masking import Masker
from nbwarden.policy import PolicyEngine
from nbwarden.provenance import ExecutionEnd, ExecutionStart, ProvenanceStore

ANALYST = Identity(user="bench", roles=frozenset({"analyst"}))


def make_data(path: Path, rows: int) -> None:
    fake = Faker()
    Faker.seed(42)
    people = [
        (i, fake.name(), fake.email(), fake.phone_number(), fake.city(), round(i * 1.5, 2))
        for i in range(rows)
    ]
    with duckdb.connect(str(path)) as con:
        con.execute(
            "CREATE TABLE customers (id INT, name TEXT, email TEXT, phone TEXT, city TEXT,"
            " spend DOUBLE)"
        )
        con.executemany("INSERT INTO customers VALUES (?, ?, ?, ?, ?, ?)", people)


def median_s(function: Callable[[], Any], repeat: int) -> float:
    function()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def loop_lag(gateway: Gateway | None, request: ExecuteRequest, concurrent: int) -> float:
    """Worst delay of a 5 ms ticker while ``concurrent`` governed cells run (or idle)."""

    async def scenario() -> float:
        worst = 0.0
        done = asyncio.Event()

        async def ticker() -> None:
            nonlocal worst
            while not done.is_set():
                started = time.perf_counter()
                await asyncio.sleep(0.005)
                worst = max(worst, time.perf_counter() - started - 0.005)

        tick = asyncio.create_task(ticker())
        if gateway is None:
            await asyncio.sleep(1.0)
        else:
            await asyncio.gather(*(gateway.execute(request, ANALYST) for _ in range(concurrent)))
        done.set()
        await tick
        return worst

    return asyncio.run(scenario())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000, help="rows in the table")
    parser.add_argument("--limit", type=int, default=200, help="rows each SELECT returns")
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        make_data(base / "sales.duckdb", args.rows)
        key_file = base / "key"
        load_or_create_master_key(key_file)
        url = f"duckdb:///{base / 'sales.duckdb'}"
        config = parse_config(
            {
                "audit": {"path": str(base / "audit.duckdb"), "key_file": str(key_file)},
                "connections": {"prod": {"url": url, "row_cap": 10_000}},
            },
            base_dir=base,
        )
        code = f"SELECT id, name, email, phone, city, spend FROM customers LIMIT {args.limit}"
        request = ExecuteRequest(kind="sql", target="prod", code=code, purpose="benchmark")
        masker = Masker.for_profile("default", pseudonym_key=secrets.token_bytes(32))
        policy = PolicyEngine()
        store = ProvenanceStore(config.audit)
        gateway = Gateway(config, policy, masker, store, approval_service(config, store, masker))

        engine = sa.create_engine(url)

        def plain() -> None:
            with engine.connect() as conn:
                cursor = conn.exec_driver_sql(code)
                rows_to_arrow(list(cursor.keys()), [tuple(r) for r in cursor.fetchall()])

        def governed() -> None:
            outcome = gateway.execute_sync(request, ANALYST)
            assert outcome.status == "ok", outcome.error

        with engine.connect() as conn:
            cursor = conn.exec_driver_sql(code)
            table, _ = rows_to_arrow(list(cursor.keys()), [tuple(r) for r in cursor.fetchall()])

        def record() -> None:
            start = ExecutionStart(
                user="bench", kind="sql", target="prod", code_masked=code, code_hash="x"
            )
            store.record_end(store.record_start(start), ExecutionEnd(status="ok", rows=1))

        baseline = median_s(plain, args.repeat)
        total = median_s(governed, args.repeat)
        parts = {
            "policy check": median_s(
                lambda: policy.check_sql(code, dialect="duckdb", connection="prod"), args.repeat
            ),
            "mask result": median_s(lambda: masker.mask_table(table), args.repeat),
            "mask code text": median_s(lambda: masker.mask_text(code), args.repeat),
            "record start+end": median_s(record, args.repeat),
        }
        idle_lag = loop_lag(None, request, 0)
        busy_lag = loop_lag(gateway, request, 4)
        gateway.close()
        engine.dispose()

    print(f"governed SELECT of {args.limit} rows x 6 columns, median of {args.repeat}")
    print(f"  baseline plain SQLAlchemy -> Arrow : {baseline * 1000:9.2f} ms")
    print(f"  Gateway.execute_sync               : {total * 1000:9.2f} ms")
    print(f"  ratio governed / baseline          : {total / baseline:9.1f} x")
    for name, seconds in parts.items():
        print(f"    {name:<33}: {seconds * 1000:9.2f} ms")
    print("event loop worst tick delay (5 ms ticker)")
    print(f"  idle loop (baseline)               : {idle_lag * 1000:9.2f} ms")
    print(f"  4 concurrent governed cells        : {busy_lag * 1000:9.2f} ms")


if __name__ == "__main__":
    main()
