"""``nbwarden run`` end to end: real kernel, embedded gateway, PostgreSQL, nbclient.

A notebook with Python, SQL (with a ``:name`` bind parameter), shell, a flagged and a
blocked cell runs headless. The flagged cell waits until an approver approves it from
another process; the saved notebook holds only masked outputs and links each governed
cell to its provenance record; the DSAR for a subject returned by that cell lists it.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
import sqlalchemy as sa
from faker import Faker

from tests.kernel.kernelspecs import existing_kernel_user, runnable_kernelspec

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

NBWARDEN = [sys.executable, "-m", "nbwarden"]


@pytest.fixture
def customers(postgres_url: str) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A table of synthetic customers in the session's scratch database."""
    fake = Faker()
    table = f"customers_{secrets.token_hex(3)}"
    rows = [
        {
            "id": i,
            "name": fake.name(),
            "email": fake.unique.email(),
            "phone": fake.phone_number(),
            "iban": fake.iban(),
            "city": fake.city(),
        }
        for i in range(40)
    ]
    engine = sa.create_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                f"CREATE TABLE {table} (id int primary key, name text, email text, "
                "phone text, iban text, city text)"
            )
        )
        conn.execute(
            sa.text(f"INSERT INTO {table} VALUES (:id, :name, :email, :phone, :iban, :city)"),
            rows,
        )
    try:
        yield table, rows
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP TABLE {table}"))
        engine.dispose()


@pytest.fixture
def workspace(tmp_path: Path, postgres_url: str) -> Path:
    (tmp_path / "nbwarden.toml").write_text(
        f"""
[audit]
path = "audit.duckdb"
key_file = "audit.key"

[connections.prod]
url = "{postgres_url}"

[shell.local]
kind = "local"

[roles]
analysts = ["alice"]
approvers = ["dana"]
auditors = ["audrey"]
""",
        encoding="utf-8",
    )
    return tmp_path


@pytest.fixture
def kernel_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("JUPYTER_PATH", os.environ["JUPYTER_PATH"])
    return runnable_kernelspec(tmp_path, existing_kernel_user())


def write_notebook(path: Path, cells: list[tuple[str, list[str]]]) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(source, metadata={"tags": tags}) for source, tags in cells
    ]
    nbformat.write(nb, path)


