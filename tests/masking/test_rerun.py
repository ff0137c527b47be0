"""A re-run result is masked exactly as its first run: the plan's sample taken from the
column's dictionary, an entity column's outcomes taken together and the scan's one-pass
look-up of known values change no answer, and a column seen before is masked anew when
its values change, as is each page of a window that slides one row at a time."""

from __future__ import annotations

import re
from decimal import Decimal

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from faker import Faker

from nbwarden.masking import ColumnOrigin, Masker, MaskResult, SubjectRef, Subjects
from nbwarden.masking.columns import sample_values

KEY = b"r" * 32
COLUMNS = ["id", "name", "email", "phone", "iban", "city", "balance", "spend_30d"]
ENTITIES = {
    "name": "PERSON",
    "email": "EMAIL_ADDRESS",
    "phone": "PHONE_NUMBER",
    "iban": "IBAN_CODE",
}


@pytest.fixture(scope="module")
def masker() -> Masker:
    return Masker.for_profile(pseudonym_key=KEY)


def _customers(rows: int, seed: int = 7) -> pa.Table:
    """The kernel benchmark's customers (``benchmarks/kernel/bench.py``), in memory."""
    fake = Faker()
    fake.seed_instance(seed)
    cents = Decimal("0.01")
    records = [
        {
            "id": i,
            "name": fake.name(),
            "email": fake.email(),
            "phone": fake.phone_number(),
            "iban": fake.iban(),
            "city": fake.city(),
            "balance": Decimal(str(fake.pyfloat(min_value=0, max_value=1e5))).quantize(cents),
            "spend_30d": Decimal(str(fake.pyfloat(min_value=0, max_value=5e3))).quantize(cents),
        }
        for i in range(rows)
    ]
    types = [pa.int32()] + [pa.string()] * 5 + [pa.decimal128(12, 2)] * 2
    schema = pa.schema(list(zip(COLUMNS, types, strict=True)))
    return pa.Table.from_pylist(records, schema=schema)


def _origins() -> dict[str, ColumnOrigin]:
    """What the gateway gives for ``SELECT id, name, ... FROM customers``."""
    return {name: ColumnOrigin(frozenset({f"customers.{name}"}), True) for name in COLUMNS}


def _assert_same(result: MaskResult, expected: MaskResult) -> None:
    assert result.table.schema == expected.table.schema
    assert result.table.equals(expected.table)
    assert result.masked_cells == expected.masked_cells
    assert result.entity_counts == expected.entity_counts
    assert result.column_findings == expected.column_findings
    assert list(result.subjects) == list(expected.subjects)


def _cold(
    masker: Masker, table: pa.Table, origins: dict[str, ColumnOrigin] | None = None
) -> MaskResult:
    masker.clear_caches()
    return masker.mask_table(table, origins=origins)


@pytest.mark.parametrize("rows", [20, 1000])
def test_a_rerun_result_is_masked_as_its_first_run(masker: Masker, rows: int) -> None:
    table = _customers(rows)
    first = _cold(masker, table, origins=_origins())
    _assert_same(masker.mask_table(table, origins=_origins()), first)
    rebuilt = pa.Table.from_batches(table.to_batches(max_chunksize=7))
    _assert_same(masker.mask_table(rebuilt, origins=_origins()), first)
    _assert_same(masker.mask_table(table), _cold(masker, table))


def test_an_entity_column_is_masked_as_its_values_one_by_one(masker: Masker) -> None:
    """The column's outcomes, taken together, against each value's own, taken one at a
    time."""
    table = _customers(300)
    masker.clear_caches()
    masker.mask_table(table, origins=_origins())
    result = masker.mask_table(table, origins=_origins())
    masker.clear_caches()
    for column, entity in ENTITIES.items():
        values = table[column].to_pylist()
        wholes = [masker.whole_values(entity, [value])[0] for value in values]
        assert result.table[column].to_pylist() == [w.masked.replacement for w in wholes]
        assert result.masked_cells[column] == list(range(len(values)))
        assert not set(values) & set(result.table[column].to_pylist())
        named = dict.fromkeys(i for whole in wholes for i in whole.identifiers)
        assert list(result.subjects.groups()[(entity, column)]) == list(named)
    assert result.entity_counts == dict.fromkeys(ENTITIES.values(), 300)
    assert result.table["city"].equals(table["city"])
    assert result.table["balance"].equals(table["balance"])


