from __future__ import annotations

import socket
import subprocess
import sys

import pytest


def test_outbound_connections_are_refused_in_this_process():
    with pytest.raises(OSError, match="outbound connection refused"), socket.socket() as sock:
        sock.connect(("192.0.2.1", 80))


def test_child_python_processes_are_offline_too():
    code = (
        "import socket\n"
        "try:\n"
        "    socket.create_connection(('192.0.2.1', 443), timeout=2)\n"
        "except OSError as exc:\n"
        "    print('refused' if 'outbound connection refused' in str(exc) else 'other')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "refused"


def test_loopback_stays_reachable():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        with socket.create_connection(server.getsockname(), timeout=2) as client:
            assert client.getpeername() == server.getsockname()
