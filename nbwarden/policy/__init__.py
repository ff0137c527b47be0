"""Guardrails: judge SQL and shell cells before they run (allow, flag or block).

Usable without Jupyter::

    engine = PolicyEngine()                      # the default rule pack
    verdict = engine.check_sql("DELETE FROM t", dialect="postgres")
    verdict.action, verdict.rules, verdict.reasons
"""

from nbwarden.policy.engine import PolicyEngine
from nbwarden.policy.errors import PolicyError
from nbwarden.policy.verdict import Verdict

__all__ = ["PolicyEngine", "PolicyError", "Verdict"]
