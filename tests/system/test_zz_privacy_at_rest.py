# mypy: disable-error-code="no-untyped-call"
"""Privacy at rest, run last: no planted personal value is anywhere the system wrote.

This module first adds the artefacts no earlier system test makes: a notebook saved by
``nbwarden run`` and the jupyter_events payloads of approvals and executions. Then it
scans every audit store (every text column of every table), every captured gateway
log, every saved notebook's outputs and every event payload for every planted value.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import nbformat
import pytest
from jupyter_events import EventLogger

from benchmarks.system.fleet import KERNELSPECS
from nbwarden.config import load_config
from nbwarden.executor import Gateway
from nbwarden.server_extension import assertions
from nbwarden.server_extension.events import APPROVAL_SCHEMA_ID, EXECUTION_SCHEMA_ID, EventSink
from nbwarden.server_extension.service import ApiState
from tests.system.support import Planted, Workspace

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def test_a_headless_notebook_run(
    workspace: Workspace, customers: list[dict[str, Any]], planted: Planted
) -> None:
    subject = customers[3]
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "%%sql prod << people\n"
            "SELECT id, name, email, phone, iban, notes FROM customers WHERE id < 20"
        ),
        nbformat.v4.new_code_cell("print(people.head(3).to_string())"),
        nbformat.v4.new_code_cell(
            f"%%sql prod\nSELECT id, name FROM customers WHERE email = '{subject['email']}'"
        ),
        nbformat.v4.new_code_cell(f"%%sh local\necho 'call {subject['phone']} now'"),
    ]
    source, output = workspace.root / "privacy.ipynb", workspace.root / "privacy.out.ipynb"
    nbformat.write(nb, source)
    command = [sys.executable, "-m", "nbwarden", "run", str(source), "-o", str(output)]
    command += ["--config", str(workspace.config_path), "--user", "alice", "--purpose", "scan"]
    env = {**os.environ, "JUPYTER_PATH": str(KERNELSPECS)}
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=300, check=False, env=env
    )
    log = workspace.root / "logs" / "run.log"
    log.parent.mkdir(exist_ok=True)
    log.write_text(done.stdout + done.stderr, encoding="utf-8")
    planted.text_files.append(log)
    assert done.returncode == 0, done.stderr[-2000:]
    planted.text_files.append(output)
    executed = nbformat.read(output, as_version=4)
    assert "masked" in json.dumps(executed.cells[0].outputs).lower()
    assert len(executed.cells[0].metadata["nbwarden"]["execution_ids"]) == 1


def test_event_payloads_of_a_governed_session(
    workspace: Workspace, customers: list[dict[str, Any]], planted: Planted
) -> None:
    async def session() -> None:
        config = load_config(workspace.config_path)
        gateway = await asyncio.to_thread(Gateway.from_config, config)
        logger = EventLogger()
        events = EventSink(logger, asyncio.get_running_loop())
        gateway.approvals.notifier.hooks.append(events.approval)

        async def capture(logger: EventLogger, schema_id: str, data: dict[str, Any]) -> None:
            planted.events.append({"schema": schema_id, **data})

        for schema_id in (APPROVAL_SCHEMA_ID, EXECUTION_SCHEMA_ID):
            logger.add_listener(schema_id=schema_id, listener=capture)
        key = assertions.assertion_key(config.audit.key_file)
        state = ApiState(config, gateway, key, "/nbwarden/api", events)
        subject = customers[5]
        try:
            alice = state.caller(state.user_object("alice"), None)
            dpo = state.caller(state.user_object("dpo"), None)
            code = f"SELECT * FROM customers WHERE email <> '{subject['email']}' OR true"
            status, held = await state.execute(alice, {"kind": "sql", "code": code})
            if status == 202:
                approval_id = held["approval"]["id"]
                body = {"basis": "contract", "justification": f"asked by {subject['email']}"}
                await state.approval_action(dpo, approval_id, "approve", body)
                status, held = await state.execute(
                    alice, {"kind": "sql", "code": code, "approval_id": approval_id}
                )
            assert status == 200, held
            await state.execute(alice, {"kind": "sql", "code": f"DROP TABLE {subject['email']}"})
            await asyncio.sleep(0.5)
        finally:
            await asyncio.to_thread(gateway.close)

    asyncio.run(session())
    assert {event["schema"] for event in planted.events} == {
        APPROVAL_SCHEMA_ID,
        EXECUTION_SCHEMA_ID,
    }


def test_names_typed_into_sql_and_shell_never_reach_the_record(
    workspace: Workspace, customers: list[dict[str, Any]]
) -> None:
    """No detector finds every name, so recorded code carries no string literal at all."""
    from nbwarden.executor import ExecuteRequest, Identity

    gateway = Gateway.from_config(load_config(workspace.config_path))
    alice = Identity(user="alice", roles=frozenset({"analyst"}), kernel_id=None, session_id=None)
    names = [row["name"] for row in customers[:20]]
    try:
        ids = []
        for name in names:
            sql = f"SELECT id FROM customers WHERE name = '{name}'"
            request = ExecuteRequest(kind="sql", target="prod", code=sql, purpose="privacy test")
            ids.append(gateway.execute_sync(request, alice).execution_id)
        shell = ExecuteRequest(kind="shell", target="local", code=f'echo "{names[0]}" | wc -c')
        ids.append(gateway.execute_sync(shell, alice).execution_id)
        recorded = [gateway.store.get_execution(i) for i in ids]
    finally:
        gateway.close()
    text = json.dumps(recorded, default=str)
    assert not [name for name in names if name in text]
    assert all(r and "'<string 1>'" in r["code_masked"] for r in recorded)


def text_columns(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    return con.execute(
        "SELECT table_name, column_name FROM information_schema.columns"
        " WHERE table_schema = 'main' AND data_type IN ('VARCHAR', 'JSON')"
        " AND table_name IN (SELECT table_name FROM information_schema.tables"
        "                    WHERE table_type = 'BASE TABLE')"
    ).fetchall()


def leaks_in_store(path: Path, values: list[str]) -> list[str]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        con.execute("CREATE TEMP TABLE planted_values (v VARCHAR)")
        con.executemany("INSERT INTO planted_values VALUES (?)", [[v] for v in values])
        found: list[str] = []
        for table, column in text_columns(con):
            hits = con.execute(
                f'SELECT count(*) FROM main."{table}" t JOIN planted_values p'
                f' ON contains(t."{column}", p.v)'
            ).fetchone()
            if hits and hits[0]:
                found.append(f"{path.name}: {table}.{column} holds {hits[0]} planted value(s)")
        return found
    finally:
        con.close()


def readable_text(path: Path) -> str:
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix != ".ipynb":
        return text
    notebook = nbformat.reads(text, as_version=4)
    return json.dumps([cell.get("outputs", []) for cell in notebook.cells], ensure_ascii=False)


def test_no_planted_value_at_rest(planted: Planted) -> None:
    values = sorted(planted.values)
    assert len(values) >= 100, "the system tests planted too few values to mean anything"
    stores = [path for path in planted.duckdb_files if path.exists()]
    assert stores, "no audit store was written"
    leaks: list[str] = []
    for store in stores:
        leaks += leaks_in_store(store, values)
    for path in planted.text_files:
        if path.exists():
            text = readable_text(path)
            leaks += [f"{path.name} holds a planted value" for v in values if v in text][:1]
    events = json.dumps(planted.events, ensure_ascii=False)
    leaks += ["an event payload holds a planted value" for v in values if v in events][:1]
    assert not leaks, leaks
    print(
        f"\nprivacy at rest: {len(values)} planted values, {len(stores)} audit stores, "
        f"{len(planted.text_files)} logs and notebooks, {len(planted.events)} events: none found"
    )
