r"""HL7 version 2 messages, as hospitals' interface engines store and log them
(``MSH|^~\&|...``, then ``PID|1||12345^^^HOSP^MR||ROE^JANE||19800101|F|...``): the fields
that hold a person's data, by segment and position, masked as their entity; everything
else stays as written, byte for byte.

A message declares its separators in its MSH segment: the field separator after ``MSH``,
then the component, repetition, escape and subcomponent characters. Segments end with a
carriage return, or with a line break where a message was logged or copied. Which field
holds what is HL7's standard (the positions below are the same in versions 2.3 to 2.8);
the profile's ``hl7`` section names them (:class:`Hl7Fields`).

A parser such as hl7apy reads a message into objects and writes it out again in its own
form; masking needs the opposite: the message as written, with a few fields replaced. So
fields are found by splitting on the message's own separators, which is all ER7 is.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from nbwarden.identifiers import PERSON
from nbwarden.masking.profile import Hl7Fields

_MESSAGE_START = re.compile(r"\s*MSH([^\w\s])[^\w\s]{3,5}\1")
"""``MSH``, the field separator, the encoding characters (``^~\\&``, a fifth since v2.7)."""
_SEGMENT_END = re.compile(r"(\r\n|\r|\n)")
_SEGMENT_NAME = re.compile(r"[A-Z][A-Z0-9]{2}")


@dataclass(frozen=True)
class Hl7Value:
    """What a field is and the text to mask: a name's words in reading order."""

    entity: str
    text: str


Mask = Callable[[Hl7Value], str | None]
"""The replacement of a value (None: shown as it is)."""
MaskText = Callable[[str], str]


def is_message(text: str) -> bool:
    """Whether ``text`` starts with an MSH segment."""
    return _MESSAGE_START.match(text) is not None


def mask_messages(text: str, fields: Hl7Fields, mask: Mask, mask_text: MaskText) -> str:
    """``text`` (one or more messages) with the fields ``fields`` names masked: each value
    by ``mask``, free-text fields by ``mask_text``. Segments before the first MSH, and any
    line that is no segment, go to ``mask_text`` whole."""
    separators = _Separators.default()
    parts = _SEGMENT_END.split(text)
    for index in range(0, len(parts), 2):
        segment = parts[index]
        if segment.startswith("MSH") and len(segment) > 8:
            separators = _Separators.of(segment)
        parts[index] = _mask_segment(segment, separators, fields, mask, mask_text)
    return "".join(parts)


@dataclass(frozen=True)
class _Separators:
    field: str
    component: str
    repetition: str

    @classmethod
    def default(cls) -> _Separators:
        return cls("|", "^", "~")

    @classmethod
    def of(cls, msh: str) -> _Separators:
        return cls(msh[3], msh[4], msh[5])


def _mask_segment(
    segment: str, separators: _Separators, fields: Hl7Fields, mask: Mask, mask_text: MaskText
) -> str:
    name = segment[:3]
    if not _SEGMENT_NAME.fullmatch(name) or segment[3:4] != separators.field:
        return mask_text(segment) if segment.strip() else segment
    values = segment.split(separators.field)
    first = 2 if name == "MSH" else 1  # MSH-1 is the field separator itself
    for index in range(1, len(values)):
        field = f"{name}.{index - 1 + first}"
        values[index] = _mask_field(field, values[index], separators, fields, mask, mask_text)
    return separators.field.join(values)


def _mask_field(
    field: str,
    value: str,
    separators: _Separators,
    fields: Hl7Fields,
    mask: Mask,
    mask_text: MaskText,
) -> str:
    if not value or value == '""':
        return value
    if field in fields.free_text:
        return mask_text(value)
    repetitions = value.split(separators.repetition)
    if field in fields.names or field in fields.staff_names:
        staff = field in fields.staff_names
        masked = [_mask_name(r, separators.component, staff, mask) for r in repetitions]
        return separators.repetition.join(masked)
    entity = fields.entities.get(field)
    if entity is None:
        return value
    masked = [_mask_value(entity, r, separators.component, mask) for r in repetitions]
    return separators.repetition.join(masked)


def _mask_name(value: str, component: str, staff: bool, mask: Mask) -> str:
    """A name as ``given middle family`` (how a request names the person), its prefix
    and suffix left out as the name normaliser leaves them out. A staff member's id goes
    behind the placeholder with the name."""
    parts = value.split(component)[1:] if staff else value.split(component)
    family, given, middle = [*parts, "", "", ""][:3]
    words = " ".join(word for word in (given, middle, family) if word.strip())
    return _masked_or(value, mask(Hl7Value(PERSON, words))) if words else value


def _mask_value(entity: str, value: str, component: str, mask: Mask) -> str:
    """An address, phone number, date or identifier, whole; what identifies it is its
    first component (an identifier's, a phone number's: ``+44 20 7946 0958^PRN^PH``, else
    its country, area and local number), or, for an address, all of them."""
    if not value.strip(component + " "):
        return value
    parts = value.split(component)
    if entity == "STREET_ADDRESS":
        text = ", ".join(part for part in parts if part.strip())
    elif entity == "PHONE_NUMBER" and not parts[0].strip():
        text = " ".join(part for part in parts[4:7] if part.strip()) or value
    else:
        text = parts[0] if parts[0].strip() else value
    if entity == "DATE_OF_BIRTH":
        text = text[:8]
    return _masked_or(value, mask(Hl7Value(entity, text)))


def _masked_or(value: str, replacement: str | None) -> str:
    return value if replacement is None else replacement
