"""Masking of personal data in query results and text (Presidio, regex with checksums, NER).

See docs/masking.md. No Jupyter here: the gateway, the CLI and tests use it directly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nbwarden._lazy import lazy_exports

if TYPE_CHECKING:
    from nbwarden.masking.columns import ColumnOrigin
    from nbwarden.masking.engine import Masker
    from nbwarden.masking.errors import MaskingError
    from nbwarden.masking.results import MaskResult, SubjectRef, Subjects, TextMaskResult

__getattr__ = lazy_exports(
    __name__,
    {
        "ColumnOrigin": "nbwarden.masking.columns",
        "Masker": "nbwarden.masking.engine",
        "MaskingError": "nbwarden.masking.errors",
        "MaskResult": "nbwarden.masking.results",
        "SubjectRef": "nbwarden.masking.results",
        "Subjects": "nbwarden.masking.results",
        "TextMaskResult": "nbwarden.masking.results",
    },
)

__all__ = [
    "ColumnOrigin",
    "MaskResult",
    "Masker",
    "MaskingError",
    "SubjectRef",
    "Subjects",
    "TextMaskResult",
]
