"""Approval requests, time-boxed grants and unmasking: the state machine (no Jupyter)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nbwarden._lazy import lazy_exports

if TYPE_CHECKING:
    from nbwarden.approvals.journal import ProvenanceJournal
    from nbwarden.approvals.models import (
        LEGAL_BASES,
        ApprovalRequest,
        Authorization,
        Decision,
        Grant,
        binding_hash,
        sha256_hex,
    )
    from nbwarden.approvals.notify import Notifier, send_webhook, webhook_body
    from nbwarden.approvals.service import (
        ApprovalError,
        ApprovalJournal,
        ApprovalService,
        ApprovalSettings,
        ApproverRule,
    )

__getattr__ = lazy_exports(
    __name__,
    {
        "ProvenanceJournal": "nbwarden.approvals.journal",
        "LEGAL_BASES": "nbwarden.approvals.models",
        "ApprovalRequest": "nbwarden.approvals.models",
        "Authorization": "nbwarden.approvals.models",
        "Decision": "nbwarden.approvals.models",
        "Grant": "nbwarden.approvals.models",
        "binding_hash": "nbwarden.approvals.models",
        "sha256_hex": "nbwarden.approvals.models",
        "Notifier": "nbwarden.approvals.notify",
        "send_webhook": "nbwarden.approvals.notify",
        "webhook_body": "nbwarden.approvals.notify",
        "ApprovalError": "nbwarden.approvals.service",
        "ApprovalJournal": "nbwarden.approvals.service",
        "ApprovalService": "nbwarden.approvals.service",
        "ApprovalSettings": "nbwarden.approvals.service",
        "ApproverRule": "nbwarden.approvals.service",
    },
)

__all__ = [
    "LEGAL_BASES",
    "ApprovalError",
    "ApprovalJournal",
    "ApprovalRequest",
    "ApprovalService",
    "ApprovalSettings",
    "ApproverRule",
    "Authorization",
    "Decision",
    "Grant",
    "Notifier",
    "ProvenanceJournal",
    "binding_hash",
    "send_webhook",
    "sha256_hex",
    "webhook_body",
]
