"""SQL execution on real databases: caps, timeouts, cancellation, awkward values, errors."""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest
import sqlalchemy as sa
from faker import Faker
from hypothesis import given
from hypothesis import strategies as st

from nbwarden.config import RESULT_CAP_BYTES, ConnectionConfig, dialect_of_url
from nbwarden.executor import sql
from nbwarden.executor.scrub import connection_secrets, driver_message, scrub_message
from nbwarden.executor.sql import (
    FETCH_BATCH,
    CancelHandle,
    SqlRunner,
    StatementCancelled,
    rows_to_arrow,
    split_statements,
    unique_names,
)

fake = Faker()
Faker.seed(7)


def runner_for(url: str, name: str = "db", **options: float) -> SqlRunner:
    config = ConnectionConfig(
        name=name,
        url=url,
        dialect=dialect_of_url(url),
        row_cap=int(options.get("row_cap", 100)),
        timeout_s=float(options.get("timeout_s", 10)),
        result_cap_bytes=int(options.get("result_cap_bytes", RESULT_CAP_BYTES)),
    )
    return SqlRunner({name: config})


@pytest.fixture(params=["sqlite", "duckdb"])
def file_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return f"{request.param}:///{tmp_path / ('data.' + request.param)}"


def test_split_keeps_statements_as_written() -> None:
    code = "SELECT 'a;b' AS x;\n\nSELECT $$c;d$$ ; "
    assert split_statements(code, "postgres") == ["SELECT 'a;b' AS x", "SELECT $$c;d$$"]
    assert split_statements("SELECT 'unterminated", "postgres") == ["SELECT 'unterminated"]


def test_duplicate_column_names_become_unique() -> None:
    assert unique_names(["id", "id", "id_1", ""]) == ["id", "id_1", "id_1_1", "column"]


_DECIMALS = st.decimals(allow_nan=False, allow_infinity=False, places=None) | st.none()
_DECLARED = st.integers(min_value=1, max_value=38).flatmap(
    lambda precision: st.integers(min_value=0, max_value=precision).map(
        lambda scale: pa.decimal128(precision, scale)
    )
)
"""A ``numeric(p, s)`` column's Arrow type."""


@given(st.lists(_DECIMALS, min_size=1, max_size=6))
def test_decimal_columns_get_the_type_arrow_would_infer(values: list[Decimal | None]) -> None:
    """Decimals are typed without pyarrow's slow inference, to the same type and values."""
    table, types = rows_to_arrow(["amount"], [(value,) for value in values])
    try:
        inferred = pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, ValueError):
        assert types == ["string"]
        return
    assert table.column("amount").type == inferred.type
    assert table.column("amount").to_pylist() == inferred.to_pylist()


def test_row_cap_reports_truncation(file_url: str) -> None:
    runner = runner_for(file_url, row_cap=5)
    rows = [(i, fake.email()) for i in range(8)]
    values = ", ".join(f"({i}, '{email}')" for i, email in rows)
    code = f"CREATE TABLE people (id INTEGER, email TEXT); INSERT INTO people VALUES {values}"
    created = runner.run("db", code, None, CancelHandle())
    if created.table.num_rows:
        assert created.table.column("Count").to_pylist() == [8]  # DuckDB reports a row
    else:
        assert created.rows_affected == 8
    result = runner.run("db", "SELECT id, email FROM people ORDER BY id", None, CancelHandle())
    assert result.truncated is True
    assert result.table.column("id").to_pylist() == [0, 1, 2, 3, 4]
    params = runner.run("db", "SELECT email FROM people WHERE id = :i", {"i": 6}, CancelHandle())
    assert params.table.column("email").to_pylist() == [rows[6][1]] and not params.truncated
    runner.dispose()


def test_binary_null_and_invalid_utf8_values(file_url: str) -> None:
    runner = runner_for(file_url)
    engine = runner.engine("db")
    email = fake.email()
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE blobs (id INTEGER, data BLOB, note TEXT)")
        conn.execute(
            sa.text("INSERT INTO blobs VALUES (:i, :d, :n)"),
            [
                {"i": 1, "d": email.encode(), "n": None},
                {"i": 2, "d": b"\xff\xfe" + email.encode() + b"\x80", "n": "x"},
                {"i": 3, "d": None, "n": None},
            ],
        )
    result = runner.run("db", "SELECT id, data, note FROM blobs ORDER BY id", None, CancelHandle())
    assert result.types[1] == "binary"
    data = result.table.column("data").to_pylist()
    assert data[0] == email
    assert data[1] == "\ufffd\ufffd" + email + "\ufffd"
    assert data[2] is None
    assert result.table.column("note").to_pylist() == [None, "x", None]
    runner.dispose()


