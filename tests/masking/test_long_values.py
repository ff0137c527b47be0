"""Long values (hashes, tokens, minified text) cost time in proportion to their length.

An e-mail pattern used to try every position inside a long run of the characters an
address can start with, reading the rest of the run from each: a 300 kB hash in a shell
cell's output or a few in a result column kept a gateway worker busy for minutes. The
timeouts below are guards against that, hundreds of times what the scan takes.
"""

from __future__ import annotations

import hashlib

import pyarrow as pa
import pytest
from faker import Faker

from nbwarden.masking import Masker

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
