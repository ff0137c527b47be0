"""Person names found through lists of given and family names.

spaCy's small English model misses many names in support tickets and notes, above all
European ones inside a clause (``I (Sofia Kuijpers, born ...)``, ``My partner Franz-Xaver
Henck``): it tags them as nothing, an ORG or part of a LAW. A capitalised given name from
the lists, followed by capitalised words one of which looks like a surname, is a much
steadier sign. A word looks like a surname when it is a listed family name, or when it is
no English word at all (``Kuijpers``): so surnames missing from the lists are still found,
and product or place names built on a given name (``Georgia Kettle``, ``Paris Mirror``,
``Victoria Station``) are not taken for people.

The lists (``masking_models/names/``, named by the profile's ``ner.name_lists``) are built
from Faker's providers by ``python -m benchmarks.masking.faker_names``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from typing import Any

from nbwarden.identifiers import PERSON
from nbwarden.masking.profile import NameLists
from nbwarden.masking.scanner import Span

NAME_WORD = re.compile(r"[^\W\d_]+(?:(?:-|['\u2019](?=[A-ZÀ-ÖØ-Þ]))[^\W\d_]+)*")
"""A word of a name: letters, joined by hyphens or by an apostrophe before a capital
(``O'Hora``; ``Smith's`` splits)."""

LISTED_NAME_SCORE = 0.85
FOREIGN_PAIR_SCORE = 0.6
MAX_NAME_WORDS = 4
"""Words a name may have after its given name (``Maria del Carmen Ruiz``)."""
_BETWEEN_WORDS = frozenset({" ", "\u00a0"})
_INITIALS = r"(?:[A-Z]\.(?:[ -]?[A-Z]\.)?)"
_SURNAME = r"[^\W\d_]{2,}(?:-[^\W\d_]+)?"
_INITIALLED = (
    re.compile(rf"(?<![\w.]){_INITIALS} (?P<surname>{_SURNAME})\b"),
    re.compile(rf"\b(?P<surname>{_SURNAME}),? {_INITIALS}(?!\w)"),
)
_ENDINGS = ("s", "es", "ed", "d", "ing")
"""Inflections taken off a word to find it among English words (``Called``, ``Boots``)."""


class ListedNames:
    """PERSON spans that start with a listed given name (one small recognizer).

    Words are compared case-folded, so a text in capitals reads as one in mixed case.
    """

    def __init__(self, lists: NameLists, particles: Iterable[str], english: frozenset[str]) -> None:
        self._given = _folded(lists.given)
        self._family = _folded(lists.family - lists.not_surnames)
        self._particles = _folded(particles)
        self._places = _folded(lists.places)
        self._english = english

    def holds_name(self, text: str) -> bool:
        """Whether a word of ``text`` is a listed given or family name."""
        return any(
            word in self._given or word in self._family
            for word in (match[0].casefold() for match in NAME_WORD.finditer(text))
        )

    def is_full_name(self, text: str) -> bool:
        """A whole value that is a listed given name, perhaps particles, and a listed
        family name, in any case (``david smith``): a cell of a name column, where free
        text would also need one of the two to be no English word."""
        words = [word.casefold() for word in text.split()]
        if not 2 <= len(words) <= MAX_NAME_WORDS + 1:
            return False
        middle = words[1:-1]
        return (
            words[0] in self._given
            and words[-1] in self._family
            and all(word in self._particles or word in self._given for word in middle)
        )

    def spans(self, text: str) -> list[Span]:
        words = list(NAME_WORD.finditer(text))
        found: list[Span] = []
        index = 0
        while index < len(words):
            word = words[index][0]
            if self.is_given_name(word):
                end = self._name_end(text, words, index)
            elif word.islower():
                end = self._lower_case_name_end(text, words, index)
            else:
                end = None
            if end is None:
                index += 1
                continue
            found.append(Span(words[index].start(), words[end].end(), PERSON, LISTED_NAME_SCORE))
            index = end + 1
        return found + self._initialled(text) + self._foreign_pairs(text, words, found)

    def _foreign_pairs(
        self, text: str, words: list[re.Match[str]], found: list[Span]
    ) -> list[Span]:
        """Two capitalised words that are no English words, inside a sentence (``spoke to
        Sirpa Kärkkäinen``): a name the lists lack, more often than not. Measured on names
        of locales left out of the lists: 17% readable before, 9% after, for 3 more in
        100 notes about places and firms changed (``Banca Privada``, ``Marina Di``)."""
        pairs = []
        for index in range(1, len(words) - 1):
            first, second = words[index], words[index + 1]
            if not _adjacent(text, words, index) or not words[index - 1][0].islower():
                continue
            if any(mark in text[words[index - 1].end() : first.start()] for mark in ".!?:\n"):
                continue
            if not (_foreign(first[0], self._is_english) and _foreign(second[0], self._is_english)):
                continue
            if self._is_place([first[0].casefold(), second[0].casefold()]):
                continue
            if not any(span.start <= first.start() < span.end for span in found):
                pairs.append(Span(first.start(), second.end(), PERSON, FOREIGN_PAIR_SCORE))
        return pairs

    def _lower_case_name_end(self, text: str, words: list[re.Match[str]], start: int) -> int | None:
        """A name typed in lower case (``hi this is anna nowak``, ``anna NOWAK``, ``louis de
        backer``): a listed given name, then a listed family name, one of the two no
        English word (``kenneth richards``, not ``rose wood``); or a listed given name, a
        particle and a surname. WordNet, the English words, holds many names (``sarah``,
        ``anderson``), hence "one of the two" (docs/masking.md has the trade-off)."""
        given = words[start][0].casefold()
        if given not in self._given or given in self._particles:
            return None
        end = start + 1
        while end < len(words) - 1 and words[end][0] in self._particles:
            if not _adjacent(text, words, end - 1):
                return None
            end += 1
        if end >= len(words) or not _adjacent(text, words, end - 1):
            return None
        surname = words[end][0].casefold()
        if end > start + 1:
            return end if self._looks_like_surname(surname) else None
        if surname in self._family and not (self._is_english(surname) and self._is_english(given)):
            return end
        return None

    def _initialled(self, text: str) -> list[Span]:
        """A surname beside initials (``K. Wiśniewska``, ``J.-P. Dupont``, ``Kowalczyk A.``)
        when it is no English word: so not ``Plan B. Then`` nor ``Option B. Green``."""
        return [
            Span(match.start(), match.end(), PERSON, LISTED_NAME_SCORE)
            for pattern in _INITIALLED
            for match in pattern.finditer(text)
            if _capitalised(match["surname"]) and not self._is_english(match["surname"].casefold())
        ]

    def is_given_name(self, word: str) -> bool:
        """A capitalised given name (``Jean-Pierre`` by its first part)."""
        folded = word.casefold()
        return _capitalised(word) and (
            folded in self._given or folded.split("-", 1)[0] in self._given
        )

    def _name_end(self, text: str, words: list[re.Match[str]], start: int) -> int | None:
        """The index of the last word of the name starting at ``start``, if the capitalised
        words that follow it hold a surname (or follow a particle: ``Marleen de Wit``)."""
        last = None
        surname = particle = capital_particle = False
        for index in range(start + 1, min(len(words), start + 1 + MAX_NAME_WORDS)):
            if not _adjacent(text, words, index - 1):
                break
            word = words[index][0]
            folded = word.casefold()
            if folded in self._particles:
                particle = True
                capital_particle = _capitalised(word)
                continue
            if not _capitalised(word) or (self.is_thing(folded) and not capital_particle):
                break  # after Le, De or Van an English word is a surname: Dominique Le Gall
            capital_particle = False
            last = index
            surname = surname or particle or self._looks_like_surname(folded)
        return last if surname else None

    def refutes(self, name: str) -> bool:
        """Whether a PERSON span NER guessed from capitals alone is a thing named after a
        person or place (``Georgia Bag``, ``Victoria Rug``): several words, none a name
        particle, the last an English word that is no listed name, the first an English
        word too or no listed given name (``Tymoteusz Domino`` stays a person); or a listed
        town without a given name in it (``Güssing``; ``Florence`` stays a person)."""
        words = [word.casefold() for word in NAME_WORD.findall(name) if len(word) > 1]
        if self._is_place(words):
            return True
        if len(words) < 2 or any(word in self._particles for word in words):
            return False
        first, last = words[0], words[-1]
        return self.is_thing(last) and (self._is_english(first) or first not in self._given)

    def _is_place(self, folded_words: list[str]) -> bool:
        if any(word in self._given for word in folded_words):
            return False
        return " ".join(folded_words) in self._places

    def is_thing(self, folded: str) -> bool:
        """An English word that is no listed name (``kettle``, ``called``)."""
        listed = folded in self._family or folded in self._given
        return not listed and self._is_english(folded)

    def is_no_name_before(self, folded: str) -> bool:
        """A word no list holds that can stand before a name: an English word, or one in
        Greek or Cyrillic letters, for which there is no word list (``Клиентът`` in
        ``Клиентът Георги Иванов``, the client)."""
        listed = folded in self._family or folded in self._given
        return not listed and (self._is_english(folded) or not _in_latin_letters(folded))

    def _looks_like_surname(self, folded: str) -> bool:
        return folded in self._family or not self._is_english(folded)

    def _is_english(self, folded: str) -> bool:
        if folded in self._english:
            return True
        return any(
            folded.endswith(ending) and folded[: -len(ending)] in self._english
            for ending in _ENDINGS
        )


def _in_latin_letters(word: str) -> bool:
    return all(ord(ch) < 0x250 for ch in word)


def _adjacent(text: str, words: list[re.Match[str]], index: int) -> bool:
    """Whether word ``index`` and the next are one space apart."""
    return text[words[index].end() : words[index + 1].start()] in _BETWEEN_WORDS


def _folded(words: Iterable[str]) -> frozenset[str]:
    """The words case-folded; a Greek word also without its accents, since Greek drops
    them in capitals, in which records often hold names."""
    folded = {word.casefold() for word in words}
    return frozenset(folded | {_without_accents(word) for word in folded if _is_greek(word)})


def _is_greek(word: str) -> bool:
    return any("\u0370" <= ch <= "\u03ff" or "\u1f00" <= ch <= "\u1fff" for ch in word)


def _without_accents(word: str) -> str:
    decomposed = unicodedata.normalize("NFD", word)
    return unicodedata.normalize(
        "NFC", "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    )


def _foreign(word: str, is_english: Callable[[str], bool]) -> bool:
    """Capitalised (not in capitals) and no English word."""
    return word[0].isupper() and not word.isupper() and not is_english(word.casefold())


def _capitalised(word: str) -> bool:
    """Capitalised, or written in capitals (names in a text wholly in capitals)."""
    return word[0].isupper() and len(word) > 1


def english_words(nlp: Any) -> frozenset[str]:
    """The words of the spaCy pipeline's lemmatizer index (WordNet's nouns, verbs,
    adjectives and adverbs), or none if the pipeline has no such lemmatizer."""
    try:
        index = nlp.get_pipe("lemmatizer").lookups.get_table("lemma_index")
    except (KeyError, AttributeError):
        return frozenset()
    return frozenset(word for words in index.values() for word in words)