def test_sqlite_text_with_invalid_utf8_is_replaced(tmp_path: Path) -> None:
    runner = runner_for(f"sqlite:///{tmp_path / 'bad.sqlite'}")
    code = "SELECT CAST(x'41ff42' AS TEXT) AS note, NULL AS empty"
    result = runner.run("db", code, None, CancelHandle())
    assert result.table.column("note").to_pylist() == ["A\ufffdB"]
    assert result.table.column("empty").to_pylist() == [None]
    runner.dispose()


@pytest.mark.postgres
def test_postgres_bytea_with_invalid_utf8(postgres_url: str) -> None:
    runner = runner_for(postgres_url)
    result = runner.run("db", "SELECT '\\xff00c3'::bytea AS b", None, CancelHandle())
    assert result.types == ["binary"]
    assert result.table.column("b").to_pylist() == ["\ufffd\x00\ufffd"]
    runner.dispose()


@pytest.mark.postgres
def test_postgres_sql_ascii_text_is_read_with_bad_bytes_replaced(postgres_url: str) -> None:
    """A ``SQL_ASCII`` database stores any bytes; psycopg gives its text as ``bytes``,
    which SQLAlchemy's first query could not read: the connection failed outright."""
    name = f"nbwarden_ascii_{secrets.token_hex(4)}"
    admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(
            f"CREATE DATABASE {name} ENCODING 'SQL_ASCII' TEMPLATE template0"
            " LC_COLLATE 'C' LC_CTYPE 'C'"
        )
    url = sa.make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    runner = runner_for(url)
    city = fake.city()
    try:
        result = runner.run(
            "db",
            "SELECT convert_from('\\xff41'::bytea, 'SQL_ASCII') AS raw,"
            " CAST(:city AS varchar) AS city, 'n'::name AS n, '{\"a\": 1}'::json AS j,"
            " 12.5::numeric(5,2) AS amount",
            {"city": city},
            CancelHandle(),
        )
        assert result.types == ["string", "string", "string", "string", "decimal128(5, 2)"]
        assert result.table.to_pylist() == [
            {"raw": "\ufffdA", "city": city, "n": "n", "j": '{"a": 1}', "amount": Decimal("12.50")}
        ]
    finally:
        runner.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE {name} WITH (FORCE)")
        admin.dispose()


@pytest.mark.postgres
def test_postgres_timeout_cancels_pg_sleep(postgres_url: str) -> None:
    runner = runner_for(postgres_url, timeout_s=0.5)
    started = time.perf_counter()
    with pytest.raises(StatementCancelled) as caught:
        runner.run("db", "SELECT pg_sleep(20)", None, CancelHandle())
    assert caught.value.timed_out
    assert time.perf_counter() - started < 10
    again = runner.run("db", "SELECT 1 AS one", None, CancelHandle())
    assert again.table.column("one").to_pylist() == [1]
    runner.dispose()


@pytest.mark.postgres
def test_postgres_cancel_from_another_thread(postgres_url: str) -> None:
    runner = runner_for(postgres_url, timeout_s=30)
    handle = CancelHandle()
    threading.Timer(0.5, handle.cancel).start()
    with pytest.raises(StatementCancelled) as caught:
        runner.run("db", "SELECT pg_sleep(20)", None, handle)
    assert not caught.value.timed_out
    runner.dispose()


@pytest.mark.mariadb
def test_mariadb_timeout_kills_the_query(mariadb_url: str) -> None:
    runner = runner_for(mariadb_url, timeout_s=0.5)
    started = time.perf_counter()
    with pytest.raises(StatementCancelled):
        runner.run("db", "SELECT SLEEP(20)", None, CancelHandle())
    assert time.perf_counter() - started < 10
    runner.dispose()


def test_duckdb_timeout_interrupts(tmp_path: Path) -> None:
    runner = runner_for(f"duckdb:///{tmp_path / 'slow.duckdb'}", timeout_s=0.3)
    slow = "SELECT count(*) FROM range(100000000000) a"
    with pytest.raises(StatementCancelled):
        runner.run("db", slow, None, CancelHandle())
    runner.dispose()


@pytest.mark.postgres
def test_postgres_errors_are_scrubbed_of_values_and_credentials(postgres_url: str) -> None:
    runner = runner_for(postgres_url)
    config = runner.connections["db"]
    email = fake.email()
    runner.run(
        "db",
        f"CREATE TABLE users (email TEXT UNIQUE); INSERT INTO users VALUES ('{email}')",
        None,
        CancelHandle(),
    )
    with pytest.raises(sa.exc.DBAPIError) as caught:
        runner.run("db", "INSERT INTO users VALUES (:e)", {"e": email}, CancelHandle())
    assert email in str(caught.value)
    message = scrub_message(driver_message(caught.value), connection_secrets(config), str)
    assert "duplicate key value violates unique constraint" in message
    assert email not in message and "postgresql" not in message

    with pytest.raises(sa.exc.DBAPIError) as missing:
        runner.run("db", "SELECT * FROM customers2", None, CancelHandle())
    text = scrub_message(driver_message(missing.value), connection_secrets(config), str)
    assert 'relation "customers2" does not exist' in text
    runner.dispose()


