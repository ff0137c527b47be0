"""The subject lines an end record carries, and their digest, against lines built here from
the documented format: ``type, HMAC, column, source, masked|shown`` joined by tabs, sorted
by code point, joined by line breaks; the digest is sha256 of that text."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import cast

import pytest
from faker import Faker
from hypothesis import given, settings
from hypothesis import strategies as st

from nbwarden.config import AuditConfig
from nbwarden.identifiers import EMAIL, PERSON, PHONE, normalize_identifier
from nbwarden.keys import SUBJECT_INDEX, derive_key, keyed_hash, load_master_key
from nbwarden.provenance import ExecutionEnd, ProvenanceStore, Subject
from nbwarden.provenance import store as store_module
from tests.provenance.history import sample_start

IBAN = "IBAN_CODE"
SOURCES = {
    "name": "customers.name",
    "nom_é": "clients.nom_complet",
    "電話": "顧客.電話",
    "iban": "customers.iban",
    "e-mail": "kunden.straße_mail",
}
"""Result column -> source; ``notes`` and a subject without a column have none."""


class Grouped:
    """Subjects grouped as the masker hands them over (``GroupedSubjects``); not a sequence,
    so the store can only read its groups."""

    def __init__(self, subjects: list[Subject]) -> None:
        self._groups: dict[tuple[str, str | None], dict[str, None]] = {}
        for subject in subjects:
            self._groups.setdefault((subject.entity_type, subject.column), {})[
                subject.identifier
            ] = None

    def groups(self) -> Mapping[tuple[str, str | None], dict[str, None]]:
        return self._groups


def handed_over(subjects: list[Subject], grouped: bool) -> Sequence[Subject]:
    """The subjects as a list, or grouped (typed as the sequence ``ExecutionEnd`` declares,
    which the masker's grouped ``Subjects`` also is)."""
    return cast(Sequence[Subject], Grouped(subjects)) if grouped else subjects


def customer_subjects(count: int = 40) -> list[Subject]:
    """Faker customers in columns with and without a source, some named in non-ASCII, one
    entity type in two columns, and names found outside any column."""
    fake = Faker()
    fake.seed_instance(41)
    subjects: list[Subject] = []
    for _ in range(count):
        subjects += [
            Subject(PERSON, normalize_identifier(PERSON, fake.unique.name()), "name"),
            Subject(PERSON, normalize_identifier(PERSON, fake.unique.name()), "nom_é"),
            Subject(EMAIL, normalize_identifier(EMAIL, fake.unique.email()), "e-mail"),
            Subject(EMAIL, normalize_identifier(EMAIL, fake.unique.email()), "notes"),
            Subject(PHONE, normalize_identifier(PHONE, fake.unique.phone_number()), "電話"),
            Subject(IBAN, normalize_identifier(IBAN, fake.unique.iban()), "iban"),
            Subject(PERSON, normalize_identifier(PERSON, fake.unique.name()), None),
        ]
    return subjects


def expected_text(
    key: bytes,
    subjects: list[Subject],
    sources: Mapping[str, str],
    shown_columns: set[str],
    shown_types: set[str],
) -> str:
    """The sorted subject lines, built one subject at a time from the format."""
    lines: list[str] = []
    for subject in subjects:
        digest = keyed_hash(key, f"{subject.entity_type}\x1f{subject.identifier}")
        column = subject.column or ""
        shown = subject.column in shown_columns or subject.entity_type in shown_types
        fields = (subject.entity_type, digest, column, sources.get(column, ""))
        lines.append("\t".join((*fields, "shown" if shown else "masked")))
    return "\n".join(sorted(lines))


def stored_end(store: ProvenanceStore, execution_id: str) -> tuple[int, str, str | None]:
    """(subject count, subjects digest, pending subject lines) of an end record."""
    store.stats()  # folds the journal into the tables
    con = store._db.cursor()
    try:
        row = con.execute(
            "SELECT subject_count, subjects_digest, subject_lines FROM execution_ends WHERE id = ?",
            [execution_id],
        ).fetchone()
    finally:
        con.close()
    assert row is not None
    return int(row[0]), str(row[1]), row[2]


@pytest.mark.parametrize("grouped", [False, True], ids=["subjects", "grouped"])
def test_an_end_record_holds_the_sorted_subject_lines_and_their_digest(
    store: ProvenanceStore,
    audit: AuditConfig,
    monkeypatch: pytest.MonkeyPatch,
    grouped: bool,
) -> None:
    monkeypatch.setattr(store_module, "INDEX_WHEN_IDLE_S", 3600)
    subjects = customer_subjects()
    key = derive_key(load_master_key(audit.key_file), SUBJECT_INDEX)
    text = expected_text(key, subjects, SOURCES, {"nom_é"}, {IBAN})
    end = ExecutionEnd(
        status="ok",
        rows=40,
        subjects=handed_over(subjects, grouped),
        source_columns=SOURCES,
        unmasked_columns=("nom_é",),
        unmasked_entities=(IBAN,),
    )
    for attempt in ("first seen", "re-run, from the HMAC cache"):
        execution_id = store.record_start(sample_start())
        store.record_end(execution_id, end)
        assert stored_end(store, execution_id) == (
            len(subjects),
            hashlib.sha256(text.encode("utf-8")).hexdigest(),
            text,
        ), attempt
    assert store.verify().ok  # the verifier's digest of the same lines, in DuckDB
    store.index_subjects()
    assert store.verify().ok  # ... and of the indexed rows


def test_an_end_record_without_subjects_holds_the_digest_of_no_lines(
    store: ProvenanceStore,
) -> None:
    execution_id = store.record_start(sample_start())
    store.record_end(
        execution_id, ExecutionEnd(status="ok", rows=0, subjects=handed_over([], True))
    )
    assert stored_end(store, execution_id) == (0, hashlib.sha256(b"").hexdigest(), None)


ENTITY_TYPES = ["PERSON", "PERSON_X", "PERSONA", "ID", "ID\x01", "ID\tCARD", "É", "E", "\u4eba"]
"""Types whose prefixes order differently from the types alone ("ID\\x01\\t" sorts before
"ID\\t"), non-ASCII ones, and one with a tab, whose lines interleave with those of "ID"."""
COLUMNS = [None, "", "name", "nom_é", "電話", "a b", "e\tmail"]
"""A tab in a column or type makes lines that would not split back."""


@st.composite
def subject_groups(draw: st.DrawFn) -> list[Subject]:
    groups = draw(
        st.dictionaries(
            st.tuples(st.sampled_from(ENTITY_TYPES), st.sampled_from(COLUMNS)),
            st.sets(st.text(min_size=1, max_size=12), max_size=12),
            max_size=8,
        )
    )
    return [
        Subject(entity, identifier, column)
        for (entity, column), identifiers in groups.items()
        for identifier in identifiers
    ]


def test_the_subject_lines_are_every_subjects_line_sorted(audit: AuditConfig) -> None:
    """Whatever the types, columns and sources, the text is the sorted lines of the subjects
    (checked on the lines the store builds, before chaining, for speed)."""
    sources = {"name": "customers.name", "nom_é": "clients.nom", "": "t.blank"}
    with ProvenanceStore(audit) as store:
        key = derive_key(load_master_key(audit.key_file), SUBJECT_INDEX)

        @settings(max_examples=300, deadline=None)
        @given(subject_groups(), st.sets(st.sampled_from(COLUMNS[1:])), st.booleans())
        def check(subjects: list[Subject], shown: set[str], grouped: bool) -> None:
            end = ExecutionEnd(
                status="ok",
                subjects=handed_over(subjects, grouped),
                source_columns=sources,
                unmasked_columns=tuple(shown),
                unmasked_entities=("É",),
            )
            text, count, _ = store._subject_lines(end)
            assert text == expected_text(key, subjects, sources, shown, {"É"})
            assert count == len(subjects)

        check()


@pytest.mark.parametrize("max_entries", [3, 5, 1000])
def test_cached_hmacs_are_the_keyed_hashes_even_when_the_cache_empties(max_entries: int) -> None:
    key = b"s" * 32
    cache = store_module._SubjectHmacs(key, max_entries)
    first = [f"reader{i}@example.org" for i in range(4)]
    next_page = [*first[1:], "reader9@example.org"]
    gaps = ["reader7@example.org", *first[:2], "reader8@example.org", *first[2:]]
    for identifiers in (first, next_page, next_page, gaps, dict.fromkeys(gaps)):
        expected = [keyed_hash(key, f"{EMAIL}\x1f{identifier}") for identifier in identifiers]
        assert cache.group(EMAIL, identifiers) == expected
