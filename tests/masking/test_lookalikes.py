"""Look-alike characters and unusual spellings do not hide personal data from the masker.

A fullwidth at sign, a no-break space, a zero-width space or a soft hyphen inside a value
defeated patterns written for ASCII, and so did an IBAN in lower case or with dashes, or
one followed by a short word the pattern read on into.
"""

from __future__ import annotations

import ipaddress

import pyarrow as pa
import pytest
from faker import Faker

from nbwarden.identifiers import EMAIL, PHONE
from nbwarden.masking import Masker
from nbwarden.masking.plain import plain_text

KEY = bytes(range(32))
PHONE_E164 = "+442079460958"


@pytest.fixture(scope="module")
def masker() -> Masker:
    return Masker.for_profile(pseudonym_key=KEY)


@pytest.fixture
def email() -> str:
    Faker.seed(99)
    return str(Faker().email())


def disguised_emails(email: str) -> dict[str, str]:
    local, domain = email.split("@")
    return {
        "fullwidth at": f"{local}\uff20{domain}",
        "zero-width space": f"{local[:2]}\u200b{local[2:]}@{domain}",
        "soft hyphen": f"{local}\u00ad@{domain}",
        "fullwidth letters": "".join(chr(ord(c) + 0xFEE0) if c.isalnum() else c for c in email),
        "spelled out": f"{local} (at) {domain.replace('.', ' (dot) ')}",
    }


def test_disguised_emails_are_masked_as_the_plain_address(masker: Masker, email: str) -> None:
    plain = masker.mask_text(f"write to {email} today")
    for how, disguised in disguised_emails(email).items():
        masked = masker.mask_text(f"write to {disguised} today")
        assert masked.text == plain.text, how
        assert [(s.entity_type, s.identifier) for s in masked.subjects] == [
            (EMAIL, email.lower())
        ], how


def test_an_address_spaced_around_the_at_sign_counts_after_a_context_word(
    masker: Masker, email: str
) -> None:
    spaced = email.replace("@", " @ ")
    masked = masker.mask_text(f"e-mail: {spaced}, thanks")
    assert masked.text.startswith("e-mail: EMAIL_ADDRESS_") and masked.text.endswith(", thanks")
    assert [(s.entity_type, s.identifier) for s in masked.subjects] == [(EMAIL, email.lower())]
    assert masker.mask_text(f"meet {spaced}").text == f"meet {spaced}"


def test_disguised_values_in_columns_are_masked_and_indexed(masker: Masker, email: str) -> None:
    Faker.seed(5)
    iban = Faker("en_GB").iban()
    grouped = " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))
    values = [
        *disguised_emails(email).values(),
        "+44\u00a020\u00a07946\u00a00958",
        "+44 \uff12\uff10 \uff17\uff19\uff14\uff16 \uff10\uff19\uff15\uff18",
        grouped.lower(),
        grouped.replace(" ", "-"),
    ]
    table = pa.table(
        {
            "note": [f"Customer says: {value} (see ticket)" for value in values],
            "code": values,
        }
    )
    result = masker.mask_table(table)
    for column in ("note", "code"):
        masked = result.table.column(column).to_pylist()
        assert result.masked_cells[column] == list(range(len(values))), column
        for value, out in zip(values, masked, strict=True):
            assert value not in out and iban[4:] not in out.replace(" ", "").replace("-", "")
    notes = result.table.column("note").to_pylist()
    assert all(n.startswith("Customer says: ") and n.endswith(" (see ticket)") for n in notes)
    identifiers = {(s.entity_type, s.identifier) for s in result.subjects}
    assert {(EMAIL, email.lower()), (PHONE, PHONE_E164), ("IBAN_CODE", iban)} <= identifiers


def test_text_around_a_masked_value_keeps_its_own_characters(masker: Masker, email: str) -> None:
    text = f"Caf\u00e9 \uff21\uff22 \u2014 {email.replace('@', chr(0xFF20))} \u2014 fin"
    masked = masker.mask_text(text).text
    assert masked.startswith("Caf\u00e9 \uff21\uff22 \u2014 EMAIL_ADDRESS_")
    assert masked.endswith(" \u2014 fin")


def test_plain_text_maps_back_to_the_original_characters() -> None:
    original = "a\u200bb\uff20c"
    plain = plain_text(original)
    assert plain is not None and plain.text == "ab@c"
    assert plain.original_bounds(1, 4) == (2, 5)
    assert plain_text("ascii only") is None and plain_text("Jos\u00e9") is None


