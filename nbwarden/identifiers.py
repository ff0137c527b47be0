"""Normalised forms of personal identifiers.

The masker reports the identifiers it saw in normalised form, and the DSAR query
normalises what the auditor types the same way, so both sides meet on one HMAC.
"""

from __future__ import annotations

import re
import unicodedata

import phonenumbers

EMAIL = "EMAIL_ADDRESS"
PHONE = "PHONE_NUMBER"
PERSON = "PERSON"

_SPACES = re.compile(r"\s+")
_NAME_PART = re.compile(r"[^\W\d_][^,.\d]*")
_ID_NOISE = re.compile(r"[\s\-./]")


_AT_SIGN = re.compile(r"(?:(?<!\s)\s+)?(?:[(\[{]\s*at\s*[)\]}]|@|%40)\s*")
_DOT = re.compile(r"(?:(?<!\s)\s+)?[(\[{]\s*dot\s*[)\]}]\s*")
"""Spaces before the sign are taken from where their run starts (the lookbehind), so a
long run is read once, not from each of its positions."""


def normalize_email(value: str) -> str:
    """Lower case, with the at sign and dots as written to dodge harvesters or by URLs
    (``jane (at) example (dot) org``, ``jane @ example.org``, ``jane%40example.org``)
    turned back into an address."""
    return _AT_SIGN.sub("@", _DOT.sub(".", value.strip().lower()))


def normalize_phone(value: str, default_region: str = "US") -> str:
    """E.164 where the number parses, else digits with a leading ``+`` kept."""
    text = value.strip()
    try:
        parsed = phonenumbers.parse(text, None if text.startswith("+") else default_region)
        if phonenumbers.is_possible_number(parsed):
            return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    except phonenumbers.NumberParseException:
        pass
    digits = re.sub(r"\D", "", text)
    return ("+" if text.startswith("+") else "") + digits


def given_name_first(name: str) -> str:
    """``Stone, Bob`` as ``Bob Stone``: a name is one subject (and one pseudonym) however
    a register orders it, DSAR is asked for it given name first, and NER knows it so."""
    surname, comma, given = name.partition(",")
    surname, given = surname.strip(), given.strip()
    if comma and _NAME_PART.fullmatch(surname) and _NAME_PART.fullmatch(given):
        return f"{given} {surname}"
    return name


NAME_TITLES = frozenset(
    {"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "dame", "rev"}
    | {"herr", "frau", "fru", "hr", "dhr", "mevr", "mme", "mlle", "dott", "sig", "sigra"}
    | {"sra", "srta"}
)
"""Titles before a name, written with or without their dot (``Dr.``, ``Mrs``): English,
then those of the other locales the masker is measured on."""
NAME_SUFFIXES = frozenset(["jr", "sr", "ii", "iii", "iv", "md", "phd", "dds", "dmd", "dvm", "esq"])
"""Generational suffixes and post-nominal letters after a name (``Jr.``, ``M.D.``).

Neither list is part of the profile: they fix the form every subject HMAC and pseudonym of
a name is computed from, and a change would part new records from old ones. ``Mba`` and
``Ba`` are family names, so ``MBA`` and ``BA`` are not in the list."""


def normalize_name(value: str) -> str:
    """Case-, accent- and spacing-insensitive form of a person's name, given name first,
    without titles and suffixes: ``Dr. Gary Thompson Jr.`` is the subject a request for Gary
    Thompson asks about, as the same name in free text is (NER's span leaves them out)."""
    decomposed = unicodedata.normalize("NFKD", value)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    folded = _SPACES.sub(" ", stripped).strip().casefold()
    return given_name_first(_without_titles_and_suffixes(folded))


def _without_titles_and_suffixes(name: str) -> str:
    """Each comma-separated part of ``name`` (``thompson jr., dr. gary``) without its
    leading titles and trailing suffixes; ``name`` itself if nothing else is left."""
    parts = []
    for part in name.split(","):
        words = part.split()
        while words and _bare(words[0]) in NAME_TITLES:
            words.pop(0)
        while words and _bare(words[-1]) in NAME_SUFFIXES:
            words.pop()
        if words:
            parts.append(" ".join(words))
    return ", ".join(parts) if parts else name


def _bare(word: str) -> str:
    return word.replace(".", "")


def name_forms_with_titles(normalised: str) -> list[str]:
    """What the name normaliser made of ``normalised`` written with a title or a suffix,
    before it left them out (until 2026-12-07): the subject index of older records holds
    those forms, and a subject access request looks them up as well."""
    titles = [""] + [f"{title}{dot} " for title in sorted(NAME_TITLES) for dot in ("", ".")]
    written = [f"{suffix}{dot}" for suffix in sorted(NAME_SUFFIXES) for dot in ("", ".")]
    written += ["m.d.", "ph.d.", "d.d.s.", "d.m.d.", "d.v.m."]
    suffixes = [""] + [f"{separator}{suffix}" for separator in (" ", ", ") for suffix in written]
    forms = [f"{title}{normalised}{suffix}" for title in titles for suffix in suffixes]
    return [form for form in forms if form != normalised]


def normalize_id(value: str) -> str:
    return _ID_NOISE.sub("", value).upper()


def normalize_identifier(entity_type: str, value: str) -> str:
    """The one normaliser for every entity type the subject index holds."""
    if entity_type == EMAIL:
        return normalize_email(value)
    if entity_type == PHONE:
        return normalize_phone(value)
    if entity_type == PERSON:
        return normalize_name(value)
    return normalize_id(value)
