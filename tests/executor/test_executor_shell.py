"""Shell targets: a restricted local subprocess, and SSH failing closed."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from nbwarden.config import ShellTargetConfig
from nbwarden.executor.shell import ShellTargetError, run_local, run_ssh
from nbwarden.executor.sql import CancelHandle


def local_target(tmp_path: Path, **options: float) -> ShellTargetConfig:
    return ShellTargetConfig(
        name="local",
        workdir=tmp_path / "work",
        timeout_s=float(options.get("timeout_s", 10)),
        output_cap_bytes=int(options.get("cap", 10_000)),
    )


def is_running(pid: int) -> bool:
    """True unless the process is gone or a zombie (killed, not yet reaped by init)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_clean_environment_and_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PGPASSWORD", "do-not-leak")
    target = local_target(tmp_path)
    result = run_local(target, "env | sort; pwd; echo oops >&2; exit 3", CancelHandle())
    names = {line.split("=", 1)[0] for line in result.stdout.splitlines() if "=" in line}
    assert names <= {"HOME", "LANG", "PATH", "PWD", "SHLVL", "_", "OLDPWD"}
    assert "do-not-leak" not in result.stdout
    assert str(tmp_path / "work") in result.stdout
    assert result.stderr == "oops\n" and result.exit_code == 3


def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    target = local_target(tmp_path, timeout_s=0.5)
    marker = tmp_path / "work" / "child.pid"
    started = time.perf_counter()
    result = run_local(target, f"sleep 30 & echo $! > {marker}; wait", CancelHandle())
    assert result.timed_out and time.perf_counter() - started < 10
    child = int(marker.read_text())
    time.sleep(0.2)
    assert not is_running(child)


def test_cancel_stops_the_command(tmp_path: Path) -> None:
    handle = CancelHandle()
    threading.Timer(0.3, handle.cancel).start()
    result = run_local(local_target(tmp_path), "sleep 30", handle)
    assert result.cancelled and not result.timed_out


def test_output_cap_truncates_and_stops_a_flood(tmp_path: Path) -> None:
    started = time.perf_counter()
    result = run_local(local_target(tmp_path, cap=1000), "yes nbwarden", CancelHandle())
    assert result.truncated and len(result.stdout.encode()) <= 1000
    assert time.perf_counter() - started < 5


def test_non_utf8_output_is_replaced_not_raised(tmp_path: Path) -> None:
    result = run_local(local_target(tmp_path), r"printf 'ok\xff\xfe'", CancelHandle())
    assert result.stdout == "ok\ufffd\ufffd"


def test_ssh_target_that_is_down_gives_a_clear_error(tmp_path: Path) -> None:
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text("")
    target = ShellTargetConfig(
        name="batch",
        kind="ssh",
        host="127.0.0.1",
        port=1,
        user="svc",
        known_hosts=known_hosts,
        timeout_s=5,
    )
    with pytest.raises(ShellTargetError, match="batch is unreachable"):
        run_ssh(target, "uptime", CancelHandle())
