"""The masker's caches (column plans, candidate rules, replacements) never change an answer."""

from __future__ import annotations

import pyarrow as pa
import pytest
from faker import Faker

from nbwarden.masking import Masker

KEY = b"k" * 32


@pytest.fixture(scope="module")
def masker() -> Masker:
    return Masker.for_profile(pseudonym_key=KEY)


def _customers(fake: Faker, rows: int) -> pa.Table:
    return pa.table(
        {
            "name": [fake.name() for _ in range(rows)],
            "contact": [fake.email() for _ in range(rows)],
            "iban": [fake.iban() for _ in range(rows)],
            "label": [f"{fake.word()} {fake.word()}" for _ in range(rows)],
        }
    )


@pytest.mark.parametrize("rows", [10, 300])
def test_warm_caches_give_the_cold_answer(masker: Masker, rows: int) -> None:
    Faker.seed(rows)
    table = _customers(Faker(), rows)
    masker.clear_caches()
    cold = masker.mask_table(table)
    warm = masker.mask_table(table)
    assert warm.table.equals(cold.table)
    assert warm.subjects == cold.subjects
    assert warm.entity_counts == cold.entity_counts
    assert warm.masked_cells == cold.masked_cells
    assert cold.entity_counts["EMAIL_ADDRESS"] == rows
    assert not set(table.column("contact").to_pylist()) & set(warm.table["contact"].to_pylist())


def test_a_cached_plan_is_not_reused_for_other_content(masker: Masker) -> None:
    """Same column name and type, different values: the column is classified again."""
    fake = Faker()
    Faker.seed(3)
    words = pa.table({"ref": [f"{fake.word()}-{i}" for i in range(80)]})
    emails = [fake.email() for _ in range(80)]
    assert masker.mask_table(words).entity_counts == {}
    masked = masker.mask_table(pa.table({"ref": emails}))
    assert masked.entity_counts.get("EMAIL_ADDRESS") == 80
    assert not set(emails) & set(masked.table["ref"].to_pylist())


def test_unmasking_is_not_served_from_the_replacement_cache(masker: Masker) -> None:
    Faker.seed(5)
    table = _customers(Faker(), 20)
    masker.mask_table(table)
    shown = masker.mask_table(table, unmask_columns=["contact"])
    assert shown.table["contact"].to_pylist() == table["contact"].to_pylist()
    assert shown.table["name"].to_pylist() != table["name"].to_pylist()
