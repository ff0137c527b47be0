"""What the engine decides about one cell, and the lineage the audit record needs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from nbwarden.policy.lineage import ResultLineage
from nbwarden.policy.rulepack import Action

MERGED = (
    "rules",
    "statement_types",
    "tables_read",
    "tables_written",
    "columns_read",
    "computed_from",
)
"""The findings a nested analysis (SQL in a shell command) adds to its parent's."""


@dataclass
class Findings:
    """Rule ids a detector reported plus the lineage it saw, in first-seen order."""

    rules: dict[str, None] = field(default_factory=dict)
    statement_types: dict[str, None] = field(default_factory=dict)
    tables_read: dict[str, None] = field(default_factory=dict)
    tables_written: dict[str, None] = field(default_factory=dict)
    columns_read: dict[str, None] = field(default_factory=dict)
    result_lineage: ResultLineage | None = None
    """Where the result's columns come from: the cell's last statement's."""
    computed_from: dict[str, None] = field(default_factory=dict)
    """``table.column`` values that a result column of any statement judged (nested SQL
    included) shows changed, e.g. ``reverse(email)``."""

    def hit(self, rule_id: str) -> None:
        self.rules[rule_id] = None

    def merge(self, other: Findings) -> None:
        for name in MERGED:
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
    result_lineage: ResultLineage | None = None

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
