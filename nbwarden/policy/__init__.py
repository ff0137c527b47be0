"""Guardrails: judge SQL and shell cells before they run (allow, flag or block).

Usable without Jupyter::

    engine = PolicyEngine()                      # the default rule pack
    verdict = engine.check_sql("DELETE FROM t", dialect="postgres")
    verdict.action, verdict.rules, verdict.reasons
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nbwarden._lazy import lazy_exports

if TYPE_CHECKING:
    from nbwarden.policy.engine import PolicyEngine
    from nbwarden.policy.errors import PolicyError
    from nbwarden.policy.verdict import Verdict

__getattr__ = lazy_exports(
    __name__,
    {
        "PolicyEngine": "nbwarden.policy.engine",
        "PolicyError": "nbwarden.policy.errors",
        "Verdict": "nbwarden.policy.verdict",
    },
)

__all__ = ["PolicyEngine", "PolicyError", "Verdict"]
