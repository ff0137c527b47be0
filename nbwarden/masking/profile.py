"""Masking profiles: the YAML files under ``masking_models/``.

A profile names recognizers (regexes with scores, context words, deny lists and a
checksum validator), the operator applied to each entity type, thresholds and
column-name hints. It is the single source of truth for every pattern: the fast
column path, the free-text path and :meth:`Profile.presidio_recognizers` all use it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from nbwarden.masking.errors import MaskingError
from nbwarden.masking.validators import VALIDATOR_NAMES, Validator, get_validator

OPERATOR_TYPES = ("placeholder", "partial", "redact", "pseudonym", "keep")


@dataclass(frozen=True)
class PatternSpec:
    name: str
    regex: str
    score: float
    compiled: re.Pattern[str]


@dataclass(frozen=True)
class RecognizerSpec:
    name: str
    entity: str
    patterns: tuple[PatternSpec, ...]
    context: tuple[str, ...] = ()
    deny_list: tuple[str, ...] = ()
    validator_name: str | None = None
    validator: Validator | None = None
    generic_id_context: bool = False
    """Whether a generic word for a personal ID (``ID``, ``Ausweis``) counts as context."""
    suffix: re.Pattern[str] | None = None
    """What a match grows over when it directly follows (an address's postcode and town)."""


@dataclass(frozen=True)
class GenericIdContext:
    """Words naming a personal ID without saying which kind (``ID 78035842610``): context
    only when they stand right before the value, and not after a word naming a business
    reference (``Order ID``), so an order number passing a checksum stays readable."""

    words: tuple[str, ...]
    before_value: re.Pattern[str]
    not_after: frozenset[str]


@dataclass(frozen=True)
class OperatorSpec:
    type: str
    keep_first: int = 0
    keep_last: int = 0
    mask_char: str = "*"


@dataclass(frozen=True)
class Thresholds:
    min_score: float = 0.5
    context_boost: float = 0.35
    context_window: int = 40
    column_sample: int = 200
    column_share: float = 0.6
    ner_column_share: float = 0.7
    free_text_min_words: int = 4


@dataclass(frozen=True)
class NameLists:
    """Given and family names (``nbwarden.masking.name_lists``)."""

    given: frozenset[str] = frozenset()
    family: frozenset[str] = frozenset()
    not_surnames: frozenset[str] = frozenset()
    """Family names far more often the second word of a place or firm (``Station``)."""
    places: frozenset[str] = frozenset()
    """Towns and cities, which NER takes for people (``Güssing``)."""


@dataclass(frozen=True)
class StatisticsColumns:
    """A result of column statistics (DuckDB's ``SUMMARIZE``, PostgreSQL's ``pg_stats``)
    has one row per column: ``keys`` name the column that says which (``column_name``),
    ``values`` the columns that hold that column's values (``min``, ``histogram_bounds``)."""

    keys: frozenset[str] = frozenset()
    values: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Hl7Fields:
    """Where a person's data is in an HL7 v2 message (``nbwarden.masking.hl7``): ``SEGMENT.N``
    field positions (``PID.5``)."""

    names: frozenset[str] = frozenset()
    """Person names, ``family^given^middle^suffix^prefix`` (HL7's XPN)."""
    staff_names: frozenset[str] = frozenset()
    """Staff, ``id^family^given^middle...`` (XCN): attending doctor, ordering provider."""
    entities: dict[str, str] = field(default_factory=dict)
    """Other fields and the entity each holds (``PID.7``: ``DATE_OF_BIRTH``)."""
    free_text: frozenset[str] = frozenset()
    """Fields of text (``NTE.3``, ``OBX.5``), masked as free text."""


@dataclass(frozen=True, eq=False)
class Profile:
    name: str
    recognizers: tuple[RecognizerSpec, ...]
    operators: dict[str, OperatorSpec]
    column_hints: dict[str, tuple[re.Pattern[str], ...]]
    free_text_hints: tuple[re.Pattern[str], ...]
    thresholds: Thresholds
    ner_entities: dict[str, str] = field(default_factory=dict)
    common_capitalised: frozenset[str] = frozenset()
    name_particles: frozenset[str] = frozenset()
    salutations: frozenset[str] = frozenset()
    name_suffixes: frozenset[str] = frozenset()
    """Words after a name that are no part of it (``Jr``, ``MD``): a PERSON span ends before
    them, so the subject is the name a subject access request asks for."""
    name_lists: NameLists = NameLists()
    generic_id_context: GenericIdContext | None = None
    not_subjects: frozenset[str] = frozenset()
    """Entity types that describe many people (a postcode): never recorded as subjects."""
    phone_regions: tuple[str, ...] = ()
    language: str = "en"
    statistics: StatisticsColumns = StatisticsColumns()
    hl7: Hl7Fields = Hl7Fields()

    def operator_for(self, entity: str) -> OperatorSpec:
        return self.operators.get(entity) or self.operators["default"]

    def presidio_recognizers(self) -> list[Any]:
        """The profile's recognizers as Presidio ``PatternRecognizer`` objects."""
        from nbwarden.masking.presidio_bridge import to_presidio

        return [to_presidio(spec, self.language) for spec in self.recognizers]


def profiles_dirs() -> list[Path]:
    package_dir = Path(__file__).resolve().parent
    return [package_dir.parent.parent / "masking_models", package_dir.parent / "masking_models"]


def find_profile(profile: str) -> Path:
    """A profile given as a name (``default``) or as a path to a YAML file."""
    candidate = Path(profile).expanduser()
    if candidate.suffix in (".yaml", ".yml") or candidate.is_file():
        if candidate.is_file():
            return candidate
        raise MaskingError(f"masking profile file not found: {candidate}")
    if not re.fullmatch(r"[A-Za-z0-9_\-]+", profile):
        raise MaskingError(f"invalid masking profile name {profile!r}")
    for directory in profiles_dirs():
        path = directory / f"{profile}.yaml"
        if path.is_file():
            return path
    raise MaskingError(f"unknown masking profile {profile!r}")


def load_profile(profile: str = "default") -> Profile:
    path = find_profile(profile)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise MaskingError(f"cannot read masking profile {path}: {exc}") from None
    if not isinstance(raw, dict):
        raise MaskingError(f"masking profile {path} must be a mapping")
    try:
        return parse_profile(raw, path.parent)
    except (OSError, KeyError, TypeError, ValueError, re.error) as exc:
        raise MaskingError(f"masking profile {path} is invalid: {exc!r}") from None


def parse_profile(raw: dict[str, Any], base: Path | None = None) -> Profile:
    """A profile from its parsed YAML; ``base`` is the directory its list files are in."""
    regions = tuple(str(r) for r in raw.get("phone_regions", ["US", "GB"]))
    ner = raw.get("ner", {}) or {}
    operators = {str(k): _operator(v) for k, v in (raw.get("operators") or {}).items()}
    operators.setdefault("default", OperatorSpec(type="pseudonym"))
    return Profile(
        name=str(raw.get("name", "unnamed")),
        recognizers=tuple(_recognizer(item, regions) for item in raw.get("recognizers", [])),
        operators=operators,
        column_hints={
            str(entity): tuple(re.compile(p, re.IGNORECASE) for p in patterns)
            for entity, patterns in (raw.get("column_hints") or {}).items()
        },
        free_text_hints=tuple(re.compile(p, re.IGNORECASE) for p in raw.get("free_text_hints", [])),
        thresholds=Thresholds(**(raw.get("thresholds") or {})),
        ner_entities={str(k): str(v) for k, v in (ner.get("entities") or {}).items()},
        common_capitalised=frozenset(str(w) for w in ner.get("common_capitalised", [])),
        name_particles=frozenset(str(w) for w in ner.get("name_particles", [])),
        salutations=frozenset(str(w) for w in ner.get("salutations", [])),
        name_suffixes=frozenset(str(w) for w in ner.get("name_suffixes", [])),
        name_lists=_name_lists(ner.get("name_lists") or {}, base),
        generic_id_context=_generic_id_context(raw.get("generic_id_context")),
        not_subjects=frozenset(str(entity) for entity in raw.get("not_subjects", [])),
        phone_regions=regions,
        language=str(raw.get("language", "en")),
        statistics=_statistics_columns(raw.get("statistics") or {}),
        hl7=_hl7_fields(raw.get("hl7") or {}),
    )


def _hl7_fields(raw: dict[str, Any]) -> Hl7Fields:
    def fields(key: str) -> frozenset[str]:
        return frozenset(str(position) for position in raw.get(key) or ())

    entities = {str(k): str(v) for k, v in (raw.get("fields") or {}).items()}
    return Hl7Fields(fields("names"), fields("staff_names"), entities, fields("free_text"))


def _statistics_columns(raw: dict[str, Any]) -> StatisticsColumns:
    def names(key: str) -> frozenset[str]:
        return frozenset(str(name).lower() for name in raw.get(key) or ())

    return StatisticsColumns(names("keys"), names("values"))


def _name_lists(raw: dict[str, Any], base: Path | None) -> NameLists:
    def read(key: str) -> frozenset[str]:
        if key not in raw:
            return frozenset()
        lines = _list_file(str(raw[key]), base).read_text(encoding="utf-8").splitlines()
        return frozenset(line.strip() for line in lines if line.strip() and line[0] != "#")

    not_surnames = frozenset(raw.get("not_surnames", ()))
    return NameLists(read("given"), read("family"), not_surnames, read("places"))


def _generic_id_context(raw: dict[str, Any] | None) -> GenericIdContext | None:
    """The anchored pattern: a listed word, then qualifiers (``no.``, ``number``, ``is``)
    and separators up to the end of the text before the value. A word glued to the one
    before by a hyphen (``Kunden-ID``) names its own kind of ID and does not count."""
    if not raw:
        return None
    words = tuple(str(w).lower() for w in raw["words"])
    qualifiers = "|".join(re.escape(str(q)) for q in raw.get("qualifiers", []))
    alternatives = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    tail = rf"(?:[ .\-]{{0,2}}(?:{qualifiers})\.?)*" if qualifiers else ""
    regex = rf"(?:^|[^\w\-])(?P<word>{alternatives}){tail}[ .:#=\-]*$"
    not_after = frozenset(str(w).lower() for w in raw.get("not_after", []))
    return GenericIdContext(words, re.compile(regex, re.IGNORECASE), not_after)


def _list_file(name: str, base: Path | None) -> Path:
    """A list file named by a profile: beside the profile, else among the bundled
    profiles, so a site's copy of ``default.yaml`` keeps reading the bundled lists."""
    directories = ([base] if base is not None else []) + profiles_dirs()
    for directory in directories:
        if (directory / name).is_file():
            return directory / name
    raise ValueError(f"list file {name!r} not found beside the profile or in masking_models")


def _recognizer(item: dict[str, Any], regions: tuple[str, ...]) -> RecognizerSpec:
    validator_name = item.get("validator")
    if validator_name is not None and validator_name not in VALIDATOR_NAMES:
        raise ValueError(f"unknown validator {validator_name!r} in recognizer {item['name']!r}")
    patterns = tuple(
        PatternSpec(
            name=str(p["name"]),
            regex=str(p["regex"]),
            score=float(p["score"]),
            compiled=re.compile(str(p["regex"])),
        )
        for p in item.get("patterns", [])
    )
    deny_list = tuple(str(word) for word in item.get("deny_list", []))
    if deny_list:
        words = "|".join(re.escape(word) for word in sorted(deny_list, key=len, reverse=True))
        regex = rf"(?i)\b(?:{words})\b"
        patterns += (PatternSpec("deny_list", regex, 1.0, re.compile(regex)),)
    if not patterns:
        raise ValueError(f"recognizer {item['name']!r} has neither patterns nor a deny list")
    return RecognizerSpec(
        name=str(item["name"]),
        entity=str(item["entity"]),
        patterns=patterns,
        context=tuple(str(word).lower() for word in item.get("context", [])),
        deny_list=deny_list,
        validator_name=validator_name,
        validator=get_validator(validator_name, regions) if validator_name else None,
        generic_id_context=bool(item.get("generic_id_context", False)),
        suffix=_suffix(item["suffix"]) if item.get("suffix") else None,
    )


def _suffix(raw: dict[str, str]) -> re.Pattern[str]:
    """A postcode and town after a street: ``<separator><postcode> <town>`` or
    ``<separator><town>, <postcode>`` (US state and ZIP, UK postcode)."""
    town = raw["town"]
    first = rf"(?:{raw['before_town']})[ \t]+{town}"
    last = rf"{town},?[ \t]+(?:{raw['after_town']})"
    return re.compile(rf"{raw['separator']}(?:{first}|{last})")


def _operator(raw: dict[str, Any]) -> OperatorSpec:
    spec = OperatorSpec(**raw)
    if spec.type not in OPERATOR_TYPES:
        raise ValueError(f"unknown operator type {spec.type!r}")
    return spec
