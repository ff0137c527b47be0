"""Result columns masked by where their values come from (``Masker.mask_table(origins=)``)."""

from __future__ import annotations

import base64
import json

import pyarrow as pa
import pytest
from faker import Faker

from nbwarden.masking import ColumnOrigin, Masker

EMAIL = ColumnOrigin(frozenset({"customers.email"}), unchanged=False)


@pytest.fixture(scope="module")
def masker() -> Masker:
    return Masker.for_profile(pseudonym_key=b"k" * 32)


@pytest.fixture
def emails() -> list[str]:
    fake = Faker()
    Faker.seed(31)
    return [fake.unique.email() for _ in range(20)]


def test_text_computed_from_an_email_column_is_masked_whatever_its_name(
    masker: Masker, emails: list[str]
) -> None:
    """Reversed or base64-encoded, the values match no pattern; their origin gives them away."""
    table = pa.table(
        {
            "x": [email[::-1] for email in emails],
            "y": [base64.b64encode(email.encode()).decode() for email in emails],
        }
    )
    without = masker.mask_table(table)
    assert without.table.column("x").to_pylist() == table.column("x").to_pylist()
    masked = masker.mask_table(table, origins={"x": EMAIL, "y": EMAIL})
    for name in ("x", "y"):
        values = masked.table.column(name).to_pylist()
        assert values == ["<EMAIL_ADDRESS>"] * len(emails)
        assert masked.masked_cells[name] == list(range(len(emails)))


def test_a_number_computed_from_a_personal_column_is_masked(masker: Masker) -> None:
    """``ascii(substr(name, 1, 1))``: a letter's code. Counts and lengths have no source
    (the lineage leaves them out), so they are not masked."""
    table = pa.table({"code": pa.array([71, 101, 111], pa.int64())})
    origins = {"code": ColumnOrigin(frozenset({"customers.name"}), unchanged=False)}
    values = masker.mask_table(table, origins=origins).table.column("code").to_pylist()
    assert values == ["<PERSON>"] * 3
    assert masker.mask_table(table, origins={}).table.equals(table)


@pytest.mark.parametrize("name", ["x", "iban"])
def test_a_part_of_an_iban_is_shown_as_the_placeholder(masker: Masker, name: str) -> None:
    """A partial mask keeps an IBAN's first two characters: two at a time, ``substr(iban,
    3, 2)``, ``substr(iban, 5, 2)``... would show it all. A pseudonym would be the same for
    the same two characters: mixed with known text (``substr('GB' || iban, 1, 2)``), it
    could be decoded. Whatever the column is called."""
    fake = Faker()
    Faker.seed(5)
    ibans = [fake.iban() for _ in range(5)]
    table = pa.table({name: [iban[2:4] for iban in ibans]})
    origin = ColumnOrigin(frozenset({"accounts.iban"}), unchanged=False)
    masked = masker.mask_table(table, origins={name: origin}).table.column(name).to_pylist()
    assert masked == ["<IBAN_CODE>"] * len(ibans)
    whole = masker.mask_table(pa.table({"iban": ibans})).table.column("iban").to_pylist()
    assert [value[:2] for value in whole] == [iban[:2] for iban in ibans]


def test_a_list_of_an_addresss_letters_is_masked_leaf_by_leaf(
    masker: Masker, emails: list[str]
) -> None:
    """DuckDB's ``string_split(email, '')`` comes as an Arrow list, not as text."""
    table = pa.table({"x": pa.array([list(email) for email in emails], pa.list_(pa.string()))})
    masked = masker.mask_table(table, origins={"x": EMAIL}).table.column("x").to_pylist()
    assert masked == [["<EMAIL_ADDRESS>"] * len(email) for email in emails]


ROW = ColumnOrigin(frozenset({"customers.*"}), unchanged=True)


def people_rows(count: int) -> list[dict[str, str]]:
    fake = Faker()
    Faker.seed(77)
    return [{"name": fake.name(), "phone": fake.msisdn()} for _ in range(count)]


def test_a_whole_row_as_text_is_masked_whole_and_its_people_counted(masker: Masker) -> None:
    """PostgreSQL's ``(1,"Bob Stone",4915112345678)``: its fields cannot be told apart."""
    people = people_rows(5)
    rows = [f'({i},"{p["name"]}",{p["phone"]})' for i, p in enumerate(people)]
    masked = masker.mask_table(pa.table({"c": rows}), origins={"c": ROW})
    values = masked.table.column("c").to_pylist()
    assert all(value.startswith("ROW_") for value in values)
    assert len(set(values)) == len(rows)
    assert masked.entity_counts == {"ROW": 5}
    assert masked.column_findings["c"]["PERSON"] >= 4


