from __future__ import annotations

from pathlib import Path

import pytest

from nbwarden.config import ConfigError, dialect_of_url, find_config_path, load_config

FULL_CONFIG = """
[audit]
path = "audit/prov.duckdb"
key_file = "audit/nbwarden.key"
retention_days = 400

[connections.prod]
url = "postgresql+psycopg://reporter:${TEST_NBW_PASSWORD}@127.0.0.1:5432/shop"
row_cap = 500
timeout_s = 5
approvers = ["dpo"]
sensitive_columns = ["customers.email"]

[connections.local]
url = "sqlite:///shop.db"

[shell.box]
kind = "ssh"
host = "10.0.0.5"
user = "ops"
key_file = "id_ed25519"

[masking]
profile = "default"

[policy]
require_purpose = true
overrides = [{ rule = "sql.unbounded_read", action = "allow", roles = ["approver"] }]

[roles]
analysts = ["alice", "bob"]
approvers = ["dpo"]
auditors = ["audit"]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "nbwarden.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_full_config_parses_with_env_expansion(tmp_path, monkeypatch):
    monkeypatch.setenv("TEST_NBW_PASSWORD", "s3cret")
    config = load_config(write(tmp_path, FULL_CONFIG))
    prod = config.connection("prod")
    assert prod.url.endswith(":s3cret@127.0.0.1:5432/shop")
    assert prod.dialect == "postgres"
    assert prod.row_cap == 500
    assert prod.env_names == ("TEST_NBW_PASSWORD",)
    assert config.connection("local").dialect == "sqlite"
    assert config.audit.path == tmp_path / "audit" / "prov.duckdb"
    assert config.shell_target("box").key_file == tmp_path / "id_ed25519"
    assert config.policy.overrides[0].action == "allow"
    assert config.roles.roles_of("alice") == {"analyst"}
    assert config.roles.roles_of("dpo") == {"approver"}
    assert config.roles.roles_of("mallory") == frozenset()
    assert "TEST_NBW_PASSWORD" in config.secret_env_names()
    assert config.default_connection == "prod"


def test_missing_env_var_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.delenv("TEST_NBW_PASSWORD", raising=False)
    with pytest.raises(ConfigError, match="TEST_NBW_PASSWORD is not set"):
        load_config(write(tmp_path, FULL_CONFIG))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[connections.x]\nrow_cap = 3\n", "needs a url"),
        ("[shell.x]\nkind = 'telnet'\n", "kind must be"),
        ("[shell.x]\nkind = 'ssh'\n", "needs a host"),
        ("[roles]\nwizards = ['x']\n", "unknown role"),
        ("[policy]\noverrides = [{ rule = 'a', action = 'maybe' }]\n", "allow/flag/block"),
        ("audit = 3\n", "must be a table"),
        ("[audit\n", "not valid TOML"),
    ],
)
def test_bad_config_is_refused(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path, text))


def test_missing_file_and_unknown_names(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "absent.toml")
    config = load_config(write(tmp_path, "[audit]\n"))
    with pytest.raises(ConfigError, match="unknown connection"):
        config.connection("nope")
    with pytest.raises(ConfigError, match="unknown shell target"):
        config.shell_target("nope")


def test_lookup_order(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NBWARDEN_CONFIG", raising=False)
    assert find_config_path() == tmp_path / "nbwarden.toml"
    monkeypatch.setenv("NBWARDEN_CONFIG", "/etc/nbw.toml")
    assert find_config_path() == Path("/etc/nbw.toml")
    assert find_config_path("x.toml") == Path("x.toml")


@pytest.mark.parametrize(
    ("url", "dialect"),
    [
        ("postgresql+psycopg://u@h/db", "postgres"),
        ("mysql+pymysql://u@h/db", "mysql"),
        ("mariadb+pymysql://u@h/db", "mysql"),
        ("sqlite:///x.db", "sqlite"),
        ("duckdb:///x.duckdb", "duckdb"),
    ],
)
def test_dialect_of_url(url, dialect):
    assert dialect_of_url(url) == dialect
