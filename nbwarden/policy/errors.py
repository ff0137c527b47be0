"""The one error type of the policy package."""

from __future__ import annotations


class PolicyError(Exception):
    """The policy engine itself failed (bad rule file, unknown dialect).

    Bad user SQL or shell code is never an exception: it is a verdict.
    """
