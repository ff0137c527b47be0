"""Reading magic lines and the ``:name`` bind parameters of a SQL cell."""

from __future__ import annotations

import datetime as dt
import decimal
import itertools
import shlex
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from sqlglot.errors import TokenError
from sqlglot.tokenizer_core import TokenType
from sqlglot.tokens import Tokenizer

from nbwarden.kernel.client import GatewayError

JsonScalar = str | int | float | bool | None


@dataclass(frozen=True)
class SqlCellArgs:
    """``%%sql [CONN] [<< var]``; also accepts JupySQL's ``var <<`` order."""

    connection: str | None
    assign_to: str | None


def parse_sql_cell_line(line: str) -> SqlCellArgs:
    words = _split(line)
    assign_to: str | None = None
    if "<<" in words:
        at = words.index("<<")
        if at + 1 < len(words):
            assign_to = words.pop(at + 1)
        elif at > 0:
            assign_to = words.pop(at - 1)
        words.remove("<<")
        if assign_to is None or not assign_to.isidentifier():
            raise GatewayError("usage: %%sql [CONNECTION] [<< variable]", status="usage")
    if len(words) > 1:
        raise GatewayError("usage: %%sql [CONNECTION] [<< variable]", status="usage")
    return SqlCellArgs(connection=words[0] if words else None, assign_to=assign_to)


def split_sql_line(line: str, connections: Collection[str]) -> tuple[str | None, str]:
    """``%sql [CONN] STATEMENT``: the first word is a connection only if one has that name."""
    stripped = line.strip()
    first, _, rest = stripped.partition(" ")
    if first in connections:
        return first, rest.strip()
    return None, stripped


def parse_target_line(line: str, magic: str) -> str | None:
    words = _split(line)
    if len(words) > 1:
        raise GatewayError(f"usage: %%{magic} [TARGET]", status="usage")
    return words[0] if words else None


def bind_parameter_names(sql: str) -> list[str]:
    """Names of ``:name`` placeholders, outside strings, comments and ``::`` casts."""
    if ":" not in sql:
        return []
    try:
        tokens = Tokenizer().tokenize(sql)
    except TokenError:
        raise GatewayError("the SQL cell cannot be read (unterminated string?)") from None
    names: list[str] = []
    for colon, name in itertools.pairwise(tokens):
        adjacent = name.start == colon.end + 1
        is_placeholder = colon.token_type == TokenType.COLON and name.text.isidentifier()
        if is_placeholder and adjacent and name.text not in names:
            names.append(name.text)
    return names


def bind_parameters(sql: str, namespace: Mapping[str, Any]) -> dict[str, Any]:
    """Values of the cell's ``:name`` parameters, taken from the notebook's variables.

    They travel as bind parameters in the request; they are never formatted into SQL.
    """
    params: dict[str, Any] = {}
    for name in bind_parameter_names(sql):
        if name not in namespace:
            raise GatewayError(f"parameter :{name} is not a variable of this notebook")
        params[name] = json_parameter(name, namespace[name])
    return params


def json_parameter(name: str, value: Any) -> JsonScalar | list[JsonScalar]:
    if isinstance(value, list | tuple | set | frozenset):
        return [_json_scalar(name, item) for item in value]
    return _json_scalar(name, value)


def _json_scalar(name: str, value: Any) -> JsonScalar:
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    item = getattr(value, "item", None)
    if callable(item):
        scalar = item()
        if scalar is None or isinstance(scalar, str | bool | int | float):
            return scalar
    raise GatewayError(
        f"parameter :{name} has type {type(value).__name__}, which cannot be sent as a bind "
        "parameter (use str, int, float, bool, None, a date/time, Decimal or a list of those)"
    )


def _split(line: str) -> list[str]:
    try:
        return shlex.split(line)
    except ValueError:
        raise GatewayError("the magic line has an unbalanced quote", status="usage") from None
