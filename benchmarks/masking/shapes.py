"""What the masker leaves readable in common shapes of data a cell returns.

    .venv/bin/python -m benchmarks.masking.shapes [--rows N]

Each shape plants Faker values (fixed seeds) in a form analysts meet in results and shell
output: JSON arrays and members, a PostgreSQL-style list column, logged URLs, ``key=value``
lists and logfmt, XML and HTML, ``ldapsearch`` output, names in lower case, MAC addresses
and Maestro cards; and notes in German without any name, where every change is
over-masking. For each it prints how many planted values are still readable (as a
column of a result, and as a shell cell's output where the shape is text) and how many
values without personal data were changed.
"""

from __future__ import annotations

import argparse
import json
import urllib.parse
from collections.abc import Callable, Sequence

import pyarrow as pa
from faker import Faker

from nbwarden.identifiers import PERSON, normalize_identifier
from nbwarden.masking import Masker
from nbwarden.masking.results import SubjectRef

Shape = tuple[list[str] | pa.Array, list[str]]
"""The values of a column, and the planted values that must not stay readable."""


def shapes(rows: int) -> dict[str, Callable[[Faker], Shape]]:
    def teams(fake: Faker) -> list[list[str]]:
        return [[fake.name() for _ in range(3)] for _ in range(rows)]

    def json_arrays(fake: Faker) -> Shape:
        found = teams(fake)
        return [json.dumps(team) for team in found], [n for team in found for n in team]

    def list_column(fake: Faker) -> Shape:
        found = teams(fake)
        return pa.array(found), [n for team in found for n in team]

    def json_owner(fake: Faker) -> Shape:
        found = teams(fake)
        values = [json.dumps({"owner": team[0], "team": team[1:]}) for team in found]
        return values, [n for team in found for n in team]

    def people(fake: Faker) -> list[tuple[str, str, str]]:
        return [(fake.name(), fake.email(), fake.city()) for _ in range(rows)]

    def people_in(template: str) -> Callable[[Faker], Shape]:
        """Each row a person's ``name``, ``email`` and ``city`` put in ``template``."""

        def make(fake: Faker) -> Shape:
            found = people(fake)
            values = [template.format(name=n, email=e, city=c) for n, e, c in found]
            return values, [name for name, _, _ in found]

        return make

    def urls(fake: Faker) -> Shape:
        found = people(fake)
        values = [
            "https://shop.example.com/checkout?"
            + urllib.parse.urlencode({"name": name, "email": email, "ref": "mail"})
            for name, email, _ in found
        ]
        return values, [urllib.parse.quote_plus(name) for name, _, _ in found]

    def ldif(fake: Faker) -> Shape:
        found = [(fake.first_name(), fake.last_name(), fake.user_name()) for _ in range(rows)]
        values = [
            f"dn: uid={user},ou=people,dc=example,dc=org\ncn: {given} {family}\nsn: {family}"
            for given, family, user in found
        ]
        return values, [f"sn: {family}" for _, family, _ in found]

    def lower_case(fake: Faker) -> Shape:
        values = [f"{fake.first_name()} {fake.last_name()}".lower() for _ in range(rows)]
        return values, values

    def mac_addresses(fake: Faker) -> Shape:
        values = [fake.mac_address() for _ in range(rows)]
        return values, values

    def cards(fake: Faker) -> Shape:
        numbers = [fake.credit_card_number() for _ in range(rows)]
        return [f"card {number} exp 12/27" for number in numbers], numbers

    return {
        "JSON arrays of names": json_arrays,
        "a list column of names": list_column,
        "JSON owner and team": json_owner,
        "logged URLs": urls,
        "key=value lists": people_in("name={name};email={email};city={city}"),
        "logfmt lines": people_in('level=info name="{name}" email={email} op=login'),
        "XML payloads": people_in("<customer><name>{name}</name><town>{city}</town></customer>"),
        "HTML table rows": people_in("<tr><td>{name}</td><td>{city}</td></tr>"),
        "ldapsearch output": ldif,
        "names in lower case": lower_case,
        "MAC addresses": mac_addresses,
        "card numbers in notes": cards,
    }


