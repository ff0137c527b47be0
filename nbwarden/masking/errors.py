"""The masking package's one error type."""

from __future__ import annotations


class MaskingError(Exception):
    """Masking failed: the result must be withheld. The message never holds a raw value."""
