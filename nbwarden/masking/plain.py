"""What detection reads: look-alike characters folded, invisible ones dropped.

A fullwidth at sign (U+FF20), digits from another script, a no-break space or a
zero-width space inside an address let personal data slip past patterns written for
ASCII. Detection therefore reads each text in NFKC form without format characters
(Unicode category Cf: zero-width spaces and joiners, soft hyphens, direction marks). NFKC
leaves letters of other scripts alone, so a Cyrillic o (U+043E) inside an address still
hid it (``bob.st\u043ene@example.org``): in a word that also holds ASCII letters, digits or an
at sign, Cyrillic and Greek letters that look like Latin ones are read as those
(``LATIN_LOOKALIKES``).
The spans detection finds map back to the original text, so a masked value replaces
exactly the characters it covered and the rest of the text is left as it was.
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

LATIN_LOOKALIKES = {
    "\N{CYRILLIC CAPITAL LETTER A}": "A",
    "\N{CYRILLIC CAPITAL LETTER VE}": "B",
    "\N{CYRILLIC CAPITAL LETTER IE}": "E",
    "\N{CYRILLIC CAPITAL LETTER DZE}": "S",
    "\N{CYRILLIC CAPITAL LETTER BYELORUSSIAN-UKRAINIAN I}": "I",
    "\N{CYRILLIC CAPITAL LETTER JE}": "J",
    "\N{CYRILLIC CAPITAL LETTER KA}": "K",
    "\N{CYRILLIC CAPITAL LETTER EM}": "M",
    "\N{CYRILLIC CAPITAL LETTER EN}": "H",
    "\N{CYRILLIC CAPITAL LETTER O}": "O",
    "\N{CYRILLIC CAPITAL LETTER ER}": "P",
    "\N{CYRILLIC CAPITAL LETTER ES}": "C",
    "\N{CYRILLIC CAPITAL LETTER TE}": "T",
    "\N{CYRILLIC CAPITAL LETTER U}": "Y",
    "\N{CYRILLIC CAPITAL LETTER HA}": "X",
    "\N{CYRILLIC CAPITAL LETTER STRAIGHT U}": "Y",
    "\N{CYRILLIC CAPITAL LETTER KOMI SJE}": "G",
    "\N{CYRILLIC CAPITAL LETTER WE}": "W",
    "\N{CYRILLIC LETTER PALOCHKA}": "I",
    "\N{CYRILLIC SMALL LETTER A}": "a",
    "\N{CYRILLIC SMALL LETTER IE}": "e",
    "\N{CYRILLIC SMALL LETTER O}": "o",
    "\N{CYRILLIC SMALL LETTER ER}": "p",
    "\N{CYRILLIC SMALL LETTER ES}": "c",
    "\N{CYRILLIC SMALL LETTER U}": "y",
    "\N{CYRILLIC SMALL LETTER HA}": "x",
    "\N{CYRILLIC SMALL LETTER DZE}": "s",
    "\N{CYRILLIC SMALL LETTER BYELORUSSIAN-UKRAINIAN I}": "i",
    "\N{CYRILLIC SMALL LETTER JE}": "j",
    "\N{CYRILLIC SMALL LETTER SHHA}": "h",
    "\N{CYRILLIC SMALL LETTER KOMI DE}": "d",
    "\N{CYRILLIC SMALL LETTER QA}": "q",
    "\N{CYRILLIC SMALL LETTER WE}": "w",
    "\N{CYRILLIC SMALL LETTER STRAIGHT U}": "y",
    "\N{CYRILLIC SMALL LETTER PALOCHKA}": "l",
    "\N{GREEK CAPITAL LETTER ALPHA}": "A",
    "\N{GREEK CAPITAL LETTER BETA}": "B",
    "\N{GREEK CAPITAL LETTER EPSILON}": "E",
    "\N{GREEK CAPITAL LETTER ZETA}": "Z",
    "\N{GREEK CAPITAL LETTER ETA}": "H",
    "\N{GREEK CAPITAL LETTER IOTA}": "I",
    "\N{GREEK CAPITAL LETTER KAPPA}": "K",
    "\N{GREEK CAPITAL LETTER MU}": "M",
    "\N{GREEK CAPITAL LETTER NU}": "N",
    "\N{GREEK CAPITAL LETTER OMICRON}": "O",
    "\N{GREEK CAPITAL LETTER RHO}": "P",
    "\N{GREEK CAPITAL LETTER TAU}": "T",
    "\N{GREEK CAPITAL LETTER UPSILON}": "Y",
    "\N{GREEK CAPITAL LETTER CHI}": "X",
    "\N{GREEK SMALL LETTER ALPHA}": "a",
    "\N{GREEK SMALL LETTER IOTA}": "i",
    "\N{GREEK SMALL LETTER NU}": "v",
    "\N{GREEK SMALL LETTER OMICRON}": "o",
    "\N{GREEK SMALL LETTER RHO}": "p",
    "\N{GREEK SMALL LETTER UPSILON}": "u",
}
"""Cyrillic and Greek letters that look like a Latin letter or are drawn the same, each
with that letter: the letter-to-letter pairs of Unicode's confusables data (UTS #39, as
the ``confusable-homoglyphs`` package ships it) for these two scripts, with capital iotas
read as ``I`` rather than the data's ``l``. A small table instead of that package: only
letters an address, an identifier or a Latin name can be spelled with matter here, and
they are read as such only in a word that mixes them with ASCII (``_fold_lookalikes``),
so Greek or Russian text and its names are read as written."""

_LOOKALIKE_TABLE = str.maketrans(LATIN_LOOKALIKES)
_LOOKALIKE = re.compile("[" + "".join(LATIN_LOOKALIKES) + "]")
_WORD = re.compile(r"\S+")
_ASCII_WORD_PART = re.compile("[A-Za-z0-9@]")


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
    if text.isascii():
        return None
    if unicodedata.is_normalized("NFKC", text) and not _INVISIBLE.search(text):
        read = _fold_lookalikes(text)
        return None if read == text else PlainText(read, tuple(range(len(text))))
    characters: list[str] = []
    origins: list[int] = []
    for index, character in enumerate(text):
        if unicodedata.category(character) == "Cf":
            continue
        for piece in unicodedata.normalize("NFKC", character):
            characters.append(piece)
            origins.append(index)
    return PlainText(_fold_lookalikes("".join(characters)), tuple(origins))


def _fold_lookalikes(text: str) -> str:
    """``text`` with the look-alike letters of its mixed-script words read as Latin; the
    same length, so the origins of its characters do not change."""
    if not _LOOKALIKE.search(text):
        return text
    return _WORD.sub(_fold_word, text)


def _fold_word(match: re.Match[str]) -> str:
    word = match.group()
    if _ASCII_WORD_PART.search(word) and _LOOKALIKE.search(word):
        return word.translate(_LOOKALIKE_TABLE)
    return word


def plain_texts(texts: Sequence[str | None]) -> tuple[list[str | None], dict[int, PlainText]]:
    """The texts as detection reads them, and by position those that differ."""
    plain = {i: p for i, text in enumerate(texts) if text is not None and (p := plain_text(text))}
    if not plain:
        return list(texts), plain
    return [plain[i].text if i in plain else text for i, text in enumerate(texts)], plain
