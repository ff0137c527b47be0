r"""Tables in text: what database clients print in a shell cell (psql's aligned, unaligned
and expanded output, the mysql client's boxes, tab-separated batches and ``\G`` records,
CSV), found and rebuilt, so that the masker can mask them column by column with the
header's names as column hints, or a record's values by their keys. Everything else
stays plain text."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from typing import Literal

Style = Literal["aligned", "boxed", "delimited", "record"]

_ALIGNED_RULE = re.compile(r"-+(\+-+)*")
_BOX_RULE = re.compile(r"\+(-+\+)+")
_HEADER_NAME = re.compile(r"[a-z_][a-z0-9_]*")
_DELIMITERS = ("\t", "|", ",")
_MIN_LINES = {"\t": 2, "|": 2, ",": 3}
"""Lines a delimited table needs, header included: two commas a line is common prose."""
_NOT_CSV = re.compile(r"\s*(?:[{\[(]|(?:INSERT|UPDATE|DELETE|SELECT|VALUES)\b)", re.IGNORECASE)
"""Lines whose commas part no CSV fields: JSON documents (a JSON-lines log) and SQL (what
``pg_dump --inserts`` prints). Read as CSV, they were written back in CSV's quoting, and
a masked field took its quotes and the statement's ``);`` with it."""
_RECORD_TITLE = re.compile(r"-\[ RECORD \d+ \]-*(\+-*)?|\*+ \d+\. row \*+")
_RECORD_FIELD = re.compile(r"(\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\| ?|: ?))(.*)")


@dataclass
class TextTable:
    """A table found in text: its header (None when it has none) and its rows of cells."""

    header: list[str] | None
    rows: list[list[str]]
    style: Style
    delimiter: str = ""
    prefixes: tuple[str, ...] = ()
    """A record's lines up to each value (``name     | ``), its title line first."""

    def render(self, rows: list[list[str]]) -> list[str]:
        """The table's lines with ``rows`` (the masked cells) in place of its own."""
        if self.style == "delimited":
            return _render_delimited(self.header, rows, self.delimiter)
        if self.style == "record":
            fields = zip(self.prefixes[1:], rows, strict=True)
            values = (f"{prefix}{value}" for prefix, (_, value) in fields)
            return [self.prefixes[0], *values]
        return _render_padded(self.header or [], rows, self.style)


Block = str | TextTable
"""A run of lines of plain text (joined by newlines), or a table."""


def find_tables(text: str) -> list[Block]:
    """Split text into plain runs and tables, in order."""
    lines = text.split("\n")
    blocks: list[Block] = []
    plain: list[str] = []
    index = 0
    while index < len(lines):
        found = (
            _record(lines, index)
            or _aligned(lines, index)
            or _boxed(lines, index)
            or _delimited(lines, index)
        )
        if found is None:
            plain.append(lines[index])
            index += 1
            continue
        if plain:
            blocks.append("\n".join(plain))
            plain = []
        table, index = found
        blocks.append(table)
    if plain:
        blocks.append("\n".join(plain))
    return blocks


def render_blocks(blocks: list[str | list[str]]) -> str:
    """Plain runs and rendered tables (their lines) back into one text."""
    return "\n".join(block if isinstance(block, str) else "\n".join(block) for block in blocks)


def _record(lines: list[str], start: int) -> tuple[TextTable, int] | None:
    r"""One record of psql's expanded output (``-x``: ``-[ RECORD 1 ]---``, then ``name |
    Ann Lee``) or the mysql client's ``\G`` (``*** 1. row ***``, then ``name: Ann Lee``):
    rows of (key, value)."""
    if not _RECORD_TITLE.fullmatch(lines[start]):
        return None
    fields = []
    end = start + 1
    while end < len(lines) and (field := _RECORD_FIELD.fullmatch(lines[end])):
        fields.append(field)
        end += 1
    if not fields:
        return None
    rows = [[field.group(2), field.group(3)] for field in fields]
    prefixes = (lines[start], *(field.group(1) for field in fields))
    return TextTable(None, rows, "record", prefixes=prefixes), end