def test_scrub_removes_urls_secrets_and_echoed_values() -> None:
    config = ConnectionConfig(
        name="prod",
        url="postgresql+psycopg://svc_reader:S3cretPw@db.internal:5432/sales",
        dialect="postgres",
    )
    raw = (
        'connection to server at "db.internal" failed for user "svc_reader" '
        "password=S3cretPw via postgresql://svc_reader:S3cretPw@db.internal/sales"
    )
    cleaned = scrub_message(raw, connection_secrets(config), str)
    for secret in ("S3cretPw", "db.internal", "svc_reader", "postgresql://"):
        assert secret not in cleaned
    mysql_echo = "Duplicate entry 'ann@example.org' for key 'email'"
    assert "ann@example.org" not in scrub_message(mysql_echo, [], str)
    computed = "date field value out of range: 2000-01-71; codepoint 2000074, (74 * 100)"
    assert scrub_message(computed, [], str) == (
        "date field value out of range: <redacted>; codepoint <redacted>, (<redacted> * <redacted>)"
    )
    assert scrub_message('relation "sales_2024" or "t2" does not exist', [], str) == (
        'relation "sales_2024" or "t2" does not exist'
    )
    assert scrub_message("anything", [], None) == (
        "the database reported an error (details withheld)"
    )
    assert scrub_message("see -jdbc:postgresql://u:pw@db/x", [], str) == "see -jdbc:<url>"


@pytest.mark.timeout(60)
def test_scrub_reads_a_long_value_in_a_message_once() -> None:
    """A scheme is read from where it can start to at most 64 characters: a driver echoing
    a 200 kB value such as ``a.b.c...`` took minutes to scrub."""
    echoed = "a." * 100_000
    message = f"db+psycopg://u:pw@db.internal/x: invalid input syntax: {echoed}"
    cleaned = scrub_message(message, [], str)
    assert cleaned.startswith("<url> invalid input syntax: a.a.")


