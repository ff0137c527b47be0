"""The masking engine against real spaCy, real Presidio recognizers and real files."""

from __future__ import annotations

import argparse
import json
import socket
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from faker import Faker
from stdnum.pt import nif

from nbwarden.masking import Masker, MaskingError
from nbwarden.masking import cli as mask_cli
from nbwarden.masking.columns import ColumnClassifier
from nbwarden.masking.profile import find_profile, load_profile

KEY = bytes(range(32))
fake = Faker(["en_GB", "de_DE", "fr_FR"])


@pytest.fixture(autouse=True)
def same_data_in_any_order() -> None:
    """Each test draws the same synthetic values however the suite is ordered or filtered."""
    Faker.seed(1234)


@pytest.fixture(scope="module")
def masker() -> Masker:
    return Masker.for_profile(pseudonym_key=KEY)


def _pt_nif() -> str:
    return "23456789" + nif.calc_check_digit("23456789")


# entity, valid value, checksum- or format-invalid value of the same shape
RECOGNIZER_CASES: list[tuple[str, str | Callable[[], str], str]] = [
    ("EMAIL_ADDRESS", "jane.doe@example.org", "jane.doe@example"),
    ("PHONE_NUMBER", "+44 20 7946 0958", "+44 20 79"),
    ("IBAN_CODE", "GB82WEST12345698765432", "GB82WEST12345698765433"),
    ("CREDIT_CARD", "4111 1111 1111 1111", "4111 1111 1111 1112"),
    ("CREDIT_CARD", "5038 3878 6393", "5038 3878 6394"),
    ("MAC_ADDRESS", "3c:22:fb:7a:91:0e", "3c:22:fb:7a:91"),
    ("IP_ADDRESS", "192.168.10.20", "999.168.10.20"),
    ("US_SSN", "536-90-4399", "666-90-4399"),
    ("UK_NINO", "AB123456C", "BG123456C"),
    ("UK_NHS", "943 476 5919", "943 476 5918"),
    ("NATIONAL_ID", "C01X00T47", "C01"),
    ("FR_NIR", "295109912611193", "295109912611199"),
    ("ES_NIF", "54362315K", "54362315Z"),
    ("ES_NIE", "X2482300W", "X2482300A"),
    ("IT_FISCAL_CODE", "RCCMNL83S18D969H", "RCCMNL83S18D969A"),
    ("NL_BSN", "111222333", "111252333"),
    ("PL_PESEL", "44051401359", "44051401358"),
    ("SE_PERSONNUMMER", "880320-0016", "880320-0018"),
    ("FI_HETU", "131052-308T", "131052-308U"),
    ("DE_TAX_ID", "36574261809", "36574261890"),
    ("BE_NATIONAL_NUMBER", "85.07.30-033.28", "85.07.30-033.61"),
    ("DK_CPR", "211062-5629", "310262-5629"),
    ("PT_NIF", _pt_nif, "234567890"),
    ("IE_PPSN", "6433435F", "6433435E"),
    ("AT_SVNR", "1237010180", "1238010180"),
    ("DATE_OF_BIRTH", "1980-03-12", "1980-13-12"),
    ("STREET_ADDRESS", "221 Baker Street", "221 apples"),
]


def _context(entity: str) -> str:
    profile = load_profile()
    words = [w for spec in profile.recognizers if spec.entity == entity for w in spec.context]
    return words[0] if words else ""


@pytest.mark.parametrize(("entity", "valid", "invalid"), RECOGNIZER_CASES)
def test_recognizer_masks_valid_and_keeps_invalid(
    masker: Masker, entity: str, valid: str | Callable[[], str], invalid: str
) -> None:
    value = valid() if callable(valid) else valid
    masked = masker.mask_text(f"{_context(entity)}: {value} .")
    assert value not in masked.text
    assert masked.entity_counts.get(entity) == 1
    kept = masker.mask_text(f"{_context(entity)}: {invalid} .")
    assert entity not in kept.entity_counts


def test_every_recognizer_of_the_profile_is_tested() -> None:
    in_their_own_forms = {"PERSON", "USER_NAME"}  # cue words; log lines (test_ids_and_addresses)
    tested = {case[0] for case in RECOGNIZER_CASES} | in_their_own_forms
    assert {spec.entity for spec in load_profile().recognizers} <= tested


def test_person_introduced_by_a_cue_word(masker: Masker) -> None:
    masked = masker.mask_text("Dear Ingrid van Bergström, your parcel left.")
    assert "Ingrid" not in masked.text and "Bergström" not in masked.text
    assert masked.entity_counts == {"PERSON": 1}
    assert masker.mask_text("dear customer, your parcel left.").entity_counts == {}


