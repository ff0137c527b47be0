"""Tables in a shell cell's output (``nbwarden.masking.tabular``) and their masking."""

from __future__ import annotations

import json

import pytest
from faker import Faker

from benchmarks.masking.bench import psql_aligned
from nbwarden.masking import Masker
from nbwarden.masking.tabular import TextTable, find_tables, render_blocks

PSQL = """ id | name      | postcode
----+-----------+----------
  1 | Ann Lee   | SW1A 1AA
  2 | Bo Stone  | M1 1AE
(2 rows)
"""

MYSQL_BOX = """+----+----------+
| id | name     |
+----+----------+
|  1 | Ann Lee  |
|  2 | Bo Stone |
+----+----------+"""


def tables(text: str) -> list[TextTable]:
    return [block for block in find_tables(text) if isinstance(block, TextTable)]


def test_psqls_aligned_output_is_a_table_with_its_footer_as_text() -> None:
    blocks = find_tables(PSQL)
    assert isinstance(blocks[0], TextTable) and blocks[1:] == ["(2 rows)\n"]
    table = blocks[0]
    assert table.header == ["id", "name", "postcode"]
    assert table.rows == [["1", "Ann Lee", "SW1A 1AA"], ["2", "Bo Stone", "M1 1AE"]]
    lines = table.render([["1", "<PERSON>", "SW1****"], ["2", "<PERSON>", "M1 ***"]])
    assert lines[1] == "----+----------+----------"
    assert lines[2] == " 1  | <PERSON> | SW1****"


@pytest.mark.parametrize(
    ("text", "style", "header"),
    [
        (MYSQL_BOX, "boxed", ["id", "name"]),
        ("id\tname\n1\tAnn Lee\n2\tBo Stone", "delimited", ["id", "name"]),
        ("1|Ann Lee\n2|Bo Stone", "delimited", None),
        ('id,name\n1,"Lee, Ann"\n2,Bo Stone', "delimited", ["id", "name"]),
    ],
)
def test_client_formats_are_tables(text: str, style: str, header: list[str] | None) -> None:
    (table,) = tables(text)
    assert table.style == style and table.header == header
    assert [row[1] for row in table.rows] == [
        "Ann Lee" if "Lee," not in text else "Lee, Ann",
        "Bo Stone",
    ]
    rendered = render_blocks([table.render(table.rows)])
    assert tables(rendered)[0].rows == table.rows


@pytest.mark.parametrize(
    "text",
    [
        "total 8\ndrwxr-xr-x 2 root root 4096 Dec  6 10:00 data",
        "Dear Ann, thanks.\nBest, Bo",
        "one line | only",
        "",
    ],
)
def test_other_text_has_no_table(text: str) -> None:
    assert tables(text) == []
    assert render_blocks(list(find_tables(text))) == text


@pytest.fixture(scope="module")
def masker() -> Masker:
    return Masker.for_profile(pseudonym_key=b"t" * 32)


def people(count: int) -> list[dict[str, str]]:
    fake = Faker("en_GB")
    Faker.seed(21)
    return [
        {"name": fake.name(), "postcode": fake.postcode(), "iban": fake.iban()}
        for _ in range(count)
    ]


def psql_output(rows: list[dict[str, str]]) -> str:
    return psql_aligned(list(rows[0]), [list(row.values()) for row in rows]) + "\n"


def test_a_tables_columns_are_masked_by_their_header(masker: Masker) -> None:
    """As free text, the postcodes and IBAN prefixes would have no context; as a column
    named ``postcode`` each is cut to its first three characters, like a query result."""
    rows = people(20)
    result = masker.mask_output(psql_output(rows))
    assert sum(row["name"] in result.text for row in rows) == 0
    assert sum(row["postcode"] in result.text for row in rows) == 0
    assert sum(row["iban"] in result.text for row in rows) == 0
    assert result.text.endswith("(20 rows)\n")
    masked = tables(result.text)[0]
    assert [row[1][:3] for row in masked.rows] == [row["postcode"][:3] for row in rows]
    assert result.entity_counts["POSTAL_CODE"] == 20
    assert {subject.column for subject in result.subjects} == {"name", "iban"}


def test_a_person_in_a_table_and_in_the_text_around_it_is_one_subject_each_way(
    masker: Masker,
) -> None:
    """Subjects of a table (with its column) and of the text around it (no column) are
    listed together: sorting them compared a column with None and failed, so the whole
    output was withheld."""
    rows = people(3)
    text = f"Report for {rows[0]['name']}\n" + psql_output(rows)
    result = masker.mask_output(text)
    assert rows[0]["name"] not in result.text
    people_seen = [s for s in result.subjects if s.entity_type == "PERSON"]
    assert {s.column for s in people_seen} == {None, "name"}


