"""A column whose values are records of fields (``Ann Lee|ann@example.org|Leeds``).

Such a column (``concat_ws('|', ...)``, a tab-separated export, a legacy field) was
scanned by the patterns alone: the e-mail address was masked and the name beside it
came back as written. Its fields are now planned position by position, as the columns of
a table in a shell cell's output are. All values here are Faker's.
"""

from __future__ import annotations

import pyarrow as pa
import pytest
from faker import Faker

from nbwarden.identifiers import PERSON, normalize_identifier
from nbwarden.masking import Masker


@pytest.fixture(scope="module")
def masker() -> Masker:
    return Masker.for_profile("default")


def _people(count: int, seed: int) -> list[tuple[str, str, str]]:
    fake = Faker(["en_GB", "de_DE", "fr_FR"])
    fake.seed_instance(seed)
    return [
        (f"{fake.first_name()} {fake.last_name()}", fake.email(), fake.city()) for _ in range(count)
    ]


@pytest.mark.parametrize("delimiter", ["|", "\t"])
def test_the_name_beside_an_address_in_a_record_is_masked(masker: Masker, delimiter: str) -> None:
    people = _people(40, seed=80)
    values = [delimiter.join(person) for person in people]
    result = masker.mask_table(pa.table({"payload": values}))
    shown = result.table.column("payload").to_pylist()
    for (name, email, city), masked in zip(people, shown, strict=True):
        fields = masked.split(delimiter)
        assert fields[0].startswith("PERSON_") and fields[1].startswith("EMAIL_ADDRESS_")
        assert not any(word in masked for word in name.split() if len(word) > 2)
        assert email not in masked and fields[2] == city
    people_found = {s.identifier for s in result.subjects if s.entity_type == PERSON}
    assert {normalize_identifier(PERSON, name) for name, _, _ in people} <= people_found
    assert {s.column for s in result.subjects} == {"payload"}
    assert result.masked_cells["payload"] == list(range(len(values)))


def test_the_spaces_around_a_field_stay(masker: Masker) -> None:
    people = _people(20, seed=81)
    values = [f"{name}| {email}" for name, email, _ in people]
    shown = masker.mask_table(pa.table({"contact": values})).table.column("contact").to_pylist()
    assert all(masked.startswith("PERSON_") and "| EMAIL_ADDRESS_" in masked for masked in shown)


def test_a_value_with_other_fields_is_masked_as_free_text(masker: Masker) -> None:
    people = _people(20, seed=82)
    values = ["|".join(person) for person in people]
    name = people[0][0]
    values.append(f"{name} moved abroad")
    shown = masker.mask_table(pa.table({"payload": values})).table.column("payload").to_pylist()
    assert shown[-1].startswith("PERSON_") and shown[-1].endswith(" moved abroad")


def test_records_without_personal_data_stay_as_they_were(masker: Masker) -> None:
    fake = Faker()
    fake.seed_instance(83)
    values = [
        f"SKU-{fake.random_int(1000, 9999)}|{fake.color_name()} Lamp|{fake.pricetag()}"
        for _ in range(30)
    ]
    shown = masker.mask_table(pa.table({"item": values})).table.column("item").to_pylist()
    assert shown == values


def test_a_later_batch_without_records_is_masked_as_free_text(masker: Masker) -> None:
    """The plan is made on a result's first batch; a later one of values of several lines
    each made masking fail, which withholds the whole result."""
    people = _people(30, seed=84)
    first = pa.table({"payload": ["|".join(person) for person in people]})
    name, email, city = _people(1, seed=85)[0]
    later = pa.table({"payload": [f"{name} moved\n{email}|{city}"]})
    results = list(masker.mask_batches([first, later]))
    shown = results[1].table.column("payload").to_pylist()[0]
    assert name not in shown and email not in shown and shown.endswith(f"|{city}")
