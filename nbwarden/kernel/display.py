"""How governed results, summaries and approval states look in the notebook.

Every governed cell leaves one ``display_data`` output whose metadata holds
``{"nbwarden": {"execution_id": ..., "status": ...}}``; that is how a saved notebook
links a cell to its provenance record. The same output is updated in place while a
cell waits for approval or runs long, and finally shows the one-line summary.
"""

from __future__ import annotations

import datetime as dt
import decimal
import html
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import pyarrow as pa
from IPython.display import display

TEXT_COLUMNS = 20
TEXT_WIDTH = 40
TYPED_PREFIXES = ("decimal", "timestamp", "date")
MASKED_STYLE = "background:#fff3cd;font-family:monospace"
ENTITY_SHORT_NAMES = {
    "EMAIL_ADDRESS": "EMAIL",
    "PHONE_NUMBER": "PHONE",
    "IBAN_CODE": "IBAN",
    "CREDIT_CARD": "CARD",
}


class MaskedFrame(pd.DataFrame):
    """The DataFrame a governed ``%%sql`` cell returns: masked values only.

    It renders as an HTML table with the masked cells highlighted. Any derived frame
    (``head``, ``sort_values``, ...) is a plain DataFrame, so highlighting never points
    at the wrong cell after rows move.
    """

    _metadata = ["nbwarden_masked", "nbwarden_execution_id"]

    @property
    def _constructor(self) -> type[pd.DataFrame]:
        return pd.DataFrame

    def _repr_html_(self) -> str:
        return render_table_html(self, self._masked())

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        """HTML and a short text table: IPython then skips pandas' own text repr, which
        costs more than both (``repr(df)`` stays pandas'). Both read one conversion of
        the rows on show."""
        shown = shown_rows(self)
        columns = _head_columns(self, shown)
        return {
            "text/plain": _table_text(self, shown, columns),
            "text/html": _table_html(self, shown, columns, self._masked()),
        }

    def _masked(self) -> dict[str, list[int]]:
        masked: dict[str, list[int]] = getattr(self, "nbwarden_masked", None) or {}
        return masked


def result_frame(result: Mapping[str, Any], execution_id: str | None) -> MaskedFrame:
    """The result as a DataFrame, with the column types the database gave."""
    if isinstance(result.get("table"), pa.Table):
        frame = MaskedFrame(_arrow_frame(result["table"], list(result.get("types") or [])))
    else:
        frame = _json_frame(result)
    masked = {str(column): list(rows) for column, rows in dict(result.get("masked", {})).items()}
    frame.nbwarden_masked = masked  # type: ignore[attr-defined]
    frame.nbwarden_execution_id = execution_id  # type: ignore[attr-defined]
    return frame


def _arrow_frame(table: pa.Table, types: list[str]) -> pd.DataFrame:
    """Arrow gives decimals, timestamps and dates their types; a column the masker turned
    into text gets its database type back unless it holds a placeholder (then Arrow's text
    column stands). One thread: at the row cap's sizes Arrow's pool only adds hand-offs; a
    block per column: gathering the object columns into one block copied them all."""
    frame: pd.DataFrame = table.to_pandas(use_threads=False, split_blocks=True)
    for index, field in enumerate(table.schema):
        declared = types[index] if index < len(types) else ""
        if pa.types.is_string(field.type) and declared.startswith(TYPED_PREFIXES):
            text = table.column(index).to_pylist()
            typed = _typed(text, declared)
            if typed is not text:
                frame.isetitem(index, typed)
    return frame


def _json_frame(result: Mapping[str, Any]) -> MaskedFrame:
    """JSON carries decimals and timestamps as text, and ``df.amount.sum()`` must add,
    not concatenate."""
    columns = [str(column) for column in result.get("columns", [])]
    types = list(result.get("types") or [])
    values = list(zip(*result.get("rows", []), strict=True)) or [()] * len(columns)
    frame = MaskedFrame(
        {
            index: _typed(list(column), types[index] if index < len(types) else "")
            for index, column in enumerate(values)
        }
    )
    frame.columns = pd.Index(columns)
    return frame


