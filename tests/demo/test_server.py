"""The real demo: `nbwarden demo` starts JupyterLab with the extension and three logins."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import pytest
from tornado.websocket import WebSocketClientConnection, websocket_connect

from nbwarden.demo.files import NOTEBOOK_NAME
from nbwarden.demo.lab import free_port
from tests.demo.served import LOGIN_LINE, served_demo

pytestmark = pytest.mark.slow

START_TIMEOUT_S = 240


@dataclass
class RunningDemo:
    directory: Path
    process: subprocess.Popen[bytes]
    port: int
    logins: dict[str, tuple[str, str]]
    """user -> (role, token)"""
    stdout: Path
    stderr: Path


def get(port: int, path: str, token: str | None) -> tuple[int, object]:
    headers = {"Authorization": f"token {token}"} if token else {}
    request = urllib.request.Request(f"http://127.0.0.1:{port}/{path}", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, None


def post(port: int, path: str, token: str, body: Mapping[str, object]) -> tuple[int, Any]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/nbwarden/api/{path}",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"token {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def port_answers(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def running_demo(
    tmp_path_factory: pytest.TempPathFactory, kernel_jupyter_path: str | None
) -> Iterator[RunningDemo]:
    directory = tmp_path_factory.mktemp("served-demo")
    env = dict(os.environ)
    if kernel_jupyter_path:
        env["JUPYTER_PATH"] = os.pathsep.join(
            filter(None, [kernel_jupyter_path, env.get("JUPYTER_PATH")])
        )
    with served_demo(directory, directory.parent, env, START_TIMEOUT_S) as served:
        logins = {user: (role, token) for user, role, token in served.logins()}
        yield RunningDemo(
            directory, served.process, served.port, logins, served.stdout, served.stderr
        )


def _lines(text: str) -> list[tuple[str, str, str]]:
    return [(m.group(1), m.group(2), m.group(3)) for m in LOGIN_LINE.finditer(text)]


def test_prints_three_logins_on_the_chosen_port(running_demo: RunningDemo) -> None:
    text = running_demo.stdout.read_text(encoding="utf-8")
    urls = [url for _, _, url in _lines(text)]
    assert {user: role for user, (role, _) in running_demo.logins.items()} == {
        "analyst": "analyst",
        "dpo": "approver",
        "auditor": "auditor",
    }
    assert all(url.startswith(f"http://127.0.0.1:{running_demo.port}/lab") for url in urls)
    tokens = [token for _, token in running_demo.logins.values()]
    assert len(set(tokens)) == 3 and all(len(token) >= 32 for token in tokens)


def test_status_answers_for_the_analyst_and_not_without_a_token(
    running_demo: RunningDemo,
) -> None:
    _, token = running_demo.logins["analyst"]
    status, body = get(running_demo.port, "api/status", token)
    assert status == 200 and isinstance(body, dict)
    assert get(running_demo.port, "api/status", None)[0] == 403
    assert get(running_demo.port, "api/status", "not-a-token")[0] == 403


def test_extension_knows_each_user_and_role(running_demo: RunningDemo) -> None:
    for user, (role, token) in running_demo.logins.items():
        status, body = get(running_demo.port, "nbwarden/api/whoami", token)
        assert status == 200, user
        assert isinstance(body, dict)
        assert body["user"] == user
        assert role in body["roles"]
        assert set(body["roles"]) <= {role}


def test_only_the_governed_kernel_is_offered_and_no_terminal(running_demo: RunningDemo) -> None:
    _, token = running_demo.logins["analyst"]
    status, body = get(running_demo.port, "api/kernelspecs", token)
    assert status == 200 and isinstance(body, dict)
    assert set(body["kernelspecs"]) == {"nbwarden"}
    assert body["default"] == "nbwarden"
    assert get(running_demo.port, "api/terminals", token)[0] == 404


def test_tokens_are_in_a_private_file_not_on_the_command_line(
    running_demo: RunningDemo,
) -> None:
    cmdlines = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    for _, token in running_demo.logins.values():
        assert token not in cmdlines


def test_the_guided_walkthrough_through_the_gateway(running_demo: RunningDemo) -> None:
    """The notebook's steps, sent to the gateway API as each user (no browser, no kernel)."""
    port = running_demo.port
    analyst, dpo, auditor = (running_demo.logins[u][1] for u in ("analyst", "dpo", "auditor"))
    stdout = running_demo.stdout.read_text(encoding="utf-8")
    subject = stdout.split("customer to look up is ", 1)[1].split()[0]
    cell = {"kind": "sql", "target": "prod", "notebook": "guided-demo.ipynb"}
    cell["purpose"] = "Churn analysis for the Q1 retention campaign"

    query = "SELECT customer_id, full_name, email, iban FROM customers ORDER BY customer_id LIMIT 5"
    status, outcome = post(port, "execute", analyst, {**cell, "cell_id": "c2", "code": query})
    assert status == 200 and outcome["status"] == "ok"
    leaked = subject in json.dumps(outcome)
    assert not leaked, "the subject's e-mail came back unmasked"
    assert outcome["result"]["entity_counts"].get("EMAIL_ADDRESS") == 5

    update = "UPDATE customers SET phone = '+44 20 7946 0000' WHERE customer_id = 2"
    status, outcome = post(port, "execute", analyst, {**cell, "cell_id": "c4", "code": update})
    assert status == 202 and outcome["status"] == "pending"
    assert "sql.write" in outcome["verdict"]["rules"]
    approval = outcome["approval"]["id"]
    decision = {"basis": "legal_obligation", "justification": "Art. 16 rectification"}
    assert post(port, f"approvals/{approval}/approve", analyst, decision)[0] == 403
    assert post(port, f"approvals/{approval}/approve", dpo, decision)[0] == 200
    rerun = {**cell, "cell_id": "c4", "code": update, "approval_id": approval}
    status, outcome = post(port, "execute", analyst, rerun)
    assert status == 200 and outcome["status"] == "ok"

    drop = {**cell, "cell_id": "c5", "code": "DROP TABLE customers"}
    status, outcome = post(port, "execute", analyst, drop)
    assert status == 403 and outcome["verdict"]["rules"] == ["sql.drop_object"]

    shell = {**cell, "kind": "shell", "target": "local", "cell_id": "c6"}
    status, outcome = post(
        port, "execute", analyst, {**shell, "code": "tail -n 3 logs/webshop.log"}
    )
    assert status == 200 and outcome["status"] == "ok"
    assert outcome["result"]["stdout"].count("\n") == 3
    assert "@" not in outcome["result"]["stdout"]

    status, report = post(port, "dsar", auditor, {"email": subject})
    assert status == 200 and report["count"] >= 1
    assert {row["purpose"] for row in report["executions"]} == {cell["purpose"]}
    assert post(port, "dsar", analyst, {"email": subject})[0] == 403
    status, verified = get(port, "nbwarden/api/audit/verify", auditor)
    assert status == 200 and isinstance(verified, dict) and verified["ok"]