@pytest.mark.parametrize("cue", ["Complaint from", "Call back", "Message from", "on behalf of"])
def test_person_after_a_support_ticket_cue(masker: Masker, cue: str) -> None:
    name = f"{fake.first_name()} {fake.last_name()}"
    masked = masker.mask_text(f"{cue} {name} re order 605660")
    assert masked.text.startswith(f"{cue} PERSON_") and masked.text.endswith(" re order 605660")
    assert masked.entity_counts == {"PERSON": 1}


def test_free_text_names_found_by_ner(masker: Masker) -> None:
    name = "Margaret Thatcher-Brown"
    result = masker.mask_text(f"Ticket escalated: {name} says the parcel never arrived.")
    assert "Margaret" not in result.text and "Brown" not in result.text
    assert ("PERSON", "margaret thatcher-brown") in {
        (s.entity_type, s.identifier) for s in result.subjects
    }


def _profile_with(tmp_path: Path, operators: dict[str, object]) -> str:
    raw = yaml.safe_load(find_profile("default").read_text(encoding="utf-8"))
    raw["operators"] = operators
    path = tmp_path / "custom.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return str(path)


@pytest.mark.parametrize(
    ("operator", "expected"),
    [
        ({"type": "placeholder"}, "mail <EMAIL_ADDRESS> now"),
        ({"type": "redact"}, "mail  now"),
        ({"type": "partial", "keep_first": 2, "keep_last": 4}, "mail jo.***@******e.com now"),
    ],
)
def test_operators(tmp_path: Path, operator: dict[str, object], expected: str) -> None:
    masker = Masker.for_profile(_profile_with(tmp_path, {"default": operator}), KEY)
    assert masker.mask_text("mail jo.doe@example.com now").text == expected


def test_pseudonyms_are_keyed_deterministic_and_normalised(masker: Masker) -> None:
    first = masker.mask_text("write to Jo.Doe@Example.com").text
    second = masker.mask_text("write to jo.doe@example.com").text
    assert first == second
    assert first.startswith("write to EMAIL_ADDRESS_")
    other_key = Masker.for_profile(pseudonym_key=bytes(32)).mask_text("write to jo.doe@example.com")
    assert other_key.text != first


def test_pseudonyms_keep_group_by_working(masker: Masker) -> None:
    emails = [fake.email() for _ in range(5)]
    df = pd.DataFrame({"email": emails * 3, "amount": range(15)})
    masked = masker.mask_table(df).table.to_pandas()
    assert masked["email"].nunique() == 5
    assert masked.groupby("email")["amount"].count().tolist() == [3] * 5
    assert not set(emails) & set(masked["email"])


def test_table_keeps_shape_and_reports_findings(masker: Masker) -> None:
    people = [(fake.first_name(), fake.last_name(), fake.email()) for _ in range(30)]
    df = pd.DataFrame(
        {
            "last_name": [p[1] for p in people],
            "c1": [p[2] for p in people],
            "qty": list(range(30)),
            "notes": [f"Spoke with {p[0]} {p[1]} about the invoice." for p in people],
        }
    )
    result = masker.mask_table(df)
    out = result.table.to_pandas()
    assert list(out.columns) == list(df.columns) and len(out) == 30
    assert out["qty"].tolist() == list(range(30))
    for (first, last, email), note in zip(people, out["notes"], strict=True):
        assert last not in note and first not in note
        assert email not in set(out["c1"])
    assert result.column_findings["c1"] == {"EMAIL_ADDRESS": 30}
    assert result.masked_cells["last_name"] == list(range(30))
    assert "qty" not in result.masked_cells
    assert ("EMAIL_ADDRESS", people[0][2].lower(), "c1") in set(result.subjects)


def test_known_value_is_masked_everywhere_in_the_result(masker: Masker) -> None:
    df = pd.DataFrame(
        {
            "last_name": ["Quennell", "Oyelaran"],
            "comment": ["quennell asked Quennell's manager for a refund", "no news"],
        }
    )
    out = masker.mask_table(df).table.to_pandas()
    assert "Quennell" not in out["comment"][0]


