"""Synthetic "production" data full of personal data, generated with Faker.

Everything is drawn from a seeded :class:`random.Random` and per-locale Faker instances
seeded from it, and every date is relative to :data:`REFERENCE_TIME` rather than today,
so one seed always gives the same rows.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import phonenumbers
from faker import Faker

Row = dict[str, Any]

DEFAULT_ROWS = 10_000
DEFAULT_SEED = 42
PHONE_DRAWS = 50
REFERENCE_TIME = datetime(2026, 1, 1, 9, 0, 0)

COUNTRIES: dict[str, tuple[str, str]] = {
    "en_GB": ("United Kingdom", "GB"),
    "de_DE": ("Germany", "DE"),
    "fr_FR": ("France", "FR"),
    "es_ES": ("Spain", "ES"),
    "it_IT": ("Italy", "IT"),
    "nl_NL": ("Netherlands", "NL"),
    "pl_PL": ("Poland", "PL"),
    "en_US": ("United States", "US"),
}
LOCALES = tuple(COUNTRIES)

NATIONAL_ID_TYPES: dict[str, str] = {
    "en_GB": "NINO",
    "de_DE": "STEUER_ID",
    "fr_FR": "NIR",
    "es_ES": "DNI",
    "it_IT": "CODICE_FISCALE",
    "nl_NL": "BSN",
    "pl_PL": "PESEL",
    "en_US": "SSN",
}

_CATEGORIES = {
    "APP": ("Apparel", ("T-Shirt", "Hoodie", "Rain Jacket", "Wool Scarf", "Chinos")),
    "HOM": ("Home", ("Desk Lamp", "Coffee Mug", "Throw Blanket", "Cutting Board", "Vase")),
    "ELE": ("Electronics", ("USB-C Charger", "Headphones", "Power Bank", "Smart Plug", "Webcam")),
    "OUT": ("Outdoor", ("Water Bottle", "Day Pack", "Tent", "Head Torch", "Camping Stove")),
}
_ADJECTIVES = ("Classic", "Essential", "Premium", "Compact", "Recycled", "Everyday", "Pro", "Eco")
_CHANNELS = ("email", "phone", "chat", "web form")
_TICKET_STATES = ("open", "pending", "closed", "closed", "closed")
_EVENT_TYPES = ("login", "page_view", "page_view", "add_to_cart", "checkout", "password_reset")

_TICKET_TEMPLATES = (
    (
        "Parcel not delivered",
        "Hello, my name is {name}. Order {order} has not arrived at {address}. "
        "Please call me on {phone} or write to {email}.",
    ),
    (
        "Refund request",
        "Hi, {name} here. I returned order {order} two weeks ago. Please refund the amount "
        "to my account {iban}. You can reach me at {email}.",
    ),
    (
        "Change of address",
        "Dear support, I ({name}, born {birth_date}) moved. My new address is {address}. "
        "My phone number is still {phone}.",
    ),
    (
        "Account locked",
        "I cannot log in with {email} since yesterday. My partner {other_name} can log in "
        "fine from the same laptop. Call back on {phone} please.",
    ),
    (
        "Data access request",
        "Under GDPR Article 15 I, {name}, ask for a copy of all data you hold about me "
        "(e-mail {email}, ID {national_id}).",
    ),
)


@dataclass(frozen=True)
class DemoData:
    """One generated data set: each attribute is the rows of one table."""

    products: list[Row]
    customers: list[Row]
    orders: list[Row]
    support_tickets: list[Row]
    events: list[Row]

    def tables(self) -> dict[str, list[Row]]:
        """Rows by table name, parents before children."""
        return {
            "products": self.products,
            "customers": self.customers,
            "orders": self.orders,
            "support_tickets": self.support_tickets,
            "events": self.events,
        }


def generate(rows: int = DEFAULT_ROWS, seed: int = DEFAULT_SEED) -> DemoData:
    """Generate ``rows`` customers and their orders, tickets and events."""
    if rows < 1:
        raise ValueError("the demo needs at least one customer")
    rng = random.Random(seed)
    fakers = {locale: _seeded_faker(locale, rng.randrange(2**32)) for locale in LOCALES}
    products = _products(rng)
    customers = _customers(rows, rng, fakers)
    orders = _orders(customers, products, rng)
    tickets = _support_tickets(customers, orders, rng, fakers)
    events = _events(customers, products, rng, fakers["en_US"])
    return DemoData(products, customers, orders, tickets, events)


def _seeded_faker(locale: str, seed: int) -> Faker:
    fake = Faker(locale)
    fake.seed_instance(seed)
    return fake


def _products(rng: random.Random) -> list[Row]:
    products: list[Row] = []
    for code, (category, items) in _CATEGORIES.items():
        for item in items:
            for adjective in _ADJECTIVES:
                product_id = len(products) + 1
                products.append(
                    {
                        "product_id": product_id,
                        "sku": f"{code}-{product_id:05d}",
                        "name": f"{adjective} {item}",
                        "category": category,
                        "unit_price": round(rng.uniform(4, 250), 2),
                    }
                )
    return products


def _customers(count: int, rng: random.Random, fakers: dict[str, Faker]) -> list[Row]:
    customers: list[Row] = []
    emails: set[str] = set()
    for customer_id in range(1, count + 1):
        locale = rng.choice(LOCALES)
        fake = fakers[locale]
        first, last = fake.first_name(), fake.last_name()
        country, _ = COUNTRIES[locale]
        customers.append(
            {
                "customer_id": customer_id,
                "full_name": f"{first} {last}",
                "email": _unique_email(first, last, fake.free_email_domain(), rng, emails),
                "phone": _phone(fake, COUNTRIES[locale][1]),
                "iban": None if locale == "en_US" else fake.iban(),
                "birth_date": date(1950, 1, 1) + timedelta(days=rng.randrange(365 * 55)),
                "street_address": fake.street_address(),
                "postcode": fake.postcode(),
                "city": fake.city(),
                "country": country,
                "national_id": _national_id(locale, fake, rng),
                "national_id_type": NATIONAL_ID_TYPES[locale],
                "created_at": REFERENCE_TIME - timedelta(minutes=rng.randrange(60 * 24 * 900)),
            }
        )
    return customers


def _phone(fake: Faker, region: str) -> str:
    """A number of the customer's country that its numbering plan allows: some of Faker's
    formats give numbers no real subscriber has (``0038 305960``)."""
    number = fake.phone_number()
    for _ in range(PHONE_DRAWS):
        try:
            if phonenumbers.is_valid_number(phonenumbers.parse(number, region)):
                return number
        except phonenumbers.NumberParseException:
            pass
        number = fake.phone_number()
    return number


def _unique_email(first: str, last: str, domain: str, rng: random.Random, taken: set[str]) -> str:
    local = f"{_ascii_slug(first)}.{_ascii_slug(last)}"
    candidate = f"{local}@{domain}"
    while candidate in taken:
        candidate = f"{local}{rng.randrange(10, 10_000)}@{domain}"
    taken.add(candidate)
    return candidate


def _ascii_slug(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.replace("ł", "l").replace("Ł", "L"))
    ascii_only = decomposed.encode("ascii", "ignore").decode("ascii")
    return "".join(ch for ch in ascii_only.lower() if ch.isalnum()) or "customer"


def _national_id(locale: str, fake: Faker, rng: random.Random) -> str:
    if locale == "de_DE":
        return _steuer_id(rng)
    if locale == "es_ES":
        return str(fake.nif())
    if locale == "pl_PL":
        return str(fake.pesel())
    if locale == "en_GB":
        return _nino(fake)
    return str(fake.ssn())


def _nino(fake: Faker) -> str:
    """A UK National Insurance number with an allocated prefix: Faker's all start with
    ``ZZ``, which HMRC never allocates, so no masker should take them for a person's."""
    prefix = fake.random_element(("AB", "CE", "JG", "KL", "PR", "TW", "WP"))
    return f"{prefix}{fake.numerify('######')}{fake.random_element('ABCD')}"


