"""A caller's ``stop`` interrupts masking inside a long column, not only between columns."""

from __future__ import annotations

import pyarrow as pa
import pytest
from faker import Faker

from nbwarden.masking import Masker, MaskingError
from nbwarden.masking.engine import STOP_CHECK_EVERY
from nbwarden.masking.errors import STOPPED
from nbwarden.masking.names import NER_BATCH_SIZE

fake = Faker()
Faker.seed(5)


@pytest.fixture(scope="module")
def masker() -> Masker:
    return Masker.for_profile(pseudonym_key=bytes(range(32)))


class StopAfter:
    """Answers false ``calls`` times, then true; counts how often it was asked."""

    def __init__(self, calls: int) -> None:
        self.calls = calls
        self.asked = 0

    def __call__(self) -> bool:
        self.asked += 1
        return self.asked > self.calls


def test_a_free_text_column_stops_part_way(masker: Masker) -> None:
    notes = [
        f"{fake.name()} asked about {fake.sentence(nb_words=6)}"
        for _ in range(3 * STOP_CHECK_EVERY)
    ]
    stop = StopAfter(calls=2)
    with pytest.raises(MaskingError, match=STOPPED):
        masker.mask_table(pa.table({"notes": notes}), stop=stop)
    assert stop.asked == 3  # before the column, at its first text, after STOP_CHECK_EVERY


def test_ner_stops_between_batches(masker: Masker) -> None:
    windows = [f"{fake.name()} called" for _ in range(2 * NER_BATCH_SIZE + 1)]
    stop = StopAfter(calls=1)
    with pytest.raises(MaskingError, match=STOPPED):
        masker.names.find(windows, stop)
    assert stop.asked == 2


def test_a_stop_that_never_answers_true_changes_nothing(masker: Masker) -> None:
    emails = [fake.email() for _ in range(600)]
    table = pa.table({"email": emails, "notes": [f"Mail {e}" for e in emails]})
    stopped = masker.mask_table(table, stop=StopAfter(calls=10**6))
    plain = masker.mask_table(table)
    assert stopped.table.equals(plain.table) and stopped.entity_counts == plain.entity_counts


def test_shell_output_stops_in_its_free_text_and_in_its_tables(masker: Masker) -> None:
    """``mask_text`` and ``mask_output`` (a shell cell's stderr and stdout) ask ``stop`` too."""
    lines = [f"{fake.name()} wrote about {fake.sentence(nb_words=6)}" for _ in range(600)]
    rows = "\n".join(f" {fake.email()} | {fake.name()}" for _ in range(600))
    table = f" email | name\n-------+------\n{rows}\n(600 rows)\n"
    for mask, text in (
        (masker.mask_text, "\n".join(lines)),
        (masker.mask_output, "\n".join(lines)),
        (masker.mask_output, table),
    ):
        stop = StopAfter(calls=1)
        with pytest.raises(MaskingError, match=STOPPED):
            mask(text, stop)
        assert stop.asked == 2
    assert masker.mask_output(table, StopAfter(calls=10**6)).text == masker.mask_output(table).text
