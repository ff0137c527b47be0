"""The Arrow answer carries masked rows as runs and gives them back as row numbers."""

from __future__ import annotations

import pyarrow as pa
import pytest

from nbwarden.executor.payload import arrow_answer, read_arrow_answer, runs, sql_payload


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([], []),
        ([4], [[4, 5]]),
        ([0, 1, 2, 5], [[0, 3], [5, 6]]),
        ([0, 2, 4], [[0, 1], [2, 3], [4, 5]]),
        (list(range(1000)), [[0, 1000]]),
    ],
)
def test_runs_of_row_numbers(rows: list[int], expected: list[list[int]]) -> None:
    assert runs(rows) == expected


def test_masked_rows_survive_the_arrow_answer() -> None:
    table = pa.table({"email": [f"<EMAIL_{i}>" for i in range(8)], "n": list(range(8))})
    masked = {"email": [0, 1, 2, 6], "n": [7]}
    result = sql_payload(table, ["string", "int64"], masked, {"EMAIL_ADDRESS": 4}, False, 0.1)
    stream = arrow_answer({"status": "ok", "execution_id": "e1", "result": result})
    assert stream is not None
    answer = read_arrow_answer(stream)
    assert answer["result"]["masked"] == masked
    assert answer["result"]["table"].equals(table)
    assert "rows" not in answer["result"]


def test_masked_rows_come_as_they_are_and_one_run_is_found_at_once() -> None:
    table = pa.table({"email": ["a"] * 4})
    result = sql_payload(table, ["string"], {"email": [0, 1, 2, 3], "x": []}, {}, False, 0.1)
    assert result["masked"] == {"email": [0, 1, 2, 3]}
    assert runs(range(10, 20)) == [[10, 20]]
