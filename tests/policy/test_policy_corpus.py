"""The attack and benign corpus: every entry judged as its expected action."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from nbwarden.policy import PolicyEngine

DATA = Path(__file__).parent / "data"


def _load(kind: str) -> dict[str, list[dict[str, Any]]]:
    return yaml.safe_load((DATA / f"{kind}_corpus.yaml").read_text(encoding="utf-8"))


SQL = _load("sql")
SHELL = _load("shell")
CASES = [
    pytest.param(kind, entry, id=f"{kind}-{group}-{index}")
    for kind, corpus in (("sql", SQL), ("shell", SHELL))
    for group in ("dangerous", "benign")
    for index, entry in enumerate(corpus[group])
]


@pytest.fixture(scope="module")
def engine() -> PolicyEngine:
    return PolicyEngine()


def test_corpus_is_big_enough() -> None:
    dangerous = len(SQL["dangerous"]) + len(SHELL["dangerous"])
    benign = len(SQL["benign"]) + len(SHELL["benign"])
    assert dangerous >= 80
    assert benign >= 40
    assert {e["dialect"] for e in SQL["dangerous"]} >= {"postgres", "mysql", "duckdb", "sqlite"}


@pytest.mark.parametrize(("kind", "entry"), CASES)
def test_corpus_entry(engine: PolicyEngine, kind: str, entry: dict[str, Any]) -> None:
    verdict = engine.check(kind, entry["code"], entry.get("dialect"))
    expected = entry.get("expect", "allow")
    assert verdict.action == expected, (verdict.rules, entry["code"])
    if "rule" in entry:
        assert entry["rule"] in verdict.rules
    assert len(verdict.rules) == len(verdict.reasons)
    if expected == "allow":
        assert verdict.rules == []