def test_a_column_no_entity_plans_is_masked_as_free_text(masker: Masker) -> None:
    """A ``note`` column of short texts, most of them no name: scanned as free text, as
    the same text outside a table would be."""
    rows = people(10)
    notes = [f"call back {row['name']}" if i % 4 == 0 else "ok" for i, row in enumerate(rows)]
    text = "id|note\n" + "\n".join(f"{i}|{note}" for i, note in enumerate(notes))
    masked = masker.mask_output(text).text
    assert sum(row["name"] in masked for row in rows) == 0
    assert masked.count("|ok") == notes.count("ok")


def test_a_header_made_of_values_is_masked_as_text(masker: Masker) -> None:
    """``psql``'s ``\\crosstabview`` turns values into column names."""
    rows = people(2)
    first, second = rows[0]["name"], rows[1]["name"]
    text = f"city\t{first}\t{second}\nLeeds\t1\t2\nYork\t3\t4"
    masked = masker.mask_output(text).text
    assert first not in masked and second not in masked
    assert masked.splitlines()[1] == "Leeds\t1\t2"


def test_a_box_with_no_rows_stays_as_it_was(masker: Masker) -> None:
    text = "+----+\n| id |\n+----+\n+----+"
    assert masker.mask_output(text).text == text


@pytest.mark.parametrize(
    ("title", "separator"),
    [("-[ RECORD 1 ]-------", " | "), ("*************************** 1. row ***", ": ")],
)
def test_a_records_fields_are_masked_by_their_keys(
    masker: Masker, title: str, separator: str
) -> None:
    """``psql -x`` and the mysql client's ``\\G`` print one field a line, keyed by column."""
    (person,) = people(1)
    fields = {"id": "7", **person}
    text = "\n".join([title, *(f"{key:<8}{separator}{value}" for key, value in fields.items())])
    result = masker.mask_output(text)
    lines = result.text.splitlines()
    assert lines[0] == title and lines[1] == f"id      {separator}7"
    assert lines[2].startswith(f"name    {separator}PERSON_")
    assert lines[3].startswith(f"postcode{separator}{person['postcode'][:3]}*")
    assert person["postcode"] not in result.text and person["iban"] not in result.text
    assert {subject.entity_type for subject in result.subjects} == {"PERSON", "IBAN_CODE"}


def test_a_line_over_the_csv_field_limit_is_masked_as_text(masker: Masker) -> None:
    """The csv module refuses a field over 128 kB, and the error withheld the whole output
    of a shell cell that printed one such line (a minified document, a long log line)."""
    fake = Faker()
    Faker.seed(22)
    emails = [fake.unique.email() for _ in range(6_000)]
    line = " ".join(f"<{email}>" for email in emails)
    assert len(line) > 131_072 and tables(line) == []
    result = masker.mask_output(f"id,comment\n1,{line}\n")
    assert not any(email in result.text for email in emails)
    assert result.entity_counts["EMAIL_ADDRESS"] == len(emails)


def _people(seed: int) -> list[tuple[str, str]]:
    fake = Faker("en_GB")
    fake.seed_instance(seed)
    return [(f"{fake.first_name()} {fake.last_name()}", fake.email()) for _ in range(4)]


def test_json_lines_are_no_csv_and_stay_json(masker: Masker) -> None:
    """A JSON-lines log has as many commas a line: read as CSV, it came back in CSV's
    quoting (``"{""level"": ...``), no longer JSON. It is masked as a JSON column is."""
    people = _people(95)
    lines = [json.dumps({"level": "info", "name": n, "email": e, "msg": "ok"}) for n, e in people]
    assert not tables("\n".join(lines))
    masked = masker.mask_output("\n".join(lines)).text.split("\n")
    for line, (name, email) in zip(masked, people, strict=True):
        record = json.loads(line)
        assert record["name"].startswith("PERSON_") and record["msg"] == "ok"
        assert name not in line and email not in line


def test_sql_inserts_are_no_csv_and_keep_their_quotes(masker: Masker) -> None:
    """``pg_dump --inserts``: a masked field took its quotes and the statement's ``);``."""
    people = _people(96)
    lines = [f"INSERT INTO t VALUES ({i},'{n}','{e}');" for i, (n, e) in enumerate(people)]
    assert not tables("\n".join(lines))
    masked = masker.mask_output("\n".join(lines)).text.split("\n")
    for index, line in enumerate(masked):
        assert line.startswith(f"INSERT INTO t VALUES ({index},'PERSON_") and line.endswith("');")
        assert "','EMAIL_ADDRESS_" in line


def test_json_arrays_of_names_a_line_are_masked_as_a_json_column(masker: Masker) -> None:
    fake = Faker(["en_GB", "de_DE"])
    fake.seed_instance(97)
    teams = [[f"{fake.first_name()} {fake.last_name()}" for _ in range(3)] for _ in range(20)]
    output = "\n".join(json.dumps(team) for team in teams) + "\n"
    result = masker.mask_output(output)
    masked = [json.loads(line) for line in result.text.split("\n") if line]
    assert all(name.startswith("PERSON_") for team in masked for name in team)
    assert result.text.endswith("\n") and len(masked) == len(teams)
