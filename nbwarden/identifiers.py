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


def normalize_name(value: str) -> str:
    """Case-, accent- and spacing-insensitive form of a person's name, given name first."""
    decomposed = unicodedata.normalize("NFKD", given_name_first(value))
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _SPACES.sub(" ", stripped).strip().casefold()


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