@pytest.mark.parametrize("backend", ["postgres", "mariadb", "sqlite", "duckdb"])
def test_percent_signs_reach_the_server_as_typed(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url = {
        "postgres": lambda: request.getfixturevalue("postgres_url"),
        "mariadb": lambda: request.getfixturevalue("mariadb_url"),
        "sqlite": lambda: f"sqlite:///{tmp_path / 'p.sqlite'}",
        "duckdb": lambda: f"duckdb:///{tmp_path / 'p.duckdb'}",
    }[backend]()
    runner = runner_for(url)
    sql = "SELECT CASE WHEN 'a%b' LIKE 'a%' THEN 1 ELSE 0 END AS liked, 7 % 3 AS rest"
    plain = runner.run("db", sql, None, CancelHandle())
    bound = runner.run("db", sql + ", :n AS n", {"n": 5}, CancelHandle())
    runner.dispose()
    assert plain.table.to_pylist() == [{"liked": 1, "rest": 1}]
    assert bound.table.to_pylist() == [{"liked": 1, "rest": 1, "n": 5}]


@given(st.lists(_DECIMALS, min_size=1, max_size=6), _DECLARED)
def test_a_declared_decimal_type_never_rounds(
    values: list[Decimal | None], declared: pa.Decimal128Type
) -> None:
    """A column's declared numeric(p, s) types it when every value is at scale s (as
    PostgreSQL gives them) and fits; otherwise (or when all are NULL) it is typed by its
    values, as if nothing were declared: no value ever loses a digit."""
    scale = declared.scale
    table, types = rows_to_arrow(["amount"], [(value,) for value in values], [declared])
    undeclared, undeclared_types = rows_to_arrow(["amount"], [(value,) for value in values])
    at_scale = all(value is None or value.as_tuple().exponent == -scale for value in values)
    try:
        fits = pa.array(values, declared).to_pylist() == values
    except (pa.ArrowInvalid, pa.ArrowTypeError, ValueError):
        fits = False
    if fits and at_scale and any(value is not None for value in values):
        assert types == [str(declared)]
    else:
        assert types == undeclared_types
    assert table.column("amount").to_pylist() == undeclared.column("amount").to_pylist()


def test_values_at_the_declared_scale_take_the_declared_type() -> None:
    declared = [pa.decimal128(12, 2)]
    rows = [(Decimal("12.50"),), (Decimal("-3.00"),), (None,)]
    _, at_scale = rows_to_arrow(["a"], rows, declared)
    _, shorter = rows_to_arrow(["a"], [(Decimal("12.5"),)], declared)
    tiny = Decimal("9.999999999999999999999990E-25")
    table, _ = rows_to_arrow(["a"], [(tiny,)], [pa.decimal128(10, 10)])
    assert at_scale == ["decimal128(12, 2)"]
    assert shorter == ["decimal128(3, 1)"]
    assert table.column("a").to_pylist() == [tiny]


@given(st.lists(_DECIMALS, min_size=1, max_size=6), _DECLARED)
def test_numeric_text_is_typed_as_the_same_decimals(
    values: list[Decimal | None], declared: pa.Decimal128Type
) -> None:
    """PostgreSQL ``numeric(p, s)`` read as text (every value at scale s, no exponent)
    gives the type and values its Decimals give."""
    quantum = Decimal(1).scaleb(-declared.scale)
    try:
        at_scale = [None if v is None else v.quantize(quantum) for v in values]
    except ArithmeticError:
        return
    texts = [None if v is None else format(v, "f") for v in at_scale]
    from_text = sql._numeric_text_array(texts, declared)
    from_decimals = sql._decimal_array(at_scale, declared)
    assert from_text.type == from_decimals.type
    assert from_text.to_pylist() == from_decimals.to_pylist()


@pytest.mark.postgres
def test_postgres_numeric_nan_and_infinity_keep_their_values(postgres_url: str) -> None:
    """Values Arrow's decimals cannot hold come through as the database wrote them."""
    runner = runner_for(postgres_url)
    result = runner.run(
        "db",
        "SELECT v::numeric(12,2) AS declared, v::numeric AS free"
        " FROM (VALUES ('1.5'), ('NaN'), (NULL)) AS t(v)"
        " UNION ALL SELECT 2, 'Infinity'::numeric",
        None,
        CancelHandle(),
    )
    runner.dispose()
    assert result.types == ["string", "string"]
    assert result.table.to_pylist() == [
        {"declared": "1.50", "free": "1.5"},
        {"declared": "NaN", "free": "NaN"},
        {"declared": None, "free": None},
        {"declared": "2", "free": "Infinity"},
    ]


@pytest.mark.postgres
def test_postgres_numeric_inside_arrays_ranges_and_records_reads_as_written(
    postgres_url: str,
) -> None:
    """psycopg reads the ``numeric`` inside an array, a range or a record with the same
    text loader: they come through as the database wrote them, as plain numbers do; a
    column of NULLs only is typed by its values, as before."""
    runner = runner_for(postgres_url)
    result = runner.run(
        "db",
        "SELECT ARRAY[1.50, 2.5]::numeric[] AS arr, numrange(1.5, 2.50) AS rng,"
        " ROW(1.25::numeric, 'x') AS rec, 7::numeric AS plain, 1e-20::numeric AS tiny,"
        " -0.0::numeric AS zero, NULL::numeric(12,2) AS empty",
        None,
        CancelHandle(),
    )
    runner.dispose()
    assert result.table.to_pylist() == [
        {
            "arr": '["1.50", "2.5"]',
            "rng": "[1.5, 2.50)",
            "rec": '["1.25", "x"]',
            "plain": Decimal("7"),
            "tiny": Decimal("1E-20"),
            "zero": Decimal("0.0"),
            "empty": None,
        }
    ]
    assert result.types[3:] == [
        "decimal128(1, 0)",
        "decimal128(20, 20)",
        "decimal128(1, 1)",
        "null",
    ]


@pytest.mark.parametrize("backend", ["postgres", "mariadb"])
def test_decimal_columns_keep_exact_values(backend: str, request: pytest.FixtureRequest) -> None:
    """PostgreSQL numeric(p, s) is typed as declared; wider, unconstrained or MariaDB
    decimals by their values."""
    runner = runner_for(request.getfixturevalue(f"{backend}_url"))
    if backend == "postgres":
        code = (
            "SELECT v::numeric(12,2) AS declared, v * 1.0001 AS free, v::numeric(50,2) AS wide"
            " FROM (VALUES (1234.5), (-0.01), (NULL)) AS t(v)"
        )
    else:
        code = (
            "SELECT CAST(v AS DECIMAL(12,2)) AS declared, v * 1.0001 AS free,"
            " CAST(v AS DECIMAL(50,2)) AS wide"
            " FROM (SELECT 1234.5 AS v UNION ALL SELECT -0.01 UNION ALL SELECT NULL) AS t"
        )
    result = runner.run("db", code, None, CancelHandle())
    runner.dispose()
    declared = result.table.column("declared").to_pylist()
    assert declared == [Decimal("1234.50"), Decimal("-0.01"), None]
    free = result.table.column("free").to_pylist()
    assert free == [
        Decimal("1234.5") * Decimal("1.0001"),
        Decimal("-0.01") * Decimal("1.0001"),
        None,
    ]
    scanned = [str(pa.array(free).type), str(pa.array(declared).type)]
    expected_declared = "decimal128(12, 2)" if backend == "postgres" else scanned[1]
    assert result.types == [expected_declared, scanned[0], scanned[1]]


@pytest.mark.postgres
def test_postgres_cursor_keeps_cap_params_and_the_transaction(postgres_url: str) -> None:
    """The last statement is read through a cursor: cap, bind parameters, zero rows and
    the cell's earlier statements in the same transaction all still hold."""
    runner = runner_for(postgres_url, row_cap=5)
    code = (
        "CREATE TEMP TABLE nums (n int, label text) ON COMMIT DROP; "
        "INSERT INTO nums SELECT g, 'n' || g FROM generate_series(1, 8) g; "
        "SELECT n, label FROM nums WHERE n > :low ORDER BY n"
    )
    capped = runner.run("db", code, {"low": 1}, CancelHandle())
    assert capped.truncated and capped.table.column("n").to_pylist() == [2, 3, 4, 5, 6]
    assert capped.types == ["int64", "string"]
    empty = runner.run("db", "SELECT 1 AS one, 'x' AS two WHERE false", None, CancelHandle())
    assert empty.table.column_names == ["one", "two"] and empty.table.num_rows == 0
    assert not empty.truncated
    runner.dispose()


@pytest.mark.postgres
def test_each_statement_times_out_on_its_own_deadline(postgres_url: str) -> None:
    """One watchdog serves every query: a short timeout is kept while a longer one waits,
    and a query that finished in time is never cancelled afterwards."""
    slow = runner_for(postgres_url, name="slow", timeout_s=30)
    quick = runner_for(postgres_url, name="quick", timeout_s=0.5)
    slow_handle = CancelHandle()
    slow_results: list[object] = []
    thread = threading.Thread(
        target=lambda: slow_results.append(
            slow.run("slow", "SELECT pg_sleep(1.5) AS s", None, slow_handle)
        )
    )
    thread.start()
    time.sleep(0.2)
    started = time.perf_counter()
    with pytest.raises(StatementCancelled) as caught:
        quick.run("quick", "SELECT pg_sleep(20)", None, CancelHandle())
    assert caught.value.timed_out and time.perf_counter() - started < 5
    thread.join()
    assert slow_results and not slow_handle.requested
    finished = CancelHandle()
    quick.run("quick", "SELECT 1 AS one", None, finished)
    time.sleep(0.8)
    assert not finished.requested
    slow.dispose()
    quick.dispose()


def _session_id(runner: SqlRunner) -> int:
    """The server's id of the pooled connection that the next query gets."""
    postgres = runner.engine("db").dialect.name == "postgresql"
    function = "pg_backend_pid()" if postgres else "CONNECTION_ID()"
    result = runner.run("db", f"SELECT {function} AS id", None, CancelHandle())
    return int(result.table.column("id")[0].as_py())


@pytest.mark.postgres
def test_postgres_connections_the_server_closed_are_replaced(postgres_url: str) -> None:
    """Without a ping per query, a pooled connection whose backend is gone (as after a
    server restart) is still never handed to a query; one killed mid-query fails it."""
    runner = runner_for(postgres_url, timeout_s=30)
    admin = sa.create_engine(postgres_url)
    with admin.connect() as conn:
        conn.exec_driver_sql(f"SELECT pg_terminate_backend({_session_id(runner)}, 5000)")
    assert _session_id(runner) > 0

    pid = _session_id(runner)
    errors: list[BaseException] = []

    def sleep() -> None:
        try:
            runner.run("db", "SELECT pg_sleep(20)", None, CancelHandle())
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=sleep)
    thread.start()
    with admin.connect() as conn:
        for _ in range(100):
            active = f"SELECT count(*) FROM pg_stat_activity WHERE pid = {pid} AND state = 'active'"
            if conn.exec_driver_sql(active).scalar():
                break
            time.sleep(0.05)
        conn.exec_driver_sql(f"SELECT pg_terminate_backend({pid}, 5000)")
    thread.join(timeout=10)
    assert len(errors) == 1 and isinstance(errors[0], sa.exc.DBAPIError)
    assert _session_id(runner) != pid
    runner.dispose()
    admin.dispose()


