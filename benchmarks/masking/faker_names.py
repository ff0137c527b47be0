"""The masker's name lists, from Faker's person providers.

``python -m benchmarks.masking.faker_names`` writes masking_models/names/given.txt,
family.txt and places.txt; the masking benchmark also builds lists without some locales, to measure
names the lists do not hold.

The masker finds a person's name in free text where spaCy's small English model does not
(``I (Sofia Kuijpers, born ...)``) by a given name followed by a surname-like word; these
are the lists it reads. Faker's providers (MIT licence) hold each locale's common given and
family names, from national statistics. Only names written in Latin, Greek or Cyrillic
letters (the scripts of the EU's languages), as one word, are kept; words that are also
English stop words (``May``, ``Will``) or that begin place names (``North``, ``Saint``)
are left out. Run it again after upgrading Faker.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import unicodedata
from collections.abc import Collection
from pathlib import Path
from typing import Any

import faker
import faker.providers.address
import faker.providers.person
import spacy

OUT = Path(__file__).resolve().parents[2] / "masking_models" / "names"
ONE_WORD = re.compile(r"[^\W\d_]+(?:[-'][^\W\d_]+)*")
NOT_NAMES = {"North", "South", "East", "West", "Saint", "San", "Santa", "Sankt", "Port", "Mount"}
GIVEN = re.compile(r"(first|middle)_(romanized_)?names(_\w+)?")
FAMILY = re.compile(r"((\w+_)?last_(romanized_)?names(_\w+)?|\w+_last_names)")
"""Faker's names for its name lists, which differ by locale (``male_last_names``)."""
OTHER_EU_SCRIPTS = ("GREEK", "CYRILLIC")
"""Besides Latin, the scripts of the EU's official languages (Greek, Bulgarian)."""
PLACES = re.compile(r"(real_)?(cities|city_names)|municipalities|towns")
PLACE = re.compile(r"[^\W\d_]+(?:[-' ][^\W\d_]+)*")


def provider_names(
    attribute: re.Pattern[str], skip: Collection[str] = (), providers: Any = faker.providers.person
) -> set[str]:
    """Every name of the providers' lists whose attribute matches, but ``skip``'s."""
    names: set[str] = set()
    for module in pkgutil.iter_modules(providers.__path__):
        if module.name in skip:
            continue
        try:
            provider = importlib.import_module(f"{providers.__name__}.{module.name}").Provider
        except (ImportError, AttributeError):
            continue
        for name, value in vars(provider).items():
            if attribute.fullmatch(name) and isinstance(value, (dict, list, tuple)):
                names.update(str(item) for item in value)
    return names


def kept(names: set[str], stop_words: set[str]) -> list[str]:
    return sorted(
        name
        for name in names
        if len(name) > 1
        and ONE_WORD.fullmatch(name)
        and in_eu_scripts(name)
        and name[0].isupper()
        and name.casefold() not in stop_words
        and name not in NOT_NAMES
    )


def in_eu_scripts(word: str) -> bool:
    """Latin letters up to Latin Extended-B, Greek or Cyrillic ones."""
    return all(
        ord(ch) < 0x250 or unicodedata.name(ch, "").startswith(OTHER_EU_SCRIPTS)
        for ch in word
        if ch.isalpha()
    )


def name_lists(skip: Collection[str] = ()) -> tuple[list[str], list[str]]:
    """Given and family names, leaving out the locales in ``skip``."""
    stop_words = {word.casefold() for word in spacy.blank("en").Defaults.stop_words}
    return (
        kept(provider_names(GIVEN, skip), stop_words),
        kept(provider_names(FAMILY, skip), stop_words),
    )


def places() -> list[str]:
    """Towns and cities Faker's address providers list by name (real ones, for most)."""
    return sorted(
        place
        for place in provider_names(PLACES, providers=faker.providers.address)
        if PLACE.fullmatch(place) and in_eu_scripts(place) and place[0].isupper()
    )


def write(path: Path, names: list[str]) -> None:
    header = f"# Written by benchmarks/masking/faker_names.py from Faker {faker.VERSION} (MIT).\n"
    path.write_text(header + "\n".join(names) + "\n", encoding="utf-8")
    print(f"{path}: {len(names)} names")


def main() -> None:
    given, family = name_lists()
    OUT.mkdir(parents=True, exist_ok=True)
    write(OUT / "given.txt", given)
    write(OUT / "family.txt", family)
    write(OUT / "places.txt", places())


if __name__ == "__main__":
    main()
