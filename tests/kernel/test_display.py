"""The governed result as a DataFrame, and its text and HTML tables, pinned byte for byte."""

from __future__ import annotations

import datetime as dt
import decimal
import html
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from faker import Faker

from nbwarden.kernel.display import render_table_html, render_table_text, result_frame

TEXT = str(pd.Series(["text"]).dtype)
"""The dtype pandas gives text: ``str`` from pandas 3, ``object`` before."""
MASKED = '<td style="background:#fff3cd;font-family:monospace" title="masked by nbwarden">'


def small_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "name": pd.Series(["<PERSON_1>", "<PERSON_2>", None], dtype=TEXT),
            "note": pd.Series(["a\nb " + "x" * 80, "<b>Lyon & Nice</b>", None], dtype=TEXT),
            7: [1, 22, 333],
            "amount": [decimal.Decimal("12.50"), None, decimal.Decimal("-0.25")],
            "ratio": [0.5, np.nan, 1e-05],
        }
    )


def test_small_frame_text_is_pinned() -> None:
    assert render_table_text(small_frame()).splitlines() == [
        "         name                                      note    7  amount  ratio",
        "0  <PERSON_1>  a b xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…    1   12.50    0.5",
        "1  <PERSON_2>                        <b>Lyon & Nice</b>   22            nan",
        "2         nan                                       nan  333   -0.25  1e-05",
        "[3 rows x 5 columns]",
    ]


def test_small_frame_html_is_pinned() -> None:
    masked = {"name": [2, 0, 5, -1], "7": [1]}
    assert render_table_html(small_frame(), masked) == (
        '<table class="dataframe nbwarden-result"><thead><tr><th></th><th>name</th>'
        "<th>note</th><th>7</th><th>amount</th><th>ratio</th></tr></thead><tbody>"
        f"<tr><th>0</th>{MASKED}&lt;PERSON_1&gt;</td><td>a\nb {'x' * 42}...</td>"
        "<td>1</td><td>12.50</td><td>0.5</td></tr>"
        "<tr><th>1</th><td>&lt;PERSON_2&gt;</td><td>&lt;b&gt;Lyon &amp; Nice&lt;/b&gt;</td>"
        f"{MASKED}22</td><td></td><td>nan</td></tr>"
        f"<tr><th>2</th>{MASKED}nan</td><td>nan</td><td>333</td><td>-0.25</td>"
        "<td>1e-05</td></tr></tbody></table>"
    )


def test_long_values_are_cut_in_the_html_as_pandas_cuts_them() -> None:
    """A megabyte of text in a shown cell does not go whole into the saved notebook:
    the HTML cuts it at pandas' ``display.max_colwidth``, as pandas' own table does."""
    fake = Faker()
    fake.seed_instance(60)
    long_text = fake.text(max_nb_chars=200).replace("\n", " ") * 5000  # pandas shows \n as \\n
    frame = result_frame({"table": pa.table({"note": [long_text, "short"]})}, "exec-1")
    bundle = frame._repr_mimebundle_()
    assert len(bundle["text/html"]) < 1000 and len(bundle["text/plain"]) < 1000
    cells = [long_text, "short"]
    pandas_html = pd.DataFrame({"note": cells})._repr_html_()
    assert pandas_html.count(f"{html.escape(long_text[:46])}...</td>") == 1
    assert f"<td>{html.escape(long_text[:46])}...</td><" in bundle["text/html"]
    with pd.option_context("display.max_colwidth", None):
        assert html.escape(long_text) in frame._repr_mimebundle_()["text/html"]
    assert frame["note"][0] == long_text


