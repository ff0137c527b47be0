"""Synthetic history for provenance tests: Faker people, executions that return them."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from faker import Faker

from nbwarden.identifiers import EMAIL, PERSON, PHONE, normalize_identifier
from nbwarden.provenance import ExecutionEnd, ExecutionStart, ProvenanceStore, Subject


@dataclass(frozen=True)
class Person:
    name: str
    email: str
    phone: str

    def subjects(self, columns: tuple[str, str, str]) -> list[Subject]:
        return [
            Subject(EMAIL, normalize_identifier(EMAIL, self.email), columns[0]),
            Subject(PHONE, normalize_identifier(PHONE, self.phone), columns[1]),
            Subject(PERSON, normalize_identifier(PERSON, self.name), columns[2]),
        ]


@dataclass
class History:
    people: list[Person]
    seen_by: dict[str, set[str]] = field(default_factory=dict)
    """email -> execution ids whose result held that person."""
    user_of: dict[str, str] = field(default_factory=dict)


def make_people(count: int, seed: int = 7) -> list[Person]:
    fake = Faker()
    fake.seed_instance(seed)
    emails: set[str] = set()
    people: list[Person] = []
    while len(people) < count:
        email = fake.unique.email()
        if email in emails:
            continue
        emails.add(email)
        phone = f"+1 415 555 {len(people):04d}"
        people.append(Person(fake.unique.name(), email, phone))
    return people


def sample_start(user: str = "alice", **overrides: object) -> ExecutionStart:
    values: dict[str, object] = {
        "user": user,
        "roles": ("analyst",),
        "kind": "sql",
        "target": "prod",
        "code_masked": "SELECT name, email, phone FROM customers WHERE id = ?",
        "code_hash": "c0ffee" * 10 + "abcd",
        "notebook": "churn.ipynb",
        "cell_id": "cell-1",
        "execution_count": 1,
        "purpose": "churn study",
        "legal_basis": "legitimate interest",
        "statement_types": ("select",),
        "tables_read": ("customers",),
        "columns_read": ("customers.name", "customers.email", "customers.phone"),
        "verdict": "allow",
    }
    values.update(overrides)
    return ExecutionStart(**values)  # type: ignore[arg-type]


SOURCE_COLUMNS = {"email": "customers.email", "phone": "customers.phone", "name": "customers.name"}


def record_history(store: ProvenanceStore, executions: int, people: int, seed: int = 3) -> History:
    """Executions each returning a random handful of people; remember who was where."""
    rng = random.Random(seed)
    history = History(make_people(people))
    for number in range(executions):
        user = rng.choice(["alice", "bob", "carol"])
        execution_id = store.record_start(
            sample_start(user, cell_id=f"cell-{number}"), durable=False
        )
        returned = rng.sample(history.people, rng.randint(0, 4))
        subjects = [s for p in returned for s in p.subjects(("email", "phone", "name"))]
        store.record_end(
            execution_id,
            ExecutionEnd(
                status="ok",
                rows=len(returned),
                entity_counts={EMAIL: len(returned), PHONE: len(returned)},
                subjects=subjects,
                source_columns=SOURCE_COLUMNS,
                unmasked_columns=("name",) if number % 5 == 0 else (),
            ),
            durable=False,
        )
        history.user_of[execution_id] = user
        for person in returned:
            history.seen_by.setdefault(person.email, set()).add(execution_id)
    store.flush()
    return history