def test_a_column_seen_before_is_masked_anew_when_its_values_change(masker: Masker) -> None:
    """Same names and types, values changed past the plan's sample, or reordered, or one
    more: each result is what a cold masker gives for it."""
    table = _customers(400)
    names = table["name"].to_pylist()
    changed = table.set_column(1, "name", pa.array([*names[:-1], "Ada Quintero-Lovelace"]))
    reordered = table.take(pa.array(range(399, -1, -1)))
    longer = pa.concat_tables([table, table.slice(0, 1)]).set_column(
        1, "name", pa.array([*names, "Grace Hopperton"])
    )
    variants = [changed, reordered, longer]
    expected = [_cold(masker, variant, origins=_origins()) for variant in variants]
    masker.clear_caches()
    masker.mask_table(table, origins=_origins())
    for variant, cold in zip(variants, expected, strict=True):
        _assert_same(masker.mask_table(variant, origins=_origins()), cold)
    assert "Ada Quintero-Lovelace" not in expected[0].table["name"].to_pylist()
    assert "Grace Hopperton" not in expected[2].table["name"].to_pylist()


def test_the_same_values_as_another_entity_or_computed_are_masked_as_such(
    masker: Masker,
) -> None:
    """The same values as e-mail addresses, as names and computed from addresses
    (``reverse(email) AS x``: the entity's placeholder) are three different columns."""
    emails = _customers(60)["email"].to_pylist()
    changed = ColumnOrigin(frozenset({"customers.email"}), False)
    tables = [
        (pa.table({"email": emails}), None),
        (pa.table({"name": emails}), None),
        (pa.table({"x": emails}), {"x": changed}),
    ]
    expected = [_cold(masker, table, origins) for table, origins in tables]
    assert set(expected[2].table["x"].to_pylist()) == {"<EMAIL_ADDRESS>"}
    masker.clear_caches()
    for (table, origins), cold in zip(tables, expected, strict=True):
        _assert_same(masker.mask_table(table, origins=origins), cold)


def test_an_unmasking_applies_to_a_result_seen_masked_before(masker: Masker) -> None:
    table = _customers(50)
    masker.clear_caches()
    masked = masker.mask_table(table, origins=_origins())
    shown = masker.mask_table(table, origins=_origins(), unmask_entities=["EMAIL_ADDRESS"])
    assert shown.table["email"].equals(table["email"])
    assert "email" not in shown.masked_cells
    assert "EMAIL_ADDRESS" not in shown.entity_counts
    assert shown.column_findings["email"] == {"EMAIL_ADDRESS": 50}
    assert shown.table["name"].equals(masked.table["name"])
    by_column = masker.mask_table(table, origins=_origins(), unmask_columns=["name"])
    assert by_column.table["name"].equals(table["name"])
    assert by_column.table["email"].equals(masked.table["email"])
    _assert_same(masker.mask_table(table, origins=_origins()), masked)


