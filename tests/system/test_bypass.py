"""Bypassing the gateway from kernel Python: no credential is reachable, a direct
connection without one is refused, and a cell without a valid assertion reaches no data.

The gateway holds a password-protected MariaDB login (from ``${CRM_DB_URL}``); the
kernel runs as an unprivileged OS user, as in production when the server runs as root.
"""

from __future__ import annotations

import asyncio
import json
import os
import pwd
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from benchmarks.system.fleet import start_kernels, stop_kernels
from tests.kernel.kernelspecs import runnable_kernelspec
from tests.system.support import Workspace, assert_chain_verifies, write_workspace

pytestmark = [pytest.mark.postgres, pytest.mark.mariadb, pytest.mark.slow]

PROBE = """
import glob, json, os
found = {"uid": os.getuid(), "environ": dict(os.environ), "files": {}, "proc": []}
for name, path in PATHS.items():
    try:
        found["files"][name] = open(path, encoding="utf-8", errors="replace").read()
    except OSError as exc:
        found["files"][name] = "DENIED " + type(exc).__name__
for path in glob.glob("/proc/[0-9]*/environ") + glob.glob("/proc/[0-9]*/cmdline"):
    try:
        found["proc"].append(open(path, "rb").read().decode("utf-8", "replace"))
    except OSError:
        pass
try:
    import pymysql
    pymysql.connect(host="127.0.0.1", port=3306, user=USER, password="", database=DB).close()
    found["direct"] = "CONNECTED"
except Exception as exc:
    found["direct"] = "REFUSED " + type(exc).__name__
import socket
try:
    socket.create_connection(("192.0.2.1", 80), timeout=2).close()
    found["outbound"] = "CONNECTED"
except Exception as exc:
    found["outbound"] = "REFUSED " + type(exc).__name__
print("PROBE" + json.dumps(found))
"""


@pytest.fixture
def kernel_user() -> Iterator[pwd.struct_passwd]:
    if os.geteuid() != 0:
        pytest.skip("running kernels as an unprivileged OS user needs a root server")
    if shutil.which("useradd") is None:
        pytest.skip("useradd is not available to create the kernel user")
    name = f"nbws{secrets.token_hex(4)}"
    command = ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name]
    subprocess.run(command, check=True)
    try:
        yield pwd.getpwnam(name)
    finally:
        subprocess.run(["userdel", name], check=False)


@pytest.fixture
def crm_login(mariadb_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """A password-protected MariaDB login only the gateway knows."""
    admin = sa.create_engine(mariadb_url)
    database = sa.make_url(mariadb_url).database
    login = {"user": f"gw_{secrets.token_hex(4)}", "password": secrets.token_urlsafe(18)}
    with admin.begin() as conn:
        conn.execute(sa.text("CREATE TABLE IF NOT EXISTS accounts (id int, region text)"))
        conn.execute(
            sa.text(f"CREATE USER '{login['user']}'@'127.0.0.1' IDENTIFIED BY :password"),
            {"password": login["password"]},
        )
        conn.execute(sa.text(f"GRANT SELECT ON {database}.* TO '{login['user']}'@'127.0.0.1'"))
    url = sa.make_url(mariadb_url).set(
        username=login["user"], password=login["password"], host="127.0.0.1"
    )
    monkeypatch.setenv("CRM_DB_URL", url.render_as_string(hide_password=False))
    try:
        yield {**login, "database": str(database), "url": os.environ["CRM_DB_URL"]}
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f"DROP USER IF EXISTS '{login['user']}'@'127.0.0.1'"))
        admin.dispose()


async def probe(workspace: Workspace, url: str, kernel_name: str, code: str) -> list[Any]:
    kernels = await start_kernels(workspace.config_path, url, ["alice"], kernel_name=kernel_name)
    try:
        kernel = kernels[0]
        return [
            await kernel.run(code),
            await kernel.run("%%sql crm\nSELECT id FROM accounts WHERE id = 1", stamp=False),
            await kernel.run("%%sql crm\nSELECT id, region FROM accounts WHERE id = 1"),
        ]
    finally:
        await stop_kernels(kernels)


def test_kernel_python_cannot_reach_credentials_or_the_database(
    tmp_path: Path,
    postgres_url: str,
    customers: list[dict[str, Any]],
    kernel_user: pwd.struct_passwd,
    crm_login: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    workspace = write_workspace(
        tmp_path,
        {"prod": postgres_url, "crm": "${CRM_DB_URL}"},
        extra=f'[gateway]\nkernel_user = "{kernel_user.pw_name}"\n',
    )
    monkeypatch.setenv("JUPYTER_PATH", os.environ.get("JUPYTER_PATH", ""))
    kernel_name = runnable_kernelspec(tmp_path, kernel_user)
    gateway = workspace.gateway("bypass").start()
    paths = {
        "config": str(workspace.config_path),
        "key": str(tmp_path / "keys" / "nbwarden.key"),
        "audit": str(workspace.audit_path),
        "tokens": str(gateway.tokens_file),
        "runtime": str(gateway.runtime.path),
        "gateway_environ": f"/proc/{gateway.pid}/environ",
        "gateway_cmdline": f"/proc/{gateway.pid}/cmdline",
        "server_environ": f"/proc/{os.getpid()}/environ",
    }
    header = f"PATHS = {paths!r}\nUSER = {crm_login['user']!r}\nDB = {crm_login['database']!r}\n"
    try:
        found_run, unstamped, governed = asyncio.run(
            probe(workspace, gateway.url, kernel_name, header + PROBE)
        )
    finally:
        gateway.stop()
    assert found_run.status == "ok", found_run.text[-500:]
    found = json.loads(found_run.text.split("PROBE", 1)[1])
    assert found["uid"] == kernel_user.pw_uid
    for name in (
        "config",
        "key",
        "audit",
        "tokens",
        "runtime",
        "gateway_environ",
        "server_environ",
    ):
        assert found["files"][name].startswith("DENIED"), f"the kernel read the {name}"
    everything = json.dumps(found)
    for secret in (crm_login["password"], crm_login["url"], *workspace.tokens.values()):
        assert secret not in everything, "a credential was reachable from kernel Python"
    assert "CRM_DB_URL" not in found["environ"]
    assert found["direct"].startswith("REFUSED"), found["direct"]
    assert found["outbound"] == "REFUSED OutboundNetworkBlocked", found["outbound"]
    assert unstamped.status == "error" and "identity assertion" in unstamped.text
    assert governed.status == "ok", governed.text[-500:]
    assert_chain_verifies(workspace.config_path)
