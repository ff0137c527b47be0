"""Operators turn a detected value into what the analyst sees."""

from __future__ import annotations

import hmac
from collections.abc import Callable

from nbwarden.identifiers import normalize_identifier
from nbwarden.masking.profile import OperatorSpec, Profile

PSEUDONYM_HEX_CHARS = 12


def pseudonym(key: bytes, entity: str, normalised: str) -> str:
    """Deterministic keyed token: the same normalised value always gives the same token.

    Unlike a salted hash, equal values stay equal across results, so joins and
    GROUP BY keep working, and without the key the token cannot be reversed or guessed.
    """
    digest = hmac.digest(key, f"{entity}\x1f{normalised}".encode(), "sha256").hex()
    return f"{entity}_{digest[:PSEUDONYM_HEX_CHARS]}"


def partial(value: str, spec: OperatorSpec) -> str:
    """Mask every letter and digit except the first and last few; keep separators."""
    positions = [i for i, ch in enumerate(value) if ch.isalnum()]
    keep = set(positions[: spec.keep_first])
    if spec.keep_last:
        keep.update(positions[-spec.keep_last :])
    chars = list(value)
    for position in positions:
        if position not in keep:
            chars[position] = spec.mask_char
    return "".join(chars)


class Operators:
    def __init__(
        self,
        profile: Profile,
        pseudonym_key: bytes,
        normalise: Callable[[str, str], str] = normalize_identifier,
    ) -> None:
        self._profile = profile
        self._key = pseudonym_key
        self._normalise = normalise

    def apply(self, entity: str, value: str, derived: bool = False) -> str:
        """The replacement of ``value``. ``derived``: a value computed from the entity's
        values (a fragment, a letter's code, reversed) gets the placeholder, unless the
        entity is kept or redacted. A partial mask of a fragment shows what it keeps of
        the fragment (an IBAN two characters at a time); a pseudonym is the same for
        equal values, so an analyst who mixes known text into the same computation
        (``substr('x' || email, 1, 1)``) would learn each letter's token and decode the
        rest."""
        spec = self._profile.operator_for(entity)
        if spec.type == "keep":
            return value
        if spec.type == "redact":
            return ""
        if spec.type == "pseudonym" and not derived:
            return pseudonym(self._key, entity, self._normalise(entity, value))
        if spec.type == "partial" and not derived:
            return partial(value, spec)
        return f"<{entity}>"
