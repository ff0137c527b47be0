"""Synthetic customer-interaction tables with planted personal data (Faker, 15 locales).

Every personal value planted is listed with its row, column and entity type, and every
benign business value is listed too, so a benchmark can measure leaks and over-masking.
"""

from __future__ import annotations

import json
import random
import string
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import pyarrow as pa
from faker import Faker
from stdnum.be import nn
from stdnum.de import idnr
from stdnum.dk import cpr
from stdnum.ie import pps
from stdnum.pt import nif

LOCALES = (
    "en_US", "en_GB", "en_IE", "de_DE", "de_AT", "fr_FR", "nl_BE", "nl_NL",
    "es_ES", "pt_PT", "it_IT", "pl_PL", "sv_SE", "fi_FI", "da_DK",
)  # fmt: skip

PRODUCT_WORDS = ("Lamp", "Sofa", "Desk", "Chair", "Shelf", "Rug", "Mirror", "Kettle", "Bag")
PRODUCT_PREFIXES = (
    "Paris", "Victoria", "Lincoln", "Florence", "Madison", "Berlin", "Austin",
    "Georgia", "Sydney", "Milano", "Jackson", "Charlotte", "Oslo", "Grace",
)  # fmt: skip


@dataclass
class Dataset:
    table: pa.Table
    planted: list[tuple[int, str, str, str]] = field(default_factory=list)
    """(row, column, entity type, raw value) for every personal value planted."""
    benign_columns: tuple[str, ...] = ()


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.digits) for _ in range(n))


def _complete(prefix: str, alphabet: str, valid: Callable[[str], bool]) -> str | None:
    for ch in alphabet:
        if valid(prefix + ch):
            return prefix + ch
    return None


def _retry(make: Callable[[], str | None]) -> str:
    for _ in range(1000):
        value = make()
        if value:
            return value
    raise RuntimeError("could not generate a valid identifier")


def national_id(locale: str, fake: Faker, rng: random.Random) -> tuple[str, str]:
    """A valid national identifier of ``locale`` and its entity type."""
    if locale == "en_US":
        return "US_SSN", fake.ssn()
    if locale == "en_GB":
        prefix = rng.choice(["AB", "CE", "JG", "KL", "PR", "TW", "WP"])
        return "UK_NINO", f"{prefix}{_digits(rng, 6)}{rng.choice('ABCD')}"
    if locale == "en_IE":
        return "IE_PPSN", _retry(
            lambda: _complete(_digits(rng, 7), "ABCDEFGHIJKLMNOPQRSTUVW", pps.is_valid)
        )
    if locale == "de_DE":
        return "DE_TAX_ID", _retry(
            lambda: _complete(
                str(rng.randint(1, 9)) + _digits(rng, 9), string.digits, idnr.is_valid
            )
        )
    if locale == "de_AT":
        return "AT_SVNR", fake.ssn()
    if locale == "fr_FR":
        return "FR_NIR", fake.ssn()
    if locale == "nl_BE":
        birth = fake.date_of_birth(minimum_age=18, maximum_age=90).strftime("%y%m%d")
        return "BE_NATIONAL_NUMBER", _retry(
            lambda: next(
                (
                    birth + s + f"{c:02d}"
                    for s in [_digits(rng, 3)]
                    for c in range(100)
                    if nn.is_valid(birth + s + f"{c:02d}")
                ),
                None,
            )
        )
    if locale == "nl_NL":
        return "NL_BSN", fake.ssn()
    if locale == "es_ES":
        return ("ES_NIF", fake.nif()) if rng.random() < 0.7 else ("ES_NIE", fake.nie())
    if locale == "pt_PT":
        return "PT_NIF", _retry(
            lambda: _complete(rng.choice("12356789") + _digits(rng, 7), string.digits, nif.is_valid)
        )
    if locale == "it_IT":
        return "IT_FISCAL_CODE", fake.ssn()
    if locale == "pl_PL":
        return "PL_PESEL", fake.pesel()
    if locale == "sv_SE":
        return "SE_PERSONNUMMER", fake.ssn()
    if locale == "fi_FI":
        return "FI_HETU", fake.ssn()
    birth = fake.date_of_birth(minimum_age=18, maximum_age=90).strftime("%d%m%y")
    return "DK_CPR", _retry(
        lambda: _complete(f"{birth}-{_digits(rng, 3)}", string.digits, cpr.is_valid)
    )