def test_column_classifier_guards_against_stray_hits(masker: Masker) -> None:
    classifier = ColumnClassifier(masker.profile, masker.scanner, masker.names.is_person)
    products = [f"{city} {thing}" for city in ("Paris", "Victoria", "Lincoln", "Florence")
                for thing in ("Lamp", "Sofa", "Desk", "Chair", "Rug")]  # fmt: skip
    products += ["Georgia Smith", "4111 1111 1111 1111"]
    plan = classifier.plan("product", pa.chunked_array([pa.array(products)]))
    assert plan.kind == "scan"
    result = masker.mask_table(pd.DataFrame({"product": products}))
    assert result.masked_cells == {"product": [len(products) - 1]}
    names = [fake.name() for _ in range(40)]
    assert classifier.plan("x", pa.chunked_array([pa.array(names)])).entity == "PERSON"


def test_opaque_columns_are_caught_by_content(masker: Masker) -> None:
    df = pd.DataFrame(
        {
            "ref": [fake.iban() for _ in range(20)],
            "x": [fake.phone_number() for _ in range(20)],
            "c2": [fake.name() for _ in range(20)],
        }
    )
    result = masker.mask_table(df)
    assert set(result.column_findings["ref"]) == {"IBAN_CODE"}
    assert set(result.column_findings["x"]) == {"PHONE_NUMBER"}
    assert set(result.column_findings["c2"]) == {"PERSON"}
    assert len(result.masked_cells["x"]) == 20


def test_json_values_masked_in_place(masker: Masker) -> None:
    email = fake.email()
    payload = {"user": {"email": email, "age": 41}, "items": [{"sku": "SKU-1", "qty": 2}],
               "note": "Customer Ingrid Bergström called from +46 8 123 456 78"}  # fmt: skip
    df = pd.DataFrame({"payload": [json.dumps(payload)] * 3 + ['{"event": "login"}']})
    out = masker.mask_table(df).table.column("payload").to_pylist()
    document = json.loads(out[0])
    assert document["user"]["email"].startswith("EMAIL_ADDRESS_")
    assert document["user"]["age"] == 41 and document["items"] == payload["items"]
    assert "Bergström" not in document["note"] and "+46" not in document["note"]
    assert json.loads(out[3]) == {"event": "login"}


def test_names_in_json_arrays_and_under_unnamed_keys_are_masked(masker: Masker) -> None:
    """Short text leaves no key names are planned per key, as a column of them would be:
    an array of names (a JSON text or an Arrow list column) and names under ``owner``
    were scanned by the regexes alone, and nearly all of them stayed readable."""
    teams = [[fake.name() for _ in range(3)] for _ in range(40)]
    documents = [json.dumps({"owner": team[0], "team": team[1:]}) for team in teams]
    table = pa.table(
        {
            "contacts": pa.array(teams),
            "contacts_json": [json.dumps(team) for team in teams],
            "doc": documents,
            "items": [json.dumps({"items": ["Oak Desk", "Blue Lamp"], "status": "Open"})] * 40,
        }
    )
    result = masker.mask_table(table)
    shown = json.dumps(result.table.to_pylist(), ensure_ascii=False)
    assert not [name for team in teams for name in team if name in shown]
    assert result.table.schema == table.schema
    first = result.table.slice(0, 1).to_pylist()[0]
    assert all(name.startswith("PERSON_") for name in first["contacts"])
    assert result.table.column("items").to_pylist() == table.column("items").to_pylist()
    people = {s.identifier for s in result.subjects if s.entity_type == "PERSON"}
    assert len(people) == len({name for team in teams for name in team})


def test_a_column_of_html_is_free_text(masker: Masker) -> None:
    """Rows of an HTML table have few spaces: planned by word count, the column was
    scanned by the patterns alone and 99% of its names stayed readable."""
    people = [(fake.name(), fake.city()) for _ in range(100)]
    rows = [f"<tr><td>{name}</td><td>{town}</td></tr>" for name, town in people]
    result = masker.mask_table(pa.table({"fragment": rows}))
    shown = result.table.column("fragment").to_pylist()
    assert sum(name in row for (name, _), row in zip(people, shown, strict=True)) < 5
    assert all(row.startswith("<tr><td>") and row.endswith("</td></tr>") for row in shown)


def test_unmask_columns_and_entities_still_report_subjects(masker: Masker) -> None:
    email = fake.email()
    df = pd.DataFrame({"email": [email], "phone": ["+44 20 7946 0958"]})
    result = masker.mask_table(df, unmask_columns=["email"], unmask_entities=["PHONE_NUMBER"])
    assert result.table.to_pydict() == {"email": [email], "phone": ["+44 20 7946 0958"]}
    assert {s.entity_type for s in result.subjects} == {"EMAIL_ADDRESS", "PHONE_NUMBER"}
    assert result.entity_counts == {}


