"""HL7 version 2 messages (``nbwarden.masking.hl7``): in a result column and in a shell
cell's output. Before, a message was scanned by the patterns alone: the patient's name
(``WRIGHT^CALLUM``), record number, birth date and town came back as written, and the
birth date was taken for a phone number. Every value here is Faker's."""

from __future__ import annotations

import pyarrow as pa
import pytest
from faker import Faker

from nbwarden.identifiers import PERSON, normalize_identifier
from nbwarden.masking import Masker
from nbwarden.masking.hl7 import is_message


@pytest.fixture(scope="module")
def masker() -> Masker:
    return Masker.for_profile("default")


def _patient(fake: Faker) -> dict[str, str]:
    return {
        "given": fake.first_name(),
        "family": fake.last_name(),
        "mrn": str(fake.random_number(digits=8, fix_len=True)),
        "born": fake.date_of_birth().strftime("%Y%m%d"),
        "street": fake.street_name() + " " + fake.building_number(),
        "town": fake.city(),
        "postcode": fake.postcode(),
        "phone": fake.phone_number(),
        "kin_given": fake.first_name(),
        "kin_family": fake.last_name(),
        "doctor_given": fake.first_name(),
        "doctor_family": fake.last_name(),
    }


def _message(p: dict[str, str], segment_end: str = "\r") -> str:
    segments = [
        "MSH|^~\\&|ADT1|HOSP|LAB|HOSP|20261207093000||ADT^A01^ADT_A01|MSG00001|P|2.5",
        "EVN|A01|20261207093000",
        f"PID|1||{p['mrn']}^^^HOSP^MR||{p['family'].upper()}^{p['given'].upper()}^^^^||"
        f"{p['born']}|F|||{p['street']}^^{p['town']}^^{p['postcode']}^DE||{p['phone']}^PRN^PH",
        f"NK1|1|{p['kin_family']}^{p['kin_given']}|SPO||{p['phone']}",
        f"PV1|1|I|W^389^1^HOSP||||4711^{p['doctor_family']}^{p['doctor_given']}^^^Dr|||MED",
        f"NTE|1||Patient {p['given']} {p['family']} asked for a copy of her record",
        "OBX|1|NM|8302-2^Body height^LN||172|cm|||||F",
    ]
    return segment_end.join(segments) + segment_end


def _readable(p: dict[str, str], shown: str) -> list[str]:
    keys = ("given", "family", "mrn", "born", "street", "town", "kin_family", "doctor_family")
    return [key for key in keys if p[key] in shown or p[key].upper() in shown]


def test_a_column_of_messages_is_masked_field_by_field(masker: Masker) -> None:
    fake = Faker("de_DE")
    fake.seed_instance(91)
    patients = [_patient(fake) for _ in range(30)]
    messages = [_message(p) for p in patients]
    assert all(is_message(m) for m in messages)
    result = masker.mask_table(pa.table({"raw": messages}))
    for patient, shown in zip(patients, result.table.column("raw").to_pylist(), strict=True):
        assert not _readable(patient, shown), shown
        assert "OBX|1|NM|8302-2^Body height^LN||172|cm|||||F" in shown
        assert shown.startswith("MSH|^~\\&|ADT1|HOSP|LAB|HOSP|") and shown.count("\r") == 7
    people = {s.identifier for s in result.subjects if s.entity_type == PERSON}
    for patient in patients:
        assert normalize_identifier(PERSON, f"{patient['given']} {patient['family']}") in people
    births = {s.identifier for s in result.subjects if s.entity_type == "DATE_OF_BIRTH"}
    assert births == {patient["born"] for patient in patients}
    assert "PHONE_NUMBER" in {s.entity_type for s in result.subjects}


def test_messages_in_a_shell_cells_output_keep_their_lines(masker: Masker) -> None:
    fake = Faker("en_GB")
    fake.seed_instance(92)
    patients = [_patient(fake) for _ in range(3)]
    output = "".join(_message(p, "\n") for p in patients)
    result = masker.mask_output(output)
    assert result.text.count("\n") == output.count("\n")
    for patient in patients:
        assert not _readable(patient, result.text)
    ids = {s.identifier for s in result.subjects if s.entity_type == "PATIENT_ID"}
    assert {patient["mrn"] for patient in patients} <= ids


def test_a_message_with_its_own_separators_is_read_by_them(masker: Masker) -> None:
    fake = Faker()
    fake.seed_instance(93)
    given, family = fake.first_name(), fake.last_name()
    message = f"MSH#*!\\&#APP#HOSP\rPID#1##123#456#{family}*{given}#"
    shown = masker.mask_output(message).text
    assert given not in shown and family not in shown and shown.startswith("MSH#*!\\&#APP#HOSP")


@pytest.mark.parametrize("text", ["MSH-123 shipped", "MSH|^~|short"])
def test_text_that_only_starts_like_a_message_is_no_message(text: str) -> None:
    assert not is_message(text)
