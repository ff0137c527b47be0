"""Tamper-evident, pseudonymised provenance: who ran what, on whose data, and why.

Usable without Jupyter. See docs/provenance.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nbwarden._lazy import lazy_exports

if TYPE_CHECKING:
    from nbwarden.provenance.models import (
        ApprovalEvent,
        ExecutionEnd,
        ExecutionStart,
        ProvenanceError,
        Subject,
        SubjectLike,
        VerifyReport,
    )
    from nbwarden.provenance.store import ProvenanceStore

__getattr__ = lazy_exports(
    __name__,
    {
        "ApprovalEvent": "nbwarden.provenance.models",
        "ExecutionEnd": "nbwarden.provenance.models",
        "ExecutionStart": "nbwarden.provenance.models",
        "ProvenanceError": "nbwarden.provenance.models",
        "Subject": "nbwarden.provenance.models",
        "SubjectLike": "nbwarden.provenance.models",
        "VerifyReport": "nbwarden.provenance.models",
        "ProvenanceStore": "nbwarden.provenance.store",
    },
)

__all__ = [
    "ApprovalEvent",
    "ExecutionEnd",
    "ExecutionStart",
    "ProvenanceError",
    "ProvenanceStore",
    "Subject",
    "SubjectLike",
    "VerifyReport",
]
