"""``nbwarden check`` through the real console-script dispatcher, in a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

# Drive nbwarden.cli.main with only this command registered, so the test does not depend
# on the other packages' command modules.
DRIVER = (
    "import sys, nbwarden.cli as cli; cli.COMMANDS = {'check': 'nbwarden.policy.cli'}; "
    "raise SystemExit(cli.main(sys.argv[1:]))"
)


def run_check(args: list[str], stdin: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", DRIVER, "check", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
        env={"PATH": "/usr/bin:/bin"},
    )


def test_single_sql_verdict_and_exit_codes(tmp_path: Path) -> None:
    blocked = run_check([], "DELETE FROM orders", tmp_path)
    assert blocked.returncode == 3
    verdict = json.loads(blocked.stdout)
    assert verdict["action"] == "block"
    assert "sql.delete_without_where" in verdict["rules"]
    allowed = run_check(["--dialect", "mysql"], "SELECT id FROM t WHERE id = 1", tmp_path)
    assert allowed.returncode == 0
    assert json.loads(allowed.stdout)["dialect"] == "mysql"
    flagged = run_check(["--kind", "shell"], "rm notes.txt", tmp_path)
    assert flagged.returncode == 1


def test_jsonl_handles_thousands_of_lines_in_one_process(tmp_path: Path) -> None:
    items = [
        {"kind": "sql", "dialect": "postgres", "code": f"SELECT a FROM t WHERE id = {i}"}
        if i % 3 == 0
        else {"kind": "shell", "code": "rm -rf /data"}
        if i % 3 == 1
        else {"kind": "sql", "dialect": "mysql", "code": "/*!50000 DROP TABLE t */"}
        for i in range(3000)
    ]
    lines = "\n".join(json.dumps(item) for item in items) + "\n"
    result = run_check(["--jsonl"], lines, tmp_path)
    assert result.returncode == 0, result.stderr
    verdicts = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(verdicts) == 3000
    assert [v["action"] for v in verdicts[:3]] == ["allow", "block", "block"]
    assert all({"action", "rules", "reasons"} <= v.keys() for v in verdicts)


def test_jsonl_malformed_lines_fail_closed_without_echoing_the_input(tmp_path: Path) -> None:
    secret = "jane.doe@example.com"
    lines = f'{{"code": 1}}\nnot json {secret}\n{{"kind": "sql", "dialect": "x", "code": "1"}}\n'
    result = run_check(["--jsonl"], lines, tmp_path)
    assert result.returncode == 1
    verdicts = [json.loads(line) for line in result.stdout.splitlines()]
    assert [v["action"] for v in verdicts] == ["block", "block", "block"]
    assert secret not in result.stdout + result.stderr


def test_uses_the_config_rule_pack_when_one_is_found(tmp_path: Path) -> None:
    (tmp_path / "nbwarden.toml").write_text(
        '[[policy.overrides]]\nrule = "sql.unbounded_read"\naction = "block"\n'
    )
    result = run_check([], "SELECT * FROM customers", tmp_path)
    assert json.loads(result.stdout)["action"] == "block"
    missing = run_check(["--config", str(tmp_path / "none.toml")], "SELECT 1", tmp_path)
    assert missing.returncode == 2
    assert "Traceback" not in missing.stderr