def _card(rng: random.Random) -> str:
    from stdnum import luhn

    body = rng.choice(["4", "51", "52", "55", "37"]) + _digits(rng, 13)
    number = body + luhn.calc_check_digit(body)
    return " ".join(number[i : i + 4] for i in range(0, 16, 4))


def seeded_faker(locale: str, seed: int) -> Faker:
    """A seeded Faker that draws the same values in every process: Faker builds its it_IT
    towns from a set, in an order that changes with each process's hash seed, and the
    benchmark's figures moved from run to run with them."""
    fake = Faker(locale)
    fake.seed_instance(seed)
    for provider in fake.providers:
        towns = getattr(provider, "cities", None)
        if isinstance(towns, list):
            provider.cities = sorted(towns)  # type: ignore[attr-defined]
    return fake


def generate(rows: int, seed: int = 7) -> Dataset:
    rng = random.Random(seed)
    fakers = {locale: seeded_faker(locale, seed + index) for index, locale in enumerate(LOCALES)}
    planted: list[tuple[int, str, str, str]] = []
    columns: dict[str, list[str]] = {name: [] for name in COLUMNS}
    for row in range(rows):
        locale = LOCALES[row % len(LOCALES)]
        values = _row(row, fakers[locale], locale, rng, planted)
        for name in COLUMNS:
            columns[name].append(values[name])
    table = pa.table({name: pa.array(columns[name], pa.string()) for name in COLUMNS})
    return Dataset(table, planted, BENIGN_COLUMNS)


COLUMNS = ("customer_id", "cust_nm", "c1", "x", "ref", "acct", "address", "birth_date",
           "ip", "product", "sku", "amount", "order_uuid", "created_at", "order_id",
           "ticket", "payload")  # fmt: skip
BENIGN_COLUMNS = ("customer_id", "product", "sku", "amount", "order_uuid", "created_at", "order_id")


