"""Fixtures shared by every test package: real loopback databases, a config file."""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

OFFLINE_DIR = Path(__file__).parent / "_offline"


def pytest_configure(config: pytest.Config) -> None:
    """Block outbound network for this process and every Python process it starts."""
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(OFFLINE_DIR), *filter(None, [os.environ.get("PYTHONPATH")])]
    )
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "_nbwarden_offline", OFFLINE_DIR / "sitecustomize.py"
    )
    assert spec and spec.loader
    spec.loader.exec_module(importlib.util.module_from_spec(spec))


PG_ADMIN_URL = os.environ.get(
    "NBWARDEN_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
MARIADB_ADMIN_URL = os.environ.get(
    "NBWARDEN_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/test"
)


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _fresh_database(admin_url: str, prefix: str) -> Iterator[str]:
    name = f"{prefix}_{secrets.token_hex(4)}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    url = sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            if admin.dialect.name == "postgresql":
                conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            else:
                conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a new, empty database on the loopback PostgreSQL server."""
    if not _port_open(5432):
        pytest.fail("PostgreSQL is not running on 127.0.0.1:5432 (make test starts it)")
    yield from _fresh_database(PG_ADMIN_URL, "nbwarden_test")


@pytest.fixture(scope="session")
def mariadb_url() -> Iterator[str]:
    """URL of a new, empty database on the loopback MariaDB server."""
    if not _port_open(3306):
        pytest.fail("MariaDB is not running on 127.0.0.1:3306 (make test starts it)")
    yield from _fresh_database(MARIADB_ADMIN_URL, "nbwarden_test")


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    from nbwarden.keys import load_or_create_master_key

    path = tmp_path / "keys" / "nbwarden.key"
    load_or_create_master_key(path)
    return path
