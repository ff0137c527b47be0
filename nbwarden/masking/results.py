"""What the masker returns."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, overload

import pyarrow as pa


class SubjectRef(NamedTuple):
    """A data subject's identifier seen in a result, normalised for the subject index."""

    entity_type: str
    identifier: str
    column: str | None


class Subjects(Sequence[SubjectRef]):
    """The data subjects seen in a result, grouped by entity type and column, each in the
    order first seen. Reads as a sequence of :class:`SubjectRef`; the provenance store
    reads :meth:`groups` instead, so a large result costs no object per subject.

    ``excluded``: entity types never recorded (the profile's ``not_subjects``: a postcode
    describes many people)."""

    def __init__(self, excluded: frozenset[str] = frozenset()) -> None:
        self._groups: dict[tuple[str, str | None], dict[str, None]] = {}
        self._excluded = excluded

    def add(self, entity_type: str, identifier: str, column: str | None) -> None:
        if entity_type not in self._excluded:
            self._groups.setdefault((entity_type, column), {})[identifier] = None

    def add_all(self, entity_type: str, column: str | None, identifiers: Iterable[str]) -> None:
        self.add_distinct(entity_type, column, dict.fromkeys(identifiers))

    def add_distinct(
        self, entity_type: str, column: str | None, identifiers: dict[str, None]
    ) -> None:
        """Add identifiers that are already distinct, as the keys of a dict the caller
        hands over: a group seen first here keeps that dict, so it costs no copy."""
        if entity_type in self._excluded:
            return
        group = self._groups.setdefault((entity_type, column), identifiers)
        if group is not identifiers:
            group.update(identifiers)

    def groups(self) -> dict[tuple[str, str | None], dict[str, None]]:
        """(entity type, column) -> the identifiers, as the keys of a dict."""
        return self._groups

    def __iter__(self) -> Iterator[SubjectRef]:
        for (entity_type, column), identifiers in self._groups.items():
            for identifier in identifiers:
                yield SubjectRef(entity_type, identifier, column)

    def __len__(self) -> int:
        return sum(map(len, self._groups.values()))

    @overload
    def __getitem__(self, index: int) -> SubjectRef: ...

    @overload
    def __getitem__(self, index: slice) -> list[SubjectRef]: ...

    def __getitem__(self, index: int | slice) -> SubjectRef | list[SubjectRef]:
        return list(self)[index]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and list(self) == list(other)

    def __repr__(self) -> str:
        return f"Subjects({len(self)} in {len(self._groups)} groups)"


@dataclass
class MaskResult:
    table: pa.Table
    entity_counts: dict[str, int] = field(default_factory=dict)
    column_findings: dict[str, dict[str, int]] = field(default_factory=dict)
    subjects: Subjects = field(default_factory=Subjects)
    masked_cells: dict[str, list[int]] = field(default_factory=dict)
    """Per column, the rows whose cell was masked, ascending."""


@dataclass
class TextMaskResult:
    text: str
    entity_counts: dict[str, int] = field(default_factory=dict)
    subjects: list[SubjectRef] = field(default_factory=list)
