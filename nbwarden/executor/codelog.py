"""The code of a cell as it is written to the audit store.

Analysts type personal data into SQL (``WHERE name = 'Jane Roe'``) and shell
(``grep "Jane Roe" app.log``), and no detector finds every name. So before the text
masker runs, every SQL string literal and quoted shell word is replaced by a numbered
placeholder (``'<string 1>'``; the same literal gets the same number
within a cell). The structure of the statement stays readable for the auditor, and the
code hash recorded beside it still binds the exact text that ran.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from sqlglot import TokenType
from sqlglot.dialects.dialect import Dialect

STRING_TOKENS = frozenset(
    {
        TokenType.STRING,
        TokenType.NATIONAL_STRING,
        TokenType.BYTE_STRING,
        TokenType.BIT_STRING,
        TokenType.HEX_STRING,
        TokenType.RAW_STRING,
        TokenType.HEREDOC_STRING,
        TokenType.UNICODE_STRING,
    }
)
_QUOTED = re.compile(r"'(?:[^']|'')*(?:'|$)|\$\$.*?(?:\$\$|$)", re.S)
"""Fallback for text the tokenizer rejects: quoted runs, unterminated ones to the end."""
_SHELL_QUOTED = re.compile(r"'[^']*(?:'|$)|\"(?:[^\"\\]|\\.)*(?:\"|$)", re.S)


def code_for_audit(kind: str, code: str, dialect: str | None) -> str:
    """SQL with its string literals replaced; shell with its quoted words replaced."""
    if kind == "sql":
        return sql_literals_replaced(code, dialect)
    if kind == "shell":
        return _numbered(code, _matches(_SHELL_QUOTED, code))
    return code


_SQL_LINE = re.compile(r"^(\s*(?:\w+\s*=\s*)?%sql\b)(.*)$", re.M)
"""A ``%sql`` line in a Python cell (``people = %sql SELECT ...``): magic, then its SQL."""
_SHELL_LINE = re.compile(r"^(\s*(?:\w+\s*=\s*)?!)(.*)$", re.M)
"""A shell escape in a Python cell (``!grep ...``, ``files = !ls ...``)."""


def cell_for_audit(source: str, sql_dialect: Callable[[str], str | None]) -> str:
    """A notebook cell as its own record holds it. The governed code in it has its
    literals replaced, as the gateway records the same code: the body of a ``%%sql`` or
    ``%%sh`` cell, and in any other cell each ``%sql`` line and shell escape (``!``); the
    rest is left as written (Python's own literals are the column names and paths an
    auditor reads). ``sql_dialect``: the SQL dialect for a line with ``%sql`` or
    ``%%sql`` (the connection it names, else the default one)."""
    first, newline, body = source.partition("\n")
    magic = first.split(maxsplit=1)[0] if first.strip() else ""
    if magic == "%%sql" and newline:
        return first + newline + code_for_audit("sql", body, sql_dialect(first))
    if magic == "%%sh" and newline:
        return first + newline + code_for_audit("shell", body, None)
    source = _SQL_LINE.sub(
        lambda line: line[1] + code_for_audit("sql", line[2], sql_dialect(line[0])), source
    )
    return _SHELL_LINE.sub(lambda line: line[1] + code_for_audit("shell", line[2], None), source)


def sql_literals_replaced(code: str, dialect: str | None) -> str:
    """``code`` with each string literal replaced by a numbered placeholder."""
    try:
        tokens = Dialect.get_or_raise(dialect).tokenize(code)
    except Exception:
        return _numbered(code, _matches(_QUOTED, code))
    spans = [(t.start, t.end + 1) for t in tokens if t.token_type in STRING_TOKENS]
    return _numbered(code, spans)


def _matches(pattern: re.Pattern[str], code: str) -> list[tuple[int, int]]:
    return [match.span() for match in pattern.finditer(code)]


def _numbered(code: str, spans: list[tuple[int, int]]) -> str:
    """Replace each span (in order, not overlapping); equal texts get the same number."""
    numbers: dict[str, int] = {}
    pieces: list[str] = []
    position = 0
    for start, end in spans:
        number = numbers.setdefault(code[start:end], len(numbers) + 1)
        pieces += [code[position:start], f"'<string {number}>'"]
        position = end
    pieces.append(code[position:])
    return "".join(pieces)
