"""Plain data shapes the store accepts and returns."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol, runtime_checkable

ExecutionKind = Literal["sql", "shell", "python"]
EXECUTION_KINDS = frozenset({"sql", "shell", "python"})
END_STATUSES = frozenset(
    {"ok", "error", "blocked", "rejected", "withheld", "cancelled", "pending", "incomplete"}
)
"""Statuses an execution can end with; ``started`` means no end was recorded (yet)."""


DSAR_MAX_IDENTIFIERS = 20
"""The identifiers of one subject access request: a person's addresses, numbers, names and
IDs. Each name is looked up in 2,585 forms (older records hold names with titles), so an
unbounded request could hold the store's reader for minutes."""


class ProvenanceError(Exception):
    """The store cannot record or read; callers must fail closed."""


class SubjectLike(Protocol):
    """What the masker reports per data subject seen (``nbwarden.masking.SubjectRef``)."""

    @property
    def entity_type(self) -> str: ...

    @property
    def identifier(self) -> str: ...

    @property
    def column(self) -> str | None: ...


@runtime_checkable
class GroupedSubjects(Protocol):
    """Subjects grouped by entity type and column, as the masker collects them
    (``nbwarden.masking.Subjects``): the store reads the groups instead of one object per
    subject, which matters for the thousands of subjects of a large result."""

    def groups(self) -> Mapping[tuple[str, str | None], Iterable[str]]:
        """(entity type, column) -> its identifiers, each once."""
        ...


@dataclass(frozen=True)
class Subject:
    """A data subject seen in a result: the identifier is already normalised."""

    entity_type: str
    identifier: str
    column: str | None = None


@dataclass(frozen=True)
class ExecutionStart:
    user: str
    kind: ExecutionKind
    target: str
    code_masked: str
    code_hash: str
    roles: Sequence[str] = ()
    kernel_id: str | None = None
    session_id: str | None = None
    notebook: str | None = None
    cell_id: str | None = None
    execution_count: int | None = None
    purpose: str | None = None
    legal_basis: str | None = None
    statement_types: Sequence[str] = ()
    tables_read: Sequence[str] = ()
    tables_written: Sequence[str] = ()
    columns_read: Sequence[str] = ()
    columns_written: Sequence[str] = ()
    verdict: str | None = None
    rule_ids: Sequence[str] = ()
    approval_id: str | None = None
    started_at: datetime | None = None


@dataclass(frozen=True)
class ExecutionEnd:
    """How an execution ended.

    ``source_columns`` maps a result column to the ``table.column`` it came from, so the
    subject index can name the source. A subject counts as shown (not masked) when its
    column is in ``unmasked_columns`` or its type in ``unmasked_entities``.
    ``error`` must already be masked by the caller.
    """

    status: str
    rows: int | None = None
    entity_counts: Mapping[str, int] = field(default_factory=dict)
    subjects: Sequence[SubjectLike] = ()
    source_columns: Mapping[str, str] = field(default_factory=dict)
    unmasked_columns: Sequence[str] = ()
    unmasked_entities: Sequence[str] = ()
    error: str | None = None
    ended_at: datetime | None = None


@dataclass(frozen=True)
class ApprovalEvent:
    """One state change of an approval request or a grant; ``details`` holds no raw data."""

    approval_id: str
    kind: Literal["request", "grant"]
    state: str
    actor: str
    time: datetime | None = None
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class VerifyReport:
    ok: bool
    checked: int
    first_bad: str | None = None
    problem: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checked": self.checked,
            "first_bad": self.first_bad,
            "problem": self.problem,
        }


def utc_naive(moment: datetime | None) -> datetime:
    """UTC wall time without tzinfo, the form every timestamp column holds."""
    if moment is None:
        return datetime.now(UTC).replace(tzinfo=None)
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)
