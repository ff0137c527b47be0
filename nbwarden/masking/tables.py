"""Read and write CSV, Parquet and JSON-lines tables in batches for ``nbwarden mask``."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq


def read_batches(path: Path, file_format: str, batch_rows: int) -> Iterator[pa.Table]:
    """CSV columns are read as text, so leading zeros and exact spellings survive."""
    if file_format == "parquet":
        parquet = pq.ParquetFile(path)
        for batch in parquet.iter_batches(batch_size=batch_rows):
            yield pa.Table.from_batches([batch])
    elif file_format == "csv":
        yield from _csv_batches(path, batch_rows)
    else:
        table = pajson.read_json(path)
        for batch in table.to_batches(max_chunksize=batch_rows):
            yield pa.Table.from_batches([batch])


def _csv_batches(path: Path, batch_rows: int) -> Iterator[pa.Table]:
    with path.open(encoding="utf-8", newline="") as handle:
        names = next(csv.reader(handle), [])
    convert = pacsv.ConvertOptions(
        column_types=dict.fromkeys(names, pa.string()), strings_can_be_null=False
    )
    reader = pacsv.open_csv(
        path, read_options=pacsv.ReadOptions(block_size=1 << 22), convert_options=convert
    )
    for batch in reader:
        for start in range(0, batch.num_rows, batch_rows):
            yield pa.Table.from_batches([batch.slice(start, batch_rows)])


def write_batches(tables: Iterable[pa.Table], path: Path, file_format: str) -> None:
    if file_format == "jsonl":
        with path.open("w", encoding="utf-8") as handle:
            for table in tables:
                for row in table.to_pylist():
                    handle.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
        return
    writer: pq.ParquetWriter | pacsv.CSVWriter | None = None
    try:
        for table in tables:
            if writer is None:
                writer = (
                    pq.ParquetWriter(path, table.schema)
                    if file_format == "parquet"
                    else pacsv.CSVWriter(path, table.schema)
                )
            writer.write_table(table.cast(writer.schema) if file_format == "parquet" else table)
    finally:
        if writer is not None:
            writer.close()
