"""What the record of a notebook cell (any kernel) holds: the cell masked, and the governed
code in it (a ``%%sql`` or ``%%sh`` body, a ``%sql`` line) as the gateway records the same
code, without its literals."""

from __future__ import annotations

from pathlib import Path

from faker import Faker

from nbwarden.config import load_config
from nbwarden.server_extension.standalone import build_state


def test_cell_magic_literals_never_reach_the_cell_record(nb_config_path: Path) -> None:
    """A name typed into a ``%%sql`` or ``%%sh`` cell, or a ``%sql`` line, is replaced in the
    cell's own record as in the governed record: no detector finds every name (the text
    masker alone leaves ``'%Sean May%'`` readable)."""
    fake = Faker()
    fake.seed_instance(20261207)
    names = [fake.name() for _ in range(3)]
    state = build_state(load_config(nb_config_path))
    cells = {
        "sql": f"%%sql shop\nSELECT id FROM customers WHERE name = '{names[0]}'",
        "sh": f'%%sh local\ngrep "{names[1]}" app.log',
        "python": "total = people.spend.sum()",
        "line": f"people = %sql shop SELECT * FROM customers WHERE name = '{names[2]}'",
    }
    try:
        recorded = {}
        for kind, source in cells.items():
            execution_id = state.record_cell("alice", "k-1", "nbwarden", f"cell-{kind}", source)
            state.end_cell(execution_id, "ok")
            record = state.gateway.store.get_execution(execution_id)
            assert record is not None
            recorded[kind] = record["code_masked"]
    finally:
        state.gateway.close()
    assert recorded["sql"] == "%%sql shop\nSELECT id FROM customers WHERE name = '<string 1>'"
    assert recorded["sh"] == "%%sh local\ngrep '<string 1>' app.log"
    assert recorded["python"] == cells["python"]
    assert recorded["line"] == (
        "people = %sql shop SELECT * FROM customers WHERE name = '<string 1>'"
    )
    assert not [name for name in names if any(name in text for text in recorded.values())]
