"""Leaks the demo's support tickets showed: national IDs after a generic word (``ID
78035842610``), streets without a house number, and the postcode and town after a street.

Every value is synthetic (Faker, python-stdnum check digits, or made up for the test).
"""

from __future__ import annotations

import json
import random

import pyarrow as pa
import pytest
from faker import Faker
from stdnum.de import idnr
from stdnum.nl import bsn
from stdnum.pt import nif

from nbwarden.identifiers import normalize_identifier
from nbwarden.masking import Masker

KEY = bytes(range(32))
CHECKSUMMED_ALONE = ("pl_pesel", "dk_cpr")
"""Checksummed IDs whose pattern counts without context."""
DEMO_LOCALES = ("fr_FR", "es_ES", "it_IT", "nl_NL", "pl_PL", "de_DE", "en_GB", "en_US")


@pytest.fixture(scope="module")
def masker() -> Masker:
    return Masker.for_profile(pseudonym_key=KEY)


def _steuer_id(rng: random.Random) -> str:
    while True:
        body = str(rng.randint(1, 9)) + "".join(rng.choice("0123456789") for _ in range(9))
        for digit in "0123456789":
            if idnr.is_valid(body + digit):
                return body + digit


def _bsn(rng: random.Random) -> str:
    while not bsn.is_valid(number := str(rng.randrange(10**8, 10**9))):
        pass
    return number


def _pt_nif(rng: random.Random) -> str:
    body = rng.choice("12356789") + "".join(rng.choice("0123456789") for _ in range(7))
    return body + nif.calc_check_digit(body)


def _ids() -> list[str]:
    rng = random.Random(11)
    return [make(rng) for make in (_steuer_id, _bsn, _pt_nif) for _ in range(5)]


@pytest.mark.parametrize(
    "wording",
    ["(e-mail a@example.org, ID {})", "My ID no. {} thanks", "id number: {}",
     "identification {}", "Ausweis-Nr. {}", "ID is {}", "Dutch ID card number {}"],
)  # fmt: skip
def test_a_checksummed_id_after_a_generic_word_is_masked(masker: Masker, wording: str) -> None:
    """The demo's German Steuer-IDs and Dutch BSNs after ``ID`` stayed readable (32 of
    104 national IDs): their patterns counted only after ``steuer-id`` or ``bsn``."""
    for value in _ids():
        assert value not in masker.mask_text(wording.format(value)).text


@pytest.mark.parametrize(
    "wording",
    ["Order ID {} has not arrived.", "Invoice ID: {} paid twice.", "Customer-ID {} again",
     "Kunden-ID {} bitte prüfen", "tracking id {} shows delivered", "Ticket ID #{} reopened"],
)  # fmt: skip
def test_a_business_reference_passing_a_checksum_stays_readable(
    masker: Masker, wording: str
) -> None:
    """``ID`` after a word naming an order, invoice or ticket says nothing personal."""
    for value in _ids():
        assert value in masker.mask_text(wording.format(value)).text


def test_order_references_failing_every_checksum_stay_readable(masker: Masker) -> None:
    """Numbers that no checksummed ID of the profile accepts, after ``Order ID`` or ``ID``
    (a US SSN has no checksum and counts only after ``SSN``, so it plays no part)."""
    rng = random.Random(3)
    validators = [
        spec.validator
        for spec in masker.profile.recognizers
        if spec.validator and (spec.generic_id_context or spec.name in CHECKSUMMED_ALONE)
    ]
    numbers = (str(rng.randrange(10**8, 10**11)) for _ in range(2000))
    failing = [n for n in numbers if not any(check(n) for check in validators)][:100]
    assert len(failing) == 100
    for number in failing:
        for text in (f"Order ID {number} is late.", f"ID {number}", f"Order ID: {number}"):
            assert masker.mask_text(text).text == text


