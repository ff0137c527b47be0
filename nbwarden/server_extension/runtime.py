"""The running gateway's runtime file: how the CLI finds it instead of opening DuckDB.

The gateway (embedded or standalone) writes ``<audit db>.gateway.json`` next to the
audit store, mode 0600: ``{"url", "pid", "token"}``. The token is an operator token:
whoever can read the file can already open the audit store and the key file, so the API
lets that token act as any configured user (``X-NBWarden-As``), like the CLI does when
it opens the store itself.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SUFFIX = ".gateway.json"


@dataclass(frozen=True)
class RuntimeInfo:
    url: str
    pid: int
    token: str


class RuntimeFile:
    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def for_store(cls, audit_path: Path) -> RuntimeFile:
        audit_path = Path(audit_path)
        return cls(audit_path.with_name(audit_path.name + SUFFIX))

    def write(self, url: str, token: str | None = None) -> RuntimeInfo:
        info = RuntimeInfo(url=url, pid=os.getpid(), token=token or secrets.token_urlsafe(32))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(self.path.name + f".{os.getpid()}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump({"url": info.url, "pid": info.pid, "token": info.token}, handle)
        os.replace(temporary, self.path)
        return info

    def read(self) -> RuntimeInfo | None:
        """The file's content when it names a live process, else ``None``."""
        try:
            data: Any = json.loads(self.path.read_text(encoding="utf-8"))
            info = RuntimeInfo(url=str(data["url"]), pid=int(data["pid"]), token=str(data["token"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return info if process_alive(info.pid) else None

    def remove(self) -> None:
        """Remove the file if this process wrote it."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        if isinstance(data, dict) and data.get("pid") == os.getpid():
            with contextlib.suppress(OSError):
                self.path.unlink()


def process_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
