"""Tamper-evident, pseudonymised provenance: who ran what, on whose data, and why.

Usable without Jupyter. See docs/provenance.md.
"""

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