@pytest.mark.mariadb
def test_mariadb_streamed_result_keeps_cap_params_and_the_transaction(mariadb_url: str) -> None:
    """The last statement is read through an unbuffered cursor: cap, bind parameters,
    zero rows, ``SELECT ... INTO``, DML and the cell's earlier statements all still hold,
    and the capped result is read to its end so the connection is reused as it is."""
    runner = runner_for(mariadb_url, row_cap=5)
    session = _session_id(runner)
    code = (
        "CREATE TABLE streamed_numbers (n int, label text); "
        "INSERT INTO streamed_numbers SELECT seq, CONCAT('n', seq) FROM seq_1_to_10000; "
        "SELECT n, label FROM streamed_numbers WHERE n > :low ORDER BY n"
    )
    capped = runner.run("db", code, {"low": 1}, CancelHandle())
    assert capped.truncated and capped.table.column("n").to_pylist() == [2, 3, 4, 5, 6]
    assert capped.types == ["int64", "string"]
    assert _session_id(runner) == session
    updated = runner.run(
        "db", "UPDATE streamed_numbers SET label = 'x' WHERE n <= 3", None, CancelHandle()
    )
    assert updated.rows_affected == 3
    into = "SELECT count(*) INTO @total FROM streamed_numbers"
    assert runner.run("db", into, None, CancelHandle()).table.num_rows == 0
    total = runner.run("db", f"{into}; SELECT @total AS total", None, CancelHandle())
    assert total.table.column("total").to_pylist() == [10000] and not total.truncated
    empty = runner.run(
        "db", "SELECT 1 AS one, 'x' AS two FROM DUAL WHERE false", None, CancelHandle()
    )
    assert empty.table.column_names == ["one", "two"] and empty.table.num_rows == 0
    assert _session_id(runner) == session
    runner.dispose()