def test_known_values_in_a_scan_column_are_masked_before_and_after_a_finding(
    masker: Masker,
) -> None:
    """A scan column's values known from an entity column are looked up in one pass up to
    its first value a rule may match, and one by one after it, as before."""
    fake = Faker()
    fake.seed_instance(23)
    people = [fake.name() for _ in range(40)]
    emails = [fake.email() for _ in range(40)]
    words = [f"{fake.word()} {fake.word()}" for _ in range(30)]
    found = [f"write to {emails[0]}"]
    late = [emails[1].upper(), " " + people[20].upper(), "", None]
    label = words[:20] + people[:10] + found + people[10:20] + late + words[20:]
    rows = len(label)
    table = pa.table(
        {
            "name": people[:rows] + [""] * (rows - len(people[:rows])),
            "email": emails[:rows] + [None] * (rows - len(emails[:rows])),
            "label": label,
        }
    )
    cold = _cold(masker, table)
    _assert_same(masker.mask_table(table), cold)
    shown = cold.table["label"].to_pylist()
    read = {value for value in shown if value}
    assert not read & (set(people[:21]) | {" " + people[20].upper(), emails[1].upper()})
    assert not any(emails[0] in value for value in read)
    assert shown[:20] == words[:20]
    assert shown[-10:] == words[20:]
    assert cold.column_findings["label"] == {"PERSON": 21, "EMAIL_ADDRESS": 2}
    assert cold.masked_cells["label"] == list(range(20, 43))
    assert cold.masked_cells["name"] == list(range(40))


def test_a_scan_column_reads_look_alike_characters_as_plain_text(masker: Masker) -> None:
    """A column of ASCII text skips the look-alike folding; one that is not is folded."""
    fake = Faker()
    fake.seed_instance(5)
    local, domain = fake.email().split("@")
    disguised = [
        f"{local}\uff20{domain}",
        f"{local[:2]}\u200b{local[2:]}@{domain}",
        "".join(chr(ord(c) + 0xFEE0) if c.isalnum() else c for c in f"{local}@{domain}"),
    ]
    words = [f"{fake.word()} {fake.word()}" for _ in range(40)]
    table = pa.table({"label": words + disguised, "plain": words + ["a b"] * 3})
    cold = _cold(masker, table)
    _assert_same(masker.mask_table(table), cold)
    assert cold.column_findings["label"] == {"EMAIL_ADDRESS": 3}
    assert cold.masked_cells == {"label": [40, 41, 42]}


def test_batches_after_the_first_are_masked_as_before(masker: Masker) -> None:
    """Only the first batch is planned; the others encode their own columns."""
    table = _customers(500)
    batches = table.to_batches(max_chunksize=128)
    masker.clear_caches()
    cold = list(masker.mask_batches(batches, origins=_origins()))
    warm = list(masker.mask_batches(batches, origins=_origins()))
    assert len(cold) == len(batches)
    for result, expected in zip(warm, cold, strict=True):
        _assert_same(result, expected)


@pytest.mark.parametrize("size", [1, 3, 100, 1000])
@pytest.mark.parametrize("text_type", [pa.string(), pa.large_string()])
def test_a_text_columns_sample_from_its_dictionary_is_its_own(
    size: int, text_type: pa.DataType
) -> None:
    fake = Faker()
    fake.seed_instance(size)
    values = [fake.random_element(["", " ", None, fake.name(), fake.city()]) for _ in range(300)]
    chunks = [values[:0], values[:120], values[120:]]
    column = pa.chunked_array([pa.array(chunk, text_type) for chunk in chunks])
    column = pa.chunked_array([*column.chunks[:2], column.chunks[2].slice(5)])
    distinct = pc.dictionary_encode(column.combine_chunks().cast(pa.string())).dictionary
    assert sample_values(column, size, distinct) == sample_values(column, size)


@pytest.mark.parametrize(
    "column",
    [
        pa.chunked_array([pa.array([3, 1, 3, None, 2])]),
        pa.chunked_array([pa.array(["b", "a", "b", None]).dictionary_encode()]),
    ],
)
def test_distinct_values_are_ignored_for_a_column_not_of_plain_text(
    column: pa.ChunkedArray,
) -> None:
    other = pa.array(["not", "its", "values"])
    assert sample_values(column, 10, other) == sample_values(column, 10)


@pytest.mark.parametrize("values", [[None, None], [], ["", " "]])
def test_an_entity_column_without_values_stays_as_it_is(
    masker: Masker, values: list[str | None]
) -> None:
    table = pa.table({"email": pa.array(values, pa.string())})
    for _ in range(2):
        result = masker.mask_table(table)
        assert result.table.equals(table)
        assert result.masked_cells == {}
        assert result.entity_counts == {}
        assert list(result.subjects) == []