@pytest.mark.parametrize(
    "address",
    ["rue Marion, 58512 Saint Bernardnec", "rue de Ferrand, 53427 Moreno-sur-Mer",
     "C. de Silvio Cárdenas 73, 18665 La Rioja", "Wiesenweg 5, 2528 GO Hardinxveld-Giessendam",
     "ul. Polna 5, 62-968 Września", "Flat 5\nFinch Mission, KA4 5DU Carolside",
     "09280 Moore Rue, 36304 New Michael", "Avenida Feliciano Arnau 50 Piso 9 , 48108 Teruel",
     "Stretto Fortunata, 79 Piano 6, 81012 Saletto", "R. do Anjo, 98, 4182-059 Gafanha da Nazaré",
     "Louislei 26, 2015 Gallaix", "10 Downing Street, London SW1A 2AA",
     "1600 Pennsylvania Avenue, Washington, DC 20500"],
)  # fmt: skip
def test_a_street_with_its_postcode_and_town_is_masked_whole(masker: Masker, address: str) -> None:
    text = f"Hello, my parcel has not arrived at {address}. Please call me."
    assert masker.mask_text(text).text == (
        "Hello, my parcel has not arrived at <STREET_ADDRESS>. Please call me."
    )


@pytest.mark.parametrize(
    "text",
    ["The parcel was shipped from the 75001 Paris warehouse.",
     "Our 10115 Berlin store is closed on Monday.", "Deliveries to 1012 AB Amsterdam are late."],
)  # fmt: skip
def test_a_postcode_and_town_without_a_street_stay_readable(masker: Masker, text: str) -> None:
    assert masker.mask_text(text).text == text


def test_faker_addresses_of_the_demo_locales_are_masked_with_postcode_and_town(
    masker: Masker,
) -> None:
    """Before, 18% of these streets, 94% of their postcodes and 79% of their towns left
    a word readable; what is left are Faker's rarer oddities (``Warren Loaf``)."""
    readable = 0
    texts = []
    for locale in DEMO_LOCALES:
        fake = Faker(locale)
        fake.seed_instance(5)
        for _ in range(25):
            parts = (fake.street_address().strip(), fake.postcode(), fake.city())
            texts.append((f"My new address is {parts[0]}, {parts[1]} {parts[2]}. Thanks!", parts))
    for text, parts in texts:
        masked = masker.mask_text(text).text
        readable += any(part in masked for part in parts)
    assert readable <= len(texts) * 0.05


def test_a_cue_word_does_not_take_an_acronym_for_a_name(masker: Masker) -> None:
    """``Customer ID`` read ``ID`` as the customer's name and masked it as a PERSON."""
    assert masker.mask_text("Customer ID 73614184178 wants a refund").text == (
        "Customer ID 73614184178 wants a refund"
    )
    assert masker.mask_text("Customer Anna Kowalska called").text.startswith("Customer PERSON_")


def test_a_postcode_column_keeps_its_area_and_names_no_subject(masker: Masker) -> None:
    """A postcode column stayed readable beside masked names. It is cut to its first three
    characters (as HIPAA Safe Harbor cuts ZIP codes), and a postcode, shared by many
    people, is no data subject of its own."""
    table = pa.table(
        {
            "postcode": ["75001", "SW1A 2AA", "1234 AB", "62-968"],
            "billing_zip": ["90210-1234", "10115", "00184", "2100"],
            "zip_file": ["a.zip", "b.zip", "c.zip", "d.zip"],
        }
    )
    result = masker.mask_table(table)
    assert result.table.column("postcode").to_pylist() == ["750**", "SW1* ***", "123* **", "62-9**"]
    assert result.table.column("billing_zip").to_pylist()[:2] == ["902**-****", "101**"]
    assert result.table.column("zip_file").to_pylist() == ["a.zip", "b.zip", "c.zip", "d.zip"]
    assert result.entity_counts == {"POSTAL_CODE": 8}
    assert not list(result.subjects)


def test_a_postcode_in_json_names_no_subject_either(masker: Masker) -> None:
    """Under a ``postcode`` key, as a struct or as JSON text, it was recorded as one."""
    documents = [{"postcode": "SW1A 2AA", "city": "London"}]
    for column in (pa.array(documents), pa.array([json.dumps(documents[0])])):
        result = masker.mask_table(pa.table({"doc": column}))
        assert result.entity_counts == {"POSTAL_CODE": 1}
        assert not list(result.subjects)


def test_a_cue_word_does_not_take_a_title_for_a_name_in_long_columns(masker: Masker) -> None:
    """``Spoke with Mrs. Nowak`` masked ``Mrs`` as the name; and a column of 64 values or
    more goes through the RE2 prefilter, which has no lookaheads (they are dropped there)."""
    notes = ["Spoke with Mrs. Nowak today", "Customer ID 73614184178 wants a refund"] * 40
    masked = masker.mask_table(pa.table({"note": notes})).table.column("note").to_pylist()
    assert masked[0].startswith("Spoke with Mrs. PERSON_") and masked[0].endswith(" today")
    assert masked[1] == notes[1]


