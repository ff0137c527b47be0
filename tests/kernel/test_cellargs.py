"""Magic lines, ``:name`` bind parameters and the one-line summaries."""

from __future__ import annotations

import datetime as dt
import decimal

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from nbwarden.kernel.cellargs import (
    bind_parameter_names,
    bind_parameters,
    parse_sql_cell_line,
    parse_target_line,
    split_sql_line,
)
from nbwarden.kernel.client import GatewayError
from nbwarden.kernel.display import (
    approval_text,
    masking_summary,
    render_table_html,
    render_table_text,
    result_frame,
    sql_summary,
)


@pytest.mark.parametrize(
    ("line", "connection", "assign_to"),
    [
        ("", None, None),
        ("prod", "prod", None),
        ("prod << df", "prod", "df"),
        ("<< df", None, "df"),
        ("df <<", None, "df"),
        ("prod df <<", "prod", "df"),
    ],
)
def test_sql_cell_line(line: str, connection: str | None, assign_to: str | None) -> None:
    args = parse_sql_cell_line(line)
    assert (args.connection, args.assign_to) == (connection, assign_to)


@pytest.mark.parametrize("line", ["prod other", "a << b c", "<< 1bad", "'open"])
def test_bad_sql_cell_line_is_a_usage_error(line: str) -> None:
    with pytest.raises(GatewayError):
        parse_sql_cell_line(line)


def test_line_magic_takes_a_connection_only_when_one_has_that_name() -> None:
    assert split_sql_line("prod SELECT 1", ["prod"]) == ("prod", "SELECT 1")
    assert split_sql_line("SELECT 1", ["prod"]) == (None, "SELECT 1")
    assert split_sql_line("prod", ["prod"]) == ("prod", "")
    assert parse_target_line("ops", "sh") == "ops"
    with pytest.raises(GatewayError):
        parse_target_line("a b", "sh")


def test_bind_parameters_skip_strings_comments_and_casts() -> None:
    sql = (
        "SELECT * FROM t WHERE a = :city AND b::text = 'not :this' -- nor :that\n"
        "AND c IN :ids AND d = :city /* :no */"
    )
    assert bind_parameter_names(sql) == ["city", "ids"]


def test_bind_parameters_are_sent_as_values_never_formatted_into_sql() -> None:
    namespace = {
        "city": "O'Brien'; DROP TABLE t; --",
        "ids": (1, np.int64(2)),
        "since": dt.date(2024, 1, 31),
        "amount": decimal.Decimal("10.50"),
    }
    sql = "SELECT 1 WHERE c = :city AND i IN :ids AND d > :since AND a = :amount"
    assert bind_parameters(sql, namespace) == {
        "city": "O'Brien'; DROP TABLE t; --",
        "ids": [1, 2],
        "since": "2024-01-31",
        "amount": "10.50",
    }


def test_missing_or_unsendable_parameter_is_a_clear_error() -> None:
    with pytest.raises(GatewayError, match=":nowhere is not a variable"):
        bind_parameters("SELECT :nowhere", {})
    with pytest.raises(GatewayError, match="type DataFrame"):
        bind_parameters("SELECT :frame", {"frame": pd.DataFrame()})


def test_summary_line_counts_rows_and_masked_values() -> None:
    result = {
        "row_count": 1500,
        "entity_counts": {"EMAIL_ADDRESS": 1500, "PERSON": 1512},
        "truncated": False,
    }
    assert sql_summary(result, "allow", 0.4213) == (
        "1,500 rows · masked 3,012 values: PERSON 1,512, EMAIL 1,500 · policy allow · 0.42 s"
    )
    assert masking_summary({}) == "nothing masked"
    assert sql_summary({"row_count": 0, "rows_affected": 3}, "flag", 0.1).startswith(
        "3 rows affected · nothing masked · policy flag"
    )
    by_rows = {"row_count": 10, "truncated": True, "truncated_by": "row_cap"}
    assert sql_summary(by_rows, "allow", 0.1).startswith("10 rows (truncated at the row cap) · ")
    by_size = {"row_count": 9, "truncated": True, "truncated_by": "result_cap_bytes"}
    assert sql_summary(by_size, "allow", 0.1).startswith("9 rows (truncated at the size cap) · ")


