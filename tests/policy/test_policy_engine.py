"""Verdict lineage, sensitive columns, scoping, overrides and rule files."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from nbwarden.config import PolicyConfig, RuleOverride
from nbwarden.policy import PolicyEngine, PolicyError
from nbwarden.policy.rulepack import RulePack


@pytest.fixture(scope="module")
def engine() -> PolicyEngine:
    return PolicyEngine()


def test_verdict_to_dict_has_the_contract_keys(engine: PolicyEngine) -> None:
    data = engine.check_sql("DELETE FROM orders", "postgres").to_dict()
    assert set(data) == {
        "kind",
        "dialect",
        "action",
        "rules",
        "reasons",
        "statement_types",
        "tables_read",
        "tables_written",
        "columns_read",
    }
    assert data["action"] == "block"
    assert data["rules"] == ["sql.write", "sql.delete_without_where"]
    assert data["reasons"][1].startswith("DELETE or UPDATE without a WHERE")


def test_lineage_of_a_write_with_a_hidden_cte_write(engine: PolicyEngine) -> None:
    verdict = engine.check_sql(
        "WITH moved AS (DELETE FROM staging.orders WHERE id < 10 RETURNING id, total) "
        "INSERT INTO archive.orders (id, total) SELECT id, total FROM moved",
        "postgres",
    )
    assert verdict.action == "flag"
    assert verdict.statement_types == ["INSERT", "DELETE"]
    assert set(verdict.tables_written) == {"staging.orders", "archive.orders"}
    assert "moved" not in verdict.tables_read


def test_lineage_reads_and_aliases(engine: PolicyEngine) -> None:
    verdict = engine.check_sql(
        "SELECT c.email, o.total FROM crm.customers AS c JOIN orders o ON o.customer_id = c.id "
        "WHERE o.total > 10",
        "postgres",
    )
    assert verdict.tables_read == ["crm.customers", "orders"]
    assert set(verdict.columns_read) == {
        "crm.customers.email",
        "crm.customers.id",
        "orders.total",
        "orders.customer_id",
    }


def test_star_is_resolved_where_the_schema_is_known(engine: PolicyEngine) -> None:
    schema = {"customers": ["id", "email", "segment"]}
    known = engine.check_sql("SELECT * FROM customers WHERE id = 1", "postgres", schema=schema)
    unknown = engine.check_sql("SELECT * FROM customers WHERE id = 1", "postgres")
    assert set(known.columns_read) == {"customers.id", "customers.email", "customers.segment"}
    assert "customers.*" in unknown.columns_read


@pytest.mark.parametrize(
    ("sql", "unmasked", "expected"),
    [
        ("SELECT email FROM customers WHERE id = 1", ["email"], "flag"),
        ("SELECT email FROM customers WHERE id = 1", [], "allow"),
        ("SELECT segment FROM customers WHERE id = 1", ["email"], "allow"),
        ("SELECT * FROM customers WHERE id = 1", ["*"], "flag"),
        (
            "SELECT c.email FROM customers c JOIN orders o ON o.cid = c.id",
            ["customers.email"],
            "flag",
        ),
    ],
)
def test_sensitive_columns_flag_unmasked_reads(
    engine: PolicyEngine, sql: str, unmasked: list[str], expected: str
) -> None:
    verdict = engine.check_sql(
        sql, "postgres", sensitive_columns=["customers.email"], unmasked_columns=unmasked
    )
    assert verdict.action == expected
    assert ("sql.sensitive_unmasked" in verdict.rules) == (expected == "flag")


def test_overrides_are_scoped_by_connection_role_and_purpose() -> None:
    config = PolicyConfig(
        overrides=(
            RuleOverride("sql.write", "allow", connections=("staging",), roles=("analyst",)),
            RuleOverride("sql.unbounded_read", "block", purposes=("marketing",)),
        )
    )
    engine = PolicyEngine.from_config(config)
    write = "UPDATE t SET a = 1 WHERE id = 2"
    assert engine.check_sql(write, connection="staging", role="analyst").action == "allow"
    assert engine.check_sql(write, connection="prod", role="analyst").action == "flag"
    assert engine.check_sql(write, connection="staging", role="admin").action == "flag"
    star = "SELECT * FROM customers"
    assert engine.check_sql(star, purpose="Marketing").action == "block"
    assert engine.check_sql(star, purpose="churn study").action == "flag"


def test_require_purpose_flags_cells_without_one() -> None:
    engine = PolicyEngine.from_config(PolicyConfig(require_purpose=True))
    assert engine.check_sql("SELECT 1").rules == ["policy.purpose_required"]
    assert engine.check_sql("SELECT 1", purpose="churn study").action == "allow"
    assert engine.check_shell("ls", purpose=" ").action == "flag"


def test_a_rule_file_can_scope_and_retune_rules(tmp_path: Path) -> None:
    pack = yaml.safe_load(RulePack.default_path().read_text())
    for rule in pack["rules"]:
        if rule["id"] == "sql.ddl":
            rule["action"] = "block"
            rule["connections"] = ["prod"]
        if rule["id"] == "shell.unknown_command":
            rule["read_only_commands"].append("mytool")
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(pack))
    engine = PolicyEngine.from_config(PolicyConfig(rules=path))
    assert engine.check_sql("CREATE INDEX i ON t (a)", connection="prod").action == "block"
    assert engine.check_sql("CREATE INDEX i ON t (a)", connection="dev").action == "allow"
    assert engine.check_shell("mytool --list").action == "allow"


@pytest.mark.parametrize(
    "content", ["rules: 3", "rules:\n  - {id: x, action: maybe, reason: r}", "{{{"]
)
def test_bad_rule_files_raise_policy_error(tmp_path: Path, content: str) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(content)
    with pytest.raises(PolicyError):
        PolicyEngine.from_config(PolicyConfig(rules=path))


def test_unknown_override_rule_and_kind_and_dialect_raise(engine: PolicyEngine) -> None:
    with pytest.raises(PolicyError, match="unknown rule"):
        PolicyEngine.from_config(PolicyConfig(overrides=(RuleOverride("sql.nope", "allow"),)))
    with pytest.raises(PolicyError, match="unknown kind"):
        engine.check("python", "print(1)")
    with pytest.raises(PolicyError, match="unknown SQL dialect"):
        engine.check_sql("SELECT 1", "no-such-dialect")


def test_any_sqlglot_dialect_by_name(engine: PolicyEngine) -> None:
    for dialect in (
        "postgres",
        "mysql",
        "duckdb",
        "sqlite",
        "tsql",
        "oracle",
        "snowflake",
        "bigquery",
        "clickhouse",
        "trino",
        "spark",
        "redshift",
    ):
        assert engine.check_sql("DROP TABLE t", dialect).action == "block", dialect
        assert engine.check_sql("SELECT a FROM t WHERE b = 1", dialect).action == "allow"


def test_shell_verdict_carries_nested_sql_lineage(engine: PolicyEngine) -> None:
    verdict = engine.check_shell("psql -c 'SELECT email FROM crm.customers WHERE id = 3' | head")
    assert verdict.action == "allow"
    assert verdict.kind == "shell"
    assert verdict.statement_types == ["psql", "SELECT", "head"]
    assert verdict.tables_read == ["crm.customers"]


def test_check_accepts_target_or_connection_for_both_kinds() -> None:
    engine = PolicyEngine.from_config(
        PolicyConfig(overrides=(RuleOverride("*.write", "allow", connections=("scratch",)),))
    )
    assert engine.check("sql", "DELETE FROM t WHERE id = 1", target="scratch").action == "allow"
    assert engine.check("shell", "rm notes.txt", connection="scratch").action == "allow"
    assert engine.check("shell", "rm notes.txt", target="prod", schema={}).action == "flag"


@pytest.mark.timeout(60)
def test_long_words_in_shell_code_are_read_once(engine: PolicyEngine) -> None:
    """The fork-bomb pattern read a long word from each of its positions: minutes for a
    200 kB argument (a pasted key or hash). A bomb still counts after any separator."""
    token = "a" * 200_000
    assert engine.check_shell(f"echo '{token}'").action == "allow"
    for bomb in (":(){ :|:& };:", "x=1;bomb(){ bomb|bomb& };bomb", "(f() { f | f & }; f)"):
        verdict = engine.check_shell(f"echo '{token}'\n{bomb}")
        assert "shell.fork_bomb" in verdict.rules, bomb


@pytest.mark.timeout(60)
def test_many_unclosed_executable_comments_are_read_once(engine: PolicyEngine) -> None:
    """Each ``/*!`` with no ``*/`` after it was read to the end of the cell: minutes for a
    cell of 200 kB. One that closes still runs, and is judged, as MySQL runs it."""
    unclosed = "/*!" * 70_000
    assert "sql.executable_comment" not in engine.check_sql(f"SELECT 1 {unclosed}", "mysql").rules
    hidden = f"SELECT 1 /*!50000 ; DROP TABLE t */ {unclosed}"
    assert engine.check_sql(hidden, "mysql").action == "block"
