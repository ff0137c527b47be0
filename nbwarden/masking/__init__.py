"""Masking of personal data in query results and text (Presidio, regex with checksums, NER).

See docs/masking.md. No Jupyter here: the gateway, the CLI and tests use it directly.
"""

from nbwarden.masking.engine import Masker
from nbwarden.masking.errors import MaskingError
from nbwarden.masking.results import MaskResult, SubjectRef, TextMaskResult

__all__ = ["MaskResult", "Masker", "MaskingError", "SubjectRef", "TextMaskResult"]
