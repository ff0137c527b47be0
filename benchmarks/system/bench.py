"""Gateway throughput at 16 concurrent kernels: governed ``%%sql`` cells per second.

    .venv/bin/python -m benchmarks.system.bench [--kernels 16] [--cells 30] [--rows 10]

Governed: ``nbwarden gateway`` as its own process and N real ``nbwarden`` kernels, each
cell stamped with an identity assertion as the Jupyter server does; every cell passes
policy, PostgreSQL, masking and two durable provenance records. Baseline, in the same
run on the same table: N plain ipykernels running the same SQL with JupySQL (autopandas,
so both sides build a DataFrame). Printed: cells per second for both and their ratio,
and the p50/p95 cell latency for both.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from jupyter_client.manager import AsyncKernelManager

from benchmarks.kernel.bench import create_database, drop_database, write_config
from benchmarks.system.fleet import GatewayProcess, start_kernels, stop_kernels

USERS = ("alice", "bob")


def cell_sql(kernel: int, cell: int, rows: int) -> str:
    low = (kernel * 97 + cell * 13) % 900
    return (
        f"SELECT id, name, email, phone, city, balance FROM customers "
        f"WHERE id BETWEEN {low} AND {low + rows - 1} ORDER BY id"
    )


Runner = Callable[[int, str], Awaitable[float]]


async def drive(run: Runner, kernels: int, cells: int, rows: int) -> tuple[float, list[float]]:
    """Every kernel runs its cells one after another; all kernels at once. Wall and latencies."""

    async def one(kernel: int) -> list[float]:
        return [await run(kernel, cell_sql(kernel, cell, rows)) for cell in range(cells)]

    started = time.perf_counter()
    latencies = await asyncio.gather(*(one(k) for k in range(kernels)))
    return time.perf_counter() - started, [x for per in latencies for x in per]


async def governed(
    config_path: Path, kernels: int, cells: int, rows: int
) -> tuple[float, list[float]]:
    tokens = {user: secrets.token_urlsafe(16) for user in USERS}
    gateway = GatewayProcess(config_path, tokens, config_path.with_name("gateway.log")).start()
    users = [USERS[i % 2] for i in range(kernels)]
    fleet = await start_kernels(config_path, gateway.url, users, purpose="benchmark")
    try:

        async def run(kernel: int, sql: str) -> float:
            done = await fleet[kernel].run(f"%%sql prod\n{sql}")
            if done.status != "ok":
                raise RuntimeError(f"governed cell failed: {done.text[-300:]}")
            return done.latency_s

        await asyncio.gather(*(run(k, "SELECT 1 AS warm") for k in range(kernels)))
        return await drive(run, kernels, cells, rows)
    finally:
        await stop_kernels(fleet)
        gateway.stop()


async def jupysql(url: str, kernels: int, cells: int, rows: int) -> tuple[float, list[float]]:
    managers: list[AsyncKernelManager] = []
    clients: list[Any] = []

    async def start() -> None:
        km = AsyncKernelManager(kernel_name="python3")
        await km.start_kernel()
        client = km.client()
        client.start_channels()
        await client.wait_for_ready(timeout=180)
        managers.append(km)
        clients.append(client)

    await asyncio.gather(*(start() for _ in range(kernels)))

    async def run(kernel: int, sql: str) -> float:
        started = time.perf_counter()
        reply = await clients[kernel].execute_interactive(
            f"%%sql\n{sql}", output_hook=lambda msg: None, timeout=300
        )
        if reply["content"]["status"] != "ok":
            raise RuntimeError(f"JupySQL cell failed: {reply['content'].get('evalue')}")
        return time.perf_counter() - started

    try:
        setup = f"%load_ext sql\n%config SqlMagic.autopandas = True\n%sql {url}"
        for client in clients:
            await client.execute_interactive(setup, output_hook=lambda msg: None, timeout=120)
        await asyncio.gather(*(run(k, "SELECT 1 AS warm") for k in range(kernels)))
        return await drive(run, kernels, cells, rows)
    finally:
        for client in clients:
            client.stop_channels()
        await asyncio.gather(*(km.shutdown_kernel(now=True) for km in managers))


def report(kernels: int, cells: int, rows: int, sides: dict[str, tuple[float, list[float]]]) -> str:
    lines = [
        f"{kernels} concurrent kernels x {cells} SQL cells, {rows} rows each (PostgreSQL)",
        f"{'side':<28}{'cells/s':>9}{'p50 ms':>9}{'p95 ms':>9}",
    ]
    rates = {}
    for name, (wall, latencies) in sides.items():
        rates[name] = len(latencies) / wall
        p95 = statistics.quantiles(latencies, n=20)[-1]
        lines.append(
            f"{name:<28}{rates[name]:>9.1f}{statistics.median(latencies) * 1000:>9.0f}"
            f"{p95 * 1000:>9.0f}"
        )
    ratio = rates["governed (nbwarden gateway)"] / rates["plain JupySQL"]
    lines.append(f"throughput ratio governed / plain JupySQL: {ratio:.2f}")
    return "\n".join(lines)


async def measure(kernels: int, cells: int, rows: int) -> str:
    database, url = create_database(1000)
    try:
        with tempfile.TemporaryDirectory(prefix="nbwarden-system-bench-") as directory:
            config_path = write_config(Path(directory), url, USERS)
            sides = {
                "governed (nbwarden gateway)": await governed(config_path, kernels, cells, rows),
                "plain JupySQL": await jupysql(url, kernels, cells, rows),
            }
    finally:
        drop_database(database)
    return report(kernels, cells, rows, sides)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kernels", type=int, default=16)
    parser.add_argument("--cells", type=int, default=30, help="cells per kernel")
    parser.add_argument("--rows", type=int, default=10, help="rows each cell returns")
    args = parser.parse_args()
    print(asyncio.run(measure(args.kernels, args.cells, args.rows)))


if __name__ == "__main__":
    main()
