"""Decide how to treat each column: what it holds, from its name and a sample of values."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal, NamedTuple

import pyarrow as pa
import pyarrow.compute as pc

from nbwarden.caches import BoundedCache
from nbwarden.identifiers import PERSON, USER_NAME
from nbwarden.masking.hl7 import is_message
from nbwarden.masking.profile import Profile
from nbwarden.masking.scanner import Span, TextScanner

Kind = Literal[
    "delimited", "entity", "free_text", "hl7", "json", "row", "scan", "skip", "statistic"
]

NER_SAMPLE = 30
TEXT_ONLY_HINTS = frozenset({USER_NAME})
"""Entities whose name hint holds for text only: numbers under ``user`` are keys."""
PLAN_CACHE_ENTRIES = 1024
_MIN_COVER = 0.6


@dataclass(frozen=True)
class ColumnPlan:
    kind: Kind
    entity: str | None = None
    reason: str = ""
    lenient: bool = False
    """Scan with every validated match counted: the column is known to hold identifiers."""
    derived: bool = False
    """Computed from the entity's values (``substr(iban, 3, 2)``): masked whole by the
    entity's placeholder (``Operators.apply``); in a nested value, every leaf that no key
    names."""
    delimiter: str = ""
    """Of a ``delimited`` column: what parts each value's fields."""


class PlanKey(NamedTuple):
    """Everything a plan is made from but the profile: the name (and so its hint), the
    type and the sample itself, value for value. A key any coarser could hand a column of
    names the plan of a column of products."""

    name: str
    type: str
    sample: tuple[str, ...]


@dataclass(frozen=True)
class ColumnOrigin:
    """Where a result column's values come from (``table.column``, from the query's
    lineage) and whether it is one of them unchanged: ``SELECT reverse(email) AS x`` gives
    ``x`` the origin ``customers.email``, changed."""

    sources: frozenset[str]
    unchanged: bool

    @property
    def whole_row(self) -> bool:
        """Whether it holds whole rows of a table (source ``customers.*``): unchanged means
        as the row itself or as its JSON, keyed by the table's column names."""
        return any(source.endswith(".*") for source in self.sources)


@lru_cache(maxsize=4096)
def hinted_entity(profile: Profile, name: str) -> str | None:
    key = name.strip().lower().replace(" ", "_").replace("-", "_")
    for entity, patterns in profile.column_hints.items():
        if any(pattern.search(key) for pattern in patterns):
            return entity
    return None


@lru_cache(maxsize=4096)
def is_free_text_name(profile: Profile, name: str) -> bool:
    key = name.strip().lower()
    return any(pattern.search(key) for pattern in profile.free_text_hints)


def is_string_type(data_type: pa.DataType) -> bool:
    if pa.types.is_dictionary(data_type):
        return is_string_type(data_type.value_type)
    return is_plain_string_type(data_type)


def is_nested_type(data_type: pa.DataType) -> bool:
    return bool(
        pa.types.is_struct(data_type)
        or pa.types.is_list(data_type)
        or pa.types.is_large_list(data_type)
        or pa.types.is_map(data_type)
    )


def sample_values(
    column: pa.ChunkedArray, size: int, distinct: pa.Array | None = None
) -> list[str]:
    """The first ``size`` distinct values of a column as text, blanks left out.

    ``distinct``: the column's dictionary (its distinct values as text, in order of first
    appearance), when the caller has it. It is used only for a column of plain text, whose
    dictionary holds the very values ``pc.unique`` gives, in the same order; any other
    column is sampled from its own values.
    """
    if distinct is None or not is_plain_string_type(column.type):
        distinct = pc.unique(column.drop_null())
    values = distinct.slice(0, size).cast(pa.string()).to_pylist()
    return [v for v in values if v is not None and v.strip()]


def is_plain_string_type(data_type: pa.DataType) -> bool:
    """Text that is not dictionary-encoded: its distinct values are its own values."""
    return bool(pa.types.is_string(data_type) or pa.types.is_large_string(data_type))


