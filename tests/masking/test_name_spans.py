"""Where a masked name starts and ends: one line, one field, the name alone.

spaCy's NER reads across line breaks and field separators: it took two lines' names for
one person, or one line's last word with the next line's name (``Glen\\nPatient Charlotte
Jones``). The placeholder then swallowed a line of a shell cell's output, and the subject
it recorded was nobody's, so a subject access request for either person missed the cell.
Likewise a capitalised word before a name (``Today``, ``Applicant``) made the subject
``today charlotte jones``. All names here are Faker's.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import pairwise

import pyarrow as pa
import pytest
from faker import Faker

from nbwarden.identifiers import PERSON, normalize_identifier
from nbwarden.masking import Masker
from nbwarden.masking.results import SubjectRef

LOCALES = ("en_GB", "en_US", "de_DE", "fr_FR", "es_ES")


@pytest.fixture(scope="module")
def masker() -> Masker:
    return Masker.for_profile("default")


def _fake(seed: int) -> Faker:
    fake = Faker(list(LOCALES))
    fake.seed_instance(seed)
    return fake


def _names(count: int, seed: int) -> list[str]:
    fake = _fake(seed)
    return [f"{fake.first_name()} {fake.last_name()}" for _ in range(count)]


def _identifiers(subjects: Iterable[SubjectRef], entity_type: str = PERSON) -> set[str]:
    return {s.identifier for s in subjects if s.entity_type == entity_type}


def _subject(name: str) -> str:
    return normalize_identifier(PERSON, name)


@pytest.mark.parametrize("method", ["mask_output", "mask_text"])
def test_names_one_per_line_keep_their_lines_and_their_subjects(
    masker: Masker, method: str
) -> None:
    names = _names(40, seed=70)
    given = [name.split()[0] for name in _names(40, seed=71)]
    lines = [line for pair in zip(given, names, strict=True) for line in pair]
    result = getattr(masker, method)("\n".join(lines))
    masked = result.text.split("\n")
    assert len(masked) == len(lines)
    assert all(line.startswith("PERSON_") for line in masked[1::2])
    people = _identifiers(result.subjects)
    assert sum(_subject(name) in people for name in names) >= len(names) - 1
    two_lines = {_subject(f"{line} {following}") for line, following in pairwise(lines)}
    assert not two_lines & people


@pytest.mark.parametrize("word", ["Patient", "Status", "Ticket"])
def test_the_last_word_of_a_line_is_not_taken_into_the_next_lines_name(
    masker: Masker, word: str
) -> None:
    name = _names(1, seed=72)[0]
    result = masker.mask_output(f"Glen\n{word} {name}, NHS number 943 476 5919")
    first, second = result.text.split("\n")
    assert first.startswith("PERSON_") and second.startswith(f"{word} PERSON_")
    assert {"glen", _subject(name)} <= _identifiers(result.subjects)


@pytest.mark.parametrize("word", ["Today", "Patient", "Applicant", "Driver", "Tenant"])
def test_a_word_before_a_name_is_no_part_of_its_subject(masker: Masker, word: str) -> None:
    names = _names(12, seed=73)
    notes = [f"{word} {name} called about the invoice." for name in names]
    result = masker.mask_table(pa.table({"note": notes}))
    people = _identifiers(result.subjects)
    assert all(_subject(name) in people for name in names), sorted(people)
    for masked in result.table.column("note").to_pylist():
        assert masked.startswith(f"{word} PERSON_") and masked.endswith(
            " called about the invoice."
        )


def test_a_thing_named_after_a_place_stays_readable(masker: Masker) -> None:
    text = "The Milano Rug arrived broken, second time this month."
    assert masker.mask_text(text).text == text


def test_the_fields_of_psql_at_output_stay_apart(masker: Masker) -> None:
    fake = _fake(74)
    rows = [(f"{fake.first_name()} {fake.last_name()}", fake.email()) for _ in range(30)]
    result = masker.mask_text("\n".join(f"{name}|{email}|{fake.city()}" for name, email in rows))
    lines = result.text.split("\n")
    assert len(lines) == len(rows)
    assert all(line.count("|") == 2 for line in lines)
    emails = _identifiers(result.subjects, "EMAIL_ADDRESS")
    assert emails == {email.lower() for _, email in rows}
    people = _identifiers(result.subjects)
    assert sum(_subject(name) in people for name, _ in rows) >= len(rows) - 1


@pytest.mark.parametrize("text", ["Tel 089/1234567", "Tel 089 1234567"])
def test_a_number_is_no_part_of_a_name(masker: Masker, text: str) -> None:
    """NER took ``Tel 089/1234567`` for a person: the span won over the phone number, the
    name lists then refuted it (Tel is a town), and the number stayed readable."""
    result = masker.mask_text(text)
    assert result.text.startswith("Tel PHONE_NUMBER_")
    assert {s.entity_type for s in result.subjects} == {"PHONE_NUMBER"}
