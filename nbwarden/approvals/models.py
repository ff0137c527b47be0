"""The data an approval decision is made on: requests, decisions and grants."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

RequestState = Literal["pending", "approved", "rejected", "withdrawn", "expired", "used"]
GrantState = Literal["active", "revoked"]

OPEN_STATES: frozenset[str] = frozenset({"pending", "approved"})

CHECKED_BY_CONTENT = "checked by content"
"""The predicted masking of a column no column-name hint of the profile matches."""

LEGAL_BASES: dict[str, str] = {
    "consent": "Art. 6(1)(a) consent of the data subject",
    "contract": "Art. 6(1)(b) performance of a contract",
    "legal_obligation": "Art. 6(1)(c) compliance with a legal obligation",
    "vital_interests": "Art. 6(1)(d) vital interests of a person",
    "public_task": "Art. 6(1)(e) task in the public interest or official authority",
    "legitimate_interests": "Art. 6(1)(f) legitimate interests of the controller",
}
"""GDPR Art. 6(1) lawful bases an approver picks from."""


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def canonical_params(params: dict[str, Any] | None) -> str:
    return json.dumps(params or {}, sort_keys=True, separators=(",", ":"), default=str)


def binding_hash(
    kind: str, target: str, code: str, requester: str, params: dict[str, Any] | None
) -> str:
    """The one value a one-time approval is bound to: any change in these needs a new one."""
    bound = {
        "kind": kind,
        "target": target,
        "code_sha256": sha256_hex(code),
        "requester": requester,
        "params_sha256": sha256_hex(canonical_params(params)),
    }
    return sha256_hex(json.dumps(bound, sort_keys=True))


@dataclass(frozen=True)
class Decision:
    approver: str
    at: float
    basis: str
    justification: str
    unmask_columns: tuple[str, ...] = ()
    unmask_entities: tuple[str, ...] = ()


@dataclass(frozen=True)
class ApprovalRequest:
    """A flagged execution waiting for (or holding) a one-time approval.

    ``code_masked`` is the code as the masker rendered it: approvers see what will
    run without raw personal values. The raw code never leaves the gateway.
    """

    id: str
    kind: str
    target: str
    requester: str
    binding: str
    code_sha256: str
    code_masked: str
    rules: tuple[str, ...]
    reasons: tuple[str, ...]
    purpose: str | None
    created_at: float
    expires_at: float
    required_approvals: int = 1
    approver_group: tuple[str, ...] = ()
    state: RequestState = "pending"
    decisions: tuple[Decision, ...] = ()
    rejected_by: str | None = None
    reject_reason: str | None = None
    grant_id: str | None = None
    used_by_execution: str | None = None
    execution_id: str | None = None
    """The provenance record of the execution that was held for this request."""
    kernel_id: str | None = None
    """The kernel whose cell was held: the same code held in two kernels gets two requests,
    so approving one never leaves the other with an approval already used."""
    updated_at: float = 0.0
    statement_types: tuple[str, ...] = ()
    tables_read: tuple[str, ...] = ()
    tables_written: tuple[str, ...] = ()
    columns: tuple[str, ...] = ()
    """Columns read, as the policy engine names them (``col`` or ``table.col``)."""
    masking: dict[str, str] = field(default_factory=dict)
    """Column read -> the entity type its name predicts, or ``CHECKED_BY_CONTENT``."""

    @property
    def basis(self) -> str | None:
        return self.decisions[-1].basis if self.decisions else None

    @property
    def justification(self) -> str | None:
        return self.decisions[-1].justification if self.decisions else None

    @property
    def unmask_columns(self) -> tuple[str, ...]:
        return _agreed(d.unmask_columns for d in self.decisions)

    @property
    def unmask_entities(self) -> tuple[str, ...]:
        return _agreed(d.unmask_entities for d in self.decisions)

    def with_changes(self, **changes: Any) -> ApprovalRequest:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["decisions"] = [asdict(d) for d in self.decisions]
        data["approvers"] = [d.approver for d in self.decisions]
        data["basis"] = self.basis
        data["justification"] = self.justification
        data["unmask_columns"] = list(self.unmask_columns)
        data["unmask_entities"] = list(self.unmask_entities)
        data["tables"] = list(dict.fromkeys((*self.tables_read, *self.tables_written)))
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ApprovalRequest:
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        fields["decisions"] = tuple(_decision(d) for d in data.get("decisions", ()))
        for key in _LIST_FIELDS:
            fields[key] = tuple(fields.get(key, ()))
        fields["masking"] = dict(fields.get("masking") or {})
        return cls(**fields)


_LIST_FIELDS = (
    "rules",
    "reasons",
    "approver_group",
    "statement_types",
    "tables_read",
    "tables_written",
    "columns",
)


@dataclass(frozen=True)
class Grant:
    """Time-boxed access: ``user`` may run cells on ``target`` flagged only by ``rules``.

    An empty ``rules`` scope covers every flag rule (never a block).
    """

    id: str
    user: str
    target: str
    rules: tuple[str, ...]
    starts_at: float
    ends_at: float
    granted_by: str
    basis: str
    justification: str
    unmask_columns: tuple[str, ...] = ()
    unmask_entities: tuple[str, ...] = ()
    state: GrantState = "active"
    revoked_by: str | None = None
    source_request: str | None = None
    created_at: float = 0.0
    updated_at: float = 0.0

    def covers(self, user: str, target: str, rules: tuple[str, ...], now: float) -> bool:
        if self.state != "active" or not self.starts_at <= now < self.ends_at:
            return False
        if self.user != user or self.target != target:
            return False
        return not self.rules or set(rules) <= set(self.rules)

    def with_changes(self, **changes: Any) -> Grant:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Grant:
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        for key in ("rules", "unmask_columns", "unmask_entities"):
            fields[key] = tuple(fields.get(key, ()))
        return cls(**fields)


@dataclass(frozen=True)
class Authorization:
    """What lets a flagged execution run: a consumed approval or an active grant."""

    approval_id: str | None
    grant_id: str | None
    basis: str | None
    justification: str | None
    approvers: tuple[str, ...] = field(default=())
    unmask_columns: tuple[str, ...] = ()
    unmask_entities: tuple[str, ...] = ()


def _decision(data: dict[str, Any]) -> Decision:
    return Decision(
        approver=data["approver"],
        at=float(data["at"]),
        basis=data["basis"],
        justification=data["justification"],
        unmask_columns=tuple(data.get("unmask_columns", ())),
        unmask_entities=tuple(data.get("unmask_entities", ())),
    )


def _agreed(choices: Any) -> tuple[str, ...]:
    """Unmask only what every approver agreed to."""
    sets = [set(c) for c in choices]
    if not sets:
        return ()
    return tuple(sorted(set.intersection(*sets)))
