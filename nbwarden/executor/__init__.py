"""The governed executor: policy, approval, execution, masking and provenance for one request."""

from nbwarden.executor.gateway import Gateway
from nbwarden.executor.models import (
    MAX_CODE_BYTES,
    ExecuteRequest,
    ExecutionError,
    Identity,
    Outcome,
)

__all__ = ["MAX_CODE_BYTES", "ExecuteRequest", "ExecutionError", "Gateway", "Identity", "Outcome"]
