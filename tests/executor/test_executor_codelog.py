"""Code written to the audit store carries no string literal."""

from __future__ import annotations

from nbwarden.executor.codelog import cell_for_audit, code_for_audit


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


def test_governed_cell_magics_are_recorded_as_the_gateway_records_their_code() -> None:
    dialects = {"%%sql shop": "postgres", "%%sql crm << people": "mysql"}

    def dialect(line: str) -> str | None:
        return dialects.get(line)

    assert cell_for_audit("%%sql shop\nSELECT 1 WHERE a = 'Ann Lee'", dialect) == (
        "%%sql shop\nSELECT 1 WHERE a = '<string 1>'"
    )
    assert cell_for_audit('%%sql crm << people\nSELECT 1 WHERE a = "Ann Lee"', dialect) == (
        "%%sql crm << people\nSELECT 1 WHERE a = '<string 1>'"
    )
    assert cell_for_audit("%%sh local\ngrep 'Ann Lee' app.log", dialect) == (
        "%%sh local\ngrep '<string 1>' app.log"
    )
    for as_written in ("x = 'Ann Lee'", "%%sql", "%%bash\necho 'Ann Lee'", "", "\n%%sql"):
        assert cell_for_audit(as_written, dialect) == as_written


def test_sql_lines_and_shell_escapes_in_python_cells_lose_their_literals() -> None:
    """``%sql`` lines and ``!`` escapes are governed code inside a Python cell; the cell's
    own Python (``df['email']``, a path) is left as written."""
    cell = (
        "people = %sql shop SELECT id FROM customers WHERE name = 'Ann Lee'\n"
        'hits = !grep "Ann Lee" app.log\n'
        "  %sql SELECT 1 WHERE b = 'Bo Ek'\n"
        "if people['email'] != 'x': print('done')"
    )
    assert cell_for_audit(cell, lambda line: "postgres") == (
        "people = %sql shop SELECT id FROM customers WHERE name = '<string 1>'\n"
        "hits = !grep '<string 1>' app.log\n"
        "  %sql SELECT 1 WHERE b = '<string 1>'\n"
        "if people['email'] != 'x': print('done')"
    )
    timed = "%%time\nrows = %sql SELECT 1 WHERE a = 'Ann Lee'"
    assert cell_for_audit(timed, lambda line: None) == (
        "%%time\nrows = %sql SELECT 1 WHERE a = '<string 1>'"
    )
