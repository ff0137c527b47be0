"""Fixtures for the server extension: a real Jupyter server with nbwarden, real databases."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from faker import Faker
from pytest_jupyter.jupyter_server import *  # noqa: F403 - the jp_* fixtures and hooks

USERS = ("alice", "bob", "dpo", "dpo2", "auditor", "nobody")
TOKENS = {
    user: hashlib.sha256(f"nbwarden test token {user}".encode()).hexdigest() for user in USERS
}
"""One token per user (stable across imports); ``nobody`` is authenticated, with no role."""

ROLES = {
    "analysts": ["alice", "bob", "dpo"],
    "approvers": ["dpo", "dpo2"],
    "auditors": ["auditor"],
}


def synthetic_customers(count: int, seed: int = 7) -> list[tuple[int, str, str, str]]:
    fake = Faker()
    Faker.seed(seed)
    return [(i, fake.name(), fake.unique.email(), fake.phone_number()) for i in range(1, count + 1)]


def make_sqlite_shop(path: Path, customers: list[tuple[int, str, str, str]]) -> str:
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT, email TEXT, phone TEXT)"
        )
        db.executemany("INSERT INTO customers VALUES (?, ?, ?, ?)", customers)
    return f"sqlite:///{path}"


def write_config(tmp_path: Path, key_file: Path, connections: dict[str, str]) -> Path:
    lines = [
        "[audit]",
        f'path = "{tmp_path / "audit" / "nbwarden.duckdb"}"',
        f'key_file = "{key_file}"',
        "",
        "[gateway]",
        "assertion_ttl_s = 120",
        "",
    ]
    for name, url in connections.items():
        lines += [f"[connections.{name}]", f'url = "{url}"', "timeout_s = 20", ""]
    lines += ["[shell.local]", 'kind = "local"', f'workdir = "{tmp_path}"', ""]
    lines.append("[roles]")
    lines += [f"{role} = {json.dumps(users)}" for role, users in ROLES.items()]
    path = tmp_path / "nbwarden.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def customers() -> list[tuple[int, str, str, str]]:
    return synthetic_customers(12)


@pytest.fixture
def shop_url(tmp_path: Path, customers: list[tuple[int, str, str, str]]) -> str:
    return make_sqlite_shop(tmp_path / "shop.db", customers)


@pytest.fixture
def nb_connections(shop_url: str) -> dict[str, str]:
    """Connections of the test config; tests override this to add real servers."""
    return {"shop": shop_url}


@pytest.fixture
def nb_config_path(tmp_path: Path, key_file: Path, nb_connections: dict[str, str]) -> Path:
    return write_config(tmp_path, key_file, nb_connections)


@pytest.fixture
def jp_server_config(nb_config_path: Path) -> dict[str, Any]:
    return {
        "ServerApp": {"jpserver_extensions": {"nbwarden": True}},
        "NBWardenExtension": {"config_file": str(nb_config_path)},
        "TokenMapIdentityProvider": {"user_tokens": {t: u for u, t in TOKENS.items()}},
    }


def auth(user: str) -> dict[str, str]:
    return {"Authorization": f"token {TOKENS[user]}"}


@pytest.fixture
def api(jp_fetch: Any) -> Callable[..., Any]:
    """``await api(user, "POST", "execute", body)`` -> (status, JSON); never raises."""

    async def call(
        who: str | None,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        sent = dict(headers or {})
        if who is not None:
            sent.update(auth(who))
        else:
            sent.setdefault("Authorization", "")
        kwargs: dict[str, Any] = {"method": method, "headers": sent, "raise_error": False}
        if method != "GET":
            kwargs["body"] = json.dumps(body or {})
        response = await jp_fetch(
            "nbwarden", "api", *path.split("/"), params=params or {}, **kwargs
        )
        text = response.body.decode() if response.body else ""
        try:
            payload = json.loads(text) if text else None
        except ValueError:
            payload = text
        return response.code, payload

    return call


@pytest.fixture(autouse=True)
def restore_nbwarden_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The extension exports these for kernels; undo that so other tests never see them."""
    for name in ("NBWARDEN_GATEWAY_URL", "NBWARDEN_CONFIG"):
        monkeypatch.delenv(name, raising=False)
