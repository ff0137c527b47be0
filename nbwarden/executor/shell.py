"""Shell cells on registered targets: a restricted local subprocess, or SSH.

The local target runs ``bash -c`` with a clean environment (PATH, LANG and HOME only:
no credential of the gateway leaks into the child), in the target's working
directory, in its own process group so a timeout or cancel kills every child.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from nbwarden.config import ShellTargetConfig
from nbwarden.executor.models import ExecutionError
from nbwarden.executor.sql import CancelHandle

CLEAN_PATH = "/usr/local/bin:/usr/bin:/bin"
READ_CHUNK = 65536


@dataclass(frozen=True)
class ShellResult:
    stdout: str
    stderr: str
    exit_code: int | None
    truncated: bool
    timed_out: bool
    cancelled: bool
    elapsed_s: float


class ShellTargetError(ExecutionError):
    """The target cannot be reached or refused the connection (message is safe to show)."""


class OutputBuffer:
    """Collects stdout and stderr up to one shared byte cap."""

    def __init__(self, cap: int, on_full: Any) -> None:
        self.cap = cap
        self.on_full = on_full
        self.parts: dict[str, bytearray] = {"stdout": bytearray(), "stderr": bytearray()}
        self.truncated = False
        self._lock = threading.Lock()

    def add(self, stream: str, chunk: bytes) -> bool:
        """Keep what fits; return False once the cap is reached."""
        with self._lock:
            room = self.cap - sum(len(p) for p in self.parts.values())
            self.parts[stream] += chunk[: max(room, 0)]
            if len(chunk) > room:
                self.truncated = True
        if self.truncated:
            self.on_full()
            return False
        return True

    def text(self, stream: str) -> str:
        return bytes(self.parts[stream]).decode("utf-8", errors="replace")

    def result(self, exit_code: int | None, handle: CancelHandle, started: float) -> ShellResult:
        return ShellResult(
            stdout=self.text("stdout"),
            stderr=self.text("stderr"),
            exit_code=exit_code,
            truncated=self.truncated,
            timed_out=handle.timed_out,
            cancelled=handle.requested and not handle.timed_out,
            elapsed_s=time.perf_counter() - started,
        )


def run_local(target: ShellTargetConfig, code: str, handle: CancelHandle) -> ShellResult:
    workdir = target.workdir or Path(tempfile.gettempdir()) / f"nbwarden-shell-{target.name}"
    workdir.mkdir(parents=True, exist_ok=True)
    env = {"PATH": CLEAN_PATH, "LANG": "C.UTF-8", "HOME": str(workdir)}
    started = time.perf_counter()
    process = subprocess.Popen(
        ["/bin/bash", "-c", code],
        cwd=workdir,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )

    def kill_group() -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)

    output = OutputBuffer(target.output_cap_bytes, kill_group)
    readers = [
        threading.Thread(target=_drain, args=(stream, name, output), daemon=True)
        for name, stream in (("stdout", process.stdout), ("stderr", process.stderr))
    ]
    for reader in readers:
        reader.start()
    handle.attach(kill_group)
    try:
        exit_code = process.wait(timeout=target.timeout_s)
    except subprocess.TimeoutExpired:
        handle.cancel(timed_out=True)
        exit_code = process.wait()
    finally:
        handle.detach()
    for reader in readers:
        reader.join(timeout=5)
    return output.result(exit_code, handle, started)


def _drain(stream: IO[bytes] | None, name: str, output: OutputBuffer) -> None:
    if stream is None:
        return
    with stream:
        while chunk := stream.read1(READ_CHUNK):  # type: ignore[attr-defined]
            if not output.add(name, chunk):
                break


def run_ssh(target: ShellTargetConfig, code: str, handle: CancelHandle) -> ShellResult:
    """Run on an SSH target with the configured key; unknown host keys are refused."""
    import paramiko

    client = paramiko.SSHClient()
    if target.known_hosts is not None:
        client.load_host_keys(str(target.known_hosts))
    else:
        client.load_system_host_keys()
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    started = time.perf_counter()
    try:
        client.connect(
            hostname=target.host or "",
            port=target.port,
            username=target.user,
            key_filename=str(target.key_file) if target.key_file else None,
            timeout=min(target.timeout_s, 15.0),
            allow_agent=False,
            look_for_keys=False,
        )
    except paramiko.BadHostKeyException:
        client.close()
        raise ShellTargetError(f"shell target {target.name}: host key mismatch") from None
    except paramiko.AuthenticationException:
        client.close()
        raise ShellTargetError(f"shell target {target.name}: authentication failed") from None
    except paramiko.SSHException as exc:
        client.close()
        reason = "unknown host key" if "not found in known_hosts" in str(exc) else "ssh error"
        raise ShellTargetError(f"shell target {target.name}: {reason}") from None
    except OSError:
        client.close()
        raise ShellTargetError(f"shell target {target.name} is unreachable") from None
    try:
        return _ssh_exec(client, target, code, handle, started)
    finally:
        client.close()


def _pump_ssh(channel: Any, output: OutputBuffer) -> bool:
    """Move what arrived into ``output``; False once the command ended and all is read."""
    got = False
    if channel.recv_ready():
        got = True
        if not output.add("stdout", channel.recv(READ_CHUNK)):
            return False
    if channel.recv_stderr_ready():
        got = True
        if not output.add("stderr", channel.recv_stderr(READ_CHUNK)):
            return False
    if got:
        return True
    if channel.exit_status_ready() or channel.closed:
        return bool(channel.recv_ready() or channel.recv_stderr_ready())
    time.sleep(0.01)
    return True


def _ssh_exec(
    client: Any, target: ShellTargetConfig, code: str, handle: CancelHandle, started: float
) -> ShellResult:
    channel = client.get_transport().open_session()
    handle.attach(channel.close)
    output = OutputBuffer(target.output_cap_bytes, channel.close)
    deadline = started + target.timeout_s
    try:
        channel.exec_command(code)
        while _pump_ssh(channel, output):
            if time.perf_counter() > deadline:
                handle.cancel(timed_out=True)
                break
            if handle.requested:
                break
        exit_code = channel.recv_exit_status() if channel.exit_status_ready() else None
    finally:
        handle.detach()
        channel.close()
    return output.result(exit_code, handle, started)
