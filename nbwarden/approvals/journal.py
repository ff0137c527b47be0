"""The approval journal kept in the provenance chain.

Each state change is one ``ApprovalEvent`` whose ``details`` hold the full snapshot of
the request or grant after the change (masked code, hashes, ids, user names; never a
raw value), so replaying the events in order rebuilds the state exactly.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Protocol

from nbwarden.provenance.models import ApprovalEvent


class ApprovalStore(Protocol):
    def record_approval(self, event: ApprovalEvent) -> Any: ...

    def approval_events(self) -> Iterable[Any]: ...


class ProvenanceJournal:
    def __init__(self, store: ApprovalStore) -> None:
        self.store = store

    def record(self, kind: str, action: str, actor: str, snapshot: dict[str, Any]) -> None:
        self.store.record_approval(
            ApprovalEvent(
                approval_id=str(snapshot["id"]),
                kind="grant" if kind == "grant" else "request",
                state=str(snapshot["state"]),
                actor=actor,
                details={"action": action, "snapshot": snapshot},
            )
        )

    def replay(self) -> Iterator[tuple[str, dict[str, Any]]]:
        for event in self.store.approval_events():
            details = _field(event, "details") or {}
            snapshot = details.get("snapshot")
            if isinstance(snapshot, dict):
                yield str(_field(event, "kind")), snapshot


def _field(event: Any, name: str) -> Any:
    return event.get(name) if isinstance(event, dict) else getattr(event, name, None)