def _steuer_id(rng: random.Random) -> str:
    """A German tax ID (Steuer-IdNr): 10 digits, one of them twice, ISO 7064 MOD 11,10 check.

    Faker's de_DE locale has no personal ID, so this one is built here.
    """
    digits = rng.sample(range(10), 9)
    if digits[0] == 0:
        digits[0], digits[1] = digits[1], digits[0]
    digits.insert(rng.randrange(1, 10), digits[rng.randrange(1, 9)])
    product = 10
    for digit in digits:
        total = (digit + product) % 10 or 10
        product = (total * 2) % 11
    check = (11 - product) % 10
    return "".join(map(str, digits)) + str(check)


def _orders(customers: list[Row], products: list[Row], rng: random.Random) -> list[Row]:
    orders: list[Row] = []
    for customer in customers:
        address = f"{customer['street_address']}, {customer['postcode']} {customer['city']}"
        for _ in range(rng.choice((0, 1, 2, 2, 3, 3, 4, 5, 6))):
            product = rng.choice(products)
            quantity = rng.choice((1, 1, 1, 2, 3))
            since_signup = REFERENCE_TIME - customer["created_at"]
            ordered_at = customer["created_at"] + since_signup * rng.random()
            shipped = ordered_at + timedelta(hours=rng.randrange(4, 120))
            orders.append(
                {
                    "order_id": len(orders) + 1,
                    "customer_id": customer["customer_id"],
                    "product_name": product["name"],
                    "sku": product["sku"],
                    "quantity": quantity,
                    "amount": round(product["unit_price"] * quantity, 2),
                    "delivery_address": address,
                    "ordered_at": ordered_at,
                    "shipped_at": shipped if shipped < REFERENCE_TIME else None,
                }
            )
    return orders


