"""Demo test helpers: a PostgreSQL database of its own, a kernelspec the kernel user can run."""

from __future__ import annotations

import json
import os
import pwd
import secrets
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.kernel.kernelspecs import can_run_as

REPO = Path(__file__).resolve().parents[2]
SYSTEM_PYTHON = "/usr/bin/python3.11"


@pytest.fixture
def demo_pg_url(postgres_url: str) -> Iterator[str]:
    """A new, empty database on the loopback server, dropped after the test."""
    name = f"nbwarden_demo_{secrets.token_hex(4)}"
    admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    try:
        yield sa.make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


@pytest.fixture(scope="session")
def kernel_jupyter_path(tmp_path_factory: pytest.TempPathFactory) -> str | None:
    """A JUPYTER_PATH whose ``nbwarden`` kernelspec the kernel's OS user can run, if needed.

    As root, governed kernels run as ``nbwarden-kernel``; this venv's interpreter may sit
    under /root (0700). Then the system Python 3.11 runs the kernel with the venv's packages.
    """
    from nbwarden.kernel.provisioner import DEFAULT_KERNEL_USER

    if os.geteuid() != 0:
        return None
    try:
        user = pwd.getpwnam(DEFAULT_KERNEL_USER)
    except KeyError:
        return None
    site_packages = next(p for p in sys.path if p.endswith("site-packages"))
    env = {"PYTHONPATH": f"{REPO / 'tests' / '_offline'}:{site_packages}:{REPO}"}
    if can_run_as(user, sys.executable, {}):
        return None
    if not can_run_as(user, SYSTEM_PYTHON, env):
        return None
    spec = json.loads((REPO / "share/jupyter/kernels/nbwarden/kernel.json").read_text())
    spec["argv"][0] = SYSTEM_PYTHON
    spec["env"] = env
    directory = tmp_path_factory.mktemp("jupyter-path")
    spec_dir = directory / "kernels" / "nbwarden"
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    return str(directory)
