"""A real gateway process and a fleet of governed kernels, as the Jupyter server sees them.

Shared by the system tests (tests/system/) and the system benchmark. The calling process
plays the trusted Jupyter server: it holds the key file, stamps every ``execute_request``
with an identity assertion, and talks to ``nbwarden gateway`` running as a child process.
Each kernel is the real ``nbwarden`` kernel started through its provisioner.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
from jupyter_client.manager import AsyncKernelManager

from nbwarden.config import CONFIG_ENV, load_config
from nbwarden.kernel.client import GATEWAY_URL_ENV
from nbwarden.kernel.headless import StampingKernelClient
from nbwarden.kernel.magics import PURPOSE_ENV
from nbwarden.kernel.provisioner import register_provisioner
from nbwarden.server_extension import assertions
from nbwarden.server_extension.runtime import RuntimeFile

REPO = Path(__file__).resolve().parents[2]
KERNELSPECS = REPO / "share" / "jupyter"


class GatewayProcess:
    """``nbwarden gateway`` as a child process, its output captured in ``log_path``."""

    def __init__(self, config_path: Path, tokens: dict[str, str], log_path: Path) -> None:
        self.config_path = config_path
        self.tokens = tokens
        self.log_path = log_path
        self.config = load_config(config_path)
        self.runtime = RuntimeFile.for_store(self.config.audit.path)
        self.tokens_file = config_path.with_name("gateway-tokens.json")
        fd = os.open(self.tokens_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump({token: user for user, token in tokens.items()}, handle)
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self.url = ""

    def start(self, timeout_s: float = 90) -> GatewayProcess:
        self._log = self.log_path.open("ab")
        command = [sys.executable, "-m", "nbwarden", "gateway", "--config", str(self.config_path)]
        command += ["--port", "0", "--tokens-file", str(self.tokens_file)]
        self.process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            info = self.runtime.read()
            if info is not None and info.pid == self.process.pid:
                self.url = info.url
                return self
            if self.process.poll() is not None:
                raise RuntimeError(f"the gateway exited with {self.process.returncode}")
            time.sleep(0.1)
        raise RuntimeError(f"the gateway did not start in {timeout_s:g} s")

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def call(
        self, user: str | None, method: str, path: str, body: Any = None, **kwargs: Any
    ) -> tuple[int, Any]:
        """One API call as ``user`` (by their token); never raises on an HTTP error status."""
        headers = dict(kwargs.pop("headers", {}))
        if user is not None:
            headers["Authorization"] = f"token {self.tokens[user]}"
        response = httpx.request(
            method,
            f"{self.url}/{path}",
            json=body,
            headers=headers,
            timeout=kwargs.pop("timeout", 120),
            trust_env=False,
            **kwargs,
        )
        try:
            payload = response.json()
        except ValueError:
            payload = response.text
        return response.status_code, payload

    def stop(self, signum: int = signal.SIGTERM, timeout_s: float = 60) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signum)
            self.process.wait(timeout=timeout_s)
        if self._log is not None:
            self._log.close()
            self._log = None


@dataclass
class CellRun:
    """What one executed cell left in the notebook, and how long it took."""

    status: str
    latency_s: float
    text: str
    execution_ids: list[str] = field(default_factory=list)
    outputs: list[dict[str, Any]] = field(default_factory=list)


class GovernedKernel:
    """One ``nbwarden`` kernel; :meth:`run` stamps and executes a cell as the server does."""

    def __init__(self, km: AsyncKernelManager, user: str, key: bytes, ttl_s: int) -> None:
        self.km = km
        self.user = user
        self.key = key
        self.ttl_s = ttl_s
        client = km.client()
        assert isinstance(client, StampingKernelClient)
        self.client = client

    @property
    def kernel_id(self) -> str:
        return str(self.km.kernel_id)

    async def run(self, code: str, timeout_s: float = 300, stamp: bool = True) -> CellRun:
        cell_id = uuid.uuid4().hex
        metadata: dict[str, Any] = {"cellId": cell_id}
        if stamp:
            token = assertions.sign(
                self.key,
                user=self.user,
                kernel_id=self.kernel_id,
                cell_id=cell_id,
                source=code,
                ttl_s=self.ttl_s,
            )
            metadata["nbwarden"] = {"assertion": token}
        self.client.next_metadata = metadata
        outputs: list[dict[str, Any]] = []
        started = time.perf_counter()
        reply = await self.client.execute_interactive(
            code, output_hook=lambda msg: outputs.append(msg), timeout=timeout_s
        )
        latency = time.perf_counter() - started
        return CellRun(
            status=str(reply["content"]["status"]),
            latency_s=latency,
            text=outputs_text(outputs),
            execution_ids=execution_ids(outputs),
            outputs=[{"msg_type": m["msg_type"], "content": m["content"]} for m in outputs],
        )

    async def stop(self) -> None:
        self.client.stop_channels()
        await self.km.shutdown_kernel(now=True)


async def start_kernels(
    config_path: Path,
    gateway_url: str,
    users: Iterable[str],
    purpose: str = "system test",
    kernel_name: str = "nbwarden",
) -> list[GovernedKernel]:
    """Start one governed kernel per user, concurrently, each ready to run cells."""
    config = load_config(config_path)
    os.environ[CONFIG_ENV] = str(config_path.resolve())
    jupyter_path = os.environ.get("JUPYTER_PATH", "")
    if str(KERNELSPECS) not in jupyter_path.split(os.pathsep):
        os.environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(KERNELSPECS), jupyter_path]))
    register_provisioner()
    key = assertions.assertion_key(config.audit.key_file)
    env = {**os.environ, GATEWAY_URL_ENV: gateway_url, PURPOSE_ENV: purpose}

    async def one(user: str) -> GovernedKernel:
        km = AsyncKernelManager(kernel_name=kernel_name)
        km.client_factory = StampingKernelClient
        await km.start_kernel(env=env)
        kernel = GovernedKernel(km, user, key, config.gateway.assertion_ttl_s)
        kernel.client.start_channels()
        await kernel.client.wait_for_ready(timeout=180)
        return kernel

    return list(await asyncio.gather(*(one(user) for user in users)))


async def stop_kernels(kernels: Iterable[GovernedKernel]) -> None:
    await asyncio.gather(*(kernel.stop() for kernel in kernels), return_exceptions=True)


def outputs_text(messages: Iterable[dict[str, Any]]) -> str:
    parts: list[str] = []
    for message in messages:
        content = message.get("content", {})
        if message.get("msg_type") == "stream":
            parts.append(str(content.get("text", "")))
        elif message.get("msg_type") in ("display_data", "execute_result", "update_display_data"):
            parts.extend(str(value) for value in content.get("data", {}).values())
        elif message.get("msg_type") == "error":
            parts.append(f"{content.get('ename')}: {content.get('evalue')}")
    return "\n".join(parts)


def execution_ids(messages: Iterable[dict[str, Any]]) -> list[str]:
    found: list[str] = []
    for message in messages:
        nbwarden = (message.get("content", {}).get("metadata") or {}).get("nbwarden") or {}
        execution_id = nbwarden.get("execution_id") if isinstance(nbwarden, dict) else None
        if execution_id and str(execution_id) not in found:
            found.append(str(execution_id))
    return found
