"""One governed cell end to end, as the kernel sees it.

POST ``execute``; while the call runs, show elapsed time and, for SQL, the rows the
gateway has fetched so far (``executions/current/progress``); a 202 means the cell waits
for approval: poll ``approvals/{id}``, show its state in place, and once approved
POST again with the ``approval_id``. A kernel interrupt (KeyboardInterrupt) cancels
the running statement or withdraws the pending request before it propagates.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from nbwarden.kernel.client import GatewayClient, GatewayError
from nbwarden.kernel.display import CellStatus, approval_text, progress_text

APPROVAL_TIMEOUT_ENV = "NBWARDEN_APPROVAL_TIMEOUT_S"
POLL_INTERVAL_S = 0.5
"""How often the approval state is asked for while a cell waits for it."""
PROGRESS_AFTER_S = 1.0
CURRENT_EXECUTION = "current"
"""``executions/current/cancel`` and ``.../progress``: the execution running for the
assertion's kernel and cell."""
FINAL_APPROVAL_STATES = frozenset({"approved", "rejected", "expired", "withdrawn"})


@dataclass
class CellRequest:
    """The body of ``POST execute`` (see docs/architecture.md, ExecuteRequest)."""

    kind: str
    target: str | None
    code: str
    cell_source: str
    params: dict[str, Any] = field(default_factory=dict)
    purpose: str | None = None
    notebook: str | None = None
    cell_id: str | None = None
    execution_count: int | None = None
    approval_id: str | None = None
    kernel_id: str | None = None


@dataclass(frozen=True)
class CellOutcome:
    execution_id: str | None
    action: str
    result: dict[str, Any]
    approval: dict[str, Any] | None
    seconds: float