def _typed(values: list[Any], arrow_type: str) -> Any:
    """Decimal, timestamp and date text back to values; a column that does not convert
    (a masked cell holds a placeholder) stays as text."""
    try:
        if arrow_type.startswith("decimal"):
            return [None if v is None else decimal.Decimal(v) for v in values]
        if arrow_type.startswith("timestamp"):
            return pd.to_datetime(pd.Series(values, dtype=object), format="ISO8601")
        if arrow_type.startswith("date"):
            return [None if v is None else dt.date.fromisoformat(v) for v in values]
    except (ValueError, TypeError, ArithmeticError):
        return values
    return values


def shown_rows(frame: pd.DataFrame) -> int:
    """How many rows to show, as pandas decides: all of them up to ``display.max_rows``,
    else ``display.min_rows`` (10 and 60 unless the analyst set pandas' options)."""
    most = pd.get_option("display.max_rows")
    if most is None or len(frame) <= most:
        return len(frame)
    return int(min(pd.get_option("display.min_rows") or most, most))


def render_table_html(frame: pd.DataFrame, masked: Mapping[str, Sequence[int]]) -> str:
    shown = shown_rows(frame)
    return _table_html(frame, shown, _head_columns(frame, shown), masked)


def _table_html(
    frame: pd.DataFrame,
    shown: int,
    columns: list[list[Any]],
    masked: Mapping[str, Sequence[int]],
) -> str:
    names = list(frame.columns)
    head = "".join(f"<th>{html.escape(str(name))}</th>" for name in names)
    on_show = set(range(shown))
    width = pd.get_option("display.max_colwidth")
    cells = [
        _column_html(values, on_show.intersection(masked.get(str(name), ())), width)
        for name, values in zip(names, columns, strict=True)
    ]
    rows = zip(*cells, strict=True) if cells else [()] * shown
    body = "".join(
        f"<tr><th>{position}</th>{''.join(row)}</tr>" for position, row in enumerate(rows)
    )
    more = len(frame) - shown
    note = f"<p><small>… {more:,} more rows (the variable holds all)</small></p>" if more else ""
    return (
        '<table class="dataframe nbwarden-result"><thead><tr><th></th>'
        f"{head}</tr></thead><tbody>{body}</tbody></table>{note}"
    )


def _column_html(values: list[Any], masked_rows: set[int], width: int | None) -> list[str]:
    return [
        _cell_html(value, position in masked_rows, width) for position, value in enumerate(values)
    ]


def _cell_html(value: Any, is_masked: bool, width: int | None) -> str:
    """A cell cut as pandas' own HTML table cuts it, by ``display.max_colwidth`` (50
    unless the analyst set it; None: whole values), so that a long value does not go
    whole into the saved notebook; the variable holds it whole. pandas pads a value with
    a space before measuring it: one of ``width`` characters or more shows its first
    ``width - 4`` and ``...``."""
    text = "" if value is None else str(value)
    if width is not None and len(text) >= width:
        text = text[: max(width - 4, 0)] + "..."
    text = html.escape(text)
    if is_masked:
        return f'<td style="{MASKED_STYLE}" title="masked by nbwarden">{text}</td>'
    return f"<td>{text}</td>"


def render_table_text(frame: pd.DataFrame) -> str:
    """A plain aligned table of the first rows and columns, for text-only front ends."""
    shown = shown_rows(frame)
    narrow = frame.iloc[:, :TEXT_COLUMNS] if len(frame.columns) > TEXT_COLUMNS else frame
    return _table_text(frame, shown, _head_columns(narrow, shown))


def _table_text(frame: pd.DataFrame, shown: int, columns: list[list[Any]]) -> str:
    names = list(frame.columns)[:TEXT_COLUMNS]
    cells = [
        [_cell_text(name), *map(_cell_text, values)]
        for name, values in zip(names, columns[:TEXT_COLUMNS], strict=True)
    ]
    cells.insert(0, ["", *map(str, range(shown))])
    widths = [max(map(len, column)) for column in cells]
    lines = [
        "  ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in zip(*cells, strict=True)
    ]
    if len(frame) > shown:
        lines.append(f"… {len(frame) - shown:,} more rows")
    lines.append(f"[{len(frame):,} rows x {len(frame.columns):,} columns]")
    return "\n".join(lines)


def _head_columns(frame: pd.DataFrame, rows: int) -> list[list[Any]]:
    """The first rows, column by column, as Python values (one conversion for all columns:
    pandas' per-column access costs more than the HTML)."""
    values: list[list[Any]] = frame.iloc[:rows].to_numpy(dtype=object).T.tolist()
    return values


