from __future__ import annotations

import os
import re
import stat

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nbwarden.identifiers import (
    NAME_SUFFIXES,
    NAME_TITLES,
    email_as_written,
    given_name_first,
    name_forms_with_titles,
    normalize_email,
    normalize_identifier,
    normalize_name,
    phone_forms,
)
from nbwarden.keys import (
    PSEUDONYM,
    SUBJECT_INDEX,
    KeyFileError,
    derive_key,
    keyed_hash,
    load_master_key,
    load_or_create_master_key,
)


def test_master_key_is_created_private_and_stable(tmp_path):
    path = tmp_path / "k" / "master.key"
    first = load_or_create_master_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first) == 32
    assert load_or_create_master_key(path) == first


def test_unsafe_or_bad_key_files_are_refused(tmp_path):
    path = tmp_path / "master.key"
    load_or_create_master_key(path)
    os.chmod(path, 0o644)
    with pytest.raises(KeyFileError, match="chmod 600"):
        load_master_key(path)
    os.chmod(path, 0o600)
    path.write_text("not hex")
    with pytest.raises(KeyFileError, match="hex"):
        load_master_key(path)
    path.write_text("abcd")
    with pytest.raises(KeyFileError, match="shorter"):
        load_master_key(path)


def test_derived_keys_differ_by_purpose_and_hash_is_keyed(tmp_path):
    master = load_or_create_master_key(tmp_path / "m.key")
    subject, pseudonym = derive_key(master, SUBJECT_INDEX), derive_key(master, PSEUDONYM)
    assert subject != pseudonym
    assert keyed_hash(subject, "a@b.example") == keyed_hash(subject, "a@b.example")
    assert keyed_hash(subject, "a@b.example") != keyed_hash(pseudonym, "a@b.example")


@pytest.mark.parametrize(
    ("entity", "raw", "normal"),
    [
        ("EMAIL_ADDRESS", "  Jane.Doe@Example.COM ", "jane.doe@example.com"),
        ("EMAIL_ADDRESS", "Jane.Doe+Shop@Example.COM", "jane.doe@example.com"),
        ("EMAIL_ADDRESS", '"jane+doe"@example.com', '"jane+doe"@example.com'),
        ("EMAIL_ADDRESS", "+jane@example.com", "+jane@example.com"),
        ("PHONE_NUMBER", "+44 20 7946 0958", "+442079460958"),
        ("PHONE_NUMBER", "(202) 555-0143", "+12025550143"),
        ("PERSON", "  José   ÁLVAREZ ", "jose alvarez"),
        ("PERSON", "Álvarez, José", "jose alvarez"),
        ("PERSON", "van der Berg , Anna Maria", "anna maria van der berg"),
        ("PERSON", "Dr. Gary Thompson Jr.", "gary thompson"),
        ("PERSON", "Mrs Ruth Guzman, M.D.", "ruth guzman"),
        ("PERSON", "Thompson Jr., Gary", "gary thompson"),
        ("PERSON", "Thompson, Prof. Gary, PhD", "gary thompson"),
        ("PERSON", "Herr Jürgen Weiß", "jurgen weiss"),
        ("PERSON", "Léon Mba", "leon mba"),
        ("PERSON", "Dr. Who", "who"),
        ("PERSON", "Jr.", "jr."),
        ("IBAN_CODE", "de89 3704 0044 0532 0130 00", "DE89370400440532013000"),
        ("UK_NINO", "QQ 12 34 56 C", "QQ123456C"),
        ("SE_PERSONNUMMER", "19880320-0016", "8803200016"),
        ("SE_PERSONNUMMER", "880320+0016", "8803200016"),
        ("SE_PERSONNUMMER", "198803200016", "8803200016"),
        ("PERSON", "Jane+Roe", "jane roe"),
        ("MAC_ADDRESS", "3c:22:fb:7a:91:0e", "3C22FB7A910E"),
        ("MAC_ADDRESS", "3c22.fb7a.910e", "3C22FB7A910E"),
        ("IP_ADDRESS", " 203.0.113.9", "203.0.113.9"),
        ("IP_ADDRESS", "2001:DB8:0:0::1", "2001:db8::1"),
        ("USER_NAME", "J.Smith", "j.smith"),
        ("PERSON", "Ren%C3%A9e%20O%27Neil", "renee o'neil"),
        ("PHONE_NUMBER", "%2B44%2020%207946%200958", "+442079460958"),
        ("EMAIL_ADDRESS", "jane.doe%2Bshop%40example.com", "jane.doe@example.com"),
    ],
)
def test_normalize_identifier(entity, raw, normal):
    assert normalize_identifier(entity, raw) == normal