def _pages(table: pa.Table, size: int, count: int) -> list[pa.Table]:
    """What an analyst pages through: ``size`` rows, one row further each time, so each
    page shares all but one row with the one before."""
    return [table.slice(start, size) for start in range(count)]


def _varied(rows: int) -> tuple[pa.Table, dict[str, ColumnOrigin]]:
    """Customers with what an entity column's fast path leaves to the slow one, in rows
    that pages pass over: e-mail cells blank, missing, with a display name, with two
    addresses, an address again in capitals (two values, one identifier) and one again as
    it is; a column computed from the addresses, a postcode (counted, no subject) and free
    text that reads the result's known name words."""
    table = _customers(rows)
    fake = Faker()
    fake.seed_instance(11)
    emails = table["email"].to_pylist()
    emails[5] = ""
    emails[9] = None
    emails[14] = f"{fake.name()} <{fake.email()}>"
    emails[rows - 20] = f"{fake.email()}; {fake.email()}"
    emails[rows - 12] = emails[rows - 14].upper()
    emails[rows - 6] = emails[rows - 8]
    derived = [None if email is None else email[::-1] for email in emails]
    names = table["name"].to_pylist()
    notes = [f"{name} called about {fake.sentence(nb_words=6)}" for name in names]
    for row in range(0, rows, 7):
        surname = [word for word in names[row].split() if word.isalpha()][-1]
        notes[row] = f"{surname}'s order was late"  # a name word known from ``name``
    postcodes = [fake.postcode() for _ in range(rows)]
    table = table.set_column(2, "email", pa.array(emails, pa.string()))
    table = table.append_column("x", pa.array(derived, pa.string()))
    table = table.append_column("postcode", pa.array(postcodes, pa.string()))
    table = table.append_column("notes", pa.array(notes, pa.string()))
    origins = _origins()
    origins["x"] = ColumnOrigin(frozenset({"customers.email"}), False)
    origins["postcode"] = ColumnOrigin(frozenset({"customers.postcode"}), True)
    return table, origins


@pytest.mark.parametrize(("rows", "size"), [(60, 40), (1010, 1000)])
@pytest.mark.parametrize("with_origins", [True, False])
def test_each_page_of_a_sliding_window_is_masked_as_a_cold_masker_masks_it(
    masker: Masker, rows: int, size: int, with_origins: bool
) -> None:
    """Each page has one value per column that the masker has not seen before and one
    fewer that it has."""
    table = _customers(rows)
    origins = _origins() if with_origins else None
    pages = _pages(table, size, rows - size + 1)
    expected = [_cold(masker, page, origins) for page in pages]
    masker.clear_caches()
    for page, cold in zip(pages, expected, strict=True):
        _assert_same(masker.mask_table(page, origins=origins), cold)
    last = expected[-1]
    for column, entity in ENTITIES.items():
        shown = set(last.table[column].to_pylist())
        assert not shown & set(pages[-1][column].to_pylist())
        assert last.column_findings[column] == {entity: size}
        assert 0 < len(last.subjects.groups()[(entity, column)]) <= size


def test_a_new_value_past_the_sample_of_a_scan_column_is_found_on_the_next_page(
    masker: Masker,
) -> None:
    """The next page's ``city`` sample is one the scanner knows, so its values are not
    prefetched: the one new value, past the sample, holding an IBAN, is still searched."""
    table = _customers(1001)
    fake = Faker()
    fake.seed_instance(5)
    iban = fake.iban()
    cities = table["city"].to_pylist()
    cities[1000] = f"account {iban}"
    table = table.set_column(5, "city", pa.array(cities, pa.string()))
    first, page = table.slice(0, 1000), table.slice(1, 1000)
    assert sample_values(page["city"], 200) == sample_values(first["city"], 201)[1:]
    cold = _cold(masker, page)
    masker.clear_caches()
    masker.mask_table(first)
    warm = masker.mask_table(page)
    _assert_same(warm, cold)
    shown = warm.table["city"].to_pylist()[999]
    assert shown.startswith("account ") and iban not in shown
    assert warm.masked_cells["city"] == [999]