def test_long_wide_frame_shows_ten_rows_and_twenty_text_columns() -> None:
    wide = pd.DataFrame({i: range(i, i + 61) for i in range(22)})
    assert render_table_text(wide).splitlines() == [
        "   0   1   2   3   4   5   6   7   8   9  10  11  12  13  14  15  16  17  18  19",
        "0  0   1   2   3   4   5   6   7   8   9  10  11  12  13  14  15  16  17  18  19",
        "1  1   2   3   4   5   6   7   8   9  10  11  12  13  14  15  16  17  18  19  20",
        "2  2   3   4   5   6   7   8   9  10  11  12  13  14  15  16  17  18  19  20  21",
        "3  3   4   5   6   7   8   9  10  11  12  13  14  15  16  17  18  19  20  21  22",
        "4  4   5   6   7   8   9  10  11  12  13  14  15  16  17  18  19  20  21  22  23",
        "5  5   6   7   8   9  10  11  12  13  14  15  16  17  18  19  20  21  22  23  24",
        "6  6   7   8   9  10  11  12  13  14  15  16  17  18  19  20  21  22  23  24  25",
        "7  7   8   9  10  11  12  13  14  15  16  17  18  19  20  21  22  23  24  25  26",
        "8  8   9  10  11  12  13  14  15  16  17  18  19  20  21  22  23  24  25  26  27",
        "9  9  10  11  12  13  14  15  16  17  18  19  20  21  22  23  24  25  26  27  28",
        "… 51 more rows",
        "[61 rows x 22 columns]",
    ]
    table = render_table_html(wide, {"3": [0, 60]})
    assert table.count("<tr>") == 11 and table.count("<td") == 220
    assert f"<td>2</td>{MASKED}3</td><td>4</td>" in table
    assert "<th>21</th></tr></thead>" in table and "<td>30</td></tr></tbody></table>" in table
    assert table.endswith("<p><small>… 51 more rows (the variable holds all)</small></p>")


def expected_text(frame: pd.DataFrame, shown: int) -> str:
    """The text table spelled out row by row from pandas' object values."""
    head = frame.head(shown).iloc[:, :20]

    def cell(value: Any) -> str:
        text = "" if value is None else " ".join(str(value).split())
        return text if len(text) <= 40 else text[:39] + "…"

    table = [["", *map(cell, head.columns)]]
    table += [[str(i), *map(cell, row)] for i, row in enumerate(head.to_numpy(dtype=object))]
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in table]
    lines = [line.rstrip() for line in lines]
    if len(frame) > shown:
        lines.append(f"… {len(frame) - shown:,} more rows")
    return "\n".join([*lines, f"[{len(frame):,} rows x {len(frame.columns):,} columns]"])


def expected_html(frame: pd.DataFrame, shown: int, masked: Mapping[str, Sequence[int]]) -> str:
    """The HTML table spelled out row by row from pandas' object values."""
    names = list(frame.columns)
    head = "".join(f"<th>{html.escape(str(name))}</th>" for name in names)
    body = ""
    for i, row in enumerate(frame.head(shown).to_numpy(dtype=object)):
        body += f"<tr><th>{i}</th>"
        for name, value in zip(names, row, strict=True):
            text = "" if value is None else str(value)
            text = html.escape(text if len(text) < 50 else text[:46] + "...")
            body += (MASKED if i in masked.get(str(name), ()) else "<td>") + f"{text}</td>"
        body += "</tr>"
    more = len(frame) - shown
    note = f"<p><small>… {more:,} more rows (the variable holds all)</small></p>" if more else ""
    return (
        '<table class="dataframe nbwarden-result"><thead><tr><th></th>'
        f"{head}</tr></thead><tbody>{body}</tbody></table>{note}"
    )


def faker_table(rows: int, seed: int) -> pa.Table:
    """A governed answer's shape: masked and clear text, ids, two decimal(12, 2) columns."""
    fake = Faker("en_GB")
    fake.seed_instance(seed)

    def cents(i: int) -> decimal.Decimal | None:
        return None if i % 7 == 3 else decimal.Decimal(fake.pyint(-(10**9), 10**9)).scaleb(-2)

    return pa.table(
        {
            "id": pa.array(range(rows), pa.int64()),
            "name": [f"<PERSON_{i}>" for i in range(rows)],
            "email": ["<EMAIL_ADDRESS>"] * rows,
            "phone": [None if i % 5 == 1 else fake.phone_number() for i in range(rows)],
            "iban": [fake.iban() for _ in range(rows)],
            "city": [fake.city() + " " + fake.text(60) * (i % 2) for i in range(rows)],
            "balance": pa.array([cents(i) for i in range(rows)], pa.decimal128(12, 2)),
            "limit": pa.array([cents(i + 1) for i in range(rows)], pa.decimal128(12, 2)),
        }
    )


