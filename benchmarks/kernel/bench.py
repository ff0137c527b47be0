"""Governed ``%%sql`` cells vs plain JupySQL, through real kernels, on one PostgreSQL table.

    .venv/bin/python -m benchmarks.kernel.bench [--repeats N] [--rows N]

Governed: an embedded gateway (the server extension's API on a loopback port) and the
``nbwarden`` kernel through jupyter_client; each cell is recorded and stamped with an
identity assertion as the Jupyter server does, then the kernel calls the gateway, which
runs policy, the query, masking and provenance; after each cell, outside the timing, the
store indexes the cell's subjects (which it does between cells anyway), so that work never
lands on the baseline's turn. Baseline: a plain ipykernel with JupySQL
on the same table, the same machine, in the same run. Wall time is from sending
``execute_request`` to the ``execute_reply``. Medians of ``--repeats`` rounds after a warm-up;
in each round every side runs the cell once, so load on the shared machine hits all alike.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import secrets
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from faker import Faker
from jupyter_client.manager import AsyncKernelManager

from nbwarden.config import load_config
from nbwarden.kernel.client import GATEWAY_URL_ENV
from nbwarden.kernel.headless import StampingKernelClient, _serve
from nbwarden.kernel.provisioner import register_provisioner
from nbwarden.server_extension.standalone import build_state

PG_ADMIN_URL = os.environ.get(
    "NBWARDEN_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REPO = Path(__file__).resolve().parents[2]
COLUMNS = "id, name, email, phone, iban, city, balance, spend_30d"
WARM_UP = f"%%sql\nSELECT {COLUMNS}, notes FROM customers WHERE id < 5"
"""Run once on each side first: loads the spaCy model and connects, but caches nothing
the measured cells use (other rows, other column samples)."""
Cell = Callable[[str], Awaitable[float]]
CellCode = Callable[[int], str]
"""A measured cell's code in a given round."""
Stop = Callable[[], Awaitable[None]]


def create_database(rows: int) -> tuple[str, str]:
    name = f"nbwarden_bench_{secrets.token_hex(4)}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    admin.dispose()
    url = sa.make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    fake = Faker()
    Faker.seed(7)
    data = [
        {
            "id": i,
            "name": fake.name(),
            "email": fake.email(),
            "phone": fake.phone_number(),
            "iban": fake.iban(),
            "city": fake.city(),
            "balance": round(fake.pyfloat(min_value=0, max_value=1e5), 2),
            "spend_30d": round(fake.pyfloat(min_value=0, max_value=5e3), 2),
            "notes": f"{fake.name()} called about {fake.sentence(nb_words=8)}",
        }
        for i in range(rows)
    ]
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "CREATE TABLE customers (id int primary key, name text, email text, phone text,"
                " iban text, city text, balance numeric(12,2), spend_30d numeric(12,2),"
                " notes text)"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO customers VALUES (:id, :name, :email, :phone, :iban, :city,"
                " :balance, :spend_30d, :notes)"
            ),
            data,
        )
    engine.dispose()
    return name, url


def drop_database(name: str) -> None:
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


def write_config(directory: Path, url: str, analysts: tuple[str, ...] = ("alice",)) -> Path:
    path = directory / "nbwarden.toml"
    names = ", ".join(f'"{name}"' for name in analysts)
    path.write_text(
        f"""
[audit]
path = "audit.duckdb"
key_file = "audit.key"

[connections.prod]
url = "{url}"
row_cap = 100000

[roles]
analysts = [{names}]
""",
        encoding="utf-8",
    )
    return path


async def timed(client: Any, code: str) -> float:
    started = time.perf_counter()
    reply = await client.execute_interactive(code, output_hook=lambda msg: None, timeout=300)
    elapsed = time.perf_counter() - started
    if reply["content"]["status"] != "ok":
        raise RuntimeError(f"cell failed: {reply['content'].get('evalue')}")
    return elapsed


