"""Result columns masked by where their values come from (``Masker.mask_table(origins=)``)."""

from __future__ import annotations

import base64

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
        assert all(value.startswith("EMAIL_ADDRESS_") for value in values)
        assert masked.masked_cells[name] == list(range(len(emails)))


def test_a_number_computed_from_a_personal_column_stays(masker: Masker) -> None:
    table = pa.table({"letters": pa.array([12, 15, 9], pa.int64())})
    origins = {"letters": ColumnOrigin(frozenset({"customers.name"}), unchanged=False)}
    assert masker.mask_table(table, origins=origins).table.equals(table)


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