def test_a_whole_row_as_json_is_masked_by_its_keys(masker: Masker) -> None:
    """``row_to_json(c)``: the keys are the table's column names, so each field is masked
    like that column; changed (``c::text`` or keys renamed), it is masked whole."""
    people = people_rows(3)
    documents = [json.dumps({"id": i, **p}) for i, p in enumerate(people)]
    table = pa.table({"row_to_json": documents})
    masked = masker.mask_table(table, origins={"row_to_json": ROW}).table
    shown = [json.loads(value) for value in masked.column("row_to_json").to_pylist()]
    assert [document["id"] for document in shown] == [0, 1, 2]
    assert all(document["name"].startswith("PERSON_") for document in shown)
    changed = ColumnOrigin(ROW.sources, unchanged=False)
    whole = masker.mask_table(table, origins={"row_to_json": changed}).table
    assert all(value.startswith("ROW_") for value in whole.column("row_to_json").to_pylist())


def test_a_renamed_column_is_masked_like_its_source(masker: Masker) -> None:
    """``SELECT phone AS contact``: a number column keeps its source's entity."""
    table = pa.table({"contact": pa.array([4915112345678, 4930901820], pa.int64())})
    origins = {"contact": ColumnOrigin(frozenset({"customers.phone"}), unchanged=True)}
    values = masker.mask_table(table, origins=origins).table.column("contact").to_pylist()
    assert all(str(value).startswith("PHONE_NUMBER_") for value in values)


def test_a_columns_own_name_decides_before_its_origin(masker: Masker) -> None:
    table = pa.table({"phone": ["+49 30 901820"]})
    masked = masker.mask_table(table, origins={"phone": EMAIL})
    assert masked.entity_counts == {"PHONE_NUMBER": 1}


def test_column_statistics_are_masked_as_the_column_each_row_names(masker: Masker) -> None:
    """DuckDB's ``SUMMARIZE``: one row per column, its ``min`` and ``max`` that column's
    values. A hinted column's are its entity's placeholder; another text column's are
    scanned as free text; numbers stay."""
    fake = Faker()
    Faker.seed(11)
    names = sorted(fake.name() for _ in range(2))
    emails = sorted(fake.email() for _ in range(2))
    table = pa.table(
        {
            "column_name": ["id", "name", "email", "customer"],
            "column_type": ["INTEGER", "VARCHAR", "VARCHAR", "VARCHAR"],
            "min": ["1", names[0], emails[0], f"Mr {names[0]}"],
            "max": ["20", names[1], emails[1], f"Mr {names[1]}"],
            "count": [20, 20, 20, 20],
        }
    )
    masked = masker.mask_table(table)
    rows = masked.table.to_pylist()
    assert [(row["min"], row["max"]) for row in rows[:3]] == [
        ("1", "20"),
        ("<PERSON>", "<PERSON>"),
        ("<EMAIL_ADDRESS>", "<EMAIL_ADDRESS>"),
    ]
    assert not any(name in rows[3]["min"] + rows[3]["max"] for name in names)
    assert masked.table.column("column_name").to_pylist() == table.column("column_name").to_pylist()
    assert masked.column_findings["min"]["PERSON"] == 2


def test_pg_stats_histograms_are_masked_as_the_column_each_row_names(masker: Masker) -> None:
    fake = Faker()
    Faker.seed(12)
    bounds = "{" + ",".join(f'"{fake.name()}"' for _ in range(5)) + "}"
    table = pa.table({"attname": ["id", "name"], "histogram_bounds": ["{1,2,3}", bounds]})
    shown = masker.mask_table(table).table.column("histogram_bounds").to_pylist()
    assert shown == ["{1,2,3}", "<PERSON>"]


def test_an_approved_unmasking_of_a_statistics_column_shows_only_that_column(
    masker: Masker,
) -> None:
    fake = Faker()
    Faker.seed(13)
    low, high = sorted(fake.name() for _ in range(2))
    table = pa.table({"column_name": ["name"], "min": [low], "max": [high]})
    masked = masker.mask_table(table, unmask_columns=("min",)).table.to_pylist()
    assert masked == [{"column_name": "name", "min": low, "max": "<PERSON>"}]