@pytest.mark.parametrize("with_origins", [True, False])
def test_pages_with_values_the_fast_path_leaves_aside_are_masked_as_cold(
    masker: Masker, with_origins: bool
) -> None:
    table, origins = _varied(50)
    pages = _pages(table, 30, 21)
    given = origins if with_origins else None
    expected = [_cold(masker, page, given) for page in pages]
    masker.clear_caches()
    for page, cold in zip(pages, expected, strict=True):
        _assert_same(masker.mask_table(page, origins=given), cold)
    for page, cold in zip(pages, expected, strict=True):
        notes = zip(page["notes"].to_pylist(), cold.table["notes"].to_pylist(), strict=True)
        late = [masked for note, masked in notes if note.endswith("'s order was late")]
        assert late and all(re.fullmatch(r"PERSON_[0-9a-f]{12}'s order was late", m) for m in late)
        emails = page["email"].to_pylist()
        filled = [row for row, email in enumerate(emails) if email]
        assert cold.masked_cells["email"] == filled
        assert not set(cold.table["email"].to_pylist()) & {emails[row] for row in filled}
    first, last = expected[0], expected[-1]
    groups = first.subjects.groups()
    assert len(groups[("EMAIL_ADDRESS", "email")]) == 28  # a blank and a missing cell
    assert first.column_findings["email"] == {"EMAIL_ADDRESS": 28, "PERSON": 1}
    assert len(groups[("PERSON", "email")]) == 1
    assert first.entity_counts["POSTAL_CODE"] == 30
    assert not any(entity == "POSTAL_CODE" for entity, _ in groups)
    assert len(last.subjects.groups()[("EMAIL_ADDRESS", "email")]) == 30 + 1 - 2
    assert last.column_findings["email"] == {"EMAIL_ADDRESS": 30}
    if with_origins:
        assert set(first.table["x"].to_pylist()) == {"<EMAIL_ADDRESS>", "", None}


def test_unmasking_while_paging_applies_to_values_seen_masked_before(masker: Masker) -> None:
    table = _customers(45)
    pages = _pages(table, 30, 16)
    settings = [((), ()), ((), ("EMAIL_ADDRESS",)), (("name", "iban"), ())]  # columns, entities
    calls = [(page, *settings[i % len(settings)]) for i, page in enumerate(pages)]
    expected = []
    for page, columns, entities in calls:
        masker.clear_caches()
        expected.append(masker.mask_table(page, columns, entities, origins=_origins()))
    masker.clear_caches()
    for (page, columns, entities), cold in zip(calls, expected, strict=True):
        _assert_same(masker.mask_table(page, columns, entities, origins=_origins()), cold)
    shown = expected[1]
    assert shown.table["email"].equals(pages[1]["email"])
    assert shown.column_findings["email"] == {"EMAIL_ADDRESS": 30}
    assert "EMAIL_ADDRESS" not in shown.entity_counts
    assert len(shown.subjects.groups()[("EMAIL_ADDRESS", "email")]) == 30


def test_subjects_given_distinct_keep_their_order_and_merge_into_a_group() -> None:
    subjects = Subjects()
    subjects.add_distinct("EMAIL_ADDRESS", "email", dict.fromkeys(["b", "a"]))
    subjects.add_all("PERSON", "email", ["c", "c"])
    subjects.add_distinct("EMAIL_ADDRESS", "email", dict.fromkeys(["a", "d"]))
    subjects.add("EMAIL_ADDRESS", "b", "email")
    assert list(subjects) == [
        SubjectRef("EMAIL_ADDRESS", "b", "email"),
        SubjectRef("EMAIL_ADDRESS", "a", "email"),
        SubjectRef("EMAIL_ADDRESS", "d", "email"),
        SubjectRef("PERSON", "c", "email"),
    ]
