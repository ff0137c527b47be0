"""The governed executor: policy, approval, execution, masking and provenance for one request."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nbwarden._lazy import lazy_exports

if TYPE_CHECKING:
    from nbwarden.executor.gateway import Gateway
    from nbwarden.executor.models import (
        MAX_CODE_BYTES,
        ExecuteRequest,
        ExecutionError,
        Identity,
        Outcome,
    )

__getattr__ = lazy_exports(
    __name__,
    {
        "Gateway": "nbwarden.executor.gateway",
        "MAX_CODE_BYTES": "nbwarden.executor.models",
        "ExecuteRequest": "nbwarden.executor.models",
        "ExecutionError": "nbwarden.executor.models",
        "Identity": "nbwarden.executor.models",
        "Outcome": "nbwarden.executor.models",
    },
)

__all__ = ["MAX_CODE_BYTES", "ExecuteRequest", "ExecutionError", "Gateway", "Identity", "Outcome"]
