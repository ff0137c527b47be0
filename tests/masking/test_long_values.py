"""Long values (hashes, tokens, minified text, logs) cost time in proportion to their length.

An e-mail pattern used to try every position inside a long run of the characters an
address can start with, reading the rest of the run from each: a 300 kB hash in a shell
cell's output or a few in a result column kept a gateway worker busy for minutes. And
each span found in a text was compared with every other: 8,000 lines of a log (790 kB)
took 52 s to mask, 4,000 lines of notes two minutes. The timeouts below are guards
against that, tens to hundreds of times what masking takes now.
"""

from __future__ import annotations

import hashlib

import pyarrow as pa
import pytest
from faker import Faker
from hypothesis import given
from hypothesis import strategies as st

from nbwarden.identifiers import PERSON
from nbwarden.masking import Masker
from nbwarden.masking.names import MAX_WINDOW_CHARS
from nbwarden.masking.scanner import FEW_SPANS, Span, _rank, resolve_overlaps

KEY = bytes(range(32))
TOKEN_CHARS = 300_000
fake = Faker()
Faker.seed(11)


@pytest.fixture(scope="module")
def masker() -> Masker:
    return Masker.for_profile(pseudonym_key=KEY)


def long_token(seed: int) -> str:
    digest = hashlib.sha256(str(seed).encode()).hexdigest()
    return (digest * (TOKEN_CHARS // len(digest) + 1))[:TOKEN_CHARS]


@pytest.mark.timeout(60)
def test_addresses_after_long_runs_are_masked_and_the_runs_kept(masker: Masker) -> None:
    email = fake.email()
    dotted = "a." * (TOKEN_CHARS // 2)
    spelled = f"{fake.user_name()} (at) example (dot) org"
    text = f"{long_token(1)} {email}\n{dotted} {spelled}\n{'x' * TOKEN_CHARS}"
    masked = masker.mask_text(text)
    assert email not in masked.text and spelled not in masked.text
    assert long_token(1) in masked.text and dotted in masked.text
    assert masked.entity_counts.get("EMAIL_ADDRESS") == 2


@pytest.mark.timeout(60)
def test_a_column_of_a_few_long_values_is_scanned_whole(masker: Masker) -> None:
    """Few values are matched with Python's patterns, not the RE2 prefilter; each is
    read once, however long."""
    emails = [fake.email() for _ in range(3)]
    values = [f"{long_token(seed)} {email}" for seed, email in enumerate(emails)]
    result = masker.mask_table(pa.table({"payload": values}))
    shown = result.table.column("payload").to_pylist()
    assert not any(email in value for email in emails for value in shown)
    assert all(value.startswith(long_token(seed)) for seed, value in enumerate(shown))


@pytest.mark.timeout(60)
def test_a_long_log_is_masked_line_by_line_in_one_pass(masker: Masker) -> None:
    lines = [
        f"{fake.date_time().isoformat()} INFO login ip={fake.ipv4()} user={fake.email()}"
        for _ in range(16_000)
    ]
    masked = masker.mask_output("\n".join(lines))
    assert masked.entity_counts.get("EMAIL_ADDRESS") == len(lines)
    assert masked.entity_counts.get("IP_ADDRESS") == len(lines)


@pytest.mark.timeout(60)
def test_a_long_text_of_names_is_masked_in_one_pass(masker: Masker) -> None:
    """NER's spans were added window by window, each time resolving the whole text's
    spans again: 4,000 lines of notes took two minutes."""
    people = [(fake.name(), fake.email()) for _ in range(6_000)]
    text = "\n".join(f"{name} wrote from {email} about a parcel." for name, email in people)
    masked = masker.mask_output(text)
    assert masked.entity_counts.get("EMAIL_ADDRESS") == len(people)
    readable = sum(name in masked.text for name, _ in people)
    assert readable < len(people) // 20  # NER misses some (``Scott May``, ``Ruth Guzman MD``)


@pytest.mark.timeout(60)
def test_a_listing_of_names_without_full_stops_is_read_in_short_windows(masker: Masker) -> None:
    """Lines without a full stop merged into one window of the whole text: NER read it as
    one document that no ``stop`` could interrupt, and each name it found joined the
    document's text again (6,000 such lines, 345 kB, took 24 s)."""
    names = [fake.name() for _ in range(3_000)]
    text = "\n".join(f"Visit by {name} to the depot {number}" for number, name in enumerate(names))
    windows = masker.names.windows(text, [])
    assert len(windows) > 100 and max(end - start for start, end in windows) <= MAX_WINDOW_CHARS
    masked = masker.mask_output(text)
    readable = sum(name in masked.text for name in names)
    assert readable < len(names) // 20


@pytest.mark.timeout(60)
def test_many_spans_in_one_text_are_resolved_in_one_pass(masker: Masker) -> None:
    """400 kB of ``Rue``: a street span at every word (minutes before)."""
    masked = masker.mask_text("Rue " * 100_000)
    assert "Rue Rue" not in masked.text


def previous_resolve_overlaps(spans: list[Span]) -> list[Span]:
    """The oracle: every span compared with every other."""
    chosen: list[Span] = []
    for span in sorted(spans, key=lambda s: (-_rank(s, spans), -(s.end - s.start), s.start)):
        if not any(span.overlaps(other) for other in chosen):
            chosen.append(span)
    return sorted(chosen, key=lambda s: s.start)


SPANS = st.builds(
    lambda start, length, entity, score: Span(start, start + length, entity, score),
    st.integers(0, 300),
    st.integers(1, 60),
    st.sampled_from([PERSON, "EMAIL_ADDRESS", "PHONE_NUMBER", "STREET_ADDRESS"]),
    st.sampled_from([0.3, 0.5, 0.85, 0.9, 1.0]),
)


@given(st.lists(SPANS, min_size=FEW_SPANS + 1, max_size=3 * FEW_SPANS))
def test_many_spans_resolve_as_when_compared_pairwise(spans: list[Span]) -> None:
    assert resolve_overlaps(spans) == previous_resolve_overlaps(spans)