@pytest.mark.parametrize("locale", ["nl_BE", "de_AT", "es_ES", "pl_PL"])
def test_a_grouped_iban_followed_by_a_short_word_is_masked(masker: Masker, locale: str) -> None:
    """These IBANs end on a full group of four, so the pattern reads on into ``for``;
    the part before that word is what validates."""
    Faker.seed(8)
    iban = Faker(locale).iban()
    grouped = " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))
    for written in (grouped, grouped.lower(), grouped.replace(" ", "-")):
        masked = masker.mask_text(f"Refund to {written} for the order").text
        assert masked.endswith(" for the order") and iban[4:8] not in masked, written


def test_values_as_urls_logs_and_receipts_write_them(masker: Masker, email: str) -> None:
    """A URL-encoded or URL-embedded address is the plain one (and DSAR finds it under
    that); card numbers grouped by dots or as American Express prints them (4-6-5) and
    compressed IPv6 addresses are found too."""
    local, domain = email.split("@")
    for written in (f"{local}%40{domain}", f"https://shop.example/track?user={email}&x=1"):
        masked = masker.mask_text(f"GET {written} 200")
        assert local not in masked.text, written
        assert (EMAIL, email.lower()) in {(s.entity_type, s.identifier) for s in masked.subjects}
    Faker.seed(3)
    card = Faker().credit_card_number(card_type="visa16")
    dotted = ".".join(card[i : i + 4] for i in range(0, 16, 4))
    assert masker.mask_text(f"paid with {dotted} today").text == "paid with ****.****.****." + (
        card[12:] + " today"
    )
    amex = Faker().credit_card_number(card_type="amex")
    printed = f"{amex[:4]} {amex[4:10]} {amex[10:]}"
    assert masker.mask_text(f"paid with {printed} today").text == "paid with **** ****** *" + (
        amex[11:] + " today"
    )
    address = ipaddress.IPv6Address(Faker().ipv6())
    compressed = ipaddress.IPv6Address(int(address) & ~(0xFFFFFFFF << 64)).compressed
    masked = masker.mask_text(f"login from {compressed} at 12:30:45").text
    assert "::" in compressed and masked.startswith("login from IP_ADDRESS_")
    assert masker.mask_text("rack 00:1a:2b:3c:4d:5e at 12:30:45").text.endswith("at 12:30:45")


def test_names_in_a_text_written_in_capitals_are_masked(masker: Masker) -> None:
    """NER finds names through capitalisation; legacy systems write whole notes in
    capitals. The words around the name (``CUSTOMER``, ``REF IBAN``) stay readable."""
    Faker.seed(21)
    fake = Faker()
    people = [f"{fake.first_name()} {fake.last_name()}" for _ in range(8)]
    notes = [
        f"CUSTOMER {person.upper()} CALLED ABOUT A LATE DELIVERY. REF IBAN" for person in people
    ]
    result = masker.mask_table(pa.table({"notes": notes}))
    for person, masked in zip(people, result.table.column("notes").to_pylist(), strict=True):
        assert masked.startswith("CUSTOMER PERSON_"), masked
        assert masked.endswith(" CALLED ABOUT A LATE DELIVERY. REF IBAN"), masked
        assert not set(person.upper().split()) & set(masked.split()), masked
    identifiers = {s.identifier for s in result.subjects if s.entity_type == "PERSON"}
    assert identifiers == {person.casefold() for person in people}


def test_a_phone_extension_in_capitals_is_part_of_the_number(masker: Masker) -> None:
    lower = masker.mask_text("call back on 001-555-243-1234x567 today").text
    upper = masker.mask_text("CALL BACK ON 001-555-243-1234X567 TODAY").text
    assert upper.startswith("CALL BACK ON PHONE_NUMBER_") and upper.endswith(" TODAY")
    assert upper.split()[3] == lower.split()[3]


def test_street_addresses_in_a_text_written_in_capitals_are_masked(masker: Masker) -> None:
    """The street patterns expect capitalised words; a text in capitals is scanned in
    its capitalised form too (2 of these 20 were found before)."""
    fake = Faker("en_US")
    Faker.seed(2)
    streets = [fake.street_address().upper() for _ in range(20)]
    masked = [
        masker.mask_text(f"PLEASE DELIVER TO {street} BEFORE NOON").text for street in streets
    ]
    assert sum(street not in text for street, text in zip(streets, masked, strict=True)) >= 15
    assert all(text.startswith("PLEASE DELIVER TO ") for text in masked)