class ColumnClassifier:
    def __init__(
        self,
        profile: Profile,
        scanner: TextScanner,
        is_person: Callable[[Sequence[str]], list[bool]],
        known_person: Callable[[Sequence[str]], list[bool | None]] | None = None,
    ) -> None:
        self._profile = profile
        self._scanner = scanner
        self._is_person = is_person
        self._known_person = known_person
        """``is_person``'s earlier answers, without NER: they may decide a sample alone."""
        self._plans: BoundedCache[PlanKey, ColumnPlan] = BoundedCache(PLAN_CACHE_ENTRIES)

    def clear_cache(self) -> None:
        self._plans.clear()

    def plan(
        self, name: str, column: pa.ChunkedArray, distinct: pa.Array | None = None
    ) -> ColumnPlan:
        """The plan for a column; decided once per column name, type and sample, so a
        result seen before (a re-run cell, the next page) skips classification and NER.
        ``distinct``: the column's dictionary, as :func:`sample_values` takes it."""
        plan = self.plan_by_type(name, column)
        if plan is not None:
            return plan
        key = self.sample_key(name, column, distinct)
        return self.cached_plan(key) or self.classify(key, column.type)

    def cached_plan(self, key: PlanKey) -> ColumnPlan | None:
        return self._plans.get(key)

    def classify(self, key: PlanKey, data_type: pa.DataType) -> ColumnPlan:
        """The plan of a column by its sample (NER included), kept under its key."""
        hint = hinted_entity(self._profile, key.name)
        plan = self._plan_by_sample(key.name, data_type, hint, list(key.sample))
        return self._plans.put(key, plan)

    def origin_plan(
        self, name: str, column: pa.ChunkedArray, origin: ColumnOrigin
    ) -> ColumnPlan | None:
        """The plan a column's origin gives. A column computed from a column named for an
        entity is that entity (its own name's, else the first of its sources' by name),
        whatever it is called and however it was changed (``reverse(email) AS x``,
        ``substr(iban, 1, 12)``), masked whole; a JSON array of its letters too. Unchanged,
        it is planned by its values with that entity as the hint. Counts and lengths
        (``count(email)``, ``length(name)``) have no sources: the lineage leaves them out."""
        if origin.whole_row:
            return self._whole_row_plan(column, origin.unchanged)
        own = hinted_entity(self._profile, name)
        named = (hinted_entity(self._profile, s.rsplit(".", 1)[-1]) for s in origin.sources)
        entities = sorted({entity for entity in named if entity is not None})
        entity = own or (entities[0] if entities else None)
        if entity is None or (own and origin.unchanged):
            return None
        if is_nested_type(column.type):
            return ColumnPlan("json", entity, "lineage", derived=not origin.unchanged)
        if not origin.unchanged:
            return ColumnPlan("entity", entity, "lineage", derived=True)
        if is_string_type(column.type):
            sample = sample_values(column, self._profile.thresholds.column_sample)
            return self._plan_by_sample(name, column.type, entity, sample)
        return ColumnPlan("entity", entity, "lineage")

    def _whole_row_plan(self, column: pa.ChunkedArray, unchanged: bool) -> ColumnPlan | None:
        """A table's whole row as one value. Its JSON (``row_to_json(c)``) is masked by its
        keys, the table's column names; a struct (DuckDB) by its field names. Any other
        form (PostgreSQL's ``(1,"Bob Stone",...)``, ``c::text``, JSON with keys changed)
        cannot be split into its columns: it is masked whole."""
        if is_nested_type(column.type):
            return None
        if unchanged and is_string_type(column.type):
            sample = sample_values(column, self._profile.thresholds.column_sample)
            if sample and _share(sample, is_json_container) == 1.0:
                return ColumnPlan("json", None, "whole row")
        return ColumnPlan("row", None, "whole row")

    def plan_by_type(self, name: str, column: pa.ChunkedArray) -> ColumnPlan | None:
        """The plan a column's type (and name) gives alone; None: its sample decides."""
        hint = hinted_entity(self._profile, name)
        if is_nested_type(column.type):
            return ColumnPlan("json", hint, "nested")
        if is_string_type(column.type):
            return None
        if hint and hint not in TEXT_ONLY_HINTS:
            return ColumnPlan("entity", hint, "name")
        return None if pa.types.is_integer(column.type) else ColumnPlan("skip")

    def sample_key(
        self, name: str, column: pa.ChunkedArray, distinct: pa.Array | None = None
    ) -> PlanKey:
        """``distinct``: the column's dictionary, as :func:`sample_values` takes it."""
        sample = sample_values(column, self._profile.thresholds.column_sample, distinct)
        return PlanKey(name, str(column.type), tuple(sample))

    def _plan_by_sample(
        self, name: str, data_type: pa.DataType, hint: str | None, sample: list[str]
    ) -> ColumnPlan:
        if not is_string_type(data_type):
            return (self._by_content(sample) if sample else None) or ColumnPlan("skip")
        if not sample:
            return ColumnPlan("entity", hint, "name") if hint else ColumnPlan("scan")
        if _share(sample, is_json_container) >= self._profile.thresholds.column_share:
            return ColumnPlan("json", hint, "content")
        if _share(sample, is_message) >= self._profile.thresholds.column_share:
            return ColumnPlan("hl7", None, "content")
        if hint == USER_NAME:
            return self._login_names_plan(sample)
        if hint:
            return ColumnPlan("entity", hint, "name")
        if is_free_text_name(self._profile, name) or self._looks_like_free_text(sample):
            return ColumnPlan("free_text", None, "content")
        if _share(sample, _has_markup) >= self._profile.thresholds.column_share:
            return ColumnPlan("free_text", None, "markup")
        delimiter = _field_delimiter(sample, self._profile.thresholds.column_share)
        if delimiter:
            return ColumnPlan("delimited", None, "fields", delimiter=delimiter)
        return (
            self._by_content(sample)
            or self._by_names(sample)
            or ColumnPlan("scan", None, "content")
        )

    def _login_names_plan(self, sample: list[str]) -> ColumnPlan:
        """A column named for login names. Many systems log users in by their e-mail
        address, and some schemas keep the person's name under ``user_name``: a sample of
        addresses, or of several words a value, is planned as those, so that a subject
        access request by address or by name finds it."""
        by_content = self._by_content(sample)
        if by_content is not None and by_content.kind == "entity":
            return by_content
        if _share(sample, _has_several_words) >= self._profile.thresholds.column_share:
            return ColumnPlan("entity", PERSON, "name")
        return ColumnPlan("entity", USER_NAME, "name")

    def _looks_like_free_text(self, sample: list[str]) -> bool:
        """Most values have a few words in one tab-separated field: tabs part fields."""
        words = sorted(max(len(field.split()) for field in value.split("\t")) for value in sample)
        return words[len(words) // 2] >= self._profile.thresholds.free_text_min_words

    def _by_content(self, sample: list[str]) -> ColumnPlan | None:
        """The entity most sampled values are, if enough of them agree.

        A value votes for an entity only when a validated match covers most of it, so a
        product name with a stray hit does not count, and one hit never decides a column.
        """
        votes: Counter[str] = Counter()
        identifiers = 0
        hits = self._scanner.candidate_rules(pa.array(sample, pa.string()))
        for position, rule_indices in hits.items():
            value = sample[position]
            stripped = len(value.strip())
            entities = {
                span.entity
                for span in self._scanner.find(
                    value, rule_indices, lenient=True, min_cover=_MIN_COVER
                )
                if span.end - span.start >= self._cover_needed(span) * stripped
            }
            votes.update(entities)
            identifiers += bool(entities)
        if not votes:
            return None
        share = self._profile.thresholds.column_share
        entity, count = votes.most_common(1)[0]
        if count / len(sample) >= share:
            return ColumnPlan("entity", entity, "content")
        if identifiers / len(sample) >= share:
            return ColumnPlan("scan", None, "mixed identifiers", lenient=True)
        return None

    def _cover_needed(self, span: Span) -> float:
        """A weak pattern (one that needs context) votes only when it is the whole value."""
        return _MIN_COVER if span.score >= self._profile.thresholds.min_score else 1.0

    def _by_names(self, sample: list[str]) -> ColumnPlan | None:
        candidates = [v for v in sample[:NER_SAMPLE] if _could_be_a_name(v)]
        sampled = min(len(sample), NER_SAMPLE)
        if len(candidates) < self._profile.thresholds.column_share * sampled:
            return None
        names = self._names_without_ner(candidates, sampled)
        if names is None:
            names = sum(self._is_person(candidates))
        return ColumnPlan("entity", PERSON, "content") if self._named(names, sampled) else None

    def _named(self, names: int, sampled: int) -> bool:
        return names / sampled >= self._profile.thresholds.ner_column_share

    def _names_without_ner(self, candidates: list[str], sampled: int) -> int | None:
        """How many candidates are names, when the answers known from earlier samples
        decide the column whatever the rest are (the next page of a result shares most of
        its sample with this one); None when NER has to read the rest."""
        if self._known_person is None:
            return None
        known = self._known_person(candidates)
        names, unknown = known.count(True), known.count(None)
        if self._named(names, sampled) == self._named(names + unknown, sampled):
            return names
        return None


def _could_be_a_name(value: str) -> bool:
    """Capitalised words without digits, or words all in lower case (``victor martinez``,
    which only the name lists can tell): NER is not asked about codes (``SKU-123``)."""
    words = value.split()
    capitalised = sum(1 for w in words if w[0].isupper())
    return (
        1 <= len(words) <= 6
        and (capitalised >= 0.6 * len(words) or value.islower())
        and not any(ch.isdigit() for ch in value)
    )


_CLOSING_TAG = re.compile(r"</[A-Za-z][\w.:\-]*\s*>")


def _has_several_words(value: str) -> bool:
    return len(value.split()) >= 2


def _has_markup(value: str) -> bool:
    """A closing tag: the value is HTML or XML, whose text few spaces part from its tags."""
    return _CLOSING_TAG.search(value) is not None


def is_json_container(value: str) -> bool:
    text = value.lstrip()
    if not text.startswith(("{", "[")):
        return False
    try:
        json.loads(value)
    except ValueError:
        return False
    return True


FIELD_DELIMITERS = ("|", "\t")
"""What parts the fields of a value that is a record (``Ann Lee|ann@example.org|Leeds``:
``psql -At``, a tab-separated export, a legacy field kept in one column)."""


def _field_delimiter(sample: list[str], share: float) -> str | None:
    """The delimiter that parts most sampled values, each a line, into as many fields."""
    for delimiter in FIELD_DELIMITERS:
        widths = Counter(v.count(delimiter) for v in sample if "\n" not in v)
        width, count = widths.most_common(1)[0] if widths else (0, 0)
        if width and count >= share * len(sample):
            return delimiter
    return None


def _share(sample: list[str], test: Callable[[str], bool]) -> float:
    return sum(1 for value in sample if test(value)) / len(sample)
