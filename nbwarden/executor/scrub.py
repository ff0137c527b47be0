"""Turn driver errors into messages an analyst may see.

Driver errors can carry the connection URL, the host and user, the statement with its
literals, the bound parameters, and values from the data ("Key (email)=(...) already
exists"). Only the driver's primary message line survives, with known value echoes and
every number standing alone redacted, credentials and URLs replaced, and anything left
run through the masker.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

import sqlalchemy as sa

from nbwarden.config import ConnectionConfig

MAX_MESSAGE = 400
REDACTED = "<redacted>"

_URL = re.compile(r"\b[a-z][a-z0-9+.\-]{0,63}://\S+", re.IGNORECASE)
"""A scheme of at most 64 characters: unbounded, a long run such as ``a.b.c...`` was read
from each of its positions, in time that grew with the square of its length."""
_KEY_VALUE_SECRET = re.compile(r"\b(password|passwd|pwd|secret|token)\s*=\s*\S+", re.IGNORECASE)
_VALUE_ECHOES = (
    re.compile(r"(Key \([^)]*\)=)\(.*?\)(?= already exists| is not present|$)"),
    re.compile(r"(for type [\w ]+: )\"[^\"]*\""),
    re.compile(r"(Duplicate entry )'[^']*'"),
    re.compile(r"(value: )'[^']*'"),
    re.compile(r"(Duplicate key )\"[^\"]*\""),
    re.compile(r"(Could not convert string )'[^']*'"),
    re.compile(r"(invalid input value for enum [\w.\"]+: )\"[^\"]*\""),
    re.compile(r"(value too long for type [^:]*)(:.*)?$"),
)
_NUMBER = re.compile(r"(?<![\w.])\d+(?:(?:[.:\-]|[eE][+\-]?)\d+)*(?!\w)")
"""A number, date or time standing alone. A database echoes values computed from the data
(``make_date(2000, 1, ascii(substr(name, 1, 1)))``: "date field value out of range:
2000-01-71"), a letter at a time; a number inside a name (``customers2``) stays."""


def driver_message(exc: BaseException) -> str:
    """The driver's own primary message, without SQLAlchemy's statement/parameter dump."""
    original = exc.orig if isinstance(exc, sa.exc.DBAPIError) else exc
    args: tuple[Any, ...] = tuple(getattr(original, "args", ()))
    if len(args) >= 2 and isinstance(args[0], int) and isinstance(args[1], str):
        text = args[1]
    else:
        text = str(original)
    first = text.strip().splitlines()[0] if text.strip() else type(original).__name__
    return first


def scrub_message(
    text: str,
    secrets: Iterable[str],
    mask_text: Callable[[str], str] | None,
) -> str:
    """Remove URLs, credentials and echoed values; mask what personal data remains.

    Without a working masker nothing free-form survives: a generic message is returned.
    """
    cleaned = _URL.sub("<url>", text)
    cleaned = _KEY_VALUE_SECRET.sub(r"\1=***", cleaned)
    for secret in sorted({s for s in secrets if s and len(s) >= 3}, key=len, reverse=True):
        cleaned = cleaned.replace(secret, "***")
    for pattern in _VALUE_ECHOES:
        cleaned = pattern.sub(lambda m: m.group(1) + REDACTED, cleaned)
    cleaned = _NUMBER.sub(REDACTED, cleaned)
    if mask_text is None:
        return "the database reported an error (details withheld)"
    try:
        cleaned = mask_text(cleaned)
    except Exception:
        return "the database reported an error (details withheld)"
    if len(cleaned) > MAX_MESSAGE:
        cleaned = cleaned[:MAX_MESSAGE] + "…"
    return cleaned


def connection_secrets(config: ConnectionConfig) -> list[str]:
    """Password, user, host, database and the full URL of a connection: never shown."""
    try:
        url = sa.make_url(config.url)
    except Exception:
        return [config.url]
    parts = [config.url, url.render_as_string(hide_password=True)]
    parts += [p for p in (url.password, url.username, url.host) if isinstance(p, str)]
    file_backend = url.get_backend_name() in ("sqlite", "duckdb")
    if url.database and (not file_backend or "/" in url.database):
        parts.append(url.database)
    return parts
