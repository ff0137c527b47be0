"""What the engine decides about one cell, and the lineage the audit record needs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from nbwarden.policy.rulepack import Action


@dataclass
class Findings:
    """Rule ids a detector reported plus the lineage it saw, in first-seen order."""

    rules: dict[str, None] = field(default_factory=dict)
    statement_types: dict[str, None] = field(default_factory=dict)
    tables_read: dict[str, None] = field(default_factory=dict)
    tables_written: dict[str, None] = field(default_factory=dict)
    columns_read: dict[str, None] = field(default_factory=dict)

    def hit(self, rule_id: str) -> None:
        self.rules[rule_id] = None

    def merge(self, other: Findings) -> None:
        for name in ("rules", "statement_types", "tables_read", "tables_written", "columns_read"):
            getattr(self, name).update(getattr(other, name))


@dataclass(frozen=True)
class Verdict:
    action: Action
    rules: list[str]
    reasons: list[str]
    kind: str
    dialect: str | None
    statement_types: list[str] = field(default_factory=list)
    tables_read: list[str] = field(default_factory=list)
    tables_written: list[str] = field(default_factory=list)
    columns_read: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "dialect": self.dialect,
            "action": self.action,
            "rules": list(self.rules),
            "reasons": list(self.reasons),
            "statement_types": list(self.statement_types),
            "tables_read": list(self.tables_read),
            "tables_written": list(self.tables_written),
            "columns_read": list(self.columns_read),
        }
