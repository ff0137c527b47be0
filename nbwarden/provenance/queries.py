"""Read queries over the store; each takes a DuckDB cursor and returns plain data."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime
from typing import Any

import duckdb

from nbwarden.provenance.models import ApprovalEvent, utc_naive
from nbwarden.provenance.schema import (
    APPROVAL_EVENTS,
    EXECUTION_ENDS,
    EXECUTION_STARTS,
    SUBJECT_INDEX,
    subject_key,
)

JSON_FIELDS = (
    "roles",
    "statement_types",
    "tables_read",
    "tables_written",
    "columns_read",
    "columns_written",
    "rule_ids",
    "entity_counts",
    "source_columns",
    "unmasked_columns",
    "unmasked_entities",
)
DECISION_STATES = ("approved", "rejected")
PSEUDONYM_LENGTH = 20


def _records(cursor: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    names = [column[0] for column in cursor.description or ()]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _execution(row: dict[str, Any]) -> dict[str, Any]:
    record = dict(row)
    for name in JSON_FIELDS:
        if record.get(name) is not None:
            record[name] = json.loads(record[name])
    record.pop("prev_hash", None)
    record["user"] = record.pop("user_name")
    return record


def _placeholders(count: int) -> str:
    return ", ".join("?" * count)


END_FIELDS = (
    "ended_at",
    "status",
    "rows_returned",
    "entity_counts",
    "source_columns",
    "unmasked_columns",
    "unmasked_entities",
    "subject_count",
    "error_masked",
)


def executions_by_id(con: duckdb.DuckDBPyConnection, ids: list[str]) -> list[dict[str, Any]]:
    """Rows shaped like the ``executions`` view, read through the id indexes.

    The view's join would scan every end record; two indexed lookups do not.
    """
    if not ids:
        return []
    marks = _placeholders(len(ids))
    starts = _records(con.execute(f"SELECT * FROM {EXECUTION_STARTS} WHERE id IN ({marks})", ids))
    ends = {
        row["id"]: row
        for row in _records(
            con.execute(
                f"SELECT id, {', '.join(END_FIELDS)} FROM {EXECUTION_ENDS} WHERE id IN ({marks})",
                ids,
            )
        )
    }
    merged = []
    for start in starts:
        end = ends.get(start["id"], {"status": "started"})
        merged.append(_execution({**start, **{name: end.get(name) for name in END_FIELDS}}))
    return merged


def get_execution(con: duckdb.DuckDBPyConnection, execution_id: str) -> dict[str, Any] | None:
    found = executions_by_id(con, [execution_id])
    return found[0] if found else None


def search_executions(
    con: duckdb.DuckDBPyConnection,
    *,
    user: str | None = None,
    connection: str | None = None,
    table: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    status: str | None = None,
    limit: int = 200,
) -> list[dict[str, Any]]:
    """Executions matching every given filter, newest first."""
    clauses: list[str] = []
    params: list[Any] = []
    for column, value in (("user_name", user), ("target", connection), ("status", status)):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    if table is not None:
        clauses.append(
            "(list_contains(from_json(tables_read, '[\"VARCHAR\"]'), ?)"
            " OR list_contains(from_json(tables_written, '[\"VARCHAR\"]'), ?))"
        )
        params += [table, table]
    if since is not None:
        clauses.append("started_at >= ?")
        params.append(utc_naive(since))
    if until is not None:
        clauses.append("started_at < ?")
        params.append(utc_naive(until))
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    sql = f"SELECT * FROM executions {where} ORDER BY started_at DESC, seq DESC LIMIT ?"
    return [_execution(row) for row in _records(con.execute(sql, [*params, int(limit)]))]


def approval_events(con: duckdb.DuckDBPyConnection) -> list[ApprovalEvent]:
    rows = con.execute(
        f"""SELECT approval_id, kind, state, actor, happened_at, details
            FROM {APPROVAL_EVENTS} ORDER BY seq"""
    ).fetchall()
    return [
        ApprovalEvent(
            approval_id=row[0],
            kind=row[1],
            state=row[2],
            actor=row[3],
            time=row[4],
            details=json.loads(row[5]),
        )
        for row in rows
    ]


def _latest_approvals(
    con: duckdb.DuckDBPyConnection, approval_ids: list[str]
) -> dict[str, dict[str, Any]]:
    if not approval_ids:
        return {}
    rows = con.execute(
        f"""SELECT approval_id, arg_max(state, seq), arg_max(actor, seq), arg_max(happened_at, seq)
            FROM {APPROVAL_EVENTS} WHERE approval_id IN ({_placeholders(len(approval_ids))})
            GROUP BY approval_id""",
        approval_ids,
    ).fetchall()
    return {row[0]: {"state": row[1], "by": row[2], "at": row[3]} for row in rows}


def subject_entity_types(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.execute(f"SELECT DISTINCT entity_type FROM {SUBJECT_INDEX} ORDER BY 1").fetchall()
    return [str(row[0]) for row in rows]


def dsar(con: duckdb.DuckDBPyConnection, pairs: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """One entry per execution whose result held a subject with one of the (type, hmac) pairs.

    The keys come as one list parameter, matched on ``subject_key`` alone, and only the
    rows that match are read whole: a request by name looks up 2,585 forms, and on
    5,000,000 subject rows (``benchmarks/provenance``) that took 22 ms, against 129 ms
    with the keys written out as ``IN (?, ?, ...)`` and 300 ms with every column read for
    the rows DuckDB's Bloom filter lets through (about 48,000)."""
    wanted = set(pairs)
    keys = sorted({subject_key(digest) for _, digest in pairs})
    hits = [
        hit
        for hit in _records(
            con.execute(
                f"""SELECT execution_id, entity_type, subject_hmac, result_column, source, masked
                    FROM {SUBJECT_INDEX} WHERE rowid IN (
                        SELECT rowid FROM {SUBJECT_INDEX}
                        WHERE subject_key IN (SELECT UNNEST(?::BIGINT[])))""",
                [keys],
            )
        )
        if (hit["entity_type"], hit["subject_hmac"]) in wanted
    ]
    by_execution: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for hit in hits:
        by_execution[hit["execution_id"]].append(hit)
    if not by_execution:
        return []
    ids = sorted(by_execution)
    executions = executions_by_id(con, ids)
    approvals = _latest_approvals(
        con, sorted({e["approval_id"] for e in executions if e["approval_id"]})
    )
    report = [_dsar_entry(e, by_execution[e["id"]], approvals) for e in executions]
    return sorted(report, key=lambda entry: (entry["date"], entry["execution_id"]))