def start_run(workspace: Path, kernel: str, *extra: str) -> subprocess.Popen[str]:
    command = [*NBWARDEN, "run", "nb.ipynb", "-o", "out.ipynb", "--config", "nbwarden.toml"]
    command += ["--user", "alice", "--purpose", "churn study", "--kernel", kernel, *extra]
    return subprocess.Popen(
        command, cwd=workspace, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def cli(workspace: Path, *args: str) -> str:
    done = subprocess.run(
        [*NBWARDEN, *args, "--config", "nbwarden.toml"],
        cwd=workspace,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def wait_for_pending(workspace: Path, run: subprocess.Popen[str]) -> dict[str, Any]:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        assert run.poll() is None, run.communicate()[1]
        if (workspace / "audit.duckdb.gateway.json").exists():
            listing = cli(
                workspace, "approvals", "list", "--state", "pending", "--as", "dana", "--json"
            )
            pending = [json.loads(line) for line in listing.splitlines() if line.strip()]
            if pending:
                return pending[0]
        time.sleep(1)
    raise AssertionError("the flagged cell never asked for approval")


def outputs_text(nb: Any) -> str:
    return json.dumps([cell.get("outputs", []) for cell in nb.cells])


def test_notebook_runs_masked_waits_for_approval_and_shows_up_in_dsar(
    workspace: Path, customers: tuple[str, list[dict[str, Any]]], kernel_name: str
) -> None:
    table, rows = customers
    subject = rows[30]
    write_notebook(
        workspace / "nb.ipynb",
        [
            ("low = 2\nhigh = 6\nprint(high - low)", []),
            (
                f"%%sql prod << few\nSELECT id, name, email, phone, iban, city FROM {table}\n"
                "WHERE id >= :low AND id < :high ORDER BY id LIMIT 10",
                [],
            ),
            ("print(len(few), list(few.columns))", []),
            (f"n = %sql prod SELECT count(*) AS n FROM {table} WHERE id < :high\nprint(n)", []),
            (f"%%sh local\necho 'contact: {rows[1]['email']}'", []),
            ("%nbwarden status", []),
            ("%purpose churn model review", []),
            (f"%%sql prod\nSELECT * FROM {table}", []),
            (f"%%sql prod\nDROP TABLE {table}", ["raises-exception"]),
        ],
    )
    run = start_run(workspace, kernel_name)
    try:
        request = wait_for_pending(workspace, run)
        assert request["rules"] == ["sql.unbounded_read"]
        cli(
            workspace,
            "approvals",
            "approve",
            request["id"],
            "--as",
            "dana",
            "--basis",
            "legitimate_interests",
            "--justification",
            "churn model review",
        )
        _, stderr = run.communicate(timeout=180)
    finally:
        run.kill()
    assert run.returncode == 0, stderr

    nb = nbformat.read(workspace / "out.ipynb", as_version=4)
    text = outputs_text(nb)
    for row in rows:
        for column in ("name", "email", "phone", "iban"):
            assert row[column] not in text, f"a planted {column} reached the notebook outputs"
    assert "4\n" in nb.cells[0].outputs[0]["text"]
    assert "4 ['id', 'name', 'email', 'phone', 'iban', 'city']" in nb.cells[2].outputs[0]["text"]
    assert "0  6" in nb.cells[3].outputs[-1]["text"]
    assert "contact: " in nb.cells[4].outputs[0]["text"]
    status = nb.cells[5].outputs[0]["text"]
    assert "user: alice (analyst)" in status and "purpose: churn study" in status

    flagged = nb.cells[7]
    summary = next(o for o in flagged.outputs if o.get("metadata", {}).get("nbwarden"))
    assert "40 rows" in summary["data"]["text/plain"]
    assert "approved by dana" in summary["data"]["text/plain"]
    assert "policy flag" in summary["data"]["text/plain"]
    execution_id = flagged.metadata["nbwarden"]["execution_ids"][0]
    assert summary["metadata"]["nbwarden"]["execution_id"] == execution_id

    blocked = nb.cells[8].outputs[-1]
    assert blocked["output_type"] == "error" and blocked["ename"] == "GatewayError"
    assert "blocked by policy" in blocked["evalue"]
    assert "sql." in blocked["evalue"]

    report = json.loads(cli(workspace, "dsar", "--email", subject["email"], "--format", "json"))
    listed = {(entry["execution_id"], entry["cell_id"]) for entry in report}
    assert (execution_id, flagged["id"]) in listed
    entry = next(entry for entry in report if entry["execution_id"] == execution_id)
    assert (entry["user"], entry["purpose"]) == ("alice", "churn model review")
    assert entry["legal_basis"] == "legitimate_interests"


def test_waiting_cells_are_withdrawn_on_approval_timeout_and_on_interrupt(
    workspace: Path, customers: tuple[str, list[dict[str, Any]]], kernel_name: str
) -> None:
    table, _ = customers
    flagged = f"%%sql prod\nSELECT * FROM {table}"
    write_notebook(
        workspace / "nb.ipynb",
        [
            (flagged, ["raises-exception"]),
            ("%env NBWARDEN_APPROVAL_TIMEOUT_S=0", []),
            (flagged, ["raises-exception"]),
        ],
    )
    run = start_run(workspace, kernel_name, "--approval-timeout", "2", "--timeout", "8")
    _, stderr = run.communicate(timeout=180)
    assert run.returncode == 0, stderr
    listing = cli(workspace, "approvals", "list", "--as", "dana", "--json")
    states = [json.loads(line)["state"] for line in listing.splitlines() if line.strip()]
    assert states == ["withdrawn", "withdrawn"]

    nb = nbformat.read(workspace / "out.ipynb", as_version=4)
    timed_out, interrupted = nb.cells[0], nb.cells[2]
    assert "timed out and was withdrawn" in timed_out.outputs[-1]["evalue"]
    assert interrupted.outputs[-1]["ename"] == "KeyboardInterrupt"
    status = next(o for o in interrupted.outputs if o.get("metadata", {}).get("nbwarden"))
    assert status["metadata"]["nbwarden"]["status"] == "withdrawn"
    assert "interrupted: the approval request was withdrawn" in status["data"]["text/plain"]


def test_interrupt_cancels_a_running_statement_on_the_database(
    workspace: Path, kernel_name: str
) -> None:
    write_notebook(
        workspace / "nb.ipynb",
        [
            ("%%sql prod\nSELECT pg_sleep(60) AS slept", ["raises-exception"]),
            ("%%sql prod\nSELECT 1 AS still_working", []),
        ],
    )
    started = time.monotonic()
    run = start_run(workspace, kernel_name, "--timeout", "5")
    _, stderr = run.communicate(timeout=180)
    assert run.returncode == 0, stderr
    assert time.monotonic() - started < 55, "the statement ran on instead of being cancelled"

    nb = nbformat.read(workspace / "out.ipynb", as_version=4)
    assert nb.cells[0].outputs[-1]["ename"] == "KeyboardInterrupt"
    assert "still_working" in json.dumps(nb.cells[1].outputs)
    from nbwarden.config import load_config
    from nbwarden.provenance import ProvenanceStore

    store = ProvenanceStore(load_config(workspace / "nbwarden.toml").audit, read_only=True)
    try:
        records = store.search_executions(user="alice")
    finally:
        store.close()
    statuses = {r["code_masked"].strip(): r["status"] for r in records if r["kind"] == "sql"}
    assert statuses["SELECT pg_sleep(60) AS slept"] == "cancelled"
