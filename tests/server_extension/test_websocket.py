"""The governed kernel websocket with real kernels: recording, stamping, anti-forgery."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.session import Session
from jupyter_server.services.kernels.connection.base import (
    deserialize_msg_from_ws_v1,
    serialize_msg_to_ws_v1,
)

from nbwarden.server_extension import assertions
from nbwarden.server_extension.websocket import decode, encode
from tests.server_extension.conftest import auth

V1 = "v1.kernel.websocket.jupyter.org"
PROBE = (
    "import json\nprint(json.dumps(get_ipython().kernel.get_parent()['metadata'].get('nbwarden')))"
)


@pytest.fixture
def governed_kernelspec(jp_kernel_dir: Path) -> str:
    """A plain IPython kernel registered under the governed name ``nbwarden``."""
    spec_dir = jp_kernel_dir / "nbwarden"
    spec_dir.mkdir(parents=True, exist_ok=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "nbwarden (test)",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
    return "nbwarden"


def execute_request(session: Session, code: str, cell_id: str) -> dict[str, Any]:
    msg = session.msg(
        "execute_request",
        {
            "code": code,
            "silent": False,
            "store_history": True,
            "user_expressions": {},
            "allow_stdin": False,
        },
    )
    msg["metadata"] = {"cellId": cell_id, "nbwarden": {"assertion": "forged-by-the-browser"}}
    msg["channel"] = "shell"
    return msg


async def run_cell(ws: Any, session: Session, code: str, cell_id: str, v1: bool) -> str:
    """Send one execute_request; return its stdout once it replied and went idle."""
    msg = execute_request(session, code, cell_id)
    if v1:
        await ws.write_message(serialize_msg_to_ws_v1(msg, "shell", session.pack), binary=True)
    else:
        await ws.write_message(json.dumps(msg, default=str))
    stdout, replied, idle = "", False, False
    while not (replied and idle):
        raw = await asyncio.wait_for(ws.read_message(), timeout=60)
        assert raw is not None, "the websocket closed"
        if v1:
            _channel, parts = deserialize_msg_from_ws_v1(raw)
            reply = {
                "header": session.unpack(parts[0]),
                "parent_header": session.unpack(parts[1]),
                "content": session.unpack(parts[3]),
            }
        else:
            reply = json.loads(raw)
        if reply["parent_header"].get("msg_id") != msg["header"]["msg_id"]:
            continue
        kind = reply["header"]["msg_type"]
        if kind == "stream":
            stdout += reply["content"]["text"]
        replied = replied or kind == "execute_reply"
        idle = idle or (kind == "status" and reply["content"]["execution_state"] == "idle")
    return stdout


async def open_kernel(jp_fetch: Any, jp_ws_fetch: Any, name: str, v1: bool) -> tuple[str, Any]:
    response = await jp_fetch(
        "api", "kernels", method="POST", body=json.dumps({"name": name}), headers=auth("alice")
    )
    kernel_id = json.loads(response.body)["id"]
    kwargs = {"subprotocols": [V1]} if v1 else {}
    ws = await jp_ws_fetch(
        "api",
        "kernels",
        kernel_id,
        "channels",
        headers=auth("alice"),
        params={"session_id": uuid.uuid4().hex},
        **kwargs,
    )
    return kernel_id, ws


@pytest.mark.parametrize("v1", [False, True], ids=["json", "v1-binary"])
async def test_governed_kernel_gets_a_signed_assertion(
    jp_fetch: Any, jp_ws_fetch: Any, governed_kernelspec: str, key_file: Path, api: Any, v1: bool
) -> None:
    kernel_id, ws = await open_kernel(jp_fetch, jp_ws_fetch, governed_kernelspec, v1)
    try:
        printed = await run_cell(ws, Session(), PROBE, "cell-42", v1)
    finally:
        ws.close()
    stamp = json.loads(printed)
    assert stamp["assertion"] != "forged-by-the-browser"
    claims = assertions.verify(
        assertions.assertion_key(key_file), stamp["assertion"], kernel_id=kernel_id, source=PROBE
    )
    assert (claims.user, claims.cell_id) == ("alice", "cell-42")
    records = await wait_for_records(api, kernel_id)
    assert records[0]["kind"] == "python" and records[0]["cell_id"] == "cell-42"


async def test_plain_kernel_cells_are_recorded_and_forged_stamps_removed(
    jp_fetch: Any, jp_ws_fetch: Any, api: Any
) -> None:
    kernel_id, ws = await open_kernel(jp_fetch, jp_ws_fetch, "python3", v1=False)
    try:
        printed = await run_cell(ws, Session(), PROBE, "cell-7", v1=False)
        await run_cell(ws, Session(), "raise ValueError('boom')", "cell-8", v1=False)
    finally:
        ws.close()
    assert printed.strip() == "null", "a client-supplied metadata['nbwarden'] reached the kernel"
    records = await wait_for_records(api, kernel_id, count=2)
    by_cell = {r["cell_id"]: r for r in records}
    assert by_cell["cell-7"]["user"] == "alice" and by_cell["cell-7"]["target"] == "python3"
    assert by_cell["cell-7"]["status"] == "ok" and by_cell["cell-8"]["status"] == "error"
    assert by_cell["cell-7"]["code_hash"] == assertions.code_hash(PROBE)


async def wait_for_records(api: Any, kernel_id: str, count: int = 1) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    for _ in range(50):
        status, found = await api("auditor", "GET", "executions", params={"user": "alice"})
        assert status == 200
        records = [r for r in found if r["kernel_id"] == kernel_id and r["status"] != "started"]
        if len(records) >= count:
            return records
        await asyncio.sleep(0.1)
    raise AssertionError(f"cells of kernel {kernel_id} were not recorded: {records}")


def test_framing_round_trip_strips_nothing_else() -> None:
    session = Session()
    msg = execute_request(session, "print(1)", "c1")
    for v1, raw in (
        (False, json.dumps(msg, default=str)),
        (True, serialize_msg_to_ws_v1(msg, "shell", session.pack)),
    ):
        decoded = decode(raw, v1, session.unpack)
        assert decoded.metadata["cellId"] == "c1" and decoded.content["code"] == "print(1)"
        decoded.metadata["nbwarden"] = {"assertion": "t"}
        again = decode(encode(decoded, session.pack), v1, session.unpack)
        assert again.metadata == {"cellId": "c1", "nbwarden": {"assertion": "t"}}
        assert again.header["msg_id"] == msg["header"]["msg_id"]
    with pytest.raises(ValueError):
        decode("{not json", False, session.unpack)