def test_fail_closed_on_internal_error_without_leaking(
    masker: Masker, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "jane.doe@example.org"

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError(f"boom on {secret}")

    monkeypatch.setattr(masker.scanner, "find", broken)
    with pytest.raises(MaskingError) as caught:
        masker.mask_table(pd.DataFrame({"c": [secret] * 3}))
    assert secret not in str(caught.value) and caught.value.__cause__ is None
    with pytest.raises(MaskingError):
        masker.mask_text(f"write to {secret}")


def test_fail_closed_on_bad_input_and_missing_model() -> None:
    with pytest.raises(MaskingError):
        Masker.for_profile(pseudonym_key=KEY).mask_table([{"a": 1}])  # type: ignore[arg-type]
    with pytest.raises(MaskingError, match="not installed"):
        Masker.for_profile(pseudonym_key=KEY, spacy_model="no_such_model").mask_text("Hi Ann Lee")
    with pytest.raises(MaskingError, match="unknown masking profile"):
        Masker.for_profile("no-such-profile")


def test_works_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    import tldextract.tldextract

    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    masker = Masker.for_profile(pseudonym_key=KEY)
    text = masker.mask_text("Email Tom Baker at tom.baker@example.co.uk or +44 20 7946 0958")
    assert "tom.baker" not in text.text and "7946" not in text.text
    table = masker.mask_table(pd.DataFrame({"full_name": ["Tom Baker"], "note": ["Tom moved"]}))
    assert table.table.column("full_name")[0].as_py().startswith("PERSON_")
    assert tldextract.tldextract.TLD_EXTRACTOR.suffix_list_urls == ()


def test_profile_drives_presidio_recognizers() -> None:
    recognizers = {r.name: r for r in load_profile().presidio_recognizers()}
    iban = recognizers["iban"]
    assert iban.analyze("pay GB82WEST12345698765432", ["IBAN_CODE"], None)
    assert not iban.analyze("pay GB82WEST12345698765433", ["IBAN_CODE"], None)


def nbwarden_mask(argv: list[str]) -> int:
    """The ``nbwarden mask`` command as the dispatcher in nbwarden/cli.py builds it."""
    parser = argparse.ArgumentParser(prog="nbwarden mask")
    parser.add_argument("--config", default=None)
    mask_cli.add_arguments(parser)
    return mask_cli.run(parser.parse_args(argv))


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".jsonl"])
def test_cli_masks_files(tmp_path: Path, suffix: str) -> None:
    people = [(fake.name(), fake.email(), f"0{i:03d}") for i in range(25)]
    source = pa.table(
        {
            "name": [p[0] for p in people],
            "mail": [p[1] for p in people],
            "code": [p[2] for p in people],
        }
    )
    infile, outfile, report = (
        tmp_path / f"in{suffix}",
        tmp_path / f"out{suffix}",
        tmp_path / "r.json",
    )
    if suffix == ".csv":
        source.to_pandas().to_csv(infile, index=False)
    elif suffix == ".parquet":
        pq.write_table(source, infile)
    else:
        source.to_pandas().to_json(infile, orient="records", lines=True)
    assert nbwarden_mask([str(infile), str(outfile), "--report", str(report)]) == 0
    if suffix == ".csv":
        out = pd.read_csv(outfile, dtype=str)
    elif suffix == ".parquet":
        out = pq.read_table(outfile).to_pandas()
    else:
        out = pd.read_json(outfile, lines=True, dtype=False)
    assert list(out.columns) == ["name", "mail", "code"] and len(out) == 25
    assert out["code"].tolist() == [p[2] for p in people]
    assert not {p[1] for p in people} & set(out["mail"])
    findings = json.loads(report.read_text())
    assert findings["rows"] == 25 and findings["columns"]["mail"] == {"EMAIL_ADDRESS": 25}


def test_cli_refuses_unknown_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "in.txt").write_text("a\n1\n")
    assert nbwarden_mask([str(tmp_path / "in.txt"), str(tmp_path / "o.txt")]) == 1
    assert "unsupported file type" in capsys.readouterr().err


def test_nested_arrow_columns_keep_their_type(masker: Masker) -> None:
    emails = [fake.email() for _ in range(3)]
    table = pa.table(
        {"profile": pa.array([{"email": e, "age": 30 + i} for i, e in enumerate(emails)])}
    )
    result = masker.mask_table(table)
    assert result.table.schema == table.schema
    rows = result.table.column("profile").to_pylist()
    assert [r["age"] for r in rows] == [30, 31, 32]
    assert all(r["email"].startswith("EMAIL_ADDRESS_") for r in rows)
    assert result.masked_cells == {"profile": [0, 1, 2]}


