"""Checksum and format validators that recognizers name in a masking profile.

Each validator takes the matched text and says whether it is a real identifier.
The checks come from python-stdnum, which implements the official algorithms.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Sequence
from functools import lru_cache

from stdnum import iban, luhn
from stdnum.at import vnr
from stdnum.be import nn
from stdnum.de import idnr
from stdnum.dk import cpr
from stdnum.es import dni, nie
from stdnum.fi import hetu
from stdnum.fr import nir
from stdnum.gb import nhs
from stdnum.ie import pps
from stdnum.it import codicefiscale
from stdnum.nl import bsn
from stdnum.pl import pesel
from stdnum.pt import nif
from stdnum.se import personnummer
from stdnum.us import ssn

from nbwarden.identifiers import phone_e164

Validator = Callable[[str], bool]

_NINO = re.compile(r"^[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]\d{6}[A-D]$")
_NINO_BAD_PREFIXES = frozenset({"BG", "GB", "NK", "KN", "TN", "NT", "ZZ"})
_CARD_DIGITS = re.compile(r"^\d{13,19}$")
_MAESTRO_DIGITS = re.compile(r"^\d{12,19}$")
_NOISE = re.compile(r"[\s\-./]")


def _compact(value: str) -> str:
    return _NOISE.sub("", value).upper()


def is_uk_nino(value: str) -> bool:
    """UK National Insurance number: format and HMRC's prefix rules (no checksum exists)."""
    compact = _compact(value)
    return bool(_NINO.match(compact)) and compact[:2] not in _NINO_BAD_PREFIXES


def is_card_number(value: str) -> bool:
    compact = _compact(value)
    return bool(_CARD_DIGITS.match(compact)) and luhn.is_valid(compact)


def is_maestro_number(value: str) -> bool:
    """Maestro's numbers run from 12 digits; the other schemes' from 13."""
    compact = _compact(value)
    return bool(_MAESTRO_DIGITS.match(compact)) and luhn.is_valid(compact)


def is_ip_address(value: str) -> bool:
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        return False
    return not (address.is_unspecified or (address.version == 6 and value.count(":") < 2))


_CALENDAR_DATE = re.compile(r"\s*\d{1,2}([./-])\d{1,2}\1(?:19|20)\d{2}\s*")
"""``08/10/1965``, ``08.10.1965``: a German number may be written ``089/1234567``, but a
day, a month and a year of this century or the last are a date."""


def phone_validator(regions: Sequence[str]) -> Validator:
    """A validator accepting international numbers, or national ones of ``regions``; no
    calendar date (``_CALENDAR_DATE``)."""
    region_tuple = tuple(regions)

    def is_phone(value: str) -> bool:
        if _CALENDAR_DATE.fullmatch(value):
            return False
        return phone_e164(value, region_tuple) is not None

    return is_phone


def _pt_nif(value: str) -> bool:
    return nif.is_valid(_compact(value).removeprefix("PT"))


STATIC_VALIDATORS: dict[str, Validator] = {
    "luhn": is_card_number,
    "luhn_maestro": is_maestro_number,
    "iban": iban.is_valid,
    "ip": is_ip_address,
    "us_ssn": ssn.is_valid,
    "uk_nino": is_uk_nino,
    "uk_nhs": nhs.is_valid,
    "fr_nir": nir.is_valid,
    "es_dni": dni.is_valid,
    "es_nie": nie.is_valid,
    "it_fiscal_code": codicefiscale.is_valid,
    "nl_bsn": bsn.is_valid,
    "pl_pesel": pesel.is_valid,
    "se_personnummer": personnummer.is_valid,
    "fi_hetu": hetu.is_valid,
    "de_tax_id": idnr.is_valid,
    "be_national_number": nn.is_valid,
    "dk_cpr": cpr.is_valid,
    "pt_nif": _pt_nif,
    "ie_ppsn": pps.is_valid,
    "at_svnr": vnr.is_valid,
}

VALIDATOR_NAMES = (*STATIC_VALIDATORS, "phone")


def get_validator(name: str, phone_regions: Sequence[str]) -> Validator:
    """The validator called ``name``; raises KeyError for an unknown name."""
    if name == "phone":
        return phone_validator(phone_regions)
    check = STATIC_VALIDATORS[name]
    return lru_cache(maxsize=65536)(_safe(check))


def _safe(check: Validator) -> Validator:
    def validate(value: str) -> bool:
        try:
            return bool(check(value))
        except Exception:  # stdnum raises on some malformed input instead of returning False
            return False

    return validate