def test_result_frame_styles_exactly_the_masked_cells() -> None:
    result = {
        "columns": ["name", "city"],
        "rows": [["<PERSON_1>", "Lyon"], ["<PERSON_2>", "<b>Nice</b>"]],
        "masked": {"name": [0, 1]},
    }
    frame = result_frame(result, "exec-1")
    assert list(frame["city"]) == ["Lyon", "<b>Nice</b>"]
    html = frame._repr_html_()
    assert html.count('title="masked by nbwarden"') == 2
    assert "&lt;b&gt;Nice&lt;/b&gt;" in html
    assert type(frame.head(1)) is pd.DataFrame
    assert "more rows" not in render_table_html(pd.DataFrame({"n": range(60)}), {})
    big = pd.DataFrame({"n": range(120)})
    assert "110 more rows" in render_table_html(big, {}), "pandas' display.min_rows"
    with pd.option_context("display.max_rows", 200):
        assert "more rows" not in render_table_html(big, {})


def test_result_frame_restores_database_types_except_masked_text() -> None:
    result = {
        "columns": ["amount", "at", "day", "ssn"],
        "types": ["decimal128(7, 2)", "timestamp[us, tz=UTC]", "date32[day]", "decimal128(9, 0)"],
        "rows": [
            ["12.50", "2026-03-01T09:00:00+00:00", "2026-03-01", "<US_SSN>"],
            ["0.25", None, None, "7"],
        ],
        "masked": {"ssn": [0]},
    }
    frame = result_frame(result, None)
    assert frame["amount"].sum() == decimal.Decimal("12.75")
    assert frame["at"].iloc[0] == pd.Timestamp("2026-03-01T09:00:00Z")
    assert frame["day"].iloc[0] == dt.date(2026, 3, 1)
    assert list(frame["ssn"]) == ["<US_SSN>", "7"]


def test_result_frame_from_arrow_keeps_types_and_restores_masker_text() -> None:
    at = dt.datetime(2026, 3, 1, 9, tzinfo=dt.UTC)
    table = pa.table(
        {
            "amount": pa.array([decimal.Decimal("12.50"), None], pa.decimal128(7, 2)),
            "at": pa.array([at, None], pa.timestamp("us", tz="UTC")),
            "day": pa.array([dt.date(2026, 3, 1), None], pa.date32()),
            "ssn": pa.array(["<US_SSN>", "7"]),
            "paid": pa.array(["0.25", None]),
        }
    )
    types = ["decimal128(7, 2)", "timestamp[us, tz=UTC]", "date32[day]", "decimal128(9, 0)"]
    result = {"table": table, "types": [*types, "decimal128(7, 2)"], "masked": {"ssn": [0]}}
    frame = result_frame(result, "exec-1")
    assert frame["amount"].iloc[0] == decimal.Decimal("12.50")
    assert frame["at"].iloc[0] == pd.Timestamp("2026-03-01T09:00:00Z")
    assert frame["day"].iloc[0] == dt.date(2026, 3, 1)
    assert list(frame["ssn"]) == ["<US_SSN>", "7"], "a placeholder keeps the column text"
    assert frame["paid"].iloc[0] == decimal.Decimal("0.25"), "text the masker made is typed"
    assert frame._repr_html_().count('title="masked by nbwarden"') == 1
    assert type(frame.head(1)) is pd.DataFrame


def test_display_bundle_is_the_html_table_and_a_short_text_table() -> None:
    names = [f"<PERSON_{i}>" for i in range(120)]
    frame = result_frame({"table": pa.table({"n": range(120), "name": names})}, "exec-1")
    frame.nbwarden_masked = {"name": list(range(120))}
    bundle = frame._repr_mimebundle_()
    assert bundle["text/html"].count('title="masked by nbwarden"') == 10
    text = bundle["text/plain"].splitlines()
    assert text[0].split() == ["n", "name"] and text[1].split() == ["0", "0", "<PERSON_0>"]
    assert text[-2:] == ["… 110 more rows", "[120 rows x 2 columns]"]
    long = pd.DataFrame({"note": ["a\nb " + "x" * 80]})
    assert render_table_text(long).splitlines()[1].endswith("a b " + "x" * 35 + "…")


def test_approval_text_shows_rules_state_and_who_decided() -> None:
    pending = {"id": "ap1", "state": "pending"}
    text = approval_text(pending, ["needs a where"], ["sql.update_without_where"])
    assert "waiting for approval" in text and "ap1" in text
    assert "sql.update_without_where: needs a where" in text
    approved = {"id": "ap1", "state": "approved", "decisions": [{"approver": "dana"}]}
    assert "approved by dana" in approval_text(approved, [], [])
    rejected = {"id": "ap1", "state": "rejected", "rejected_by": "dana", "reject_reason": "no"}
    assert "rejected by dana: no" in approval_text(rejected, [], [])
