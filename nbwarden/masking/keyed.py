"""Values named by their key in text: ``?name=Jane+Roe&phone=%2B44...`` in a logged URL,
``first_name=Jane;last_name=Roe`` in a column, ``name="Jane Roe"`` in a log line,
``<name>Jane Roe</name>`` in an XML payload, ``sn: Roe`` on a line of its own (LDIF,
YAML, a form, a header).

A key that would name a column of an entity (``column_hints``) names the value after its
``=`` as that entity, as a JSON key names its value. No pattern finds ``Jane+Roe``, and a
phone number written ``%2B44...`` passes none, so without their keys such values stayed
readable. A value must also read as its entity could: a name is words of letters (``+``
and ``%20`` read as spaces), not ``NULL``, ``excluded.name`` or ``lower(name)``; any other
entity holds digits, not ``NULL`` or ``$1``, so the SQL of a cell keeps its structure. A
login name counts quoted (``user="jsmith"``) or in an element, not bare, where code names
variables (``connect(user=username)``).
"""

from __future__ import annotations

import re

from nbwarden.identifiers import PERSON, USER_NAME, url_decoded
from nbwarden.masking.columns import hinted_entity
from nbwarden.masking.profile import Profile
from nbwarden.masking.scanner import Span

KEYED_SCORE = 0.85
_PAIR = re.compile(
    r"(?<![\w.\-])(?P<key>[A-Za-z][\w.\-]{0,63})="
    r"(?:\"(?P<quoted>[^\"\n]*)\"|'(?P<single>[^'\n]*)'"
    r"|(?P<bare>[^\s&;,|\"'<>=]+(?: [A-ZÀ-ÖØ-Þ][^\s&;,|\"'<>=]*)*))"
)
"""``key=value``: quoted, or bare up to a separator; a bare value goes on over a space
only into a capitalised word (``name=Jane Roe;city=...``, but ``name=Jane email=...``)."""
_ELEMENT = re.compile(
    r"<(?P<key>[A-Za-z][\w.\-]{0,63})(?:\s[^<>]*)?>(?P<value>[^<>]+)</(?P=key)\s*>"
)
"""An XML element holding only text: its tag is the key."""
_LINE = re.compile(
    r"^[ \t]*(?P<key>[A-Za-z][\w.\-]*(?: [A-Za-z][\w.\-]*){0,3})[ \t]*:[ \t]*"
    r"(?P<value>[^\s:][^\n]*?)[ \t]*$",
    re.MULTILINE,
)
"""``key: value`` as a line: up to four words of key, the rest of the line its value.
Read for names only, where the whole rest must read as one (``Name: see ticket`` stays);
an ID or a date after its key is left to its patterns, whose checksums and context words
read ``SSN: 123-45-6789`` and leave ``New address: Storgatan 12. Thanks!`` its thanks."""
_NAME = re.compile(r"[^\W\d_][^\W\d_'\-]*\.?(?: [^\W\d_][^\W\d_'\-]*\.?){0,5}")
"""One to six words of letters, each perhaps an initial with its dot."""
_LOGIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]{0,31}")
"""What a host takes for a login name; an e-mail address under ``user`` is left to its
pattern, which records it as the address it is."""
_NO_NAMES = frozenset({"none", "null", "nil", "true", "false", "undefined", "nan", "default"})
"""Values of code and configuration (``name=None``), not names."""
_VALUE_GROUPS = ("quoted", "single", "bare")


def keyed_spans(profile: Profile, text: str) -> list[Span]:
    """The values in ``text`` whose key names an entity, as spans of that entity."""
    spans: list[Span] = []
    if "=" in text:
        for match in _PAIR.finditer(text):
            group = next(name for name in _VALUE_GROUPS if match[name] is not None)
            entity = hinted_entity(profile, match["key"])
            if group == "bare" and entity == USER_NAME:
                continue  # code: connect(user=username)
            spans += _keyed(entity, text, *match.span(group))
    if "</" in text:
        for match in _ELEMENT.finditer(text):
            spans += _keyed(hinted_entity(profile, match["key"]), text, *match.span("value"))
    if ":" in text:
        for match in _LINE.finditer(text):
            entity = hinted_entity(profile, match["key"])
            if entity == PERSON:
                spans += _keyed(entity, text, *match.span("value"))
    return spans


def _keyed(entity: str | None, text: str, start: int, end: int) -> list[Span]:
    if entity is None or start == end or not _reads_as(entity, text[start:end]):
        return []
    return [Span(start, end, entity, KEYED_SCORE)]


def _reads_as(entity: str, value: str) -> bool:
    decoded = url_decoded(entity, value).strip()
    if entity == PERSON:
        return _reads_as_a_name(decoded, encoded=decoded != value)
    if entity == USER_NAME:
        return _LOGIN_NAME.fullmatch(decoded) is not None
    return sum(character.isdigit() for character in decoded) >= 2


def _reads_as_a_name(value: str, encoded: bool) -> bool:
    """Words of letters, mostly capitalised, or several of them as a URL joins them
    (``jane+roe``): not ``name=value`` in a docstring, ``NULL`` or ``None``."""
    if not _NAME.fullmatch(value) or value.isupper() or value.casefold() in _NO_NAMES:
        return False
    words = value.split()
    capitalised = sum(word[0].isupper() for word in words)
    return capitalised >= 0.6 * len(words) or (encoded and len(words) > 1)
