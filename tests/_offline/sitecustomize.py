"""Refuse every outbound connection that does not go to this machine.

The test suite puts this directory first on PYTHONPATH, so every Python process it
starts (servers, kernels, CLI runs) imports it. A connection to any address outside
the loopback range raises, which proves nbwarden works offline.
"""

from __future__ import annotations

import ipaddress
import socket

_original_connect = socket.socket.connect
_original_connect_ex = socket.socket.connect_ex


class OutboundNetworkBlocked(OSError):
    pass


def _is_local(address: object) -> bool:
    if not isinstance(address, tuple):
        return True  # AF_UNIX paths and the like
    host = str(address[0])
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False  # a host name that was not resolved first: refuse


def _guarded_connect(self: socket.socket, address: object) -> None:
    if not _is_local(address):
        raise OutboundNetworkBlocked(f"outbound connection refused in tests: {address!r}")
    _original_connect(self, address)  # type: ignore[arg-type]


def _guarded_connect_ex(self: socket.socket, address: object) -> int:
    if not _is_local(address):
        raise OutboundNetworkBlocked(f"outbound connection refused in tests: {address!r}")
    return _original_connect_ex(self, address)  # type: ignore[arg-type]


socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]
