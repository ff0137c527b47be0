"""`nbwarden demo --no-lab`: the demo directory, its config and its guided notebook."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import sqlalchemy as sa

from nbwarden.cli import main
from nbwarden.config import load_config
from nbwarden.demo.files import DB_URL_ENV, NOTEBOOK_NAME, config_text, write_config

ROWS = "200"


def run_demo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nbwarden", "demo", "--no-lab", "--rows", ROWS, *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def run_demo_in_process(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """The same command through the dispatcher, without paying for a new interpreter."""
    code = main(["demo", "--no-lab", "--rows", ROWS, *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def printed_subject(stdout: str) -> str:
    found = re.search(r"customer to look up is (\S+@\S+)", stdout)
    assert found, "the DSAR subject e-mail is printed"
    return found.group(1)


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    directory = tmp_path_factory.mktemp("demo")
    result = run_demo("--dir", str(directory))
    assert result.returncode == 0, result.stderr[-2000:]
    return directory, result.stdout


def test_no_lab_writes_the_files(demo_dir: tuple[Path, str]) -> None:
    directory, _ = demo_dir
    for name in ("nbwarden.toml", NOTEBOOK_NAME, "prod.sqlite", "logs/webshop.log"):
        assert (directory / name).is_file(), name
    key = directory / "audit" / "nbwarden.key"
    assert key.stat().st_mode & 0o777 == 0o600
    for private in ("prod.sqlite", "logs/webshop.log"):
        assert (directory / private).stat().st_mode & 0o077 == 0, private
    for private in ("audit", "logs"):
        assert (directory / private).stat().st_mode & 0o777 == 0o700, private


def test_config_loads_with_the_demo_settings(demo_dir: tuple[Path, str]) -> None:
    directory, _ = demo_dir
    config = load_config(directory / "nbwarden.toml")
    prod = config.connection("prod")
    assert prod.dialect == "sqlite"
    assert prod.url == f"sqlite:///{(directory / 'prod.sqlite').resolve()}"
    local = config.shell_target("local")
    assert local.kind == "local" and local.workdir == directory.resolve()
    assert config.audit.path.parent == directory.resolve() / "audit"
    assert config.policy.require_purpose
    assert config.roles.roles_of("analyst") == {"analyst"}
    assert config.roles.roles_of("dpo") == {"approver"}
    assert config.roles.roles_of("auditor") == {"auditor"}


def test_printed_subject_is_a_customer_but_not_in_the_notebook(
    demo_dir: tuple[Path, str],
) -> None:
    directory, stdout = demo_dir
    email = printed_subject(stdout)
    engine = sa.create_engine(load_config(directory / "nbwarden.toml").connection("prod").url)
    with engine.connect() as conn:
        count = conn.execute(
            sa.text("SELECT count(*) FROM customers WHERE email = :e"), {"e": email}
        ).scalar_one()
    engine.dispose()
    assert count == 1
    assert email not in (directory / NOTEBOOK_NAME).read_text(encoding="utf-8")


def test_the_shell_log_is_about_customers_in_the_database(demo_dir: tuple[Path, str]) -> None:
    directory, _ = demo_dir
    log = (directory / "logs" / "webshop.log").read_text(encoding="utf-8")
    logged = set(re.findall(r"user=(\S+@\S+)", log))
    engine = sa.create_engine(load_config(directory / "nbwarden.toml").connection("prod").url)
    with engine.connect() as conn:
        known = set(conn.execute(sa.text("SELECT email FROM customers")).scalars())
    engine.dispose()
    assert len(logged) > 50
    missing = len(logged - known)
    assert missing == 0


def test_guided_notebook_walks_through_the_flow(demo_dir: tuple[Path, str]) -> None:
    directory, _ = demo_dir
    notebook = nbformat.read(directory / NOTEBOOK_NAME, as_version=4)  # type: ignore[no-untyped-call]
    nbformat.validate(notebook)
    assert notebook.metadata["kernelspec"]["name"] == "nbwarden"
    code = [cell.source for cell in notebook.cells if cell.cell_type == "code"]
    markdown = " ".join(cell.source for cell in notebook.cells if cell.cell_type == "markdown")
    assert code[0].startswith("%purpose ")
    assert any(c.startswith("%%sql prod << ") and "JOIN orders" in c for c in code)
    assert any(c.startswith("%%sql prod\nUPDATE customers") for c in code)
    assert any(c.startswith("%%sql prod\nDROP TABLE") for c in code)
    assert any(c.startswith("%%sh local\n") for c in code)
    for step in ("DPO", "Approvals", "Audit", "DSAR"):
        assert step in markdown


def test_rerun_reuses_the_database_and_keeps_an_edited_notebook(
    demo_dir: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    directory, _ = demo_dir
    notebook = directory / NOTEBOOK_NAME
    edited = json.loads(notebook.read_text(encoding="utf-8"))
    edited["cells"][0]["source"] = "my own notes"
    notebook.write_text(json.dumps(edited), encoding="utf-8")
    code, out, err = run_demo_in_process(capsys, "--dir", str(directory))
    assert code == 0, err
    assert "(reused)" in out
    assert "my own notes" in notebook.read_text(encoding="utf-8")


@pytest.mark.postgres
def test_postgres_url_goes_into_the_config(
    demo_pg_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_demo_in_process(
        capsys, "--dir", str(tmp_path), "--postgres-url", demo_pg_url
    )
    assert code == 0, err
    config = load_config(tmp_path / "nbwarden.toml")
    assert config.connection("prod").url == demo_pg_url
    assert config.connection("prod").dialect == "postgres"
    assert not (tmp_path / "prod.sqlite").exists()


def test_a_password_stays_out_of_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_config(tmp_path, f"${{{DB_URL_ENV}}}")
    text = (tmp_path / "nbwarden.toml").read_text(encoding="utf-8")
    assert "${" + DB_URL_ENV + "}" in text
    monkeypatch.setenv(DB_URL_ENV, "postgresql+psycopg://demo:pw@127.0.0.1/shop")
    prod = load_config(tmp_path / "nbwarden.toml").connection("prod")
    assert prod.url.endswith("@127.0.0.1/shop")
    assert prod.env_names == (DB_URL_ENV,)


def test_paths_with_quotes_stay_valid_toml(tmp_path: Path) -> None:
    odd = tmp_path / 'we"ird\\dir \x7f\U0001f600'
    odd.mkdir()
    url = f"sqlite:///{odd}/prod.sqlite"
    (odd / "nbwarden.toml").write_text(config_text(url), "utf-8")
    assert load_config(odd / "nbwarden.toml").connection("prod").url == url


def test_bad_rows_are_refused_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["demo", "--no-lab", "--rows", "0", "--dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code != 0
    assert "Traceback" not in err
    assert "--rows" in err


def test_unreachable_postgres_is_a_clear_error_without_the_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = "postgresql+psycopg://demo:s3cret-pw@127.0.0.1:1/shop"
    code, out, err = run_demo_in_process(capsys, "--dir", str(tmp_path), "--postgres-url", url)
    assert code == 1
    assert "s3cret-pw" not in out + err
    assert err.startswith("nbwarden demo: cannot use the demo database")


def test_a_port_out_of_range_is_refused_before_anything_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["demo", "--rows", "20", "--port", "70000", "--no-browser", "--dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 1
    assert err.strip() == "nbwarden demo: --port 70000 is not a TCP port (1-65535)"
    assert not (tmp_path / ".nbwarden-demo").exists()


def test_each_guided_cell_gets_the_verdict_its_text_promises(
    demo_dir: tuple[Path, str],
) -> None:
    """The notebook says: queries pass, the UPDATE waits, the DROP is blocked, the shell passes."""
    from nbwarden.policy import PolicyEngine

    directory, _ = demo_dir
    config = load_config(directory / "nbwarden.toml")
    engine = PolicyEngine.from_config(config.policy)
    notebook = nbformat.read(directory / NOTEBOOK_NAME, as_version=4)  # type: ignore[no-untyped-call]
    purpose = next(c.source for c in notebook.cells if c.source.startswith("%purpose "))[9:]
    actions: list[tuple[str, str]] = []
    for cell in notebook.cells:
        magic, _, code = cell.source.partition("\n")
        scope = {"role": "analyst", "purpose": purpose}
        if magic.startswith("%%sql prod"):
            verdict = engine.check_sql(code, "sqlite", connection="prod", **scope)
        elif magic == "%%sh local":
            verdict = engine.check_shell(code, target="local", **scope)
        else:
            continue
        actions.append((code.split()[0], verdict.action))
    assert actions == [
        ("SELECT", "allow"),
        ("SELECT", "allow"),
        ("UPDATE", "flag"),
        ("DROP", "block"),
        ("tail", "allow"),
    ]
    unpurposed = engine.check_sql("SELECT 1", "sqlite", connection="prod", role="analyst")
    assert unpurposed.action == "flag"