def _aligned(lines: list[str], start: int) -> tuple[TextTable, int] | None:
    """psql's default output: a header, a rule of dashes with ``+`` where the columns
    meet, rows with ``|`` in the same places."""
    if start + 2 >= len(lines) or not _ALIGNED_RULE.fullmatch(lines[start + 1]):
        return None
    rule = lines[start + 1]
    bounds = _bounds(rule, "+")
    if len(bounds) < 2 or not _splits_at(lines[start], rule, "|"):
        return None
    end = start + 2
    while end < len(lines) and lines[end].strip() and _splits_at(lines[end], rule, "|"):
        end += 1
    if end == start + 2:
        return None
    bounds[-1] = (bounds[-1][0], None)  # the last column runs to the end of its line
    header = _cells(lines[start], bounds)
    rows = [_cells(line, bounds) for line in lines[start + 2 : end]]
    return TextTable(header, rows, "aligned"), end


def _boxed(lines: list[str], start: int) -> tuple[TextTable, int] | None:
    """The mysql client's boxes: ``+---+---+`` rules around a header and the rows."""
    rule = lines[start]
    if start + 3 >= len(lines) or not _BOX_RULE.fullmatch(rule) or lines[start + 2] != rule:
        return None
    bounds = _bounds(rule[1:-1], "+", offset=1)
    if not _splits_at(lines[start + 1], rule, "|"):
        return None
    end = start + 3
    while end < len(lines) and lines[end] != rule and _splits_at(lines[end], rule, "|"):
        end += 1
    if end >= len(lines) or lines[end] != rule:
        return None
    header = _cells(lines[start + 1], bounds)
    rows = [_cells(line, bounds) for line in lines[start + 3 : end]]
    return TextTable(header, rows, "boxed"), end + 1


def _delimited(lines: list[str], start: int) -> tuple[TextTable, int] | None:
    """Lines with the same number of fields, split by a tab (the mysql client in a
    batch), ``|`` (``psql -A``) or a comma (CSV): the delimiter that gives the most."""
    best: tuple[TextTable, int] | None = None
    for delimiter in _DELIMITERS:
        if delimiter == "," and _NOT_CSV.match(lines[start]):
            continue
        count = len(_fields(lines[start], delimiter))
        if count < 2:
            continue
        end = start + 1
        while end < len(lines) and lines[end] and len(_fields(lines[end], delimiter)) == count:
            end += 1
        if end - start < _MIN_LINES[delimiter]:
            continue
        if best is None or end > best[1]:
            rows = [_fields(line, delimiter) for line in lines[start:end]]
            header = rows[0] if all(_HEADER_NAME.fullmatch(c) for c in rows[0]) else None
            table = TextTable(header, rows[1:] if header else rows, "delimited", delimiter)
            best = (table, end)
    return best


def _fields(line: str, delimiter: str) -> list[str]:
    """A line's fields; none for a line the csv module refuses (a field over its limit of
    128 kB: a minified document or an encoded blob on one line), which is then no row."""
    if delimiter != ",":
        return line.split(delimiter)
    try:
        return next(csv.reader([line]), [])
    except csv.Error:
        return []


def _bounds(rule: str, joint: str, offset: int = 0) -> list[tuple[int, int | None]]:
    """The (start, end) of each column under a rule, between its joints."""
    bounds: list[tuple[int, int | None]] = []
    begin = 0
    for position, char in enumerate(rule + joint):
        if char == joint:
            bounds.append((offset + begin, offset + position))
            begin = position + 1
    return bounds


def _splits_at(line: str, rule: str, separator: str) -> bool:
    """Whether ``line`` has ``separator`` wherever ``rule`` has a joint (``+``)."""
    joints = [position for position, char in enumerate(rule) if char == "+"]
    return all(position < len(line) and line[position] == separator for position in joints)


def _cells(line: str, bounds: list[tuple[int, int | None]]) -> list[str]:
    return [line[begin:end].strip() for begin, end in bounds]


def _render_padded(header: list[str], rows: list[list[str]], style: Style) -> list[str]:
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]

    def line(cells: list[str]) -> str:
        padded = " | ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True))
        return f"| {padded} |" if style == "boxed" else f" {padded}".rstrip()

    if style == "boxed":
        rule = "+" + "+".join("-" * (width + 2) for width in widths) + "+"
        return [rule, line(header), rule, *map(line, rows), rule]
    rule = "+".join("-" * (width + 2) for width in widths)
    return [line(header), rule, *map(line, rows)]


def _render_delimited(header: list[str] | None, rows: list[list[str]], delimiter: str) -> list[str]:
    lines = [header, *rows] if header else rows
    if delimiter != ",":
        return [delimiter.join(cells) for cells in lines]
    return [_csv_line(cells) for cells in lines]


def _csv_line(cells: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(cells)
    return buffer.getvalue()
