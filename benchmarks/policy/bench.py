"""Policy throughput on one core: verdicts per second, medians of repeated runs.

    python -m benchmarks.policy.bench [--repeats 7]

Each workload is also run through bare ``sqlglot.parse`` in the same process, the floor
any parsing guardrail pays, and the ratio is printed side by side.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import sqlglot
import sqlglot.parser
import yaml

from nbwarden.policy import PolicyEngine

DATA = Path(__file__).resolve().parents[2] / "tests" / "policy" / "data"


def analyst_statements() -> list[tuple[str, str]]:
    corpus = yaml.safe_load((DATA / "sql_corpus.yaml").read_text(encoding="utf-8"))
    return [(entry["dialect"], entry["code"]) for entry in corpus["benign"]]


def tpc_statements() -> list[tuple[str, str]]:
    paths = sorted((DATA / "tpch").glob("*.sql")) + sorted((DATA / "tpcds").glob("*.sql"))
    return [("duckdb", path.read_text(encoding="utf-8")) for path in paths]


def rates(work: Callable[[], None], count: int) -> tuple[float, float]:
    """Items per CPU-second of this process and per wall-clock second.

    CPU time is what one core delivers; wall time also counts waiting for a core that
    other processes hold, so on a shared machine the first is the figure to compare.
    """
    cpu, wall = time.process_time(), time.perf_counter()
    work()
    return count / (time.process_time() - cpu), count / (time.perf_counter() - wall)


def measure(name: str, statements: Sequence[tuple[str, str]], rounds: int, repeats: int) -> None:
    engine = PolicyEngine()
    batch = list(statements) * rounds

    def verdicts() -> None:
        for dialect, code in batch:
            engine.check_sql(code, dialect)

    def parse_only() -> None:
        for dialect, code in batch:
            sqlglot.parse(code, dialect=dialect)

    verdicts()  # warm up: dialect objects, tokenizer tables, type caches
    policy, parse = [], []
    for _ in range(repeats):  # interleaved, so load from other processes hits both alike
        policy.append(rates(verdicts, len(batch)))
        parse.append(rates(parse_only, len(batch)))
    policy_cpu = statistics.median(r[0] for r in policy)
    parse_cpu = statistics.median(r[0] for r in parse)
    policy_wall = statistics.median(r[1] for r in policy)
    print(
        f"{name:<28} {len(statements):>4} stmts | policy {policy_cpu:>6.0f}/s CPU "
        f"({policy_wall:>5.0f}/s wall) | sqlglot.parse alone {parse_cpu:>6.0f}/s CPU | "
        f"policy/parse {policy_cpu / parse_cpu:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    compiled = Path(sqlglot.parser.__file__).suffix == ".so"
    print(f"sqlglot {sqlglot.__version__}, compiled parser (sqlglotc): {compiled}, one core")
    print(f"load average before the run: {os.getloadavg()[0]:.2f}")
    measure("typical analyst statements", analyst_statements(), 20, args.repeats)
    measure("TPC-H + TPC-DS queries", tpc_statements(), 2, args.repeats)


if __name__ == "__main__":
    main()
