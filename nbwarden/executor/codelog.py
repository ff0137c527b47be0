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
        return _numbered(_SHELL_QUOTED, code)
    return code


def _numbered(pattern: re.Pattern[str], code: str) -> str:
    numbers: dict[str, int] = {}

    def placeholder(match: re.Match[str]) -> str:
        number = numbers.setdefault(match.group(), len(numbers) + 1)
        return f"'<string {number}>'"

    return pattern.sub(placeholder, code)


def sql_literals_replaced(code: str, dialect: str | None) -> str:
    """``code`` with each string literal replaced by a numbered placeholder."""
    numbers: dict[str, int] = {}

    def placeholder(literal: str) -> str:
        number = numbers.setdefault(literal, len(numbers) + 1)
        return f"'<string {number}>'"

    try:
        tokens = Dialect.get_or_raise(dialect).tokenize(code)
    except Exception:
        return _numbered(_QUOTED, code)
    pieces: list[str] = []
    position = 0
    for token in tokens:
        if token.token_type in STRING_TOKENS:
            pieces.append(code[position : token.start])
            pieces.append(placeholder(code[token.start : token.end + 1]))
            position = token.end + 1
    pieces.append(code[position:])
    return "".join(pieces)
