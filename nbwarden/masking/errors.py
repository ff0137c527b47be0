"""The masking package's one error type."""

from __future__ import annotations


class MaskingError(Exception):
    """Masking failed: the result must be withheld. The message never holds a raw value."""


STOPPED = "masking was stopped: the result is withheld"
"""The message of the :class:`MaskingError` a caller's ``stop`` causes."""
