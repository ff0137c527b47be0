"""Names in free text found through the given- and family-name lists (name_lists.py).

spaCy's small English model missed about one name in five in notes worded in ways the
profile's cue words do not cover (``I (Sofia Kuijpers, born ...)``), and called products
named after people or places (``Georgia Bag``) persons. All names here are Faker's.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from faker import Faker

from nbwarden.masking import Masker
from nbwarden.masking.profile import find_profile, load_profile

LOCALES = ("en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "pl_PL", "sv_SE")
WORDINGS = (
    "Dear support, I ({name}, born 1984-03-02) moved last month.",
    "Under GDPR Article 15 I, {name}, ask for a copy of all data you hold about me.",
    "My partner {name} can log in fine from the same laptop.",
    "Delivery signed for by {name} at the front desk.",
)


@pytest.fixture(scope="module")
def masker() -> Masker:
    return Masker.for_profile("default")


def _names(count: int, seed: int) -> list[str]:
    names = []
    for index, locale in enumerate(LOCALES):
        fake = Faker(locale)
        fake.seed_instance(seed + index)
        names += [f"{fake.first_name()} {fake.last_name()}" for _ in range(count)]
    return names


def test_names_in_notes_of_unseen_wording_are_masked_and_indexed(masker: Masker) -> None:
    names = _names(6, seed=40)
    notes = [WORDINGS[i % len(WORDINGS)].format(name=name) for i, name in enumerate(names)]
    result = masker.mask_table(pa.table({"note": notes}))
    for name, masked in zip(names, result.table.column("note").to_pylist(), strict=True):
        assert not any(word in masked for word in name.split() if len(word) > 2), masked
        assert "PERSON_" in masked
    people = {s.identifier for s in result.subjects if s.entity_type == "PERSON"}
    assert len(people) >= len(set(names)) * 0.95


def test_a_surname_missing_from_the_lists_is_found_after_a_given_name(masker: Masker) -> None:
    text = masker.mask_text("I spoke to Tomasz Kuijpersma-Ollinger about the refund.").text
    assert text.startswith("I spoke to PERSON_") and "Kuijpersma" not in text


def test_a_name_in_capitals_inside_mixed_text_is_masked(masker: Masker) -> None:
    text = masker.mask_text("Package for JULIETTE HETHUR arrived damaged.").text
    assert text.startswith("Package for PERSON_") and text.endswith(" arrived damaged.")


@pytest.mark.parametrize(
    "benign",
    [
        "The Georgia Bag arrived broken, second time this month.",
        "Customer asked whether the Charlotte Kettle comes in another colour.",
        "Returned Paris Shelf restocked at the depot.",
        "Victoria Station was closed, so the courier came back.",
        "Grace Period ends on Monday.",
        "Ship the Jackson Chair via UPS Ground.",
        "Order shipped from the Güssing warehouse on Friday.",
    ],
)
def test_products_and_places_named_after_people_stay_readable(masker: Masker, benign: str) -> None:
    assert masker.mask_text(benign).text == benign


def test_a_copied_profile_reads_the_bundled_lists(tmp_path: Path) -> None:
    copy = tmp_path / "site.yaml"
    copy.write_text(find_profile("default").read_text(encoding="utf-8"), encoding="utf-8")
    lists = load_profile(str(copy)).name_lists
    assert "Sofia" in lists.given and "Kowalski" in lists.family
    assert "Station" in lists.not_surnames


@pytest.mark.parametrize(
    "text",
    [
        "Refund approved by K. Wiśniewska today.",
        "Called J.-P. Lefebvre about the parcel.",
        "Signed: Kowalczyk A.",
        "Signed by Kowalczyk, A. yesterday",
    ],
)
def test_a_family_name_beside_initials_is_masked(masker: Masker, text: str) -> None:
    masked = masker.mask_text(text).text
    assert "PERSON_" in masked
    assert not {"Wiśniewska", "Lefebvre", "Kowalczyk"} & set(masked.replace(",", " ").split())


@pytest.mark.parametrize("benign", ["Plan B. Then we wait.", "Option B. Green is the colour."])
def test_a_letter_before_an_english_word_is_no_initial(masker: Masker, benign: str) -> None:
    assert masker.mask_text(benign).text == benign


def test_a_column_of_names_without_a_name_hint_is_a_person_column(masker: Masker) -> None:
    """The lists vote on column samples before NER, which missed many European names."""
    names = _names(5, seed=60)
    products = ["Georgia Bag", "Charlotte Kettle", "Paris Shelf", "Victoria Rug"] * 10
    result = masker.mask_table(pa.table({"z": names, "item": products[: len(names)]}))
    assert all(v.startswith("PERSON_") for v in result.table.column("z").to_pylist())
    assert result.table.column("item").to_pylist() == products[: len(names)]


def test_a_column_of_names_in_lower_case_is_a_person_column(masker: Masker) -> None:
    """NER cannot read a name in lower case, and free text needs one of its words to be no
    English word (``david smith`` is two), so 40% of such a column's sample were names
    and the column stayed readable. A cell that is a listed given and family name is one.
    Lower-case streets and firms, whose words are names too, stay as they are."""
    names = [name.lower() for name in _names(5, seed=61)]
    fake = Faker("en_US")
    fake.seed_instance(62)
    streets = [fake.street_name().lower() for _ in range(len(names))]
    firms = [fake.company().lower() for _ in range(len(names))]
    result = masker.mask_table(pa.table({"kunde": names, "place": streets, "firm": firms}))
    assert all(v.startswith("PERSON_") for v in result.table.column("kunde").to_pylist())
    assert result.table.column("firm").to_pylist() == firms
    assert not any("PERSON_" in v for v in result.table.column("place").to_pylist())


def test_a_name_typed_in_lower_case_is_masked(masker: Masker) -> None:
    """Before, a name in lower case was never masked in free text: NER and the cue words
    need capitals. A listed given name before a listed family name that is no English
    word is a name whatever its case."""
    text = masker.mask_text("hi this is anna nowak, my parcel never came").text
    assert text.startswith("hi this is PERSON_") and "nowak" not in text
    text = masker.mask_text("spoke with anna NOWAK today").text
    assert text == "spoke with PERSON_" + text.split("PERSON_")[1].split()[0] + " today"


@pytest.mark.parametrize(
    ("note", "name"),
    [
        ("call kenneth richards tomorrow", "kenneth richards"),
        ("ticket from jessica anderson re refund", "jessica anderson"),
        ("louis de backer phoned twice", "louis de backer"),
        ("cc guido van rossum on this", "guido van rossum"),
    ],
)
def test_a_lower_case_name_whose_surname_is_an_english_word_is_masked(
    masker: Masker, note: str, name: str
) -> None:
    """WordNet, the English words, holds many surnames (``anderson``); so one of given and
    family name being no English word is enough, and a particle marks a surname."""
    text = masker.mask_text(note).text
    assert name not in text and "PERSON_" in text
    assert text.split("PERSON_")[0] == note.split(name)[0]


@pytest.mark.parametrize(
    "benign",
    [
        "the grace period is over",
        "delivered to rose street",
        "will update later",
        "press the tab key twice",
        "invoice from van der steen groep attached",
    ],
)
def test_lower_case_words_that_are_also_names_stay_readable(masker: Masker, benign: str) -> None:
    assert masker.mask_text(benign).text == benign


def test_a_name_on_no_list_is_found_as_two_foreign_words_in_a_sentence(masker: Masker) -> None:
    """Names the lists lack: two capitalised words that are no English words, inside a
    sentence. (Made-up names, on no list.)"""
    text = masker.mask_text("I spoke to Zorblina Kwarthusz about the refund.").text
    assert text.startswith("I spoke to PERSON_") and text.endswith(" about the refund.")


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Appel de Dominique Le Gall au sujet de la facture.", "Le Gall"),
        ("Signed by Pieter De Bank at the desk.", "De Bank"),
    ],
)
def test_an_english_word_after_a_capital_particle_is_a_surname(
    masker: Masker, text: str, name: str
) -> None:
    """``Gall`` and ``Bank`` are English words, so the lists took the name to end before
    them, and NER did not find it either: the whole name stayed readable."""
    assert name not in masker.mask_text(text).text


@pytest.mark.parametrize("benign", ["Paris la Defense office", "Victoria de Bank is open"])
def test_an_english_word_after_a_lower_case_particle_is_no_surname(
    masker: Masker, benign: str
) -> None:
    assert masker.mask_text(benign).text == benign
