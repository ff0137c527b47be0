"""The scanner's RE2 set: it must pass every value a rule's own pattern matches, and stay
selective, since each value it passes is searched again in Python."""

from __future__ import annotations

import pyarrow as pa
import pytest
import re2  # type: ignore[import-untyped]
from faker import Faker

from nbwarden.masking.profile import load_profile
from nbwarden.masking.scanner import _MARK, TextScanner

LOG_LINES = [
    "sshd[812]: Failed password for {user} from 203.0.113.9 port 52144 ssh2",
    "pam_unix(sshd:session): session opened for user {user}(uid=1001) by (uid=0)",
    "sudo:   {user} : TTY=pts/0 ; PWD=/srv ; USER=root ; COMMAND=/bin/ls",
    "-rw------- 1 x x 0 Dec 7 /home/{user}/.bash_history",
    '203.0.113.9 - {user} [07/Dec/2026:08:01:02 +0000] "GET /account HTTP/1.1" 200 512',
    "-rw-r--r--  1 {user} staff  1234 Dec  7 08:01 report.csv",
    "{user}   pts/0        203.0.113.9      Mon Dec  7 08:01   still logged in",
    "total 8\n{user}      4242  0.0  0.1  12345  6789 pts/0    S    08:01   0:00 bash",
]


@pytest.fixture(scope="module")
def scanner() -> TextScanner:
    return TextScanner(load_profile())


def _texts(fake: Faker) -> list[str]:
    texts = [line.format(user=fake.user_name()) for line in LOG_LINES]
    for _ in range(20):
        texts += [
            fake.email(),
            fake.phone_number(),
            fake.iban(),
            fake.ipv4(),
            fake.address(),
            f"Kontakt: {fake.name()}, Tel. {fake.phone_number()}",
            fake.ssn(),
            fake.credit_card_number(),
        ]
    return texts


def test_the_prefilter_passes_every_value_a_rule_matches(scanner: TextScanner) -> None:
    fake = Faker()
    fake.seed_instance(11)
    texts = _texts(fake)
    by_re2 = scanner.candidate_rules(pa.array(texts, pa.string()))
    by_python = {
        position: [i for i, rule in enumerate(scanner.rules) if rule.pattern.compiled.search(text)]
        for position, text in enumerate(texts)
    }
    missed = {
        position: sorted(
            scanner.rules[i].recognizer.name for i in set(rules) - set(by_re2.get(position, []))
        )
        for position, rules in by_python.items()
        if not set(rules) <= set(by_re2.get(position, []))
    }
    assert missed == {}
    assert len(scanner.rules) in scanner._rule_set.Match(_MARK + texts[0])  # the set answered
    for position in range(len(LOG_LINES)):
        assert "login_name" in {scanner.rules[i].recognizer.name for i in by_re2[position]}


def test_the_prefilter_passes_no_plain_place_or_family_name(scanner: TextScanner) -> None:
    """A login name's pattern without its context is a bare word: when the prefilter let
    every word through, a column of towns cost a search per value (3-5 ms a cell)."""
    fake = Faker(["en_US", "de_DE"])
    fake.seed_instance(12)
    words = [fake.city() for _ in range(200)] + [fake.last_name() for _ in range(200)]
    assert scanner.candidate_rules(pa.array(words, pa.string())) == {}


def test_where_the_rule_set_fails_each_rule_is_searched(scanner: TextScanner) -> None:
    """RE2's set answers nothing when its automaton runs out of memory; that must not read
    as "no rule matches". A set that knows neither the rules nor the mark answers so."""
    fake = Faker()
    fake.seed_instance(13)
    texts = _texts(fake)
    failing = TextScanner(load_profile())
    answers_nothing = re2.Set.SearchSet(re2.Options())
    answers_nothing.Add("\\x04")
    answers_nothing.Compile()
    failing._rule_set = answers_nothing
    searched = failing.candidate_rules(pa.array(texts, pa.string()))
    exact = {
        position: [i for i, rule in enumerate(failing.rules) if rule.pattern.compiled.search(text)]
        for position, text in enumerate(texts)
    }
    assert searched == {position: rules for position, rules in exact.items() if rules}
    assert len(searched) > len(texts) // 2
