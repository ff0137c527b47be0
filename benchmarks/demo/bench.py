"""How fast `nbwarden demo` prepares its database: medians of repeated runs, CPU seconds.

    python -m benchmarks.demo.bench [--rows 10000] [--repeats 3]

Baselines measured in the same run:
- generation: Faker's own ``profile()`` for the same number of people, the usual one-call
  way to make synthetic customers (it makes fewer fields and no orders, tickets or events);
- writing: ``pandas.DataFrame.to_sql`` of the same rows into the same engine, the usual
  one-call way to fill a database from Python.
CPU time of this process is what one core delivers; on a shared machine it is the figure
to compare (wall time also counts waiting for a core).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from faker import Faker

from nbwarden.demo.database import fill_database, metadata
from nbwarden.demo.synthetic import LOCALES, DemoData, generate


def cpu_seconds(work: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.process_time()
        work()
        times.append(time.process_time() - started)
    return statistics.median(times)


def faker_profiles(rows: int) -> None:
    fake = Faker(list(LOCALES))
    fake.seed_instance(1)
    for _ in range(rows):
        fake.profile()


def write_ours(url: str, data: DemoData, rows: int) -> None:
    engine = sa.create_engine(url)
    fill_database(engine, data, rows, seed=0)
    engine.dispose()


def write_pandas(url: str, data: DemoData) -> None:
    engine = sa.create_engine(url)
    metadata.drop_all(engine)
    for name, table_rows in data.tables().items():
        frame = pd.DataFrame(table_rows)
        if name == "events":
            frame["payload"] = frame["payload"].map(str)
        frame.to_sql(name, engine, if_exists="replace", index=False, chunksize=5000)
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rows, repeats = args.rows, args.repeats

    ours = cpu_seconds(lambda: generate(rows), repeats)
    baseline = cpu_seconds(lambda: faker_profiles(rows), repeats)
    data = generate(rows)
    total = sum(len(table) for table in data.tables().values())
    print(f"generate {rows} customers ({total} rows in 5 tables), median of {repeats}, CPU s")
    print(f"  nbwarden generate      {ours:7.2f} s  {total / ours:9.0f} rows/s")
    print(f"  Faker profile() only   {baseline:7.2f} s  {rows / baseline:9.0f} people/s")
    print(f"  ratio ours / baseline  {ours / baseline:7.2f}")

    with tempfile.TemporaryDirectory() as tmp:
        for backend in ("sqlite", "duckdb"):
            ours_url = f"{backend}:///{Path(tmp) / f'ours.{backend}'}"
            pandas_url = f"{backend}:///{Path(tmp) / f'pandas.{backend}'}"
            ours = cpu_seconds(lambda: write_ours(ours_url, data, rows), repeats)  # noqa: B023
            baseline = cpu_seconds(lambda: write_pandas(pandas_url, data), repeats)  # noqa: B023
            print(f"write {total} rows to {backend}, median of {repeats}, CPU s")
            print(f"  SQLAlchemy executemany {ours:7.2f} s  {total / ours:9.0f} rows/s")
            print(f"  pandas to_sql          {baseline:7.2f} s  {total / baseline:9.0f} rows/s")
            print(f"  ratio ours / baseline  {ours / baseline:7.2f}")


if __name__ == "__main__":
    main()
