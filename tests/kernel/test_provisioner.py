"""The kernel's environment and readable files hold no credential of any configured connection.

Each test starts a real kernel through a real ``KernelManager`` and the
``nbwarden-provisioner``, then looks for the secrets from inside the kernel.
"""

from __future__ import annotations

import json
import os
import pwd
import secrets as secrets_module
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from faker import Faker
from jupyter_client.manager import KernelManager

from nbwarden.kernel.provisioner import is_secret_name, scrub_environment
from tests.kernel.kernelspecs import existing_kernel_user, runnable_kernelspec

REPO = Path(__file__).resolve().parents[2]
SITE_PACKAGES = next(p for p in sys.path if p.endswith("site-packages"))
GATEWAY_URL = "http://127.0.0.1:8765/nbwarden/api/"

PROBE = """
import json, os
found = {"environ": dict(os.environ), "uid": os.getuid()}
for name, path in PATHS.items():
    try:
        with open(path, "rb") as handle:
            found[name] = handle.read().decode("latin-1")
    except OSError as exc:
        found[name] = "DENIED " + type(exc).__name__
print(json.dumps(found))
"""


@pytest.fixture
def secrets(tmp_path: Path, key_file: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A config whose connection password comes from the server's environment."""
    fake = Faker()
    password = fake.password(length=20, special_chars=False)
    env_password = fake.password(length=20, special_chars=False)
    config = tmp_path / "nbwarden.toml"
    config.write_text(
        f"""
[audit]
path = "{tmp_path / "audit.duckdb"}"
key_file = "{key_file}"

[connections.prod]
url = "postgresql+psycopg://analytics:${{NBW_PROD_SECRET}}@127.0.0.1:5432/prod"

[connections.plain]
url = "postgresql+psycopg://reader:{password}@127.0.0.1:5432/prod"
""",
        encoding="utf-8",
    )
    config.chmod(0o644)
    values = {
        "NBW_PROD_SECRET": env_password,
        "NBWARDEN_CONFIG": str(config),
        "JUPYTER_TOKEN": fake.sha256(),
        "DATABASE_URL": f"postgresql://u:{fake.sha256()[:16]}@db/x",
        "PGPASSWORD": fake.sha256()[:18],
        "MYSQL_PWD": fake.sha256()[:18],
        "INNOCENT_LOOKING": f"mysql://u:{fake.sha256()[:14]}@db/x",
        "NBWARDEN_GATEWAY_URL": GATEWAY_URL,
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    secret_values = [v for k, v in values.items() if k not in ("NBWARDEN_GATEWAY_URL",)]
    secret_values += [password, key_file.read_text().strip()]
    return {"config": config, "key_file": key_file, "values": secret_values}


def run_probe(km: KernelManager, paths: dict[str, str], cwd: str | None = None) -> dict[str, Any]:
    km.start_kernel(cwd=cwd)
    client = km.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=60)
        chunks: list[str] = []

        def keep_stdout(msg: dict[str, Any]) -> None:
            if msg["msg_type"] == "stream" and msg["content"]["name"] == "stdout":
                chunks.append(msg["content"]["text"])

        reply = client.execute_interactive(
            f"PATHS = {paths!r}\n{PROBE}", timeout=60, output_hook=keep_stdout
        )
        assert reply["content"]["status"] == "ok"
        found: dict[str, Any] = json.loads("".join(chunks))
        return found
    finally:
        client.stop_channels()
        km.shutdown_kernel(now=True)


def assert_no_secret(found: dict[str, Any], secret_values: list[str]) -> None:
    text = json.dumps(found)
    leaked = [i for i, value in enumerate(secret_values) if value and value in text]
    assert not leaked, f"secrets #{leaked} reachable from the kernel"


def test_secret_names_and_values_are_scrubbed() -> None:
    env = {
        "PATH": "/usr/bin",
        "PGHOST": "db",
        "MY_API_TOKEN": "t",
        "X": "postgresql://a:b@h/d",
        "Y": "contains-hunter22",
        "NBWARDEN_GATEWAY_URL": GATEWAY_URL,
        "CUSTOM": "c",
    }
    kept = scrub_environment(env, frozenset({"CUSTOM"}), frozenset({"hunter22"}))
    assert kept == {"PATH": "/usr/bin", "NBWARDEN_GATEWAY_URL": GATEWAY_URL}
    assert is_secret_name("jupyter_token") and not is_secret_name("HOME")


def test_kernel_environment_holds_no_credential(
    secrets: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JUPYTER_PATH", os.environ["JUPYTER_PATH"])
    name = runnable_kernelspec(tmp_path, existing_kernel_user())
    found = run_probe(KernelManager(kernel_name=name), {}, cwd="/")
    assert found["environ"]["NBWARDEN_GATEWAY_URL"] == GATEWAY_URL
    assert found["environ"].get("NBWARDEN_KERNEL_ID")
    assert_no_secret(found, secrets["values"])


@pytest.fixture
def kernel_user() -> Iterator[pwd.struct_passwd]:
    if os.geteuid() != 0:
        pytest.skip("running the kernel as another OS user needs root")
    if shutil.which("useradd") is None:
        pytest.skip("useradd is not available to create the kernel user")
    name = f"nbwk{secrets_module.token_hex(4)}"
    command = ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin"]
    subprocess.run([*command, name], check=True)
    try:
        yield pwd.getpwnam(name)
    finally:
        subprocess.run(["userdel", name], check=True)


def test_kernel_user_can_read_no_credential(
    secrets: dict[str, Any],
    kernel_user: pwd.struct_passwd,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with secrets["config"].open("a", encoding="utf-8") as config:
        config.write(f'\n[gateway]\nkernel_user = "{kernel_user.pw_name}"\n')
    monkeypatch.setenv("JUPYTER_PATH", os.environ["JUPYTER_PATH"])
    name = runnable_kernelspec(tmp_path, kernel_user)
    paths = {
        "config": str(secrets["config"]),
        "key": str(secrets["key_file"]),
        "server_environ": f"/proc/{os.getpid()}/environ",
    }
    found = run_probe(KernelManager(kernel_name=name), paths, cwd="/")
    assert found["uid"] == kernel_user.pw_uid
    for name in paths:
        assert found[name].startswith("DENIED"), f"the kernel could read the {name}"
    assert secrets["config"].stat().st_mode & 0o077 == 0
    assert_no_secret(found, secrets["values"])
