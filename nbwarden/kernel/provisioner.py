"""Launch governed kernels with no credential in reach.

The kernel runs untrusted user Python. Its environment is scrubbed of every secret
(the connections' ``${ENV}`` names, anything that looks like a password, token or
database URL), keeping ``NBWARDEN_GATEWAY_URL``. When the server runs as root and an
unprivileged kernel user is configured (``[gateway] kernel_user``) or the default
one exists, the kernel runs as that user with its own HOME, so the server's
``/proc/<pid>/environ``, the config file (made 0600) and the key file are unreadable.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import pwd
import re
import shutil
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jupyter_client.provisioning.local_provisioner import LocalProvisioner

from nbwarden.config import Config, ConfigError, load_config
from nbwarden.kernel.client import GATEWAY_URL_ENV
from nbwarden.kernel.magics import KERNEL_ID_ENV

log = logging.getLogger(__name__)

DEFAULT_KERNEL_USER = "nbwarden-kernel"
PROVISIONER_NAME = "nbwarden-provisioner"
SECRET_NAME_PATTERNS = (
    "*PASSWORD*",
    "*PASSWD*",
    "*SECRET*",
    "*TOKEN*",
    "*CREDENTIAL*",
    "*API_KEY*",
    "*PRIVATE_KEY*",
    "DATABASE_URL",
    "*_DATABASE_URL",
    "*_DSN",
    "PG*",
    "MYSQL_PWD",
    "MYSQL_HOST",
    "AWS_*",
    "NBWARDEN_CONFIG",
    "NBWARDEN_TEST_*",
)
KEPT_NAMES = frozenset({GATEWAY_URL_ENV, KERNEL_ID_ENV})
_URL_WITH_PASSWORD = re.compile(r"://[^/\s:@]*:[^/\s@]+@")


def register_provisioner() -> None:
    """Make ``nbwarden-provisioner`` known without an installed entry point (source checkouts).

    ``pip install`` declares the entry point in pyproject.toml; a checkout on
    ``sys.path`` has none, and jupyter_client would then hide the ``nbwarden`` kernelspec.
    """
    from importlib.metadata import EntryPoint

    from jupyter_client.provisioning.factory import KernelProvisionerFactory

    KernelProvisionerFactory.provisioners.setdefault(
        PROVISIONER_NAME,
        EntryPoint(
            name=PROVISIONER_NAME,
            value=f"{__name__}:GovernedKernelProvisioner",
            group=KernelProvisionerFactory.GROUP_NAME,
        ),
    )


def is_secret_name(name: str, extra: frozenset[str] = frozenset()) -> bool:
    upper = name.upper()
    if name in KEPT_NAMES:
        return False
    return name in extra or any(fnmatch.fnmatchcase(upper, p) for p in SECRET_NAME_PATTERNS)


def scrub_environment(
    env: dict[str, str],
    extra: frozenset[str] = frozenset(),
    secret_values: frozenset[str] = frozenset(),
) -> dict[str, str]:
    """A copy of ``env`` without secrets: by name, URLs with a password, known passwords."""
    return {
        name: value
        for name, value in env.items()
        if not is_secret_name(name, extra)
        and not _URL_WITH_PASSWORD.search(value)
        and not any(secret in value for secret in secret_values)
    }


def connection_passwords(config: Config | None) -> frozenset[str]:
    """The passwords in the configured connection URLs (to drop any value holding one)."""
    if config is None:
        return frozenset()
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    found: set[str] = set()
    for connection in config.connections.values():
        try:
            password = make_url(connection.url).password
        except ArgumentError:
            continue
        if password and len(str(password)) >= 4:
            found.add(str(password))
    return frozenset(found)


@dataclass(frozen=True)
class KernelUser:
    name: str
    uid: int
    gid: int


def kernel_user(config: Config | None) -> KernelUser | None:
    """The OS user to run kernels as, or ``None`` when not root or no such user exists."""
    if os.geteuid() != 0:
        return None
    wanted = (config.gateway.kernel_user if config else None) or DEFAULT_KERNEL_USER
    try:
        entry = pwd.getpwnam(wanted)
    except KeyError:
        if config is not None and config.gateway.kernel_user:
            raise ConfigError(f"[gateway] kernel_user {wanted!r} does not exist") from None
        return None
    if entry.pw_uid == 0:
        raise ConfigError("[gateway] kernel_user must not be root")
    return KernelUser(entry.pw_name, entry.pw_uid, entry.pw_gid)


class GovernedKernelProvisioner(LocalProvisioner):  # type: ignore[misc]
    """``LocalProvisioner`` with a scrubbed environment and, as root, an unprivileged user."""

    _home: Path | None = None
    _user: KernelUser | None = None

    async def pre_launch(self, **kwargs: Any) -> dict[str, Any]:
        config = _load_config_quietly()
        self._user = kernel_user(config)
        if config is not None and config.path is not None:
            _make_private(config.path)
            _make_private(config.audit.key_file)
        km = self.parent
        env = dict(kwargs.get("env") or os.environ)
        if km is not None and getattr(km, "kernel_id", None):
            env[KERNEL_ID_ENV] = str(km.kernel_id)
        if self._user is not None:
            env.update(self._private_home(self._user, km))
        names = config.secret_env_names() if config else frozenset()
        passwords = connection_passwords(config)
        kwargs["env"] = scrub_environment(env, names, passwords)
        kwargs = await super().pre_launch(**kwargs)
        kwargs["env"] = scrub_environment(kwargs["env"], names, passwords)
        if self._user is not None and km is not None:
            os.chown(km.connection_file, self._user.uid, self._user.gid)
            kwargs.update(user=self._user.uid, group=self._user.gid, extra_groups=[])
        return kwargs

    def _private_home(self, user: KernelUser, km: Any) -> dict[str, str]:
        """A temp HOME owned by the kernel user, holding the connection file (kept on restart)."""
        if self._home is None:
            self._home = Path(tempfile.mkdtemp(prefix="nbwarden-kernel-"))
            os.chown(self._home, user.uid, user.gid)
        if km is not None:
            name = Path(km.connection_file).name or f"kernel-{km.kernel_id}.json"
            km.connection_file = str(self._home / name)
        return _user_env(user, self._home)

    async def cleanup(self, restart: bool = False) -> None:
        await super().cleanup(restart=restart)
        if not restart and self._home is not None:
            shutil.rmtree(self._home, ignore_errors=True)
            self._home = None


def _user_env(user: KernelUser, home: Path) -> dict[str, str]:
    return {
        "HOME": str(home),
        "IPYTHONDIR": str(home / ".ipython"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTER_DATA_DIR": str(home / "data"),
        "MPLCONFIGDIR": str(home / ".matplotlib"),
        "USER": user.name,
        "LOGNAME": user.name,
        "TMPDIR": str(home),
    }


def _load_config_quietly() -> Config | None:
    try:
        return load_config()
    except ConfigError as exc:
        log.warning("nbwarden provisioner: no config (%s); scrubbing by name only", exc)
        return None


def _make_private(path: Path) -> None:
    """Group/other access to the config or key file is removed (they hold secrets)."""
    try:
        mode = path.stat().st_mode
        if mode & 0o077:
            path.chmod(stat.S_IMODE(mode) & 0o700)
            log.warning("nbwarden provisioner: %s was readable by others; now 0600", path.name)
    except OSError:
        return
