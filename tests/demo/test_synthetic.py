"""The synthetic demo data: deterministic, realistic, personal data in every table."""

from __future__ import annotations

import re
from datetime import datetime

import phonenumbers
import pytest

from nbwarden.demo.synthetic import COUNTRIES, REFERENCE_TIME, DemoData, generate
from nbwarden.masking.validators import is_uk_nino

EMAIL = re.compile(r"^[a-z0-9.]+@[a-z0-9.-]+\.[a-z]{2,}$")


@pytest.fixture(scope="module")
def data() -> DemoData:
    return generate(rows=400, seed=7)


def iban_is_valid(iban: str) -> bool:
    """ISO 13616 mod-97 check, written out here independently of Faker."""
    rearranged = iban[4:] + iban[:4]
    digits = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(digits) % 97 == 1


def test_same_seed_gives_the_same_rows_and_another_seed_does_not(data: DemoData) -> None:
    assert generate(rows=400, seed=7) == data
    other = generate(rows=400, seed=8)
    assert other.customers != data.customers
    assert other.events != data.events


def test_sizes_follow_the_number_of_customers(data: DemoData) -> None:
    assert len(data.customers) == 400
    assert len(data.events) == 1200
    assert len(data.support_tickets) == 120
    assert 400 < len(data.orders) < 1600
    assert len(data.products) > 100


def test_customers_carry_valid_personal_data_from_every_locale(data: DemoData) -> None:
    assert {c["country"] for c in data.customers} == {name for name, _ in COUNTRIES.values()}
    emails = [c["email"] for c in data.customers]
    assert len(set(emails)) == len(emails)
    assert all(EMAIL.match(email) for email in emails)
    ibans = [c["iban"] for c in data.customers if c["iban"]]
    assert len(ibans) > 300
    assert all(iban_is_valid(iban) for iban in ibans)
    for customer in data.customers:
        assert customer["full_name"].count(" ") >= 1
        assert customer["phone"] and customer["national_id"] and customer["street_address"]
        assert customer["birth_date"].year >= 1950


def test_national_ids_are_ones_a_real_register_could_have_issued(data: DemoData) -> None:
    """Faker's UK numbers all start with ZZ, a prefix never allocated, so a masker rightly
    leaves them alone; the demo's identifiers must look like real people's."""
    uk = [c["national_id"] for c in data.customers if c["national_id_type"] == "NINO"]
    assert uk
    assert all(is_uk_nino(nino) for nino in uk)


def test_phone_numbers_are_valid_in_the_customers_country(data: DemoData) -> None:
    regions = dict(COUNTRIES.values())
    for customer in data.customers:
        number = phonenumbers.parse(customer["phone"], regions[customer["country"]])
        assert phonenumbers.is_valid_number(number)


def test_every_table_but_products_holds_a_customers_personal_data(data: DemoData) -> None:
    customers = {c["customer_id"]: c for c in data.customers}
    for order in data.orders:
        assert order["delivery_address"].startswith(
            customers[order["customer_id"]]["street_address"]
        )
    for ticket in data.support_tickets:
        customer = customers[ticket["customer_id"]]
        assert customer["full_name"] in ticket["body"] or customer["email"] in ticket["body"]
    identified = [e for e in data.events if e["customer_id"] is not None]
    assert len(identified) > len(data.events) // 2
    for event in identified:
        assert event["payload"]["email"] == customers[event["customer_id"]]["email"]
        assert re.match(r"^\d+\.\d+\.\d+\.\d+$", event["payload"]["ip"])
    product_text = " ".join(str(v) for p in data.products for v in p.values())
    assert not any(c["email"] in product_text for c in data.customers)


def test_everything_happened_before_the_reference_time(data: DemoData) -> None:
    times: list[datetime] = [c["created_at"] for c in data.customers]
    times += [o["ordered_at"] for o in data.orders]
    times += [t["opened_at"] for t in data.support_tickets]
    times += [e["occurred_at"] for e in data.events]
    assert max(times) < REFERENCE_TIME
    for order in data.orders:
        assert order["shipped_at"] is None or order["shipped_at"] > order["ordered_at"]