@pytest.mark.parametrize("written", ["%d/%m/%Y", "%d.%m.%Y", "%m/%d/%Y"])
def test_a_date_is_no_phone_number(written: str) -> None:
    """``08/10/1965`` passed as the German number 0810 1965: a birth date after ``DOB:``
    was recorded as a phone number, and an invoice date was masked as one."""
    masker = Masker.for_profile("default")
    fake = Faker()
    fake.seed_instance(90)
    born = fake.date_of_birth(minimum_age=20).strftime(written)
    birth = masker.mask_text(f"DOB: {born}")
    assert birth.text == "DOB: <DATE_OF_BIRTH>"
    assert {s.entity_type for s in birth.subjects} == {"DATE_OF_BIRTH"}
    invoice = f"Invoice date {fake.date_this_year().strftime(written)}"
    assert masker.mask_text(invoice).text == invoice


@pytest.mark.parametrize(
    ("text", "number"),
    [("Tel. 0221/4711-0", "+4922147110"), ("Durchwahl 030 1234567-89", "+4930123456789")],
)
def test_a_german_number_with_its_direct_dial_suffix_is_one_number(text: str, number: str) -> None:
    """``-0`` (the switchboard) or ``-89`` (an extension) after a German number is part of
    it; the national pattern read ``0221/4711`` alone, which no region validates."""
    result = Masker.for_profile("default").mask_text(text)
    assert result.text.split()[-1].startswith("PHONE_NUMBER_")
    assert [s.identifier for s in result.subjects] == [number]


@pytest.mark.parametrize(
    "line",
    [
        "sshd[812]: Failed password for {user} from 203.0.113.9 port 52144 ssh2",
        "sshd[812]: Accepted publickey for {user} from 203.0.113.9 port 52144 ssh2",
        "sshd[812]: Invalid user {user} from 203.0.113.9 port 52144",
        "pam_unix(sshd:session): session opened for user {user}(uid=1001) by (uid=0)",
        "sudo:   {user} : TTY=pts/0 ; PWD=/srv ; USER=root ; COMMAND=/bin/ls",
        "-rw------- 1 x x 0 Dec 7 /home/{user}/.bash_history",
        "C:\\Users\\{user}\\Documents\\report.xlsx",
        '203.0.113.9 - {user} [07/Dec/2026:08:01:02 +0000] "GET /account HTTP/1.1" 200 512',
        "-rw-r--r--  1 {user} staff  1234 Dec  7 08:01 report.csv",
        "{user}   pts/0        203.0.113.9      Mon Dec  7 08:01   still logged in",
        "{user}      4242  0.0  0.1  12345  6789 pts/0    S    08:01   0:00 bash",
    ],
)
def test_a_login_name_in_a_hosts_logs_is_masked(line: str) -> None:
    fake = Faker()
    fake.seed_instance(94)
    user = fake.user_name()
    result = Masker.for_profile("default").mask_output(line.format(user=user))
    assert user not in result.text and "USER_NAME_" in result.text
    names = [s.identifier for s in result.subjects if s.entity_type == "USER_NAME"]
    assert names == [normalize_identifier("USER_NAME", user)]


@pytest.mark.parametrize(
    "line",
    [
        "sshd[812]: Failed password for root from 203.0.113.9 port 22 ssh2",
        "pam_unix(cron:session): session opened for user postgres(uid=110) by (uid=0)",
        "for user in users from 3 lists",
        "ls /home/",
        '203.0.113.9 - - [07/Dec/2026:08:01:02 +0000] "GET / HTTP/1.1" 200 512',
        "drwxr-xr-x  2 root root 4096 Dec  7 08:01 etc",
        "postgres     777  0.1  1.2 200000 50000 ?        Ss   07:00   0:05 postgres",
    ],
)
def test_system_accounts_and_code_stay_as_they_were(line: str) -> None:
    shown = Masker.for_profile("default").mask_output(line).text
    assert "USER_NAME" not in shown