@pytest.mark.mariadb
def test_mariadb_cancel_while_rows_stream(mariadb_url: str) -> None:
    """``KILL QUERY`` ends an unbuffered result being read: the runner raises
    ``StatementCancelled`` and the connection is dropped, not pooled."""
    runner = runner_for(mariadb_url, row_cap=10**6, timeout_s=120)
    session = _session_id(runner)
    total = 20 * FETCH_BATCH
    slow = (
        f"SELECT seq FROM seq_1_to_{total} WHERE SLEEP(IF(MOD(seq, {FETCH_BATCH}) = 0, 0.5, 0)) = 0"
    )
    handle = CancelHandle()

    def cancel_once_rows_arrive() -> None:
        for _ in range(3000):
            if handle.rows_fetched:
                break
            time.sleep(0.01)
        handle.cancel()

    threading.Thread(target=cancel_once_rows_arrive, daemon=True).start()
    with pytest.raises(StatementCancelled) as caught:
        runner.run("db", slow, None, handle)
    assert not caught.value.timed_out
    assert 0 < handle.rows_fetched < total
    assert _session_id(runner) != session
    runner.dispose()


@pytest.mark.mariadb
def test_mariadb_streamed_values_match_the_buffered_read(
    mariadb_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Decimals, dates, times, text, binary and NULLs make the same Arrow table whether
    the driver buffers the result or streams it."""
    runner = runner_for(mariadb_url)
    with runner.engine("db").begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE typed_values (id int, amount decimal(12, 2), ratio double, day date,"
            " stamp datetime(6), span time, note text, data blob)"
        )
        conn.exec_driver_sql(
            "INSERT INTO typed_values VALUES (1, 1234.50, 0.25, '2024-02-29',"
            " '2024-02-29 13:05:07.123456', '-01:02:03', 'Zürich ☃', x'ff006f6b80'),"
            " (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL)"
        )
    code = "SELECT * FROM typed_values ORDER BY id"
    streamed = runner.run("db", code, None, CancelHandle())
    monkeypatch.setattr(sql, "STREAMING_BACKENDS", {})
    buffered = runner.run("db", code, None, CancelHandle())
    runner.dispose()
    assert streamed.types == buffered.types
    assert streamed.table.equals(buffered.table)
    assert streamed.table.column("amount").to_pylist() == [Decimal("1234.50"), None]
    assert streamed.table.column("data").to_pylist() == ["\ufffd\x00ok\ufffd", None]
    assert streamed.table.column("note").to_pylist() == ["Zürich ☃", None]


class CancelOnFirstRows(CancelHandle):
    """Asks to cancel as soon as rows arrive: after the cell's last statement has run,
    before its transaction commits."""

    @property
    def rows_fetched(self) -> int:
        return self._rows

    @rows_fetched.setter
    def rows_fetched(self, rows: int) -> None:
        self._rows = rows
        if rows:
            self.cancel()


@pytest.mark.postgres
def test_a_cancel_after_the_last_statement_rolls_the_cell_back(postgres_url: str) -> None:
    runner = runner_for(postgres_url)
    runner.run("db", "CREATE TABLE audit_probe (n int)", None, CancelHandle())
    with pytest.raises(StatementCancelled):
        runner.run(
            "db", "INSERT INTO audit_probe VALUES (1); SELECT 1 AS one", None, CancelOnFirstRows()
        )
    count = runner.run("db", "SELECT count(*) AS n FROM audit_probe", None, CancelHandle())
    assert count.table.column("n").to_pylist() == [0]
    runner.dispose()


@pytest.mark.mariadb
def test_mariadb_error_past_the_cap_keeps_the_rows_and_stays_out_of_logs(
    mariadb_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """After an earlier statement the rows past the cap are read to end the result (the
    protocol cannot stop it, and the earlier statement must still be committed); an error
    there leaves the capped rows, and its driver message, which can quote a value, is
    logged by nobody."""
    runner = runner_for(mariadb_url, row_cap=100)
    failing = "IF(seq = 5000, (SELECT 1 UNION SELECT 2), seq)"
    code = f"SET @first = 1; SELECT seq, {failing} AS v FROM seq_1_to_10000"
    with caplog.at_level(logging.DEBUG):
        capped = runner.run("db", code, None, CancelHandle())
    assert capped.truncated and capped.table.num_rows == 100
    assert "Subquery returns" not in caplog.text
    assert "OperationalError" in caplog.text
    again = runner.run("db", "SELECT 1 AS one", None, CancelHandle())
    assert again.table.column("one").to_pylist() == [1]
    runner.dispose()


@pytest.mark.postgres
def test_errors_sqlalchemy_logs_itself_keep_their_type_not_their_text(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """What the pool logs when closing or resetting a connection fails (no caller sees
    it) names the error's type only: driver messages can quote values."""
    runner = runner_for(postgres_url)
    engine = runner.engine("db")
    email = fake.email()
    with caplog.at_level(logging.DEBUG):
        try:
            raise sa.exc.OperationalError("ROLLBACK", None, Exception(f"Key (email)=({email})"))
        except sa.exc.OperationalError:
            engine.pool.logger.error("Exception during reset or similar", exc_info=True)
    assert "Exception during reset or similar (OperationalError)" in caplog.text
    assert email not in caplog.text
    runner.dispose()


@pytest.mark.mariadb
def test_mariadb_lone_query_cut_by_the_cap_is_killed_on_the_server(mariadb_url: str) -> None:
    """A capped cell of one query does not leave the server sending millions of rows
    nobody reads: the query is killed and its connection dropped."""
    runner = runner_for(mariadb_url, row_cap=100)
    session = "SELECT CONNECTION_ID() AS id"
    before = runner.run("db", session, None, CancelHandle()).table.column("id").to_pylist()
    big = "SELECT seq AS n FROM seq_1_to_50000000"
    capped = runner.run("db", big, None, CancelHandle())
    assert capped.truncated and capped.table.column("n").to_pylist() == list(range(1, 101))
    after = runner.run("db", session, None, CancelHandle()).table.column("id").to_pylist()
    assert after != before, "the cut connection is not handed out again"
    running = runner.run(
        "db",
        "SELECT count(*) AS n FROM information_schema.PROCESSLIST WHERE INFO = :big",
        {"big": big},
        CancelHandle(),
    )
    assert running.table.column("n").to_pylist() == [0]
    runner.dispose()


BODY_CHARS = 10_000
ROW_BYTES = 2 * sql.FIXED_VALUE_BYTES + BODY_CHARS
"""A row of ``n`` and a body of ``BODY_CHARS`` characters, as the byte cap counts it."""


def large_rows(backend: str, rows: int) -> str:
    if backend == "postgres":
        return f"SELECT g AS n, repeat('x', {BODY_CHARS}) AS body FROM generate_series(1, {rows}) g"
    if backend == "mariadb":
        return f"SELECT seq AS n, repeat('x', {BODY_CHARS}) AS body FROM seq_1_to_{rows}"
    return (
        f"SELECT range + 1 AS n, repeat('x', {BODY_CHARS}) AS body FROM range({rows})"
        if backend == "duckdb"
        else f"WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < {rows}) "
        f"SELECT n, printf('%.{BODY_CHARS}c', 'x') AS body FROM g"
    )


@pytest.mark.parametrize(
    "backend",
    [
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("mariadb", marks=pytest.mark.mariadb),
        "sqlite",
        "duckdb",
    ],
)
def test_byte_cap_keeps_the_rows_that_fit_and_says_which_cap_cut(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Large values stop a result at ``result_cap_bytes``, however few rows that is: the
    row cap alone would let 10,000 rows of any size through."""
    url = (
        request.getfixturevalue(f"{backend}_url")
        if backend in ("postgres", "mariadb")
        else f"{backend}:///{tmp_path / 'data.db'}"
    )
    by_bytes, by_rows, uncut = (
        runner_for(url, row_cap=10_000, result_cap_bytes=ROW_BYTES * 9 + ROW_BYTES // 2),
        runner_for(url, row_cap=5),
        runner_for(url),
    )
    capped = by_bytes.run("db", large_rows(backend, 3000), None, CancelHandle())
    assert capped.truncated and capped.truncated_by == "result_cap_bytes"
    assert capped.table.column("n").to_pylist() == list(range(1, 10))
    assert set(capped.table.column("body").to_pylist()) == {"x" * BODY_CHARS}
    rows = by_rows.run("db", large_rows(backend, 20), None, CancelHandle())
    assert rows.truncated and rows.truncated_by == "row_cap"
    whole = uncut.run("db", large_rows(backend, 20), None, CancelHandle())
    assert not whole.truncated and whole.truncated_by is None and whole.table.num_rows == 20
    for runner in (by_bytes, by_rows, uncut):
        runner.dispose()


@pytest.mark.postgres
def test_postgres_batches_after_the_first_ask_for_the_bytes_left(postgres_url: str) -> None:
    """Once a batch shows how large rows are, the next asks for little more than what
    still fits: the server computes (and sends) some 500 rows past the first batch, not
    another whole batch of large rows."""
    runner = runner_for(postgres_url, row_cap=100_000, result_cap_bytes=ROW_BYTES * 2500)
    sequence = f"nbwarden_rows_{secrets.token_hex(4)}"
    runner.run("db", f"CREATE SEQUENCE {sequence}", None, CancelHandle())
    body = f"repeat('x', {BODY_CHARS - 1}) || (nextval('{sequence}') % 10)::text"
    query = f"SELECT g AS n, {body} AS body FROM generate_series(1, 10000) g"
    capped = runner.run("db", query, None, CancelHandle())
    assert capped.truncated_by == "result_cap_bytes" and capped.table.num_rows == 2500
    computed = runner.run("db", f"SELECT last_value FROM {sequence}", None, CancelHandle())
    assert FETCH_BATCH + 500 <= computed.table.column("last_value")[0].as_py() <= FETCH_BATCH + 502
    runner.run("db", f"DROP SEQUENCE {sequence}", None, CancelHandle())
    runner.dispose()


def test_byte_cap_counts_text_and_binary_lengths_and_a_fixed_size_for_the_rest(
    tmp_path: Path,
) -> None:
    """Every value (NULL included) counts ``FIXED_VALUE_BYTES``, text its characters and
    binary its bytes on top, also in a column of mixed types; a first row over the cap
    leaves no rows, with the columns still named."""
    url = f"sqlite:///{tmp_path / 'data.db'}"
    row = "SELECT 1 AS n, printf('%.100c', 'a') AS text, zeroblob(50) AS blob, NULL AS x"
    three = f"{row} UNION ALL {row} UNION ALL {row}"
    row_bytes = 4 * sql.FIXED_VALUE_BYTES + 100 + 50
    two = runner_for(url, result_cap_bytes=2 * row_bytes + row_bytes // 2)
    assert two.run("db", three, None, CancelHandle()).table.num_rows == 2
    exact = runner_for(url, result_cap_bytes=3 * row_bytes).run("db", three, None, CancelHandle())
    assert exact.table.num_rows == 3 and not exact.truncated
    empty = runner_for(url, result_cap_bytes=row_bytes - 1).run("db", three, None, CancelHandle())
    assert empty.truncated_by == "result_cap_bytes" and empty.table.num_rows == 0
    assert empty.table.column_names == ["n", "text", "blob", "x"]
    mixed = "SELECT 7 AS v UNION ALL SELECT printf('%.300c', 'z') UNION ALL SELECT 8"
    cap = 2 * sql.FIXED_VALUE_BYTES + 300
    assert runner_for(url, result_cap_bytes=cap).run("db", mixed, None, CancelHandle()).table[
        "v"
    ].to_pylist() == ["7", "z" * 300]


@pytest.mark.postgres
def test_postgres_numeric_counts_its_digits(postgres_url: str) -> None:
    """A ``numeric`` may hold thousands of digits (too many for Arrow: they come as text):
    each counts toward the byte cap."""
    row_bytes = sql.FIXED_VALUE_BYTES + 1000
    runner = runner_for(postgres_url, result_cap_bytes=3 * row_bytes + row_bytes // 2)
    query = "SELECT (repeat('9', 999) || g)::numeric AS n FROM generate_series(1, 9) g"
    capped = runner.run("db", query, None, CancelHandle())
    runner.dispose()
    assert capped.truncated_by == "result_cap_bytes"
    assert capped.table.column("n").to_pylist() == ["9" * 999 + str(g) for g in (1, 2, 3)]


@pytest.mark.postgres
def test_postgres_json_counts_its_length_as_text(postgres_url: str) -> None:
    """psycopg gives JSON as Python objects: they count as long as their JSON text."""
    document_bytes = len(json.dumps({"notes": "y" * 90}))
    row_bytes = 2 * sql.FIXED_VALUE_BYTES + document_bytes
    runner = runner_for(postgres_url, result_cap_bytes=3 * row_bytes + row_bytes // 2)
    query = (
        "SELECT g AS n, jsonb_build_object('notes', repeat('y', 90)) AS doc "
        "FROM generate_series(1, 10) g"
    )
    capped = runner.run("db", query, None, CancelHandle())
    assert capped.truncated_by == "result_cap_bytes"
    assert capped.table.column("n").to_pylist() == [1, 2, 3]
    runner.dispose()


@pytest.mark.timeout(60)
def test_watchdog_times_out_a_shorter_deadline_set_after_a_longer_one() -> None:
    """The shared timeout thread is woken only when a new deadline comes first; a
    deadline that ends first still fires, and forgotten ones leave nothing behind."""
    watchdog = sql._Watchdog()
    slow, quick, later = sql.CancelHandle(), sql.CancelHandle(), sql.CancelHandle()
    slow_ticket = watchdog.watch(3600, slow)
    watchdog.watch(0.05, quick)
    later_ticket = watchdog.watch(3600, later)
    while not quick.requested:
        time.sleep(0.01)
    assert quick.timed_out
    assert not slow.requested and not later.requested
    watchdog.forget(slow_ticket)
    watchdog.forget(later_ticket)
    assert watchdog._deadlines == []
