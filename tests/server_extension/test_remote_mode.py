"""With `gateway_url` the server serves no API of its own but still stamps every cell."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.session import Session

from nbwarden.server_extension import assertions
from tests.server_extension.test_websocket import PROBE, governed_kernelspec, open_kernel, run_cell

REMOTE = "http://gateway.internal:8765/nbwarden/api"
__all__ = ["governed_kernelspec"]


@pytest.fixture
def jp_server_config(nb_config_path: Path, jp_server_config: dict[str, Any]) -> dict[str, Any]:
    jp_server_config["NBWardenExtension"]["gateway_url"] = REMOTE
    return jp_server_config


async def test_remote_mode_stamps_cells_and_serves_no_api(
    jp_fetch: Any, jp_ws_fetch: Any, governed_kernelspec: str, key_file: Path, api: Any
) -> None:
    assert os.environ["NBWARDEN_GATEWAY_URL"] == REMOTE
    status, _ = await api("alice", "GET", "whoami")
    assert status == 404
    kernel_id, ws = await open_kernel(jp_fetch, jp_ws_fetch, governed_kernelspec, v1=False)
    try:
        printed = await run_cell(ws, Session(), PROBE, "cell-1", v1=False)
    finally:
        ws.close()
    token = json.loads(printed)["assertion"]
    claims = assertions.verify(assertions.assertion_key(key_file), token, kernel_id=kernel_id)
    assert claims.user == "alice"