@pytest.mark.parametrize(
    "column", ["username", "user_name", "LoginName", "login", "user", "sAMAccountName"]
)
def test_a_column_named_for_login_names_is_masked_as_them(masker: Masker, column: str) -> None:
    """A login name is an online identifier: a request by it must find the result (a
    ``username`` column was masked as a person's name, and ``login`` or ``user`` not at all)."""
    fake = Faker()
    fake.seed_instance(95)
    users = list(dict.fromkeys(fake.user_name() for _ in range(30)))
    result = masker.mask_table(pa.table({column: users}))
    assert not set(users) & set(result.table.column(0).to_pylist())
    assert {(s.entity_type, s.identifier) for s in result.subjects} == {
        ("USER_NAME", normalize_identifier("USER_NAME", user)) for user in users
    }


def test_a_login_column_of_names_or_addresses_is_masked_as_those(masker: Masker) -> None:
    """Some schemas keep the person's name under ``user_name``, and many systems log users
    in by their e-mail address: a request by name or by address finds them."""
    fake = Faker()
    fake.seed_instance(96)
    names = [fake.name() for _ in range(30)]
    emails = [fake.email() for _ in range(30)]
    result = masker.mask_table(pa.table({"user_name": names, "user": emails}))
    assert {s.entity_type for s in result.subjects if s.column == "user_name"} == {"PERSON"}
    assert {s.entity_type for s in result.subjects if s.column == "user"} == {"EMAIL_ADDRESS"}
    shown = result.table.column("user_name").to_pylist() + result.table.column("user").to_pylist()
    assert not set(names + emails) & set(shown)


def test_numbers_and_times_under_login_names_stay(masker: Masker) -> None:
    """``user`` and ``login`` of numbers are keys and counts, ``last_login`` a time."""
    fake = Faker()
    fake.seed_instance(97)
    times = [fake.date_time() for _ in range(30)]
    table = pa.table({"user": list(range(30)), "login": list(range(30)), "last_login": times})
    assert masker.mask_table(table).table.equals(table)
    documents = [json.dumps({"user": number, "login": "ok"}) for number in range(30)]
    shown = masker.mask_table(pa.table({"event": documents})).table.column(0).to_pylist()
    assert [json.loads(document)["user"] for document in shown] == list(range(30))


def test_a_json_log_masks_its_login_names(masker: Masker) -> None:
    fake = Faker()
    fake.seed_instance(98)
    users = [fake.user_name() for _ in range(5)]
    log = "\n".join(json.dumps({"level": "info", "user": user, "event": "login"}) for user in users)
    result = masker.mask_output(log)
    assert not [user for user in users if user in result.text]
    assert [json.loads(line)["event"] for line in result.text.splitlines()] == ["login"] * 5
    assert {s.entity_type for s in result.subjects} == {"USER_NAME"}


@pytest.mark.parametrize(
    ("text", "entity", "identifier"),
    [
        ("NHS number 943 476 5919", "UK_NHS", "9434765919"),
        ("nhs no: 943-476-5919", "UK_NHS", "9434765919"),
        ("NHS No: 9434765919", "UK_NHS", "9434765919"),
        ("call me on 943 476 5919", "PHONE_NUMBER", "+19434765919"),
        ("Passport number 502135326", "NATIONAL_ID", "502135326"),
        ("Reisepass-Nr. C01X00T47 gültig bis 2031", "NATIONAL_ID", "C01X00T47"),
    ],
)
def test_nhs_and_passport_numbers_are_recorded_as_what_they_are(
    masker: Masker, text: str, entity: str, identifier: str
) -> None:
    """An NHS number is written as a US phone number is; after ``NHS`` it was recorded as a
    phone number (written compact, it stayed readable), and so was a passport number:
    a request by the number found neither."""
    result = masker.mask_text(text)
    assert [(s.entity_type, s.identifier) for s in result.subjects] == [(entity, identifier)]


def test_passport_words_without_a_number_stay(masker: Masker) -> None:
    for text in ("passport office opens at 9", "Passport: renewal due", "passport no. pending"):
        assert masker.mask_text(text).text == text


def test_nhs_and_passport_columns_are_masked_as_them(masker: Masker) -> None:
    table = pa.table({"nhs_number": ["9434765919", "401 023 2137"], "passport": ["502135326"] * 2})
    result = masker.mask_table(table)
    assert {(s.entity_type, s.identifier) for s in result.subjects} == {
        ("UK_NHS", "9434765919"),
        ("UK_NHS", "4010232137"),
        ("NATIONAL_ID", "502135326"),
    }