async def gateway_alone(config_path: Path) -> tuple[Cell, Callable[[], Awaitable[None]]]:
    """The gateway called in-process (policy, query, masking, provenance, the Arrow answer),
    as the kernel's calls run it: no kernel, no HTTP."""
    from nbwarden.executor import ExecuteRequest, Identity

    state = await asyncio.to_thread(build_state, load_config(config_path))
    identity = Identity(user="alice", roles=frozenset({"analyst"}), kernel_id="bench")

    async def run(code: str) -> float:
        if not code.startswith("%%sql"):
            return 0.0  # a Python cell never reaches the gateway
        request = ExecuteRequest(kind="sql", target="prod", code=code.split("\n", 1)[1])
        started = time.perf_counter()
        outcome = await asyncio.to_thread(
            functools.partial(state.gateway.execute_sync, request, identity, arrow=True)
        )
        elapsed = time.perf_counter() - started
        if outcome.status != "ok":
            raise RuntimeError(f"gateway: {outcome.status} {outcome.error}")
        await asyncio.to_thread(state.gateway.store.index_subjects)
        return elapsed

    async def stop() -> None:
        await asyncio.to_thread(state.gateway.close)

    return run, stop


async def governed_kernel(config_path: Path) -> tuple[Cell, Callable[[], Awaitable[None]]]:
    config = load_config(config_path)
    os.environ["NBWARDEN_CONFIG"] = str(config_path)
    state = await asyncio.to_thread(build_state, config)
    server, url = _serve(state)
    register_provisioner()
    os.environ.setdefault("JUPYTER_PATH", str(REPO / "share" / "jupyter"))
    km = AsyncKernelManager(kernel_name="nbwarden")
    km.client_factory = StampingKernelClient
    await km.start_kernel(env={**os.environ, GATEWAY_URL_ENV: url, "NBWARDEN_PURPOSE": "bench"})
    client = km.client()
    assert isinstance(client, StampingKernelClient)
    client.start_channels()
    await client.wait_for_ready(timeout=120)

    async def run(code: str) -> float:
        started = time.perf_counter()
        cell_id = uuid.uuid4().hex
        execution_id = await asyncio.to_thread(
            state.record_cell, "alice", str(km.kernel_id), "nbwarden", cell_id, code
        )
        token = state.stamp("alice", str(km.kernel_id), cell_id, code)
        client.next_metadata = {"cellId": cell_id, "nbwarden": {"assertion": token}}
        await timed(client, code)
        elapsed = time.perf_counter() - started
        await asyncio.to_thread(state.end_cell, execution_id, "ok")
        await asyncio.to_thread(state.gateway.store.index_subjects)
        return elapsed

    async def stop() -> None:
        client.stop_channels()
        await km.shutdown_kernel(now=True)
        server.stop()
        await asyncio.to_thread(state.gateway.close)

    return run, stop


async def jupysql_kernel(url: str, autopandas: bool) -> tuple[Cell, Callable[[], Awaitable[None]]]:
    km = AsyncKernelManager(kernel_name="python3")
    await km.start_kernel()
    client = km.client()
    client.start_channels()
    await client.wait_for_ready(timeout=120)
    await timed(client, f"%load_ext sql\n%config SqlMagic.autopandas = {autopandas}")
    await timed(client, f"%sql {url}")

    async def run(code: str) -> float:
        return await timed(client, code)

    async def stop() -> None:
        client.stop_channels()
        await km.shutdown_kernel(now=True)

    return run, stop


async def medians(sides: dict[str, Cell], code: CellCode, repeats: int) -> dict[str, float]:
    """Median per side; the sides take turns within each round, so a burst of load on
    the shared machine hits all of them alike instead of whichever ran at that moment.
    The ratios are medians of each round's ratio (``ratio <side>``): a slow stretch of the
    machine moves both sides of a round, not the ratio. The first run of each side (cold
    caches) is kept apart as ``first <side>``."""
    figures = {f"first {side}": await run(code(0)) for side, run in sides.items()}
    samples: dict[str, list[float]] = {side: [] for side in sides}
    for number in range(1, repeats + 1):
        for side, run in sides.items():
            samples[side].append(await run(code(number)))
    figures.update({side: statistics.median(times) for side, times in samples.items()})
    for baseline in ("jupysql", "jupysql_pandas"):
        rounds = zip(samples["governed"], samples[baseline], strict=True)
        figures[f"ratio {baseline}"] = statistics.median(g / b for g, b in rounds)
    return figures


def same_cell(code: str) -> CellCode:
    return lambda _number: code