def german_notes(rows: int) -> list[str]:
    return [
        f"Anruf wegen der Rechnung {number}, bitte zurückrufen. Lieferung kommt am Montag."
        for number in range(rows)
    ]


def named_shapes(rows: int) -> dict[str, Callable[[Faker], tuple[list[str], list[str]]]]:
    """Lines that hold names, and the names: a subject access request for each must find
    it, so the subject recorded must be the name alone, not joined to its neighbours."""

    def names(fake: Faker) -> list[str]:
        return [f"{fake.first_name()} {fake.last_name()}" for _ in range(rows)]

    def listing(fake: Faker) -> tuple[list[str], list[str]]:
        found = names(fake)
        return found, found

    def after_a_word(fake: Faker) -> tuple[list[str], list[str]]:
        found = names(fake)
        words = ("Today", "Patient", "Applicant", "Driver", "Tenant")
        lines = [f"{words[i % 5]} {name} called about the invoice." for i, name in enumerate(found)]
        return lines, found

    def records(delimiter: str) -> Callable[[Faker], tuple[list[str], list[str]]]:
        def make(fake: Faker) -> tuple[list[str], list[str]]:
            found = names(fake)
            fields = ((name, fake.email(), fake.city()) for name in found)
            return [delimiter.join(record) for record in fields], found

        return make

    return {
        "one name a line": listing,
        "a word before a name": after_a_word,
        "psql -At rows": records("|"),
        "tab-separated rows": records("\t"),
    }


def readable(shown: str, planted: list[str]) -> int:
    return sum(value in shown for value in planted)


def found_by_request(subjects: Sequence[SubjectRef], names: list[str]) -> int:
    """How many of ``names`` a request by name finds among a result's subjects."""
    people = {subject.identifier for subject in subjects if subject.entity_type == PERSON}
    return sum(normalize_identifier(PERSON, name) in people for name in names)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200)
    args = parser.parse_args()
    masker = Masker.for_profile(pseudonym_key=bytes(range(32)))
    print(f"planted values still readable, {args.rows} rows a shape (Faker, fixed seeds)")
    print(f"{'shape':<26}{'as a column':>14}{'in shell output':>18}")
    for seed, (name, make) in enumerate(shapes(args.rows).items()):
        fake = Faker()
        fake.seed_instance(100 + seed)
        values, planted = make(fake)
        column = masker.mask_table(pa.table({"payload": values})).table.column("payload")
        as_column = readable(json.dumps(column.to_pylist(), ensure_ascii=False), planted)
        shell = "-"
        if not isinstance(values, pa.Array):
            shell = str(readable(masker.mask_output("\n".join(values)).text, planted))
        print(f"{name:<26}{as_column:>8}/{len(planted):<5}{shell:>12}/{len(planted)}")
    notes = german_notes(args.rows)
    shown = masker.mask_table(pa.table({"notiz": notes})).table.column("notiz").to_pylist()
    changed = sum(before != after for before, after in zip(notes, shown, strict=True))
    print(f"German notes without names changed: {changed}/{len(notes)}")
    print("\nnames a subject access request finds among the subjects masked")
    print(f"{'shape':<26}{'as a column':>14}{'in shell output':>18}")
    for seed, (name, make_lines) in enumerate(named_shapes(args.rows).items()):
        fake = Faker(["en_GB", "en_US", "de_DE", "fr_FR", "es_ES"])
        fake.seed_instance(200 + seed)
        lines, people = make_lines(fake)
        as_column = found_by_request(masker.mask_table(pa.table({"line": lines})).subjects, people)
        shell = found_by_request(masker.mask_output("\n".join(lines)).subjects, people)
        print(f"{name:<26}{as_column:>8}/{len(people):<5}{shell:>12}/{len(people)}")


if __name__ == "__main__":
    main()