class GovernedRun:
    """Runs one :class:`CellRequest` for one cell, showing progress in ``status``."""

    def __init__(
        self,
        client: GatewayClient,
        assertion: str,
        status: CellStatus,
        approval_timeout_s: float | None = None,
    ) -> None:
        self.client = client
        self.assertion = assertion
        self.status = status
        self.approval_timeout_s = approval_timeout_s or _env_seconds(APPROVAL_TIMEOUT_ENV)

    def run(self, request: CellRequest) -> CellOutcome:
        started = time.monotonic()
        http_status, body = self._post(request, started)
        approval: dict[str, Any] | None = None
        if http_status == 202:
            approval = self._wait_for_approval(body)
            request.approval_id = str(approval["id"])
            http_status, body = self._post(request, time.monotonic())
        return self._outcome(http_status, body, approval, time.monotonic() - started)

    def _post(self, request: CellRequest, started: float) -> tuple[int, dict[str, Any]]:
        counts_rows = request.kind == "sql"

        def show_progress() -> None:
            elapsed = time.monotonic() - started
            if elapsed >= PROGRESS_AFTER_S:
                rows = self._rows_fetched() if counts_rows else None
                self.status.show(progress_text(elapsed, rows), status="running")

        try:
            return self.client.execute(asdict(request), self.assertion, show_progress)
        except KeyboardInterrupt:
            self._cancel()
            raise

    def _rows_fetched(self) -> int | None:
        """Rows the gateway has fetched for this cell, or None when it cannot say (yet)."""
        try:
            progress = self.client.progress(CURRENT_EXECUTION, self.assertion)
        except GatewayError:
            return None
        rows = progress.get("rows_fetched") if progress else None
        return rows if isinstance(rows, int) else None

    def _cancel(self) -> None:
        """The answer naming the execution id has not come yet: cancel this cell's statement."""
        try:
            self.client.cancel(CURRENT_EXECUTION, self.assertion)
            self.status.show("interrupted: the statement was cancelled", status="cancelled")
        except GatewayError as exc:
            self.status.show(f"interrupted; cancelling failed: {exc}", status="cancelled")

    def _wait_for_approval(self, pending: dict[str, Any]) -> dict[str, Any]:
        approval = dict(pending.get("approval") or {})
        if "id" not in approval:
            raise GatewayError("the gateway held the cell but named no approval request")
        verdict = dict(pending.get("verdict") or {})
        rules = [str(rule) for rule in verdict.get("rules") or approval.get("rules") or []]
        reasons = [str(text) for text in verdict.get("reasons") or approval.get("reasons") or []]

        def show(current: dict[str, Any]) -> None:
            self.status.show(
                approval_text(current, reasons, rules),
                execution_id=pending.get("execution_id"),
                approval_id=str(approval["id"]),
                status=str(current.get("state", "pending")),
            )

        show(approval)
        deadline = time.monotonic() + self.approval_timeout_s if self.approval_timeout_s else None
        try:
            while approval.get("state", "pending") not in FINAL_APPROVAL_STATES:
                if deadline is not None and time.monotonic() > deadline:
                    self._withdraw(approval, "the approval did not come in time; withdrawn")
                    raise GatewayError(
                        f"approval request {approval['id']} timed out and was withdrawn",
                        status="expired",
                        rules=tuple(rules),
                    )
                time.sleep(POLL_INTERVAL_S)
                approval = self.client.approval(str(approval["id"]), self.assertion)
                show(approval)
        except KeyboardInterrupt:
            self._withdraw(approval, "interrupted: the approval request was withdrawn")
            raise
        return _approved_or_raise(approval, tuple(rules))

    def _withdraw(self, approval: dict[str, Any], message: str) -> None:
        try:
            self.client.withdraw(str(approval["id"]), self.assertion)
            self.status.show(message, approval_id=str(approval["id"]), status="withdrawn")
        except GatewayError as exc:
            self.status.show(f"withdrawing failed: {exc}", status="withdrawn")

    def _outcome(
        self,
        http_status: int,
        body: dict[str, Any],
        approval: dict[str, Any] | None,
        seconds: float,
    ) -> CellOutcome:
        verdict = dict(body.get("verdict") or {})
        rules = tuple(str(rule) for rule in verdict.get("rules", []))
        execution_id = body.get("execution_id")
        state = str(body.get("status") or body.get("state") or "")
        if http_status == 202:
            raise GatewayError("the cell was held for approval again after approval", "pending")
        if http_status == 403 and not state:
            message = f"the gateway refused this cell: {body.get('error') or 'forbidden'}"
            self.status.show(message, status="refused")
            raise GatewayError(message, status="refused")
        if state in ("blocked", "rejected"):
            self.status.show("blocked by policy", execution_id=execution_id, status="blocked")
            raise GatewayError(_blocked_message(body, verdict), status="blocked", rules=rules)
        if state != "ok" or not isinstance(body.get("result"), dict):
            message = str(body.get("error") or f"the cell ended with status {state or '?'}")
            self.status.show(message, execution_id=execution_id, status=state or "error")
            raise GatewayError(message, status=state or "error", rules=rules)
        return CellOutcome(
            execution_id=str(execution_id) if execution_id else None,
            action=str(verdict.get("action", "allow")),
            result=body["result"],
            approval=approval,
            seconds=seconds,
        )


def _approved_or_raise(approval: dict[str, Any], rules: tuple[str, ...]) -> dict[str, Any]:
    state = approval.get("state")
    if state == "approved":
        return approval
    if state == "rejected":
        reason = approval.get("reject_reason") or "no reason given"
        raise GatewayError(
            f"approval request {approval['id']} was rejected: {reason}", "rejected", rules
        )
    raise GatewayError(f"approval request {approval['id']} is {state}", str(state), rules)


def _blocked_message(body: dict[str, Any], verdict: dict[str, Any]) -> str:
    pairs = zip(verdict.get("rules", []), verdict.get("reasons", []), strict=False)
    named = "; ".join(f"{rule}: {reason}" for rule, reason in pairs)
    if named:
        return f"blocked by policy: {named}"
    return str(body.get("error") or "blocked by policy")


def _env_seconds(name: str) -> float | None:
    value = os.environ.get(name)
    try:
        return float(value) if value else None
    except ValueError:
        return None