def sliding_window(rows: int) -> CellCode:
    """``rows`` rows starting one row further each round: every result is new, while all
    but one of its customers were in the round before (an analyst paging or filtering)."""
    return lambda number: (
        f"%%sql\nSELECT {COLUMNS} FROM customers WHERE id >= {number} AND id < {number + rows}"
    )


async def measure(repeats: int, rows: int) -> dict[str, dict[str, float]]:
    database, url = create_database(rows + repeats + 1)
    cells = {
        f"{rows:,} rows": same_cell(
            f"%%sql\nSELECT {COLUMNS} FROM customers WHERE id < {rows} LIMIT {rows}"
        ),
        f"{rows:,} rows, sliding": sliding_window(rows),
        "1 row": same_cell(f"%%sql\nSELECT {COLUMNS} FROM customers WHERE id = 1"),
        f"{rows:,} rows + free text": same_cell(
            f"%%sql\nSELECT {COLUMNS}, notes FROM customers WHERE id < {rows} LIMIT {rows}"
        ),
        "no SQL (pass)": same_cell("pass"),
    }
    figures: dict[str, dict[str, float]] = {name: {} for name in cells}
    try:
        with tempfile.TemporaryDirectory(prefix="nbwarden-bench-") as directory:
            sides: dict[str, Callable[[], Awaitable[tuple[Cell, Stop]]]] = {
                "gateway": lambda: gateway_alone(config_in(Path(directory), "gateway", url)),
                "governed": lambda: governed_kernel(config_in(Path(directory), "kernel", url)),
                "jupysql": lambda: jupysql_kernel(url, autopandas=False),
                "jupysql_pandas": lambda: jupysql_kernel(url, autopandas=True),
            }
            runs: dict[str, Cell] = {}
            stops: list[Stop] = []
            try:
                for side, start in sides.items():
                    runs[side], stop = await start()
                    stops.append(stop)
                    await runs[side](WARM_UP)
                for name, code in cells.items():
                    figures[name] = await medians(runs, code, repeats)
            finally:
                for stop in stops:
                    await stop()
    finally:
        drop_database(database)
    return figures


def config_in(parent: Path, name: str, url: str) -> Path:
    """A config with its own audit store: the in-process gateway and the kernel's gateway
    run side by side, and a store has exactly one writer."""
    directory = parent / name
    directory.mkdir()
    return write_config(directory, url)


def report(figures: dict[str, dict[str, float]], repeats: int) -> str:
    lines = [
        f"median wall time per cell, {repeats} interleaved rounds after a warm-up (seconds)",
        f"{'cell':<24}{'governed':>10}{'JupySQL':>10}{'JupySQL+pd':>12}"
        f"{'ratio':>8}{'ratio pd':>10}{'added ms':>10}{'gateway':>10}{'kernel ms':>11}"
        f"{'first':>8}",
    ]
    for name, sides in figures.items():
        governed, plain, pandas = sides["governed"], sides["jupysql"], sides["jupysql_pandas"]
        gateway = sides["gateway"]
        lines.append(
            f"{name:<24}{governed:>10.3f}{plain:>10.3f}{pandas:>12.3f}"
            f"{sides['ratio jupysql']:>8.2f}{sides['ratio jupysql_pandas']:>10.2f}"
            f"{(governed - pandas) * 1000:>10.0f}{gateway:>10.3f}"
            f"{(governed - gateway) * 1000:>11.0f}{sides['first governed']:>8.3f}"
        )
    lines.append(
        "ratio: governed / JupySQL default (lazy ResultSet, 10 rows displayed), the median "
        "of the rounds' ratios; ratio pd: the same against JupySQL with autopandas (all "
        "rows fetched into a DataFrame); "
        "added ms: governed minus JupySQL+pd; gateway: the gateway alone in-process "
        "(policy, query, masking, provenance); kernel ms: governed minus gateway (cell "
        "recording and stamping, HTTP, Arrow, DataFrame, display); first: the governed "
        "cell's first run, before the masker's caches hold this result (the medians are "
        "re-runs, as when an analyst re-runs a cell); sliding: a new result each round, one "
        "row further on, so only the masker's per-value caches help; no SQL: a Python cell, "
        "what any cell costs on each kernel (the governed one recorded and stamped too)"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--rows", type=int, default=1000)
    args = parser.parse_args()
    figures = asyncio.run(measure(args.repeats, args.rows))
    print(report(figures, args.repeats))


if __name__ == "__main__":
    main()