def _row(
    row: int, fake: Faker, locale: str, rng: random.Random, planted: list[tuple[int, str, str, str]]
) -> dict[str, str]:
    first, last = fake.first_name(), fake.last_name()
    name = f"{first} {last}"
    email = f"{first}.{last}@{fake.free_email_domain()}".lower().replace(" ", "")
    phone = fake.phone_number()
    id_type, id_value = national_id(locale, fake, rng)
    iban = fake.iban()
    address = fake.street_address().replace("\n", ", ")
    dob = fake.date_of_birth(minimum_age=18, maximum_age=90).isoformat()
    ip = _ipv4(rng) if rng.random() < 0.8 else fake.ipv6()
    card = _card(rng)

    def plant(column: str, entity: str, value: str) -> str:
        planted.append((row, column, entity, value))
        return value

    mentioned = name if rng.random() < 0.7 else f"{fake.first_name()} {fake.last_name()}"
    other_phone = fake.phone_number()
    ticket_parts = [
        rng.choice(["Hi, this is", "Customer", "Call from", "Escalated by"]) + f" {mentioned}.",
        rng.choice([f"Please call back on {other_phone}.", f"Reach me at {other_phone}."]),
    ]
    ticket_entities = [("PERSON", mentioned), ("PHONE_NUMBER", other_phone)]
    extra = rng.random()
    if extra < 0.25:
        ticket_parts.append(f"Card {card} was charged twice for the {_product(rng)}.")
        ticket_entities.append(("CREDIT_CARD", card))
    elif extra < 0.5:
        ticket_parts.append(f"Refund to IBAN {iban} please.")
        ticket_entities.append(("IBAN_CODE", iban))
    elif extra < 0.7:
        ticket_parts.append(f"New address: {address}.")
        ticket_entities.append(("STREET_ADDRESS", address))
    elif extra < 0.85:
        ticket_parts.append(
            f"My {id_type.split('_', 1)[1].replace('_', ' ').lower()} is {id_value}."
        )
        ticket_entities.append((id_type, id_value))
    else:
        ticket_parts.append(f"Date of birth {dob}, email {email}.")
        ticket_entities.extend([("DATE_OF_BIRTH", dob), ("EMAIL_ADDRESS", email)])
    ticket_parts.append(rng.choice(["Order arrived damaged.", "Wrong size delivered.", "Thanks!"]))
    for entity, value in ticket_entities:
        plant("ticket", entity, value)
    payload_email = fake.email()
    plant("payload", "EMAIL_ADDRESS", payload_email)
    plant("payload", "IP_ADDRESS", ip)
    payload = {
        "event": rng.choice(["login", "checkout", "profile_update"]),
        "user": {"email": payload_email, "locale": locale},
        "client": {"ip": ip},
        "items": [{"sku": _sku(rng), "qty": rng.randint(1, 5)}],
        "amount": round(rng.uniform(5, 900), 2),
    }
    return {
        "customer_id": f"CUS-{row:07d}",
        "cust_nm": plant("cust_nm", "PERSON", name),
        "c1": plant("c1", "EMAIL_ADDRESS", email),
        "x": plant("x", "PHONE_NUMBER", phone),
        "ref": plant("ref", id_type, id_value),
        "acct": plant("acct", "IBAN_CODE", iban),
        "address": plant("address", "STREET_ADDRESS", address),
        "birth_date": plant("birth_date", "DATE_OF_BIRTH", dob),
        "ip": plant("ip", "IP_ADDRESS", ip),
        "product": _product(rng),
        "sku": _sku(rng),
        "amount": f"{rng.uniform(1, 5000):.2f}",
        "order_uuid": str(fake.uuid4()),
        "created_at": fake.date_time_between("-2y").isoformat(sep=" "),
        "order_id": f"ORD-{rng.randint(10**7, 10**8 - 1)}",
        "ticket": " ".join(ticket_parts),
        "payload": json.dumps(payload, ensure_ascii=False),
    }


def _ipv4(rng: random.Random) -> str:
    return (
        f"{rng.randint(11, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
    )


def generate_wide(rows: int, pool_rows: int = 3000, seed: int = 11) -> Dataset:
    """The 1M-cell shape: 10 columns, one short free text, the rest structured.

    Personal values come from a pool of ``pool_rows`` generated people (so names, phones,
    IDs and addresses repeat, as customers do across orders); e-mails, the free text and
    every benign value are fresh for each row.
    """
    rng = random.Random(seed)
    names = Faker(list(LOCALES))
    names.seed_instance(seed)
    pool = generate(pool_rows, seed)
    people = pool.table.select(["cust_nm", "x", "ref", "address"]).to_pylist()
    domains = ("example.com", "mail.de", "post.fr", "correo.es", "posta.it", "web.nl")
    columns: dict[str, list[str]] = {name: [] for name in WIDE_COLUMNS}
    planted: list[tuple[int, str, str, str]] = []
    entity_of_ref = {r: e for _, c, e, r in pool.planted if c == "ref"}
    for row in range(rows):
        person = people[rng.randrange(len(people))]
        other = people[rng.randrange(len(people))]["cust_nm"]
        if rng.random() < 0.5:
            other = f"{names.first_name()} {names.last_name()}"
        first, last = person["cust_nm"].split(" ", 1)
        email = f"{first}.{last}{rng.randint(1, 9999)}@{rng.choice(domains)}".lower().replace(
            " ", ""
        )
        ticket = rng.choice(["Call back", "Refund for", "Complaint from", "Escalated by"])
        ticket += f" {other} re order {rng.randint(10**5, 10**6)}"
        values = {
            "cust_nm": person["cust_nm"],
            "c1": email,
            "x": person["x"],
            "ref": person["ref"],
            "address": person["address"],
            "product": _product(rng),
            "sku": _sku(rng),
            "amount": f"{rng.uniform(1, 5000):.2f}",
            "order_uuid": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "ticket": ticket,
        }
        for name, value in values.items():
            columns[name].append(value)
        for name, entity in (("cust_nm", "PERSON"), ("c1", "EMAIL_ADDRESS"), ("x", "PHONE_NUMBER"),
                             ("address", "STREET_ADDRESS")):  # fmt: skip
            planted.append((row, name, entity, values[name]))
        planted.append((row, "ref", entity_of_ref[person["ref"]], person["ref"]))
        planted.append((row, "ticket", "PERSON", other))
    table = pa.table({name: pa.array(columns[name], pa.string()) for name in WIDE_COLUMNS})
    return Dataset(table, planted, ("product", "sku", "amount", "order_uuid"))