def test_cli_key_file_gives_stable_pseudonyms(tmp_path: Path, key_file: Path) -> None:
    infile = tmp_path / "in.csv"
    pd.DataFrame({"email": [fake.email() for _ in range(5)]}).to_csv(infile, index=False)
    outputs = []
    for run in range(2):
        outfile = tmp_path / f"out{run}.csv"
        assert nbwarden_mask([str(infile), str(outfile), "--key-file", str(key_file)]) == 0
        outputs.append(outfile.read_text())
    assert outputs[0] == outputs[1]
    assert "EMAIL_ADDRESS_" in outputs[0]


def test_street_names_starting_with_a_non_ascii_letter_are_found_in_long_columns(
    masker: Masker,
) -> None:
    """RE2 prefilters long columns, and its word boundary knows only ASCII letters."""
    tickets = [f"Order {n} late. New address: Ängsgatan {n}. Thanks!" for n in range(100, 300)]
    result = masker.mask_table(pa.table({"ticket": tickets}))
    assert result.entity_counts.get("STREET_ADDRESS") == len(tickets)
    assert not any("Ängsgatan" in cell for cell in result.table["ticket"].to_pylist())


def test_cells_holding_several_addresses_name_each_subject(masker: Masker) -> None:
    """An e-mail or phone cell that is not one bare identifier (``Name <address>``, a list
    of addresses, two numbers) is still masked whole, and each identifier in it is a
    subject, so DSAR finds every person, by the display name too; a cell naming nobody
    (``n/a``) is no subject."""
    people = [(fake.name(), fake.email()) for _ in range(3)]
    (name, first), (_, second), (_, third) = people
    table = pa.table(
        {
            "email": [f"{name} <{first}>", f"{second}; {third}", f"mailto:{third}"],
            "phone": ["+44 20 7946 0958 / +44 20 7946 0959", "n/a", "+44 20 7946 0960"],
        }
    )
    result = masker.mask_table(table)
    assert result.masked_cells == {"email": [0, 1, 2], "phone": [0, 1, 2]}
    subjects = {(s.entity_type, s.identifier) for s in result.subjects}
    assert subjects == {
        *(("EMAIL_ADDRESS", email.lower()) for _, email in people),
        *(("PHONE_NUMBER", f"+4420794609{n}") for n in (58, 59, 60)),
        ("PERSON", name.casefold()),
    }


def test_a_known_name_word_inside_an_identifier_does_not_unmask_it(masker: Masker) -> None:
    """``De`` is a name word of this result; the ``DE`` that starts an IBAN is not a name,
    and a PERSON span on it used to win over the IBAN and leave its digits readable."""
    iban = Faker("de_DE").iban()
    table = pa.table(
        {
            "customer": ["Ana De Souza", "Luis De Vries"],
            "ticket": [f"Refund to IBAN {iban} please.", "No refund."],
        }
    )
    masked = masker.mask_table(table).table.column("ticket").to_pylist()[0]
    assert masked == "Refund to IBAN DE" + "*" * (len(iban) - 2) + " please."


def test_names_with_an_apostrophe_are_masked_whole_and_possessives_kept(masker: Masker) -> None:
    first, last = fake.first_name(), f"O'{fake.last_name()}"
    table = pa.table(
        {
            "last_name": [last, fake.last_name()],
            "note": [f"Call back {first} {last} re order 605660", f"{last}'s order was late"],
        }
    )
    notes = masker.mask_table(table).table.column("note").to_pylist()
    assert notes[0].startswith("Call back PERSON_") and notes[0].endswith(" re order 605660")
    assert last[2:] not in notes[0] and first not in notes[0]
    assert notes[1].startswith("PERSON_") and notes[1].endswith("'s order was late")


def test_nordic_street_words_written_apart_are_found(masker: Masker) -> None:
    fake_dk = Faker("da_DK")
    street = f"{fake_dk.last_name()} Allé {fake_dk.building_number()}"
    assert masker.mask_text(f"New address: {street}. Thanks!").text == (
        "New address: <STREET_ADDRESS>. Thanks!"
    )


def test_an_address_holding_a_known_name_is_masked_whole(masker: Masker) -> None:
    """The name span inside won on score and the rest of the address stayed readable."""
    last = fake.last_name()
    table = pa.table(
        {
            "last_name": [last, fake.last_name()],
            "note": [f"New address: 12 {last} Road. Thanks!", "No change."],
        }
    )
    note = masker.mask_table(table).table.column("note").to_pylist()[0]
    assert note == "New address: <STREET_ADDRESS>. Thanks!"
