"""`nbwarden demo` as its own process, for the test modules that drive a served demo."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from nbwarden.demo.lab import free_port

LOGIN_LINE = re.compile(r"^\s+(\w+)\s+\((\w+)\s*\)\s+(http://\S+)$", re.MULTILINE)


@dataclass
class ServedDemo:
    process: subprocess.Popen[bytes]
    port: int
    text: str
    """What the demo printed up to its login lines."""
    stdout: Path
    stderr: Path

    def logins(self) -> list[tuple[str, str, str]]:
        """(user, role, token) of each login line."""
        return [
            (user, role, url.rsplit("token=", 1)[1])
            for user, role, url in LOGIN_LINE.findall(self.text)
        ]


@contextmanager
def served_demo(
    directory: Path, logs: Path, env: dict[str, str], timeout_s: float
) -> Iterator[ServedDemo]:
    """Serve a 200-row demo from ``directory`` until the block ends (SIGINT, then kill)."""
    port = free_port()
    stdout, stderr = logs / "demo.out", logs / "demo.err"
    command = [sys.executable, "-m", "nbwarden", "demo", "--dir", str(directory)]
    command += ["--rows", "200", "--port", str(port), "--no-browser"]
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(command, stdout=out, stderr=err, env=env)
    try:
        text = _wait_for_logins(process, stdout, stderr, timeout_s)
        yield ServedDemo(process, port, text, stdout, stderr)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()


def _wait_for_logins(
    process: subprocess.Popen[bytes], stdout: Path, stderr: Path, timeout_s: float
) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        text = stdout.read_text(encoding="utf-8")
        if "Ctrl-C stops the demo" in text:
            return text
        if process.poll() is not None:
            tail = stderr.read_text(encoding="utf-8")[-3000:]
            pytest.fail(f"nbwarden demo exited with {process.returncode}:\n{tail}")
        time.sleep(0.5)
    pytest.fail("nbwarden demo did not print its login URLs in time")