def _support_tickets(
    customers: list[Row], orders: list[Row], rng: random.Random, fakers: dict[str, Faker]
) -> list[Row]:
    tickets: list[Row] = []
    by_customer = {order["customer_id"]: order["order_id"] for order in orders}
    for customer in rng.sample(customers, max(1, len(customers) * 3 // 10)):
        subject, template = rng.choice(_TICKET_TEMPLATES)
        fake = fakers[rng.choice(LOCALES)]
        fields = {
            "name": customer["full_name"],
            "email": customer["email"],
            "phone": customer["phone"],
            "iban": customer["iban"] or "by card",
            "birth_date": customer["birth_date"].isoformat(),
            "national_id": customer["national_id"],
            "address": f"{customer['street_address']}, {customer['postcode']} {customer['city']}",
            "order": f"#{by_customer.get(customer['customer_id'], 0):06d}",
            "other_name": f"{fake.first_name()} {fake.last_name()}",
        }
        tickets.append(
            {
                "ticket_id": len(tickets) + 1,
                "customer_id": customer["customer_id"],
                "opened_at": REFERENCE_TIME - timedelta(minutes=rng.randrange(60 * 24 * 365)),
                "channel": rng.choice(_CHANNELS),
                "subject": subject,
                "body": template.format(**fields),
                "status": rng.choice(_TICKET_STATES),
            }
        )
    tickets.sort(key=lambda ticket: ticket["opened_at"])
    for number, ticket in enumerate(tickets, start=1):
        ticket["ticket_id"] = number
    return tickets


def _events(
    customers: list[Row], products: list[Row], rng: random.Random, fake: Faker
) -> list[Row]:
    ips = [fake.ipv4_public() for _ in range(max(10, len(customers) // 5))]
    user_agents = [fake.user_agent() for _ in range(100)]
    events: list[Row] = []
    for _ in range(len(customers) * 3):
        customer = rng.choice(customers) if rng.random() < 0.85 else None
        event_type = rng.choice(_EVENT_TYPES)
        payload: Row = {
            "ip": rng.choice(ips),
            "user_agent": rng.choice(user_agents),
            "page": f"/products/{rng.choice(products)['sku']}",
        }
        if customer is not None:
            payload["email"] = customer["email"]
            payload["geo"] = {"city": customer["city"], "country": customer["country"]}
            if event_type == "password_reset":
                payload["phone"] = customer["phone"]
        events.append(
            {
                "event_id": len(events) + 1,
                "customer_id": customer["customer_id"] if customer else None,
                "occurred_at": REFERENCE_TIME - timedelta(seconds=rng.randrange(86_400 * 90)),
                "event_type": event_type,
                "payload": payload,
            }
        )
    events.sort(key=lambda event: event["occurred_at"])
    for number, event in enumerate(events, start=1):
        event["event_id"] = number
    return events
