"""The plain shapes the gateway takes and returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Status = Literal["ok", "pending", "blocked", "rejected", "error", "withheld"]

MAX_CODE_BYTES = 256 * 1024
"""Cells larger than this are refused before anything else happens."""


class ExecutionError(Exception):
    """A governed request failed; ``str(self)`` is safe to show (no secret, no raw value)."""

    def __init__(self, message: str, status: Status = "error") -> None:
        super().__init__(message)
        self.message = message
        self.status: Status = status


@dataclass(frozen=True)
class Identity:
    """Who sent the cell, as the server's authenticated session established it."""

    user: str
    roles: frozenset[str] = frozenset()
    kernel_id: str | None = None
    session_id: str | None = None

    @property
    def policy_role(self) -> str:
        for role in ("admin", "approver", "auditor", "analyst"):
            if role in self.roles:
                return role
        return "analyst"


@dataclass(frozen=True)
class ExecuteRequest:
    kind: Literal["sql", "shell"]
    target: str
    code: str
    params: dict[str, Any] | None = None
    purpose: str | None = None
    notebook: str | None = None
    cell_id: str | None = None
    execution_count: int | None = None
    approval_id: str | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExecuteRequest:
        """Build from untrusted JSON; raises ExecutionError on a malformed request."""
        kind = data.get("kind", "sql")
        if kind not in ("sql", "shell"):
            raise ExecutionError("kind must be 'sql' or 'shell'")
        params = data.get("params")
        if params is not None and not isinstance(params, dict):
            raise ExecutionError("params must be an object")
        for key in ("target", "code"):
            if not isinstance(data.get(key), str):
                raise ExecutionError(f"{key} must be a string")
        count = data.get("execution_count")
        return cls(
            kind=kind,
            target=data["target"],
            code=data["code"],
            params=params,
            purpose=_optional_str(data, "purpose"),
            notebook=_optional_str(data, "notebook"),
            cell_id=_optional_str(data, "cell_id"),
            execution_count=count if isinstance(count, int) else None,
            approval_id=_optional_str(data, "approval_id"),
        )


@dataclass
class Outcome:
    status: Status
    execution_id: str | None
    verdict: dict[str, Any] | None = None
    approval: dict[str, Any] | None = None
    result: dict[str, Any] | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "execution_id": self.execution_id,
            "verdict": self.verdict,
            "approval": self.approval,
            "result": self.result,
            "error": self.error,
        }


def _optional_str(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ExecutionError(f"{key} must be a string")
    return value
