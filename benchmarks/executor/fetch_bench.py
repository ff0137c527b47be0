"""What batched fetching through a PostgreSQL server-side cursor costs a small query.

    python -m benchmarks.executor.fetch_bench [--url URL] [--repeat R]

Runs the same small SELECT through ``SqlRunner.run`` with the server-side cursor (rows
counted per batch) beside the baseline in the same run: the same runner with streaming
switched off, so the driver buffers the result at execute. Medians and their ratio.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from nbwarden.config import ConnectionConfig
from nbwarden.executor import sql
from nbwarden.executor.sql import CancelHandle, SqlRunner

QUERY = "SELECT g AS id, md5(g::text) AS token FROM generate_series(1, 50) AS g"


def median_ms(action: Callable[[], object], repeat: int) -> float:
    action()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    runner = SqlRunner({"pg": ConnectionConfig(name="pg", url=args.url, dialect="postgres")})
    streaming = dict(sql.STREAMING_BACKENDS)

    def run() -> object:
        return runner.run("pg", QUERY, None, CancelHandle())

    sql.STREAMING_BACKENDS = {}
    base = median_ms(run, args.repeat)
    sql.STREAMING_BACKENDS = streaming
    ours = median_ms(run, args.repeat)
    print(f"small SELECT (50 rows) on PostgreSQL, median of {args.repeat}")
    print(f"  baseline: buffered, no cursor       : {base:8.3f} ms")
    print(f"  SqlRunner.run (cursor, batches)     : {ours:8.3f} ms")
    print(f"  ratio                               : {ours / base:8.2f} x")
    runner.dispose()


if __name__ == "__main__":
    main()
