"""The ssh target against a real SSH server (paramiko's server side, on loopback)."""

from __future__ import annotations

import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paramiko
import pytest

from nbwarden.config import ShellTargetConfig
from nbwarden.executor.shell import ShellTargetError, run_ssh
from nbwarden.executor.sql import CancelHandle


class CommandServer(paramiko.ServerInterface):
    """Accepts one client key and runs exec requests with bash on this machine."""

    def __init__(self, client_key: paramiko.PKey) -> None:
        self.client_key = client_key
        self.command: bytes | None = None
        self.ready = threading.Event()

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        if username == "svc" and key == self.client_key:
            return paramiko.AUTH_SUCCESSFUL
        return paramiko.AUTH_FAILED

    def get_allowed_auths(self, username: str) -> str:
        return "publickey"

    def check_channel_request(self, kind: str, chanid: int) -> int:
        return (
            paramiko.OPEN_SUCCEEDED
            if kind == "session"
            else paramiko.OPEN_FAILED_UNKNOWN_CHANNEL_TYPE
        )

    def check_channel_exec_request(self, channel: Any, command: bytes) -> bool:
        self.command = command
        self.ready.set()
        return True


def serve(listener: socket.socket, host_key: paramiko.PKey, client_key: paramiko.PKey) -> None:
    try:
        conn, _ = listener.accept()
    except OSError:
        return
    transport = paramiko.Transport(conn)
    transport.add_server_key(host_key)
    server = CommandServer(client_key)
    try:
        transport.start_server(server=server)
    except (paramiko.SSHException, EOFError, ConnectionResetError):
        return  # the client hung up during the handshake (an unknown host key)
    channel = transport.accept(10)
    if channel is None or not server.ready.wait(10):
        transport.close()
        return
    done = subprocess.run(["/bin/bash", "-c", server.command or b""], capture_output=True)
    try:
        channel.sendall(done.stdout)
        channel.sendall_stderr(done.stderr)
        channel.send_exit_status(done.returncode)
    except (OSError, EOFError, paramiko.SSHException):
        pass  # the client closed the channel first (timeout)
    channel.close()
    transport.close()


@pytest.fixture
def ssh_server(tmp_path: Path) -> Iterator[dict[str, Any]]:
    host_key = paramiko.RSAKey.generate(2048)
    client_key = paramiko.RSAKey.generate(2048)
    key_file = tmp_path / "id_rsa"
    client_key.write_private_key_file(str(key_file))
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    thread = threading.Thread(target=serve, args=(listener, host_key, client_key), daemon=True)
    thread.start()
    yield {"port": port, "host_key": host_key, "key_file": key_file}
    listener.close()
    thread.join(5)


def target(tmp_path: Path, server: dict[str, Any], trusted: bool) -> ShellTargetConfig:
    known_hosts = tmp_path / "known_hosts"
    host_keys = paramiko.HostKeys()
    if trusted:
        host_keys.add(f"[127.0.0.1]:{server['port']}", "ssh-rsa", server["host_key"])
    host_keys.save(str(known_hosts))
    return ShellTargetConfig(
        name="batch",
        kind="ssh",
        host="127.0.0.1",
        port=server["port"],
        user="svc",
        key_file=server["key_file"],
        known_hosts=known_hosts,
        timeout_s=10,
        output_cap_bytes=10_000,
    )


def test_runs_on_a_known_host_with_the_configured_key(
    tmp_path: Path, ssh_server: dict[str, Any]
) -> None:
    result = run_ssh(
        target(tmp_path, ssh_server, trusted=True), "echo out; echo err >&2; exit 4", CancelHandle()
    )
    assert result.stdout == "out\n" and result.stderr == "err\n" and result.exit_code == 4


def test_unknown_host_key_is_refused(tmp_path: Path, ssh_server: dict[str, Any]) -> None:
    with pytest.raises(ShellTargetError, match="unknown host key"):
        run_ssh(target(tmp_path, ssh_server, trusted=False), "echo hi", CancelHandle())


def test_timeout_closes_the_channel(tmp_path: Path, ssh_server: dict[str, Any]) -> None:
    config = target(tmp_path, ssh_server, trusted=True)
    quick = ShellTargetConfig(**{**config.__dict__, "timeout_s": 1.0})
    result = run_ssh(quick, "sleep 3; echo late", CancelHandle())
    assert result.timed_out and "late" not in result.stdout
