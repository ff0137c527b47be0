"""Approval requests, time-boxed grants and unmasking: the state machine (no Jupyter)."""

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
