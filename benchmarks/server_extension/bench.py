"""Costs the server extension adds, each printed beside its baseline from the same run.

1. identity assertion sign + verify vs one bare HMAC-SHA256 of the same payload;
2. websocket governing of an execute_request (decode, strip, stamp, re-encode) vs a
   plain JSON decode + encode of the same message, for the JSON and v1 framings;
3. a governed ``SELECT`` through the REST API (Tornado + auth + JSON) vs calling
   ``Gateway.execute`` directly in the same process, on a SQLite file;
4. recording one notebook cell as the websocket does (mask the code, durable append)
   vs a durable append of an already masked record.

Run: .venv/bin/python -m benchmarks.server_extension.bench [--requests 60]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from faker import Faker
from jupyter_client.session import Session
from jupyter_server.services.kernels.connection.base import serialize_msg_to_ws_v1

from nbwarden.config import load_config
from nbwarden.keys import load_or_create_master_key
from nbwarden.server_extension import assertions
from nbwarden.server_extension.websocket import decode, encode

CELL = "%%sql shop\nSELECT id, email FROM customers WHERE id = 1"


def per_call_us(function: Callable[[], object], calls: int, repeats: int = 5) -> float:
    """Median over ``repeats`` runs of the mean time per call, in microseconds."""
    runs = []
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(calls):
            function()
        runs.append((time.perf_counter() - started) / calls * 1e6)
    return statistics.median(runs)


def row(label: str, measured: float, baseline: float, unit: str) -> None:
    print(
        f"{label:<46} {measured:10.1f} {unit}  baseline {baseline:10.1f} {unit}  "
        f"ratio {measured / baseline:6.2f}"
    )


def bench_assertions() -> None:
    key = bytes(range(32))
    token = assertions.sign(key, user="alice", kernel_id="k", cell_id="c", source=CELL, ttl_s=60)
    payload = token.split(".")[0].encode()
    signed = per_call_us(
        lambda: assertions.sign(
            key, user="alice", kernel_id="k", cell_id="c", source=CELL, ttl_s=60
        ),
        20_000,
    )
    checked = per_call_us(lambda: assertions.verify(key, token, kernel_id="k", source=CELL), 20_000)
    bare = per_call_us(lambda: hmac.new(key, payload, hashlib.sha256).digest(), 20_000)
    row("assertion sign", signed, bare, "us")
    row("assertion verify (hmac, expiry, kernel, code)", checked, bare, "us")


def bench_framing() -> None:
    session = Session()
    msg = session.msg("execute_request", {"code": CELL, "silent": False})
    msg["metadata"] = {"cellId": "c1", "nbwarden": {"assertion": "forged"}}
    msg["channel"] = "shell"
    as_json = json.dumps(msg, default=str)
    as_v1 = serialize_msg_to_ws_v1(msg, "shell", session.pack)

    def govern(raw: Any, v1: bool) -> Any:
        decoded = decode(raw, v1, session.unpack)
        decoded.metadata.pop("nbwarden", None)
        decoded.metadata["nbwarden"] = {"assertion": "x" * 300}
        return encode(decoded, session.pack)

    baseline = per_call_us(lambda: json.dumps(json.loads(as_json)), 20_000)
    row(
        "govern execute_request, JSON framing",
        per_call_us(lambda: govern(as_json, False), 20_000),
        baseline,
        "us",
    )
    row(
        "govern execute_request, v1 binary framing",
        per_call_us(lambda: govern(as_v1, True), 20_000),
        baseline,
        "us",
    )


def make_config(directory: Path) -> Path:
    fake = Faker()
    Faker.seed(3)
    with sqlite3.connect(directory / "shop.db") as db:
        db.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT, email TEXT)")
        db.executemany(
            "INSERT INTO customers VALUES (?, ?, ?)",
            [(i, fake.name(), fake.email()) for i in range(1, 200)],
        )
    load_or_create_master_key(directory / "key")
    config = directory / "nbwarden.toml"
    config.write_text(
        f'[audit]\npath = "{directory / "audit.duckdb"}"\nkey_file = "{directory / "key"}"\n'
        f'[connections.shop]\nurl = "sqlite:///{directory / "shop.db"}"\n'
        '[roles]\nanalysts = ["alice"]\n'
    )
    return config


async def bench_api(requests: int) -> None:
    from tornado import httpclient, httpserver, netutil

    from nbwarden.executor import ExecuteRequest, Identity
    from nbwarden.server_extension.standalone import build_state, make_app

    with tempfile.TemporaryDirectory() as tmp:
        config = load_config(make_config(Path(tmp)))
        state = await asyncio.to_thread(build_state, config)
        sockets = netutil.bind_sockets(0, "127.0.0.1")
        server = httpserver.HTTPServer(make_app(state, {"tok": "alice"}))
        server.add_sockets(sockets)
        url = f"http://127.0.0.1:{sockets[0].getsockname()[1]}/nbwarden/api/execute"
        body = json.dumps({"kind": "sql", "target": "shop", "code": CELL.split("\n", 1)[1]})
        client = httpclient.AsyncHTTPClient()
        request = ExecuteRequest(kind="sql", target="shop", code=CELL.split("\n", 1)[1])
        identity = Identity(user="alice", roles=frozenset({"analyst"}))
        try:
            await state.gateway.execute(request, identity)
            direct, through_api = [], []
            for _ in range(requests):
                started = time.perf_counter()
                await state.gateway.execute(request, identity)
                direct.append(time.perf_counter() - started)
                started = time.perf_counter()
                response = await client.fetch(
                    url, method="POST", body=body, headers={"Authorization": "token tok"}
                )
                through_api.append(time.perf_counter() - started)
                assert response.code == 200
            recorded, bare = bench_cell_recording(state, requests)
        finally:
            server.stop()
            await asyncio.to_thread(state.gateway.close)
    row(
        f"governed SELECT via REST API (median of {requests})",
        statistics.median(through_api) * 1e3,
        statistics.median(direct) * 1e3,
        "ms",
    )
    row("record a notebook cell (mask code + append)", recorded, bare, "ms")


def bench_cell_recording(state: Any, cells: int) -> tuple[float, float]:
    """What the websocket adds before forwarding a cell vs appending a pre-masked record."""
    from nbwarden.provenance import ExecutionStart

    source = "df = customers[customers.city == 'Lyon']\nprint(len(df), 'rows for Jean Dupont')"
    recorded, bare = [], []
    for index in range(cells):
        started = time.perf_counter()
        state.record_cell("alice", "kernel-1", "python3", f"cell-{index}", source)
        recorded.append(time.perf_counter() - started)
        start = ExecutionStart(
            user="alice", kind="python", target="python3", code_masked=source, code_hash="0" * 64
        )
        started = time.perf_counter()
        state.gateway.store.record_start(start)
        bare.append(time.perf_counter() - started)
    return statistics.median(recorded) * 1e3, statistics.median(bare) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=60)
    args = parser.parse_args()
    bench_assertions()
    bench_framing()
    asyncio.run(bench_api(args.requests))


if __name__ == "__main__":
    main()
