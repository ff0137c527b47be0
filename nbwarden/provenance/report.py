"""Render a subject access report as JSON, CSV or HTML (for the data subject)."""

from __future__ import annotations

import csv
import html
import io
import json
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from nbwarden.identifiers import EMAIL, PERSON, PHONE

FORMATS = ("json", "csv", "html")
CSV_FIELDS = (
    "execution_id",
    "date",
    "user",
    "notebook",
    "cell_id",
    "purpose",
    "legal_basis",
    "approval_id",
    "connection",
    "categories",
    "sources",
    "shown",
    "status",
)


class SubjectAccessSource(Protocol):
    """Anything that answers a DSAR: the store, or later the gateway's HTTP client."""

    retention_days: int

    def dsar(
        self, identifiers: Iterable[tuple[str, str]], phone_regions: Sequence[str] = ...
    ) -> list[dict[str, Any]]: ...


def identifiers_from_options(
    emails: Iterable[str], phones: Iterable[str], names: Iterable[str], ids: Iterable[str]
) -> list[tuple[str, str]]:
    """``--id TYPE=VALUE`` plus the shorthand options, as (entity type, raw value) pairs."""
    pairs = [(EMAIL, v) for v in emails] + [(PHONE, v) for v in phones]
    pairs += [(PERSON, v) for v in names]
    for item in ids:
        entity, sep, value = item.partition("=")
        if not sep or not entity.strip() or not value.strip():
            raise ValueError("--id expects TYPE=VALUE, for example --id IBAN_CODE=DE89...")
        pairs.append((entity.strip().upper(), value))
    return pairs


def render(entries: list[dict[str, Any]], fmt: str, retention_days: int) -> str:
    if fmt == "json":
        return json.dumps(entries, indent=2, default=str, ensure_ascii=False) + "\n"
    if fmt == "csv":
        return _csv(entries)
    if fmt == "html":
        return _html(entries, retention_days)
    raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")


def _cell(value: Any) -> str:
    if isinstance(value, list):
        return "; ".join(str(v) for v in value)
    return "" if value is None else str(value)


def _csv(entries: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    for entry in entries:
        writer.writerow([_cell(entry.get(name)) for name in CSV_FIELDS])
    return out.getvalue()


def _distinct(entries: list[dict[str, Any]], key: str) -> list[str]:
    values: set[str] = set()
    for entry in entries:
        value = entry.get(key)
        values.update(value if isinstance(value, list) else [value] if value else [])
    return sorted(values)


def _list(items: list[str], empty: str) -> str:
    if not items:
        return f"<p>{html.escape(empty)}</p>"
    return "<ul>" + "".join(f"<li>{html.escape(i)}</li>" for i in items) + "</ul>"


def _table(entries: list[dict[str, Any]]) -> str:
    headers = ("Date (UTC)", "Who", "Purpose", "Legal basis", "Data", "Source", "Shown")
    keys = ("date", "user", "purpose", "legal_basis", "categories", "sources", "shown")
    head = "".join(f"<th>{h}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_cell(e.get(k)))}</td>" for k in keys) + "</tr>"
        for e in entries
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _html(entries: list[dict[str, Any]], retention_days: int) -> str:
    purposes = [
        f"{e['purpose'] or 'no purpose declared'} "
        f"(legal basis: {e['legal_basis'] or 'not recorded'})"
        for e in entries
    ]
    retention = (
        f"Records of these uses are kept for {retention_days} days, then deleted."
        if retention_days > 0
        else "No retention period is configured; records are kept until deleted."
    )
    sections = [
        ("(a) Purposes of the processing", _list(sorted(set(purposes)), "None recorded.")),
        ("(b) Categories of personal data", _list(_distinct(entries, "categories"), "None.")),
        ("(c) Who the data was disclosed to", _list(_distinct(entries, "user"), "Nobody.")),
        ("(d) How long it is stored", f"<p>{html.escape(retention)}</p>"),
        (
            "(e)-(f) Your rights",
            "<p>You may ask for rectification or erasure of your data, or restriction of or "
            "objection to its processing, and you may lodge a complaint with a supervisory "
            "authority.</p>",
        ),
        ("(g) Where the data came from", _list(_distinct(entries, "sources"), "Not recorded.")),
        (
            "(h) Automated decision-making",
            "<p>This system records data access by people; it makes no automated decisions "
            "about you.</p>",
        ),
        ("Every recorded use of your data", _table(entries)),
    ]
    body = "".join(f"<h2>{html.escape(title)}</h2>{content}" for title, content in sections)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        "<title>Access to your personal data (GDPR Art. 15)</title>"
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}"
        "table{border-collapse:collapse}td,th{border:1px solid #999;padding:.3em}</style>"
        "</head><body><h1>Access to your personal data (GDPR Art. 15)</h1>"
        f"<p>Your data appeared in {len(entries)} recorded data access(es).</p>"
        f"{body}</body></html>\n"
    )
