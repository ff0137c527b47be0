"""What the masker returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import pyarrow as pa


class SubjectRef(NamedTuple):
    """A data subject's identifier seen in a result, normalised for the subject index."""

    entity_type: str
    identifier: str
    column: str | None


@dataclass
class MaskResult:
    table: pa.Table
    entity_counts: dict[str, int] = field(default_factory=dict)
    column_findings: dict[str, dict[str, int]] = field(default_factory=dict)
    subjects: list[SubjectRef] = field(default_factory=list)
    masked_cells: dict[str, list[int]] = field(default_factory=dict)


@dataclass
class TextMaskResult:
    text: str
    entity_counts: dict[str, int] = field(default_factory=dict)
    subjects: list[SubjectRef] = field(default_factory=list)
