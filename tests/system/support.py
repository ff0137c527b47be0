"""Shared pieces of the system suite: the planted-value registry, workspaces, CLI helpers.

Every personal value a system test plants (Faker, seeded) is registered in
:data:`PLANTED`, with every artefact the tests produce (audit stores, gateway logs,
saved notebooks, captured event payloads). ``test_zz_privacy_at_rest.py`` runs last and
scans them all. Tests and conftest import this module as ``tests.system.support``, so
there is exactly one registry (pytest imports conftest files under another name).
"""

from __future__ import annotations

import json
import secrets
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.system.fleet import GatewayProcess

USERS = ("alice", "bob", "dpo", "dpo2", "auditor")
ROLES = {
    "analysts": ["alice", "bob", "dpo"],
    "approvers": ["dpo", "dpo2"],
    "auditors": ["auditor"],
}
PERSONAL_COLUMNS = ("name", "email", "phone", "iban")
CUSTOMERS = 60


@dataclass
class Planted:
    """Personal values the suite planted, and every artefact that must not hold them."""

    values: set[str] = field(default_factory=set)
    duckdb_files: list[Path] = field(default_factory=list)
    text_files: list[Path] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)

    def add(self, *values: str) -> None:
        self.values.update(value for value in values if len(value) >= 6)


PLANTED = Planted()


@dataclass
class Workspace:
    """One deployment: config file, audit store, user tokens and a log directory."""

    root: Path
    config_path: Path
    audit_path: Path
    tokens: dict[str, str]
    gateways: list[GatewayProcess] = field(default_factory=list)

    def gateway(self, name: str = "gateway") -> GatewayProcess:
        log_path = self.root / "logs" / f"{name}.log"
        log_path.parent.mkdir(exist_ok=True)
        PLANTED.text_files.append(log_path)
        process = GatewayProcess(self.config_path, self.tokens, log_path)
        self.gateways.append(process)
        return process

    def kill_gateways(self) -> None:
        """Whatever a failed test left running goes (a passing test stops its own)."""
        for process in self.gateways:
            process.stop(signal.SIGKILL)


def write_workspace(
    root: Path,
    connections: dict[str, str],
    audit_dir: Path | None = None,
    extra: str = "",
    shell: bool = True,
) -> Workspace:
    audit_path = (audit_dir or root / "audit") / "nbwarden.duckdb"
    lines = [
        "[audit]",
        f'path = "{audit_path}"',
        f'key_file = "{root / "keys" / "nbwarden.key"}"',
        "",
    ]
    for name, url in connections.items():
        lines += [f"[connections.{name}]", f'url = "{url}"', "timeout_s = 60", ""]
    if shell:
        lines += ["[shell.local]", 'kind = "local"', f'workdir = "{root}"', ""]
    lines.append("[roles]")
    lines += [f"{role} = {json.dumps(users)}" for role, users in ROLES.items()]
    config_path = root / "nbwarden.toml"
    config_path.write_text("\n".join(lines) + "\n" + extra, encoding="utf-8")
    config_path.chmod(0o600)
    PLANTED.duckdb_files.append(audit_path)
    tokens = {user: secrets.token_urlsafe(24) for user in USERS}
    return Workspace(root, config_path, audit_path, tokens)


def nbwarden_cli(
    config_path: Path, command: str, *args: str, timeout_s: float = 120
) -> tuple[int, str, str]:
    done = subprocess.run(
        [sys.executable, "-m", "nbwarden", command, "--config", str(config_path), *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    return done.returncode, done.stdout, done.stderr


def assert_chain_verifies(config_path: Path) -> None:
    """``nbwarden audit verify`` exits 0 (through the gateway if one runs, else the file)."""
    code, stdout, stderr = nbwarden_cli(config_path, "audit", "verify")
    assert code == 0, f"audit verify failed: {stdout} {stderr}"
