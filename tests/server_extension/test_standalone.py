"""`nbwarden gateway` as its own process: the same API, the CLI through it, crash recovery."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nbwarden.config import load_config
from nbwarden.server_extension.runtime import RuntimeFile
from tests.server_extension.conftest import TOKENS, write_config


class Gateway:
    """A `nbwarden gateway` child process and an HTTP helper for its API."""

    def __init__(self, config_path: Path, tokens_file: Path) -> None:
        self.config_path = config_path
        self.runtime = RuntimeFile.for_store(load_config(config_path).audit.path)
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "nbwarden",
                "gateway",
                "--config",
                str(config_path),
                "--port",
                "0",
                "--tokens-file",
                str(tokens_file),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.url = self._wait_until_serving()

    def _wait_until_serving(self) -> str:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            info = self.runtime.read()
            if info is not None and info.pid == self.process.pid:
                return info.url
            if self.process.poll() is not None:
                raise AssertionError(f"the gateway exited: {self.process.stdout.read()}")
            time.sleep(0.1)
        raise AssertionError("the gateway did not start in 60 s")

    def call(self, user: str | None, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        request = urllib.request.Request(
            f"{self.url}/{path}",
            method=method,
            data=None if body is None else json.dumps(body).encode(),
        )
        if user:
            request.add_header("Authorization", f"token {TOKENS[user]}")
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")

    def stop(self, signum: int = signal.SIGTERM) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signum)
            self.process.wait(timeout=30)


def nbwarden_cli(config_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nbwarden", args[0], "--config", str(config_path), *args[1:]],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def tokens_file(tmp_path: Path) -> Path:
    path = tmp_path / "tokens.json"
    path.write_text(json.dumps({token: user for user, token in TOKENS.items()}))
    os.chmod(path, 0o600)
    return path


@pytest.fixture
def standalone_config(tmp_path: Path, key_file: Path, shop_url: str, postgres_url: str) -> Path:
    return write_config(tmp_path, key_file, {"shop": shop_url, "pg": postgres_url})


@pytest.fixture
def gateway(standalone_config: Path, tokens_file: Path) -> Iterator[Gateway]:
    started = Gateway(standalone_config, tokens_file)
    yield started
    started.stop(signal.SIGKILL)


@pytest.mark.postgres
@pytest.mark.slow
def test_standalone_gateway_cli_and_sigkill_recovery(
    gateway: Gateway, standalone_config: Path, tokens_file: Path, customers: list[Any]
) -> None:
    assert gateway.call(None, "GET", "whoami")[0] == 403
    assert gateway.call("dpo", "GET", "whoami") == (
        200,
        {"user": "dpo", "roles": ["analyst", "approver"]},
    )
    approved_id = held_approval(gateway, "alice", "UPDATE customers SET name = 'z' WHERE id = 1")
    pending_id = held_approval(gateway, "bob", "DELETE FROM customers WHERE id = 9")

    listed = nbwarden_cli(standalone_config, "approvals", "list", "--as", "dpo")
    assert listed.returncode == 0, listed.stderr
    assert f"{approved_id}\tpending\tshop\talice" in listed.stdout
    self_approve = nbwarden_cli(
        standalone_config,
        "approvals",
        "approve",
        approved_id,
        "--basis",
        "contract",
        "--as",
        "alice",
    )
    assert self_approve.returncode == 1 and "Traceback" not in self_approve.stderr
    approved = nbwarden_cli(
        standalone_config,
        "approvals",
        "approve",
        approved_id,
        "--basis",
        "contract",
        "--justification",
        "ticket 7",
        "--as",
        "dpo",
    )
    assert approved.returncode == 0, approved.stderr
    assert f"{approved_id}\tapproved" in approved.stdout

    select = {"kind": "sql", "target": "shop", "code": "SELECT email FROM customers WHERE id = 3"}
    status, selected = gateway.call("alice", "POST", "execute", select)
    assert status == 200
    dsar = nbwarden_cli(standalone_config, "dsar", "--email", customers[2][2])
    assert dsar.returncode == 0, dsar.stderr
    assert selected["execution_id"] in dsar.stdout
    assert customers[2][2] not in dsar.stdout
    verify = nbwarden_cli(standalone_config, "audit", "verify")
    assert verify.returncode == 0 and "chain intact" in verify.stdout, verify.stderr

    slow = threading.Thread(
        target=call_quietly,
        daemon=True,
        args=(
            gateway,
            "alice",
            "POST",
            "execute",
            {"kind": "sql", "target": "pg", "code": "SELECT pg_sleep(30)"},
        ),
    )
    slow.start()
    started = wait_for(
        lambda: [
            e
            for e in gateway.call("auditor", "GET", "executions")[1]
            if e["target"] == "pg" and e["status"] == "started"
        ]
    )
    execution_id = started[0]["id"]
    gateway.stop(signal.SIGKILL)

    restarted = Gateway(standalone_config, tokens_file)
    try:
        status, record = restarted.call("auditor", "GET", f"executions/{execution_id}")
        assert status == 200 and record["status"] == "incomplete", record
        status, verify = restarted.call("auditor", "GET", "audit/verify")
        assert status == 200 and verify["ok"] is True, verify
        status, approval = restarted.call("dpo", "GET", f"approvals/{pending_id}")
        assert status == 200 and approval["state"] == "pending"
    finally:
        restarted.stop(signal.SIGTERM)
    assert restarted.runtime.read() is None
    direct = nbwarden_cli(standalone_config, "approvals", "list", "--as", "dpo")
    assert direct.returncode == 0, direct.stderr
    assert f"{approved_id}\tapproved" in direct.stdout
    assert f"{pending_id}\tpending" in direct.stdout


def held_approval(gateway: Gateway, user: str, code: str) -> str:
    status, held = gateway.call(
        user, "POST", "execute", {"kind": "sql", "target": "shop", "code": code}
    )
    assert status == 202, held
    return str(held["approval"]["id"])


def call_quietly(gateway: Gateway, *args: Any) -> None:
    """The call is cut off when the gateway is killed: that is the point."""
    with contextlib.suppress(OSError):
        gateway.call(*args)


def wait_for(probe: Any, timeout_s: float = 30) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError("condition not reached in time")
