"""Code written to the audit store carries no string literal."""

from __future__ import annotations

from nbwarden.executor.codelog import code_for_audit


def test_sql_literals_become_numbered_placeholders() -> None:
    sql = "SELECT * FROM c WHERE name = 'Ann O''Neil' AND alias = 'Ann O''Neil' AND x = N'Zoé'"
    assert code_for_audit("sql", sql, "postgres") == (
        "SELECT * FROM c WHERE name = '<string 1>' AND alias = '<string 1>' AND x = '<string 2>'"
    )


def test_unterminated_literal_is_replaced_to_the_end() -> None:
    assert code_for_audit("sql", "SELECT 1 WHERE a = 'Ann Lee", "postgres") == (
        "SELECT 1 WHERE a = '<string 1>'"
    )


def test_shell_quoted_words_are_replaced_and_identifiers_kept() -> None:
    assert code_for_audit("shell", "grep \"Ann Lee\" app.log | grep 'x'", None) == (
        "grep '<string 1>' app.log | grep '<string 2>'"
    )
    assert code_for_audit("sql", 'SELECT "Name" FROM t', "postgres") == 'SELECT "Name" FROM t'