def _cell_text(value: Any) -> str:
    text = "" if value is None else " ".join(str(value).split())
    return text if len(text) <= TEXT_WIDTH else text[: TEXT_WIDTH - 1] + "…"


def sql_summary(result: Mapping[str, Any], action: str, seconds: float) -> str:
    """``1,500 rows · masked 3,012 values: EMAIL 1,500, PERSON 1,512 · policy allow · 0.42 s``"""
    rows = int(result.get("row_count", len(result.get("rows", []))))
    parts = [f"{rows:,} row{'' if rows == 1 else 's'}"]
    if result.get("truncated"):
        cap = "size cap" if result.get("truncated_by") == "result_cap_bytes" else "row cap"
        parts[0] += f" (truncated at the {cap})"
    if result.get("rows_affected") is not None:
        parts[0] = f"{int(result['rows_affected']):,} rows affected"
    parts.append(masking_summary(result.get("entity_counts", {})))
    parts.append(f"policy {action}")
    parts.append(f"{seconds:.2f} s")
    return " · ".join(parts)


def shell_summary(result: Mapping[str, Any], action: str, seconds: float) -> str:
    parts = [f"exit code {result.get('exit_code')}"]
    if result.get("truncated"):
        parts[0] += " (output truncated)"
    parts += [masking_summary(result.get("entity_counts", {})), f"policy {action}"]
    parts.append(f"{seconds:.2f} s")
    return " · ".join(parts)


def masking_summary(entity_counts: Mapping[str, int]) -> str:
    total = sum(int(count) for count in entity_counts.values())
    if not total:
        return "nothing masked"
    ranked = sorted(entity_counts.items(), key=lambda item: (-int(item[1]), item[0]))
    detail = ", ".join(
        f"{ENTITY_SHORT_NAMES.get(name, name)} {int(count):,}" for name, count in ranked if count
    )
    return f"masked {total:,} value{'' if total == 1 else 's'}: {detail}"


def progress_text(elapsed_s: float, rows_fetched: int | None = None) -> str:
    """``running on the gateway · 3.5 s · 12,000 rows fetched`` (rows only when known)."""
    line = f"running on the gateway · {elapsed_s:.1f} s"
    if rows_fetched is None:
        return line
    return f"{line} · {rows_fetched:,} row{'' if rows_fetched == 1 else 's'} fetched"


def approval_text(approval: Mapping[str, Any], reasons: Sequence[str], rules: Sequence[str]) -> str:
    """One plain line for the live approval status of a flagged cell."""
    state = str(approval.get("state", "pending"))
    request = f"approval request {approval.get('id', '?')}"
    why = "; ".join(f"{rule}: {reason}" for rule, reason in zip(rules, reasons, strict=False))
    if state == "pending":
        line = f"⏳ waiting for approval · {request}"
    elif state == "approved":
        line = f"✅ approved by {approvers(approval)} · {request}"
    elif state == "rejected":
        reason = approval.get("reject_reason") or "no reason given"
        line = f"⛔ rejected by {approvers(approval)}: {reason} · {request}"
    else:
        line = f"{state} · {request}"
    return f"{line}\nflagged: {why}" if why else line


def approvers(approval: Mapping[str, Any]) -> str:
    """Who decided: the approvers of the decisions so far, or who rejected."""
    if approval.get("state") == "rejected" and approval.get("rejected_by"):
        return str(approval["rejected_by"])
    decisions = approval.get("decisions") or []
    names = [str(d.get("approver")) for d in decisions if isinstance(d, Mapping)]
    return ", ".join(names) or "?"


class CellStatus:
    """One output of the cell, shown once and then updated in place (``display_id``)."""

    def __init__(self) -> None:
        self.display_id = uuid.uuid4().hex
        self._shown = False
        self.metadata: dict[str, Any] = {}

    def show(self, text: str, **nbwarden: Any) -> None:
        self.metadata.update({k: v for k, v in nbwarden.items() if v is not None})
        bundle = {"text/plain": text, "text/html": _status_html(text)}
        metadata = {"nbwarden": dict(self.metadata)}
        display(  # type: ignore[no-untyped-call]
            bundle,
            raw=True,
            metadata=metadata,
            display_id=self.display_id,
            update=self._shown,
        )
        self._shown = True


def _status_html(text: str) -> str:
    lines = [html.escape(line) for line in text.splitlines()]
    return '<div class="nbwarden-status"><small>' + "<br>".join(lines) + "</small></div>"