@dataclass
class CellRun:
    status: str
    text: str


async def run_cells(demo: RunningDemo, cells: list[str]) -> list[CellRun]:
    """Run cells in a new ``nbwarden`` kernel as the analyst; approve held cells as the DPO."""
    analyst = demo.logins["analyst"][1]
    body = {"path": NOTEBOOK_NAME, "type": "notebook", "kernel": {"name": "nbwarden"}}
    status, session = await asyncio.to_thread(
        request, demo.port, "POST", "api/sessions", analyst, body
    )
    assert status == 201, session
    kernel_id = session["kernel"]["id"]
    url = f"ws://127.0.0.1:{demo.port}/api/kernels/{kernel_id}/channels?token={analyst}"
    channel = await websocket_connect(url)
    try:
        return [await run_cell(demo, channel, code) for code in cells]
    finally:
        channel.close()
        path = f"api/sessions/{session['id']}"
        await asyncio.to_thread(request, demo.port, "DELETE", path, analyst, None)


async def run_cell(demo: RunningDemo, channel: WebSocketClientConnection, code: str) -> CellRun:
    msg_id = uuid.uuid4().hex
    header = {"msg_id": msg_id, "msg_type": "execute_request", "session": "t", "version": "5.3"}
    content = {"code": code, "silent": False, "store_history": True, "allow_stdin": False}
    message = {"header": header, "parent_header": {}, "channel": "shell", "content": content}
    message["metadata"] = {"cellId": uuid.uuid4().hex}
    await channel.write_message(json.dumps(message))
    texts: list[str] = []
    status: str | None = None
    idle = False
    approver = asyncio.create_task(approve_as_dpo(demo)) if "UPDATE" in code else None
    try:
        while status is None or not idle:  # the reply and the outputs come on two channels
            raw = await asyncio.wait_for(channel.read_message(), 180)
            assert isinstance(raw, str)
            reply = json.loads(raw)
            if reply.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            if reply["msg_type"] == "execute_reply":
                status = reply["content"]["status"]
                continue
            idle = idle or (
                reply["msg_type"] == "status" and reply["content"]["execution_state"] == "idle"
            )
            texts.append(json.dumps(reply["content"]))
        return CellRun(status, "\n".join(texts))
    finally:
        if approver is not None:
            await approver


