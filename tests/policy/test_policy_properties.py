"""Property tests: obfuscation never turns a blocked statement into allow, and arbitrary
text never crashes the engine (fail closed)."""

from __future__ import annotations

import sqlglot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nbwarden.policy import PolicyEngine

ENGINE = PolicyEngine()
DIALECTS = ["postgres", "mysql", "duckdb", "sqlite"]

# Tokens separated by single spaces; no literal holds a space, so any separator may go
# between tokens without changing what the statement means.
BLOCKED = [
    ("postgres", "DROP TABLE customers"),
    ("mysql", "DROP DATABASE shop"),
    ("postgres", "TRUNCATE orders"),
    ("postgres", "DELETE FROM orders"),
    ("postgres", "DELETE FROM orders WHERE 'a'='a'"),
    ("mysql", "UPDATE customers SET email = NULL WHERE 2>1"),
    ("postgres", "ALTER TABLE customers DROP COLUMN email"),
    ("postgres", "GRANT ALL ON customers TO intruder"),
    ("postgres", "SELECT pg_read_file('/etc/passwd')"),
    ("postgres", "COPY customers TO '/tmp/c.csv'"),
    ("postgres", "SELECT pg_terminate_backend(42)"),
    ("postgres", "SELECT 1 ; DROP TABLE customers"),
    ("postgres", "WITH x AS ( DELETE FROM orders RETURNING * ) SELECT * FROM x"),
    ("mysql", "SELECT * FROM customers INTO OUTFILE '/tmp/x'"),
    ("duckdb", "COPY customers TO 'x.parquet'"),
    ("sqlite", "DROP TABLE customers"),
]
SEPARATORS = [" ", "  ", "\t", "\n", " /* c */ ", "/**/", " -- c\n", "\r\n"]


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, str]:
    dialect, statement = draw(st.sampled_from(BLOCKED))
    pieces = []
    for word in statement.split(" "):
        if not any(q in word for q in "'\"`$"):
            word = "".join(ch.upper() if draw(st.booleans()) else ch.lower() for ch in word)
        pieces.append(word)
    out = pieces[0]
    for piece in pieces[1:]:
        out += draw(st.sampled_from(SEPARATORS)) + piece
    lead = draw(st.sampled_from(["", "\n", " /* x */ ", "-- note\n"]))
    return dialect, lead + out + draw(st.sampled_from(["", ";", " ;\n", "; -- end"]))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutations_of_blocked_statements_are_never_allowed(case: tuple[str, str]) -> None:
    dialect, code = case
    assert ENGINE.check_sql(code, dialect).action == "block"


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(DIALECTS), st.text(max_size=200))
def test_arbitrary_text_never_crashes_and_unparseable_is_never_allowed(
    dialect: str, text: str
) -> None:
    verdict = ENGINE.check_sql(text, dialect)
    assert verdict.action in ("allow", "flag", "block")
    try:
        sqlglot.parse(text, dialect=dialect)
    except Exception:
        assert verdict.action != "allow"


SQLISH = st.lists(
    st.sampled_from(
        [
            "SELECT",
            "DROP",
            "TABLE",
            "FROM",
            "WHERE",
            "(",
            ")",
            ";",
            "'",
            '"',
            "--",
            "/*",
            "*/",
            "$$",
            "DO",
            "EXECUTE",
            "||",
            "1=1",
            "t",
            "*",
            "\n",
            "`",
            "#",
        ]
    ),
    max_size=25,
).map(" ".join)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(DIALECTS), SQLISH)
def test_sql_like_noise_never_crashes(dialect: str, text: str) -> None:
    assert ENGINE.check_sql(text, dialect).action in ("allow", "flag", "block")


SHELLISH = st.lists(
    st.sampled_from(
        [
            "rm",
            "-rf",
            "/",
            "ls",
            "|",
            "&&",
            ";",
            "$(",
            ")",
            "`",
            "'",
            '"',
            "\\",
            "bash",
            "-c",
            "eval",
            "x=rm",
            "$x",
            "{",
            "}",
            "(",
            "<<EOF",
            "EOF",
            "\n",
            "psql",
            "DROP TABLE t",
            "*",
            ">",
            "&",
            "case",
            "esac",
            "$((",
            "))",
        ]
    ),
    max_size=20,
).map(" ".join)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=200), SHELLISH))
def test_arbitrary_shell_never_crashes(text: str) -> None:
    assert ENGINE.check_shell(text).action in ("allow", "flag", "block")
