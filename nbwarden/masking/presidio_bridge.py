"""The profile's recognizers as Presidio ``PatternRecognizer`` objects.

They let a plain Presidio ``AnalyzerEngine`` use the same YAML profile (for instance
in a notebook, or to compare engines); the masker's own fast path reads the same
specs directly.
"""

from __future__ import annotations

from presidio_analyzer import Pattern, PatternRecognizer

from nbwarden.masking.profile import RecognizerSpec


class ChecksumPatternRecognizer(PatternRecognizer):  # type: ignore[misc]
    """A pattern recognizer whose matches must pass the profile's checksum validator."""

    def __init__(self, spec: RecognizerSpec, language: str) -> None:
        self._spec = spec
        super().__init__(
            supported_entity=spec.entity,
            name=spec.name,
            supported_language=language,
            patterns=[Pattern(p.name, p.regex, p.score) for p in spec.patterns],
            context=list(spec.context),
        )

    def validate_result(self, pattern_text: str) -> bool | None:
        if self._spec.validator is None:
            return None
        return self._spec.validator(pattern_text)


def to_presidio(spec: RecognizerSpec, language: str) -> ChecksumPatternRecognizer:
    return ChecksumPatternRecognizer(spec, language)