async def approve_as_dpo(demo: RunningDemo) -> None:
    dpo = demo.logins["dpo"][1]
    decision = {"basis": "legal_obligation", "justification": "Art. 16 rectification"}
    for _ in range(120):
        status, queue = await asyncio.to_thread(
            request, demo.port, "GET", "nbwarden/api/approvals?state=pending", dpo, None
        )
        if status == 200 and queue:
            path = f"nbwarden/api/approvals/{queue[0]['id']}/approve"
            status, _ = await asyncio.to_thread(request, demo.port, "POST", path, dpo, decision)
            assert status == 200
            return
        await asyncio.sleep(0.5)
    pytest.fail("no approval request appeared for the DPO")


def request(
    port: int, method: str, path: str, token: str, body: Mapping[str, object] | None
) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    headers = {"Authorization": f"token {token}", "Content-Type": "application/json"}
    url = f"http://127.0.0.1:{port}/{path}"
    call = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(call, timeout=60) as response:
            payload = response.read()
            return response.status, json.loads(payload) if payload else None
    except urllib.error.HTTPError as error:
        return error.code, None


def test_the_guided_notebook_runs_in_the_governed_kernel(running_demo: RunningDemo) -> None:
    """The notebook's own code cells, in a real nbwarden kernel; the DPO approves the UPDATE."""
    notebook = nbformat.read(running_demo.directory / NOTEBOOK_NAME, as_version=4)  # type: ignore[no-untyped-call]
    cells = [cell.source for cell in notebook.cells if cell.cell_type == "code"]
    stdout = running_demo.stdout.read_text(encoding="utf-8")
    subject = stdout.split("customer to look up is ", 1)[1].split()[0]
    auditor = running_demo.logins["auditor"][1]
    _, before = post(running_demo.port, "dsar", auditor, {"email": subject})

    runs = asyncio.run(run_cells(running_demo, cells))

    statuses = [(code.split()[0], run.status) for code, run in zip(cells, runs, strict=True)]
    blocked = [code.startswith("%%sql prod\nDROP") for code in cells]
    assert [status for _, status in statuses] == ["error" if b else "ok" for b in blocked]
    everything = "\n".join(run.text for run in runs)
    leaked = subject in everything
    assert not leaked, "the subject's e-mail reached the notebook"
    assert "masked" in runs[1].text and "EMAIL_ADDRESS_" in runs[1].text
    assert "blocked" in runs[cells.index("%%sql prod\nDROP TABLE customers")].text
    _, after = post(running_demo.port, "dsar", auditor, {"email": subject})
    assert after["count"] > before["count"]


def test_ctrl_c_stops_the_server_cleanly(running_demo: RunningDemo) -> None:
    running_demo.process.send_signal(signal.SIGINT)
    assert running_demo.process.wait(timeout=60) == 0
    deadline = time.monotonic() + 30
    while port_answers(running_demo.port) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not port_answers(running_demo.port)


def test_without_a_working_extension_the_demo_stops_instead_of_serving(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Fail closed: a server whose gateway cannot start would hand out ungoverned kernels."""
    import argparse

    from nbwarden.demo import DemoError
    from nbwarden.demo.cli import PreparedDemo, prepare, serve

    options = {"dir": tmp_path, "rows": 20, "seed": 1, "postgres_url": None}
    prepared = prepare(argparse.Namespace(**options))
    config = prepared.config_path.read_text(encoding="utf-8")
    broken = config.replace('"audit/provenance.duckdb"', '"nbwarden.toml/provenance.duckdb"')
    prepared.config_path.write_text(broken, encoding="utf-8")
    port = free_port()
    args = argparse.Namespace(port=port, base_url="/", no_browser=True)
    with pytest.raises(DemoError, match="extension is not answering"):
        serve(PreparedDemo(prepared.directory, prepared.config_path, ()), args)
    assert not port_answers(port)
    assert list((tmp_path / ".nbwarden-demo").iterdir()) == []
    capsys.readouterr()
