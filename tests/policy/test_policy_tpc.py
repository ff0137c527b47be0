"""TPC-H (22) and TPC-DS (99) queries: never blocked, at least 90% allowed outright."""

from __future__ import annotations

from pathlib import Path

import pytest

from nbwarden.policy import PolicyEngine

DATA = Path(__file__).parent / "data"
TPCH = sorted((DATA / "tpch").glob("q*.sql"))
TPCDS = sorted((DATA / "tpcds").glob("*.sql"))


def test_all_queries_are_present() -> None:
    assert len(TPCH) == 22
    assert len(TPCDS) == 99


@pytest.mark.parametrize("dialect", ["duckdb", "postgres"])
def test_tpc_queries_are_not_blocked_and_mostly_allowed(dialect: str) -> None:
    engine = PolicyEngine()
    verdicts = {path.name: engine.check_sql(path.read_text(), dialect) for path in TPCH + TPCDS}
    blocked = [name for name, v in verdicts.items() if v.action == "block"]
    allowed = [name for name, v in verdicts.items() if v.action == "allow"]
    assert blocked == []
    assert len(allowed) >= 0.9 * len(verdicts)


def test_tpc_lineage_resolves_columns_with_a_schema() -> None:
    schema = {
        "customer": ["c_custkey", "c_mktsegment"],
        "orders": ["o_orderkey", "o_custkey", "o_orderdate", "o_shippriority"],
        "lineitem": ["l_orderkey", "l_extendedprice", "l_discount", "l_shipdate"],
    }
    query = (DATA / "tpch" / "q03.sql").read_text()
    verdict = PolicyEngine().check_sql(query, "duckdb", schema=schema)
    assert set(verdict.tables_read) == {"customer", "orders", "lineitem"}
    assert verdict.tables_written == []
    assert verdict.statement_types == ["SELECT"]
    assert set(verdict.columns_read) == {f"{t}.{c}" for t, cols in schema.items() for c in cols}
