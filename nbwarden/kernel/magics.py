"""``%%sql``, ``%sql``, ``%%sh``, ``%purpose`` and ``%nbwarden`` for the governed kernel."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import Any

from IPython.core.interactiveshell import InteractiveShell
from IPython.core.magic import Magics, line_cell_magic, line_magic, magics_class

from nbwarden.kernel.cellargs import (
    bind_parameters,
    parse_sql_cell_line,
    parse_target_line,
    split_sql_line,
)
from nbwarden.kernel.client import GatewayClient, GatewayError
from nbwarden.kernel.display import (
    CellStatus,
    MaskedFrame,
    approvers,
    result_frame,
    shell_summary,
    sql_summary,
)
from nbwarden.kernel.runner import CellOutcome, CellRequest, GovernedRun

PURPOSE_ENV = "NBWARDEN_PURPOSE"
NOTEBOOK_ENV = "JPY_SESSION_NAME"
KERNEL_ID_ENV = "NBWARDEN_KERNEL_ID"
"""Set by the provisioner; the gateway checks it against the kernel id in the assertion."""


@dataclass
class SessionState:
    """What the analyst chose in this kernel session."""

    purpose: str | None = field(default_factory=lambda: os.environ.get(PURPOSE_ENV) or None)
    connection: str | None = None
    last_execution_id: str | None = None
    targets: dict[str, list[str]] | None = None


@magics_class
class GovernedMagics(Magics):
    def __init__(self, shell: InteractiveShell, client: GatewayClient | None = None) -> None:
        super().__init__(shell)
        self._client = client
        self.state = SessionState()

    @property
    def client(self) -> GatewayClient:
        if self._client is None:
            self._client = GatewayClient.from_env()
        return self._client

    @line_cell_magic
    def sql(self, line: str, cell: str | None = None) -> MaskedFrame | None:
        """Run SQL through the gateway: ``%%sql [CONN] [<< var]`` or ``%sql [CONN] STATEMENT``.

        ``:name`` in the SQL is bound from the notebook variable ``name`` as a bind
        parameter. The result is a DataFrame of masked values.
        """
        if cell is None:
            connection, code = split_sql_line(line, self._names("sql"))
            assign_to = None
            if not code:
                self._select_connection(connection)
                return None
        else:
            args = parse_sql_cell_line(line)
            connection, code, assign_to = args.connection, cell, args.assign_to
        target = connection or self.state.connection or self._first("sql")
        params = bind_parameters(code, self.shell.user_ns if self.shell else {})
        status = CellStatus()
        outcome = self._run(self._request("sql", target, code, params), status)
        frame = result_frame(outcome.result, outcome.execution_id)
        status.show(
            _with_approval(sql_summary(outcome.result, outcome.action, outcome.seconds), outcome),
            execution_id=outcome.execution_id,
            status="ok",
        )
        if assign_to:
            assert self.shell is not None
            self.shell.user_ns[assign_to] = frame
            return None
        return frame

    @line_cell_magic
    def sh(self, line: str, cell: str | None = None) -> None:
        """``%%sh [TARGET]``: run a shell cell on a registered target through the gateway."""
        if cell is None:
            target, code = None, line
        else:
            target, code = parse_target_line(line, "sh"), cell
        status = CellStatus()
        request = self._request("shell", target or self._first("shell"), code, {})
        outcome = self._run(request, status)
        result = outcome.result
        sys.stdout.write(str(result.get("stdout", "")))
        sys.stderr.write(str(result.get("stderr", "")))
        sys.stdout.flush()
        sys.stderr.flush()
        status.show(
            _with_approval(shell_summary(result, outcome.action, outcome.seconds), outcome),
            execution_id=outcome.execution_id,
            status="ok",
        )

    @line_magic
    def purpose(self, line: str) -> None:
        """``%purpose TEXT``: the purpose stamped on every governed execution from now on."""
        text = line.strip()
        if text:
            self.state.purpose = text
        print(f"purpose: {self.state.purpose or '(none declared)'}")

    @line_magic
    def nbwarden(self, line: str) -> None:
        """``%nbwarden status``: gateway, identity, purpose, connection, last execution."""
        if line.strip() not in ("", "status"):
            raise GatewayError("usage: %nbwarden status", status="usage")
        lines = [f"gateway: {self.client.base_url}"]
        try:
            who = self.client.whoami(self._assertion())
            lines.append(f"user: {who.get('user')} ({', '.join(who.get('roles', []))})")
        except GatewayError as exc:
            lines.append(f"user: unknown ({exc})")
        lines.append(f"purpose: {self.state.purpose or '(none declared)'}")
        lines.append(f"connection: {self.state.connection or self._first('sql') or '(none)'}")
        lines.append(f"last execution: {self.state.last_execution_id or '(none)'}")
        print("\n".join(lines))

    def _run(self, request: CellRequest, status: CellStatus) -> CellOutcome:
        run = GovernedRun(self.client, self._assertion(), status)
        outcome = run.run(request)
        self.state.last_execution_id = outcome.execution_id
        return outcome

    def _request(
        self, kind: str, target: str | None, code: str, params: dict[str, Any]
    ) -> CellRequest:
        parent = self._parent()
        metadata = parent.get("metadata") or {}
        return CellRequest(
            kind=kind,
            target=target,
            code=code,
            cell_source=str((parent.get("content") or {}).get("code", code)),
            kernel_id=os.environ.get(KERNEL_ID_ENV) or None,
            params=params,
            purpose=self.state.purpose,
            notebook=os.environ.get(NOTEBOOK_ENV) or None,
            cell_id=metadata.get("cellId") or metadata.get("cell_id"),
            execution_count=getattr(self.shell, "execution_count", None),
        )

    def _assertion(self) -> str:
        nbwarden = (self._parent().get("metadata") or {}).get("nbwarden") or {}
        assertion = nbwarden.get("assertion") if isinstance(nbwarden, dict) else None
        if not assertion:
            raise GatewayError(
                "this cell carries no identity assertion: run it from a Jupyter server with "
                "the nbwarden extension (or `nbwarden run`); the gateway refuses it otherwise",
                status="refused",
            )
        return str(assertion)

    def _parent(self) -> dict[str, Any]:
        kernel = getattr(self.shell, "kernel", None)
        parent = kernel.get_parent("shell") if kernel is not None else None
        return parent if isinstance(parent, dict) else {}

    def _select_connection(self, connection: str | None) -> None:
        if connection is None:
            print(f"connection: {self.state.connection or self._first('sql') or '(none)'}")
            return
        self.state.connection = connection
        print(f"default connection: {connection}")

    def _names(self, kind: str) -> list[str]:
        if self.state.targets is None:
            self.state.targets = _target_names(self.client.connections(self._assertion()))
        return self.state.targets.get(kind, [])

    def _first(self, kind: str) -> str | None:
        names = self._names(kind)
        return names[0] if names else None


def _target_names(listing: dict[str, Any]) -> dict[str, list[str]]:
    """Names from ``GET connections``: SQL connections and shell targets, in config order."""

    def names(items: Any) -> list[str]:
        if isinstance(items, dict):
            return [str(name) for name in items]
        return [str(item["name"]) if isinstance(item, dict) else str(item) for item in items or []]

    return {
        "sql": names(listing.get("connections")),
        "shell": names(listing.get("shell") or listing.get("shell_targets")),
    }


def _with_approval(summary: str, outcome: CellOutcome) -> str:
    if not outcome.approval:
        return summary
    return (
        f"{summary} · approved by {approvers(outcome.approval)} "
        f"(request {outcome.approval.get('id')})"
    )
