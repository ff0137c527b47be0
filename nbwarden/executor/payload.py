"""The JSON the kernel receives for a SQL or shell cell (docs/architecture.md, ResultPayload),
and the same result as an Arrow IPC stream for clients that ask for one."""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
import math
from collections.abc import Mapping, Sequence
from itertools import chain, starmap
from typing import Any

import numpy as np
import pyarrow as pa

ARROW_STREAM = "application/vnd.apache.arrow.stream"
ENVELOPE_KEY = b"nbwarden"
"""Schema metadata key of an Arrow answer: the JSON answer without the result's rows, its
``masked`` rows as runs (``[[first, past_last], ...]`` per column: a masked column is
mostly one run, and 5,000 row numbers as JSON cost more than the Arrow stream itself)."""


class ResultPayload(dict[str, Any]):
    """A SQL ResultPayload, JSON-ready; ``table`` is the masked Arrow table it was built
    from, so an Arrow answer needs no second pass over the rows; ``arrow_answer`` is the
    whole ``execute`` answer as an Arrow stream, when the caller asked for one (the
    gateway writes it while the end record is made durable)."""

    table: pa.Table | None = None
    arrow_answer: bytes | None = None


def sql_payload(
    table: pa.Table,
    types: Sequence[str],
    masked_cells: Mapping[str, list[int]],
    entity_counts: Mapping[str, int],
    truncated: bool,
    elapsed_s: float,
    rows_affected: int | None = None,
    json_rows: bool = True,
    truncated_by: str | None = None,
) -> dict[str, Any]:
    """``masked_cells``: per column, the masked rows, ascending (as the masker gives them).
    ``json_rows=False`` leaves ``rows`` out: the caller sends the Arrow table.
    ``truncated_by``: the connection setting that cut the result, ``row_cap`` or
    ``result_cap_bytes``."""
    columns = list(table.column_names)
    payload = ResultPayload(
        {
            "columns": columns,
            "types": list(types),
            "masked": {column: rows for column, rows in masked_cells.items() if rows},
            "row_count": table.num_rows,
            "truncated": truncated,
            "entity_counts": dict(entity_counts),
            "elapsed_s": round(elapsed_s, 6),
        }
    )
    payload.table = table
    if json_rows:
        data = [column_values(table.column(i)) for i in range(len(columns))]
        payload["rows"] = list(map(list, zip(*data, strict=True))) if data else []
    if rows_affected is not None:
        payload["rows_affected"] = rows_affected
    if truncated and truncated_by:
        payload["truncated_by"] = truncated_by
    return payload


def arrow_answer(answer: Mapping[str, Any]) -> bytes | None:
    """The ``execute`` answer as an Arrow IPC stream: the masked table, with the answer
    (minus the rows) as JSON in the schema metadata; None when it holds no SQL table."""
    result = answer.get("result")
    table = getattr(result, "table", None)
    if not isinstance(result, dict) or not isinstance(table, pa.Table):
        return None
    fields = {k: v for k, v in result.items() if k != "rows"}
    fields["masked"] = {column: runs(rows) for column, rows in result.get("masked", {}).items()}
    envelope = dict(answer, result=fields)
    metadata = {ENVELOPE_KEY: json.dumps(envelope, default=str).encode("utf-8")}
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema.with_metadata(metadata)) as writer:
        writer.write_table(table)
    stream: bytes = sink.getvalue().to_pybytes()
    return stream


def read_arrow_answer(data: bytes) -> dict[str, Any]:
    """An Arrow ``execute`` answer back to the JSON answer's shape, with the masked table
    under ``result["table"]`` in place of ``result["rows"]``."""
    table = pa.ipc.open_stream(pa.py_buffer(data)).read_all()
    metadata = table.schema.metadata or {}
    answer: dict[str, Any] = json.loads(metadata.get(ENVELOPE_KEY, b"{}"))
    result = answer.get("result")
    if not isinstance(result, dict):
        raise ValueError("the Arrow answer carries no result")
    result["masked"] = {
        column: list(chain.from_iterable(starmap(range, column_runs)))
        for column, column_runs in result.get("masked", {}).items()
    }
    result["table"] = table.replace_schema_metadata(None)
    return answer


def runs(rows: Sequence[int]) -> list[list[int]]:
    """Ascending row numbers as runs of consecutive ones: ``[0, 1, 2, 5]`` -> ``[[0, 3],
    [5, 6]]``."""
    if not rows:
        return []
    if rows[-1] - rows[0] == len(rows) - 1:  # ascending and distinct: one run
        return [[int(rows[0]), int(rows[-1]) + 1]]
    numbers = np.asarray(rows, dtype=np.int64)
    breaks = np.flatnonzero(np.diff(numbers) != 1) + 1
    firsts = numbers[np.concatenate(([0], breaks))]
    lasts = numbers[np.concatenate((breaks - 1, [len(numbers) - 1]))] + 1
    return np.stack((firsts, lasts), axis=1).tolist()  # type: ignore[no-any-return]


def shell_payload(
    stdout: str,
    stderr: str,
    exit_code: int | None,
    truncated: bool,
    entity_counts: Mapping[str, int],
    elapsed_s: float,
) -> dict[str, Any]:
    return {
        "stdout": stdout,
        "stderr": stderr,
        "exit_code": exit_code,
        "truncated": truncated,
        "entity_counts": dict(entity_counts),
        "elapsed_s": round(elapsed_s, 6),
    }


def column_values(column: pa.ChunkedArray) -> list[Any]:
    """The column as JSON-ready values; types JSON takes as they are skip the per-cell pass."""
    data_type = column.type
    values: list[Any]
    if (
        pa.types.is_string(data_type)
        or pa.types.is_large_string(data_type)
        or pa.types.is_integer(data_type)
        or pa.types.is_boolean(data_type)
        or pa.types.is_null(data_type)
    ):
        values = column.to_pylist()
    elif pa.types.is_decimal(data_type) and data_type.scale >= 0:
        values = column.cast(pa.string()).to_pylist()
    else:
        values = [json_value(v) for v in column.to_pylist()]
    return values


def json_value(value: Any) -> Any:
    """A JSON-safe rendering: ISO dates, exact decimals as strings, no NaN/Infinity."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, Mapping):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, Sequence):
        return [json_value(v) for v in value]
    return str(value)
