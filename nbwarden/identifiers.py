"""Normalised forms of personal identifiers.

The masker reports the identifiers it saw in normalised form, and the DSAR query
normalises what the auditor types the same way, so both sides meet on one HMAC.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache
from urllib.parse import unquote, unquote_plus

import phonenumbers

EMAIL = "EMAIL_ADDRESS"
PHONE = "PHONE_NUMBER"
PERSON = "PERSON"
SWEDISH_PERSONAL_NUMBER = "SE_PERSONNUMMER"
MAC_ADDRESS = "MAC_ADDRESS"
IP_ADDRESS = "IP_ADDRESS"
USER_NAME = "USER_NAME"

_SPACES = re.compile(r"\s+")
_NAME_PART = re.compile(r"[^\W\d_][^,.\d]*")
_ID_NOISE = re.compile(r"[\s\-./]")
_NOT_HEX = re.compile(r"[^0-9A-Fa-f]")
"""A hardware address is its twelve hex digits, written ``3c:22:...``, ``3C-22-...`` or
``3c22.fb7a.910e``."""
_MIN_PHONE_DIGITS = 8
_LEADING_ZERO_REGIONS = frozenset({"IT", "SM", "VA"})
"""Plans where a leading 0 is part of the number, not a trunk prefix."""


_AT_SIGN = re.compile(r"(?:(?<!\s)\s+)?(?:[(\[{]\s*at\s*[)\]}]|@|%40)\s*")
_DOT = re.compile(r"(?:(?<!\s)\s+)?[(\[{]\s*dot\s*[)\]}]\s*")
"""Spaces before the sign are taken from where their run starts (the lookbehind), so a
long run is read once, not from each of its positions."""


def normalize_email(value: str) -> str:
    """:func:`email_as_written` without a subaddress (``jane+shop@example.org`` is the
    mailbox ``jane@example.org``): a person who signed up with a tag asks for their data
    by their address."""
    address = email_as_written(value)
    local, at, domain = address.rpartition("@")
    mailbox = local.partition("+")[0]
    if not at or not mailbox or local.startswith('"'):
        return address
    return f"{mailbox}@{domain}"


def email_as_written(value: str) -> str:
    """Lower case, with the at sign and dots as written to dodge harvesters or by URLs
    (``jane (at) example (dot) org``, ``jane @ example.org``, ``jane%40example.org``)
    turned back into an address: the e-mail normaliser until 2026-12-07, whose forms older
    records hold."""
    return _AT_SIGN.sub("@", _DOT.sub(".", value.strip().lower()))


def normalize_phone(value: str, regions: Sequence[str] = ("US",)) -> str:
    """E.164 where the number is one (:func:`phone_e164`), else digits with a leading ``+``
    kept. ``regions``: the masking profile's ``phone_regions``, so that a subject access
    request for ``020 7946 0958`` meets the number the masker read in a British result."""
    e164 = phone_e164(value, tuple(regions))
    if e164 is not None:
        return e164
    text = value.strip()
    return ("+" if text.startswith("+") else "") + re.sub(r"\D", "", text)


def phone_forms(value: str, regions: Sequence[str]) -> list[str]:
    """The forms a subject index may hold the number ``value`` under: its own, and, for a
    number given with its country code, the one the masker gives it written nationally.
    A result's ``01 23 45 67 89`` is read in the first of ``regions`` where it is valid,
    which may not be the country the person lives in (Ireland's before France's)."""
    forms = [normalize_phone(value, regions)]
    e164 = phone_e164(value, ())
    number = _parse(e164, None) if e164 else None
    if number is not None:
        national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
        forms.append(normalize_phone(national, regions))
    return list(dict.fromkeys(forms))


@lru_cache(maxsize=262144)
def phone_e164(value: str, regions: tuple[str, ...]) -> str | None:
    """The number in E.164 form if it is a phone number, else None.

    Numbers in international form need only be possible (the right length for their
    country). National ones are taken in the first of ``regions`` where they are valid,
    else the first where they are possible: fictional and newly allocated ranges are
    still someone's number, and masking errs on the side of hiding.
    """
    text = value.strip()
    if sum(ch.isdigit() for ch in text) < _MIN_PHONE_DIGITS:
        return None
    if text.startswith("00"):
        text = "+" + text[2:]
    if text.startswith("+"):
        number = _parse(text, None)
        return _e164(number) if number and phonenumbers.is_possible_number(number) else None
    possible: list[phonenumbers.PhoneNumber] = []
    for region in _regions_for(text.lstrip("(").startswith("0"), regions):
        number = _parse(text, region)
        if number is None:
            continue
        if phonenumbers.is_valid_number_for_region(number, region):
            return _e164(number)
        possible.append(number)
    for number in possible:
        if phonenumbers.is_possible_number(number):
            return _e164(number)
    return None


def _parse(text: str, region: str | None) -> phonenumbers.PhoneNumber | None:
    try:
        return phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None


def _e164(number: phonenumbers.PhoneNumber) -> str:
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@lru_cache(maxsize=64)
def _regions_for(trunk_zero: bool, regions: tuple[str, ...]) -> tuple[str, ...]:
    """Regions whose national numbers can start the way this one does: a leading 0 is the
    trunk prefix of most European plans, and never starts a number in the others."""

    def zero_prefix(region: str) -> bool:
        metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
        return metadata is not None and metadata.national_prefix == "0"

    return tuple(r for r in regions if zero_prefix(r) == trunk_zero or r in _LEADING_ZERO_REGIONS)


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


_TITLES = ("", *(f"{title}{dot} " for title in sorted(NAME_TITLES) for dot in ("", ".")))
_WRITTEN_SUFFIXES = (
    *(f"{suffix}{dot}" for suffix in sorted(NAME_SUFFIXES) for dot in ("", ".")),
    *("m.d.", "ph.d.", "d.d.s.", "d.m.d.", "d.v.m."),
)
_SUFFIXES = ("", *(f"{sep}{suffix}" for sep in (" ", ", ") for suffix in _WRITTEN_SUFFIXES))
"""How older records wrote a title before a name and a suffix after it, once folded."""


def name_forms_with_titles(normalised: str) -> list[str]:
    """What the name normaliser made of ``normalised`` written with a title or a suffix,
    before it left them out (until 2026-12-07): the subject index of older records holds
    those forms, and a subject access request looks them up as well."""
    forms = [f"{title}{normalised}{suffix}" for title in _TITLES for suffix in _SUFFIXES]
    return [form for form in forms if form != normalised]


def normalize_id(value: str) -> str:
    return _ID_NOISE.sub("", value).upper()


def normalize_ip_address(value: str) -> str:
    """An address as ``ipaddress`` writes it (IPv6 compressed, in lower case). Its dots
    and colons are part of it: without them ``203.0.113.9`` and ``20.30.1.139`` were one
    subject."""
    text = value.strip()
    try:
        return ipaddress.ip_address(text).compressed
    except ValueError:
        return text.lower()


def normalize_swedish_personal_number(value: str) -> str:
    """The ten digits of a personnummer: ``19880320-0016`` (as Skatteverket writes it),
    ``880320-0016`` and ``880320+0016`` (the sign of a person over 100) name one person."""
    digits = re.sub(r"\D", "", value)
    return digits[-10:] if len(digits) in (10, 12) else normalize_id(value)


def swedish_personal_number_forms(normalised: str) -> list[str]:
    """The ten digits with a century, as older records hold a personnummer written so, for
    a subject access request."""
    return [f"19{normalised}", f"20{normalised}"] if len(normalised) == 10 else []


def url_decoded(entity_type: str, value: str) -> str:
    """``value`` with its percent escapes decoded, and in a name ``+`` read as a space: the
    masker finds names and numbers in logged URLs (``?name=Jane+Roe&phone=%2B44...``), and
    they are the subjects ``Jane Roe`` and ``+44...``."""
    if entity_type == PERSON and "+" in value:
        return unquote_plus(value)
    return unquote(value) if "%" in value else value


def normalize_identifier(
    entity_type: str, value: str, phone_regions: Sequence[str] = ("US",)
) -> str:
    """The one normaliser for every entity type the subject index holds."""
    value = url_decoded(entity_type, value)
    if entity_type == EMAIL:
        return normalize_email(value)
    if entity_type == PHONE:
        return normalize_phone(value, phone_regions)
    if entity_type == PERSON:
        return normalize_name(value)
    if entity_type == SWEDISH_PERSONAL_NUMBER:
        return normalize_swedish_personal_number(value)
    if entity_type == MAC_ADDRESS:
        return _NOT_HEX.sub("", value).upper()
    if entity_type == IP_ADDRESS:
        return normalize_ip_address(value)
    if entity_type == USER_NAME:
        return value.strip().casefold()  # jsmith and j.smith are two accounts
    return normalize_id(value)