@pytest.mark.parametrize(("rows", "shown"), [(0, 0), (5, 5), (60, 60), (61, 10), (1000, 10)])
def test_faker_results_render_as_spelled_out(rows: int, shown: int) -> None:
    masked = {"name": list(range(rows)), "email": list(range(rows))[::-1], "phone": [1, 4, 99]}
    frame = result_frame({"table": faker_table(rows, seed=rows), "masked": masked}, "exec-1")
    bundle = frame._repr_mimebundle_()
    assert bundle["text/plain"] == render_table_text(frame) == expected_text(frame, shown)
    assert bundle["text/html"] == render_table_html(frame, masked)
    assert bundle["text/html"] == expected_html(frame, shown, masked)


def test_wide_faker_frame_with_number_names_renders_as_spelled_out() -> None:
    frame = result_frame({"table": faker_table(75, seed=3)}, None)
    wide = pd.concat([frame] * 4, axis=1, ignore_index=True)
    masked = {"0": [0, 9, 10], "31": [2]}
    assert wide.columns.equals(pd.RangeIndex(32))
    assert render_table_text(wide) == expected_text(wide, 10)
    assert render_table_html(wide, masked) == expected_html(wide, 10, masked)
    with pd.option_context("display.max_rows", None):
        assert render_table_text(wide) == expected_text(wide, 75)


def test_result_frame_types_from_arrow() -> None:
    at = dt.datetime(2026, 3, 1, 9, tzinfo=dt.UTC)
    table = pa.table(
        {
            "amount": pa.array([decimal.Decimal("12.50"), None], pa.decimal128(12, 2)),
            "at": pa.array([at, None], pa.timestamp("us", tz="UTC")),
            "local": pa.array([at.replace(tzinfo=None), None], pa.timestamp("ms")),
            "day": pa.array([dt.date(2026, 3, 1), None], pa.date32()),
            "count": pa.array([3, None], pa.int64()),
            "flag": pa.array([True, None], pa.bool_()),
            "city": pa.array(["Lyon", None]),
            "ssn": pa.array(["<US_SSN>", "7"]),
            "birth": pa.array(["<DATE_TIME>", None]),
            "paid": pa.array(["0.25", None]),
            "seen": pa.array(["2026-03-01T09:00:00+00:00", None]),
        }
    )
    types = ["decimal128(12, 2)", "timestamp[us, tz=UTC]", "timestamp[ms]", "date32[day]"]
    types += ["int64", "bool", "string", "decimal128(9, 0)", "date32[day]", "decimal128(7, 2)"]
    types += ["timestamp[us, tz=UTC]"]
    frame = result_frame({"table": pa.concat_tables([table, table]), "types": types}, None)
    assert [str(dtype) for dtype in frame.dtypes] == [
        "object",
        "datetime64[us, UTC]",
        "datetime64[ms]",
        "object",
        "float64",
        "object",
        TEXT,
        TEXT,
        TEXT,
        "object",
        "datetime64[us, UTC]",
    ]
    first, second = frame.iloc[0].tolist(), frame.iloc[1].tolist()
    assert first[:3] == [decimal.Decimal("12.50"), pd.Timestamp(at), pd.Timestamp(2026, 3, 1, 9)]
    assert type(first[0]) is decimal.Decimal and first[3] == dt.date(2026, 3, 1)
    assert first[4:9] == [3.0, True, "Lyon", "<US_SSN>", "<DATE_TIME>"]
    assert first[9:] == [decimal.Decimal("0.25"), pd.Timestamp(at)]
    assert second[0] is None and second[3] is None and second[5] is None
    assert second[9] is None and pd.isna(second[1]) and pd.isna(second[10])
    assert np.isnan(second[4]) and np.isnan(second[6]) and np.isnan(second[8])
    assert frame["ssn"].tolist() == ["<US_SSN>", "7"] * 2, "a placeholder keeps the column text"