WIDE_COLUMNS = ("cust_nm", "c1", "x", "ref", "address", "product", "sku", "amount",
                "order_uuid", "ticket")  # fmt: skip


def _product(rng: random.Random) -> str:
    return f"{rng.choice(PRODUCT_PREFIXES)} {rng.choice(PRODUCT_WORDS)}"


def _sku(rng: random.Random) -> str:
    return f"SKU-{rng.randint(10000, 99999)}-{rng.choice(string.ascii_uppercase)}"


NOTE_TEMPLATES = (
    "Dear support, I ({name}, born {birth}) moved last month.",
    "Under GDPR Article 15 I, {name}, ask for a copy of all data you hold about me.",
    "My partner {name} can log in fine from the same laptop.",
    "Spoke to {name} about the late delivery and promised a voucher.",
    "{name} says the parcel was left with the neighbours.",
    "Forwarded to {name}: the invoice total looks wrong.",
    "At the request of {name} the account was closed.",
    "Agent note: {name} was upset on the phone, please follow up.",
    "Thanks for your help. {name}",
    "Delivery signed for by {name} at the front desk.",
    "The account holder is {name}, but the card belongs to a relative.",
    "Could {name} ring me back tomorrow morning?",
    "cc {name}, finance team",
    "Duplicate of the ticket that {name} opened last week.",
    "Refund approved by {name} (team lead) on Monday.",
    "Password reset for {name} done, new login sent by post.",
)
"""Free-text notes written for this benchmark alone: none of their wording was taken from,
or added to, the masking profile's cue words, so they measure how the masker does on
phrasing it was not tuned for."""
BENIGN_NOTES = (
    "The {product} arrived broken, second time this month.",
    "Order shipped from the {city} warehouse on Friday.",
    "Invoice from {company} attached, VAT included.",
    "Customer asked whether the {product} comes in another colour.",
    "Returned {product} restocked at {city}.",
)


def generate_notes(rows: int, seed: int = 13, locales: Sequence[str] = LOCALES) -> Dataset:
    """Notes naming a person once (a name nowhere else in the row, so only the free-text
    path can find it), beside notes about products, places and companies."""
    rng = random.Random(seed)
    fakers = [seeded_faker(locale, seed + index) for index, locale in enumerate(locales)]
    planted: list[tuple[int, str, str, str]] = []
    notes, remarks = [], []
    for row in range(rows):
        fake = fakers[row % len(fakers)]
        name = f"{fake.first_name()} {fake.last_name()}"
        birth = fake.date_of_birth(minimum_age=18, maximum_age=90).isoformat()
        notes.append(rng.choice(NOTE_TEMPLATES).format(name=name, birth=birth))
        planted.append((row, "note", "PERSON", name))
        remarks.append(
            rng.choice(BENIGN_NOTES).format(
                product=_product(rng), city=fake.city(), company=fake.company()
            )
        )
    table = pa.table({"note": pa.array(notes), "remark": pa.array(remarks)})
    return Dataset(table, planted, ("remark",))
