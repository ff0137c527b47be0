"""The masker's caches (column plans, candidate rules, replacements) never change an answer."""

from __future__ import annotations

from collections.abc import Sequence

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


def test_free_text_answers_are_the_same_warm_and_ner_does_not_depend_on_the_batch(
    masker: Masker,
) -> None:
    """NER answers are cached per text: that is sound only if a text's answer does not
    depend on the other texts of its batch."""
    fake = Faker(["en_US", "de_DE"])
    fake.seed_instance(11)
    notes = [f"Yesterday {fake.name()} phoned about {fake.sentence(nb_words=6)}" for _ in range(60)]
    table = pa.table({"notes": notes, "city": [fake.city() for _ in notes]})
    masker.clear_caches()
    cold = masker.mask_table(table)
    warm = masker.mask_table(table)
    assert warm.table.equals(cold.table)
    assert warm.subjects == cold.subjects
    assert cold.entity_counts.get("PERSON", 0) >= 50
    masker.clear_caches()
    batched = masker.names.find(notes)
    masker.clear_caches()
    one_by_one = [masker.names.find([note])[0] for note in notes]
    assert batched == one_by_one


def test_ner_multiplies_matrices_on_one_blas_thread(masker: Masker) -> None:
    """thinc's blis is 2.4-4x slower here than numpy's BLAS on one thread
    (docs/masking.md): the model is made with ops whose product is ``numpy.dot``."""
    from thinc.api import Ops
    from threadpoolctl import threadpool_info

    masker.names.find(["Call Ada Lovelace tomorrow"])
    ner = masker.names._pipeline().get_pipe("ner")
    assert type(ner.model.ops).gemm is Ops.gemm
    assert {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"} == {1}


def test_a_sample_decided_by_earlier_answers_needs_no_ner(masker: Masker) -> None:
    """A column's next page shares all but one sampled value with the last: the known
    answers decide the plan whatever the new value is, so NER does not run, and the plan is
    the one NER would give."""
    from nbwarden.masking.columns import ColumnClassifier

    asked: list[list[str]] = []

    def counting(values: Sequence[str]) -> list[bool]:
        asked.append(list(values))
        return masker.names.is_person(values)

    Faker.seed(21)
    fake = Faker()
    names = [fake.name() for _ in range(31)]
    cities = [f"{fake.city()} {fake.city_suffix()}" for _ in range(31)]
    masker.clear_caches()
    learning = ColumnClassifier(
        masker.profile, masker.scanner, counting, masker.names.known_whole_names
    )
    blind = ColumnClassifier(masker.profile, masker.scanner, masker.names.is_person)
    for values in (names, cities):
        first = learning.plan("label", pa.chunked_array([pa.array(values[:30])]))
        asked.clear()
        next_page = pa.chunked_array([pa.array(values[1:])])
        assert learning.plan("label", next_page) == blind.plan("label", next_page)
        assert asked == []
        assert first.kind in ("entity", "scan")
    assert learning.plan("label", pa.chunked_array([pa.array(names[:30])])).entity == "PERSON"