def _dsar_entry(
    execution: dict[str, Any], hits: list[dict[str, Any]], approvals: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    masked = {hit["masked"] for hit in hits}
    shown = "masked" if masked == {True} else "shown" if masked == {False} else "partly shown"
    return {
        "execution_id": execution["id"],
        "date": execution["started_at"].isoformat(),
        "user": execution["user"],
        "roles": execution["roles"],
        "notebook": execution["notebook"],
        "cell_id": execution["cell_id"],
        "purpose": execution["purpose"],
        "legal_basis": execution["legal_basis"],
        "approval_id": execution["approval_id"],
        "approval": approvals.get(execution["approval_id"] or ""),
        "kind": execution["kind"],
        "connection": execution["target"],
        "status": execution["status"],
        "categories": sorted({hit["entity_type"] for hit in hits}),
        "sources": sorted({hit["source"] or hit["result_column"] or "" for hit in hits} - {""}),
        "tables_read": execution["tables_read"],
        "shown": shown,
    }


def subjects_seen(
    con: duckdb.DuckDBPyConnection,
    user: str,
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict[str, Any]:
    """Whose data one user saw in a period, as counts and pseudonyms (never identifiers)."""
    low = utc_naive(since) if since else datetime(1970, 1, 1)
    high = utc_naive(until) if until else datetime(9999, 1, 1)
    rows = con.execute(
        f"""SELECT si.entity_type, si.subject_hmac, count(DISTINCT si.execution_id),
                   bool_or(NOT si.masked)
            FROM {SUBJECT_INDEX} si JOIN execution_starts s ON s.id = si.execution_id
            WHERE s.user_name = ? AND s.started_at >= ? AND s.started_at < ?
            GROUP BY ALL ORDER BY 3 DESC, 1, 2""",
        [user, low, high],
    ).fetchall()
    executions = con.execute(
        """SELECT count(*) FROM execution_starts
           WHERE user_name = ? AND started_at >= ? AND started_at < ?""",
        [user, low, high],
    ).fetchone()
    by_type: dict[str, int] = defaultdict(int)
    for row in rows:
        by_type[row[0]] += 1
    return {
        "user": user,
        "since": low.isoformat(),
        "until": high.isoformat(),
        "executions": int(executions[0]) if executions else 0,
        "subjects": len(rows),
        "by_entity_type": dict(sorted(by_type.items())),
        "pseudonyms": [
            {
                "pseudonym": row[1][:PSEUDONYM_LENGTH],
                "entity_type": row[0],
                "executions": int(row[2]),
                "shown_unmasked": bool(row[3]),
            }
            for row in rows
        ],
    }


def stats(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Figures for the audit panel charts."""
    per_day = con.execute(
        """SELECT started_at::DATE, status, count(*) FROM executions
           GROUP BY ALL ORDER BY 1, 2"""
    ).fetchall()
    masked = con.execute(
        """SELECT je.key, sum(je.value::BIGINT) FROM execution_ends, json_each(entity_counts) je
           GROUP BY 1 ORDER BY 1"""
    ).fetchall()
    turnaround = con.execute(
        f"""WITH decided AS (
              SELECT min(happened_at) FILTER (WHERE kind = 'request') AS requested,
                     min(happened_at) FILTER (WHERE state IN {DECISION_STATES}) AS decided
              FROM {APPROVAL_EVENTS} GROUP BY approval_id)
            SELECT count(*), median(epoch(decided - requested)), max(epoch(decided - requested))
            FROM decided WHERE decided IS NOT NULL AND requested IS NOT NULL"""
    ).fetchone()
    return {
        "executions_per_day": [
            {"day": day.isoformat(), "status": status, "count": int(count)}
            for day, status, count in per_day
        ],
        "masked_by_entity": {key: int(total) for key, total in masked},
        "approval_turnaround_s": {
            "decided": int(turnaround[0]) if turnaround else 0,
            "median": turnaround[1] if turnaround else None,
            "max": turnaround[2] if turnaround else None,
        },
    }
