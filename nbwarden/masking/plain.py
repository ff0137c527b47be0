"""What detection reads: look-alike characters folded, invisible ones dropped.

A fullwidth at sign (U+FF20), digits from another script, a no-break space or a
zero-width space inside an address let personal data slip past patterns written for
ASCII. Detection therefore reads each text in NFKC form without format characters
(Unicode category Cf: zero-width spaces and joiners, soft hyphens, direction marks). The
spans it finds map back to the original text, so a masked value replaces exactly the
characters it covered and the rest of the text is left as it was.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

_INVISIBLE = re.compile(
    "[\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff]"
)
"""The format characters seen in the wild; a text holding none that is already in NFKC
form needs no folding (the check runs in C, unlike the per-character pass)."""


@dataclass(frozen=True)
class PlainText:
    """A text as detection reads it, and where each of its characters came from."""

    text: str
    origins: tuple[int, ...]
    """Index in the original text of each character of ``text``."""

    def original_bounds(self, start: int, end: int) -> tuple[int, int]:
        """The original characters behind ``text[start:end]``."""
        return self.origins[start], self.origins[end - 1] + 1


def plain_text(text: str) -> PlainText | None:
    """``text`` as detection reads it; None when that is ``text`` itself."""
    if text.isascii() or (unicodedata.is_normalized("NFKC", text) and not _INVISIBLE.search(text)):
        return None
    characters: list[str] = []
    origins: list[int] = []
    for index, character in enumerate(text):
        if unicodedata.category(character) == "Cf":
            continue
        for piece in unicodedata.normalize("NFKC", character):
            characters.append(piece)
            origins.append(index)
    return PlainText("".join(characters), tuple(origins))


def plain_texts(texts: Sequence[str | None]) -> tuple[list[str | None], dict[int, PlainText]]:
    """The texts as detection reads them, and by position those that differ."""
    plain = {i: p for i, text in enumerate(texts) if text is not None and (p := plain_text(text))}
    if not plain:
        return list(texts), plain
    return [plain[i].text if i in plain else text for i, text in enumerate(texts)], plain
