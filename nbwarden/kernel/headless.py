"""``nbwarden run``: execute a notebook with the governed kernel and an embedded gateway.

The run process plays the part of the Jupyter server: it serves the gateway's REST API
(the server extension's handlers, standalone app) on a loopback port, starts the
``nbwarden`` kernel through its provisioner, and stamps every ``execute_request`` with
an identity assertion for ``--user``. So a governed cell takes exactly the path it takes
in JupyterLab: kernel -> HTTP -> gateway. The run writes the gateway's runtime file, so
``nbwarden approvals approve`` from another shell reaches this gateway.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
from jupyter_client.asynchronous.client import AsyncKernelClient
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from tornado import httpserver

from nbwarden.config import CONFIG_ENV, Config, ConfigError
from nbwarden.kernel.client import GATEWAY_URL_ENV
from nbwarden.kernel.magics import NOTEBOOK_ENV, PURPOSE_ENV
from nbwarden.kernel.provisioner import (
    PROVISIONER_NAME,
    connection_passwords,
    register_provisioner,
    scrub_environment,
)
from nbwarden.kernel.runner import APPROVAL_TIMEOUT_ENV
from nbwarden.server_extension import assertions
from nbwarden.server_extension.handlers import API_PREFIX, MAX_BODY_BYTES
from nbwarden.server_extension.runtime import RuntimeFile
from nbwarden.server_extension.service import ApiState
from nbwarden.server_extension.standalone import build_state, make_app

KERNEL_NAME = "nbwarden"


class StampingKernelClient(AsyncKernelClient):  # type: ignore[misc]
    """Adds ``metadata["nbwarden"]["assertion"]`` (and ``cellId``) to each execute_request."""

    next_metadata: dict[str, Any] | None = None

    def execute(  # type: ignore[override]
        self,
        code: str,
        silent: bool = False,
        store_history: bool = True,
        user_expressions: dict[str, Any] | None = None,
        allow_stdin: bool | None = None,
        stop_on_error: bool = True,
    ) -> str:
        content = {
            "code": code,
            "silent": silent,
            "store_history": store_history,
            "user_expressions": user_expressions or {},
            "allow_stdin": self.allow_stdin if allow_stdin is None else allow_stdin,
            "stop_on_error": stop_on_error,
        }
        metadata, self.next_metadata = self.next_metadata or {}, None
        msg = self.session.msg("execute_request", content, metadata=metadata)
        self.shell_channel.send(msg)
        return str(msg["header"]["msg_id"])


@dataclass
class RunReport:
    executed_cells: int
    execution_ids: list[str]
    failed: str | None


@dataclass
class HeadlessRun:
    config: Config
    user: str
    purpose: str
    approval_timeout_s: float | None = None
    kernel_name: str = KERNEL_NAME
    cell_timeout_s: float | None = None
    """Interrupt a cell after this long: its statement is cancelled or its request withdrawn."""

    async def execute(self, notebook: Path, output: Path) -> RunReport:
        register_provisioner()
        km = AsyncKernelManager(kernel_name=self.kernel_name)
        require_governed_kernelspec(km)
        nb = nbformat.read(notebook, as_version=4)  # type: ignore[no-untyped-call]
        state = await asyncio.to_thread(build_state, self.config)
        runtime = RuntimeFile.for_store(self.config.audit.path)
        try:
            server, url = _serve(state)
            state.operator_token = runtime.write(url).token
            try:
                failed = await self._execute_cells(km, state, nb, notebook, url)
            finally:
                server.stop()
                runtime.remove()
        finally:
            await asyncio.to_thread(state.gateway.close)
        execution_ids = link_execution_ids(nb)
        nbformat.write(nb, output)  # type: ignore[no-untyped-call]
        executed = sum(1 for cell in nb.cells if cell.get("execution_count"))
        return RunReport(executed, execution_ids, failed)

    async def _execute_cells(
        self, km: AsyncKernelManager, state: ApiState, nb: Any, notebook: Path, url: str
    ) -> str | None:
        km.client_factory = StampingKernelClient
        open_cells: dict[str, str] = {}

        async def before_cell(cell: Any, cell_index: int) -> None:
            kernel_id = str(km.kernel_id)
            cell_id = str(cell.get("id") or f"cell-{cell_index}")
            open_cells[cell_id] = await asyncio.to_thread(
                state.record_cell, self.user, kernel_id, self.kernel_name, cell_id, cell.source
            )
            token = assertions.sign(
                state.assertion_key,
                user=self.user,
                kernel_id=kernel_id,
                cell_id=cell_id,
                source=cell.source,
                ttl_s=self.config.gateway.cell_assertion_ttl_s,
            )
            kernel_client = client.kc
            assert isinstance(kernel_client, StampingKernelClient)
            kernel_client.next_metadata = {"cellId": cell_id, "nbwarden": {"assertion": token}}

        async def after_cell(cell: Any, cell_index: int, execute_reply: dict[str, Any]) -> None:
            execution_id = open_cells.pop(str(cell.get("id") or f"cell-{cell_index}"), "")
            if execution_id:
                status = str(execute_reply.get("content", {}).get("status", "error"))
                await asyncio.to_thread(state.end_cell, execution_id, status)

        client = NotebookClient(
            nb,
            km=km,
            timeout=self.cell_timeout_s,
            interrupt_on_timeout=True,
            startup_timeout=120,
            kernel_name=self.kernel_name,
            resources={"metadata": {"path": str(notebook.resolve().parent)}},
            on_cell_execute=before_cell,
            on_cell_executed=after_cell,
        )
        try:
            await client.async_execute(env=self._kernel_env(notebook, url))
        except CellExecutionError as exc:
            return _first_line_of_error(exc)
        return None

    def _kernel_env(self, notebook: Path, url: str) -> dict[str, str]:
        names, passwords = self.config.secret_env_names(), connection_passwords(self.config)
        env = scrub_environment(dict(os.environ), names, passwords)
        env.update({GATEWAY_URL_ENV: url, PURPOSE_ENV: self.purpose, NOTEBOOK_ENV: notebook.name})
        if self.approval_timeout_s:
            env[APPROVAL_TIMEOUT_ENV] = str(self.approval_timeout_s)
        return env


def require_governed_kernelspec(km: AsyncKernelManager) -> None:
    """Refuse kernelspecs that would not launch through the scrubbing provisioner."""
    metadata = km.kernel_spec.metadata if km.kernel_spec is not None else {}
    provisioner = metadata.get("kernel_provisioner", {}).get("provisioner_name")
    if provisioner != PROVISIONER_NAME:
        raise ConfigError(
            f"kernelspec {km.kernel_name!r} does not use the {PROVISIONER_NAME}; "
            "nbwarden run executes notebooks only with governed kernels"
        )


def link_execution_ids(nb: Any) -> list[str]:
    """Copy the execution ids in each cell's outputs into ``cell.metadata["nbwarden"]``."""
    found: list[str] = []
    for cell in nb.cells:
        ids = [
            str(output["metadata"]["nbwarden"]["execution_id"])
            for output in cell.get("outputs", [])
            if output.get("metadata", {}).get("nbwarden", {}).get("execution_id")
        ]
        if ids:
            cell.metadata["nbwarden"] = {"execution_ids": ids}
            found.extend(ids)
    return found


def _serve(state: ApiState) -> tuple[httpserver.HTTPServer, str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    sock.setblocking(False)
    server = httpserver.HTTPServer(make_app(state, {}), max_body_size=MAX_BODY_BYTES + 1024)
    server.add_sockets([sock])
    port = sock.getsockname()[1]
    return server, f"http://127.0.0.1:{port}/{API_PREFIX}"


def _first_line_of_error(exc: CellExecutionError) -> str:
    ename = getattr(exc, "ename", "") or "error"
    evalue = getattr(exc, "evalue", "") or ""
    return f"{ename}: {evalue}".strip()


def use_config_for_kernels(config: Config) -> None:
    """The provisioner (same process) reads this config; the kernel never sees the name."""
    if config.path is not None:
        os.environ[CONFIG_ENV] = str(Path(config.path).resolve())


def print_report(report: RunReport, output: Path) -> None:
    print(
        f"nbwarden run: {report.executed_cells} cells executed, "
        f"{len(report.execution_ids)} governed executions; wrote {output}",
        file=sys.stderr,
    )
    if report.failed:
        print(f"nbwarden run: stopped at a failing cell: {report.failed}", file=sys.stderr)