PREVIOUS_SURNAME_FIRST = re.compile(r"\s*([^\W\d_][^,.\d]*?)\s*,\s*([^\W\d_][^,.\d]*?)\s*")
PREVIOUS_AT_SIGN = re.compile(r"\s*(?:[(\[{]\s*at\s*[)\]}]|@|%40)\s*")
PREVIOUS_DOT = re.compile(r"\s*[(\[{]\s*dot\s*[)\]}]\s*")
"""The patterns before they were made linear: the oracle on short texts."""
NAMEISH = st.text(alphabet="ab É,. \t1-'", max_size=14)
EMAILISH = st.text(alphabet="ab@.%40 ()[]{}atdo\t", max_size=18)


def previous_given_name_first(name: str) -> str:
    match = PREVIOUS_SURNAME_FIRST.fullmatch(name)
    return f"{match[2]} {match[1]}" if match else name


def previous_normalize_email(value: str) -> str:
    return PREVIOUS_AT_SIGN.sub("@", PREVIOUS_DOT.sub(".", value.strip().lower()))


@given(NAMEISH)
def test_names_turn_around_as_before(name: str) -> None:
    assert given_name_first(name) == previous_given_name_first(name)


@given(EMAILISH)
def test_addresses_normalise_as_before(value: str) -> None:
    assert email_as_written(value) == previous_normalize_email(value)


@pytest.mark.timeout(60)
def test_long_runs_of_spaces_are_read_once() -> None:
    """Both took minutes on 400 kB of spaces (every position of the run read the rest)."""
    spaces = " " * 400_000
    assert normalize_identifier("PERSON", f"Stone,{spaces}Bob") == "bob stone"
    assert given_name_first(f"Bob{spaces}x") == f"Bob{spaces}x"
    assert normalize_email(f"jane{spaces}(at){spaces}example{spaces}(dot) org") == (
        "jane@example.org"
    )
    assert normalize_email(f"a{spaces}b") == f"a{spaces}b"


NAMES = st.lists(st.text(alphabet="abcéDRJ., ", min_size=1, max_size=8), min_size=1, max_size=4)


@given(NAMES)
def test_a_normalised_name_stays_as_it_is(words: list[str]) -> None:
    name = normalize_name(" ".join(words))
    assert normalize_name(name) == name


@given(
    st.sampled_from(sorted(NAME_TITLES)),
    st.sampled_from(sorted(NAME_SUFFIXES)),
    st.sampled_from(["", "."]),
    st.sampled_from([" ", ", "]),
)
def test_titles_and_suffixes_are_no_part_of_a_name(
    title: str, suffix: str, dot: str, separator: str
) -> None:
    written = f"{title.title()}{dot} Ana De Souza{separator}{suffix.upper()}{dot}"
    assert normalize_name(written) == "ana de souza"


def test_the_forms_older_records_hold_are_the_old_normaliser_s() -> None:
    """Before titles and suffixes were left out, the normaliser only folded case, accents
    and spaces: its forms of a titled name are among those a request looks up."""
    forms = set(name_forms_with_titles("gary thompson"))
    assert {"dr. gary thompson jr.", "mrs gary thompson", "gary thompson, m.d."} <= forms
    assert "gary thompson" not in forms
    assert all(normalize_name(form) == "gary thompson" for form in forms)


@pytest.mark.parametrize(
    ("written", "regions", "normal"),
    [
        ("020 7946 0958", ("US", "GB"), "+442079460958"),
        ("0044 20 7946 0958", ("US",), "+442079460958"),
        ("(202) 555-0143", ("GB", "US"), "+12025550143"),
        ("030 1234 5678", ("DE", "GB"), "+493012345678"),
        ("030 1234 5678", ("GB", "DE"), "+443012345678"),
        ("020 7946 0958", ("US",), "02079460958"),
        ("12-34", ("US",), "1234"),
    ],
)
def test_a_national_phone_number_is_read_in_the_profile_s_regions(
    written: str, regions: tuple[str, ...], normal: str
) -> None:
    assert normalize_identifier("PHONE_NUMBER", written, regions) == normal


def test_a_number_given_with_its_country_code_is_also_looked_up_as_read_nationally() -> None:
    """A result's ``01 23 45 67 89`` is read in the first region where it is valid."""
    regions = ("US", "GB", "IE", "FR")
    assert normalize_identifier("PHONE_NUMBER", "01 23 45 67 89", regions) == "+353123456789"
    assert phone_forms("+33 1 23 45 67 89", regions) == ["+33123456789", "+353123456789"]
    assert phone_forms("+44 20 7946 0958", regions) == ["+442079460958"]
