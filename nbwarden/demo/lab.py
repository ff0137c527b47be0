"""Start JupyterLab for the demo: the nbwarden server extension, three users, three tokens.

The tokens go in a 0600 file read by ``TokenMapIdentityProvider``, never on the command
line (where other local users could read them from the process list).
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import nbwarden
from nbwarden.config import CONFIG_ENV
from nbwarden.demo import DemoError
from nbwarden.demo.files import NOTEBOOK_NAME, USERS

PRIVATE_DIR = ".nbwarden-demo"
DEFAULT_PORT = 8888
READY_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Login:
    user: str
    role: str
    token: str


@dataclass(frozen=True)
class LabSettings:
    directory: Path
    config_path: Path
    port: int
    base_url: str = "/"
    extra_env: tuple[tuple[str, str], ...] = ()


def new_logins() -> list[Login]:
    return [Login(user, role, secrets.token_hex(24)) for role, user in USERS.items()]


def login_url(settings: LabSettings, login: Login, host: str = "127.0.0.1") -> str:
    page = f"lab/tree/{NOTEBOOK_NAME}" if login.role == "analyst" else "lab"
    return f"http://{host}:{settings.port}{settings.base_url}{page}?token={login.token}"


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def choose_port(requested: int | None) -> int:
    """The requested port, refused if taken; else 8888 when free, else any free port."""
    if requested is not None:
        if not 0 < requested < 65536:
            raise DemoError(f"--port {requested} is not a TCP port (1-65535)")
        if not port_is_free(requested):
            raise DemoError(f"port {requested} on 127.0.0.1 is already in use")
        return requested
    return DEFAULT_PORT if port_is_free(DEFAULT_PORT) else free_port()


def write_server_config(settings: LabSettings, logins: list[Login]) -> Path:
    """Write the token map and the Jupyter server config into a private (0700) directory.

    The server's own token is the analyst's, so the URL Jupyter logs is the analyst login.
    """
    private = settings.directory / PRIVATE_DIR
    private.mkdir(mode=0o700, exist_ok=True)
    private.chmod(0o700)
    token_file, config_file = server_files(settings)
    analyst = next(login for login in logins if login.role == "analyst")
    _write_private(token_file, json.dumps({login.token: login.user for login in logins}))
    server_config = {
        "ServerApp": {
            "ip": "127.0.0.1",
            "port": settings.port,
            "port_retries": 0,
            "open_browser": False,
            "root_dir": str(settings.directory),
            "base_url": settings.base_url,
            "jpserver_extensions": {"nbwarden": True},
            "identity_provider_class": "nbwarden.server_extension.auth.TokenMapIdentityProvider",
            "authorizer_class": "nbwarden.server_extension.auth.RoleAuthorizer",
            "allow_root": os.geteuid() == 0,
            "terminals_enabled": False,
        },
        "KernelSpecManager": {"allowed_kernelspecs": ["nbwarden"]},
        "MultiKernelManager": {"default_kernel_name": "nbwarden"},
        "NBWardenExtension": {"config_file": str(settings.config_path)},
        "TokenMapIdentityProvider": {
            "user_tokens_file": str(token_file),
            "token": analyst.token,
            "default_username": analyst.user,
        },
        "RoleAuthorizer": {"config_file": str(settings.config_path)},
    }
    _write_private(config_file, json.dumps(server_config, indent=2))
    return config_file


def server_files(settings: LabSettings) -> tuple[Path, Path]:
    """The token map and Jupyter config of the server on ``settings.port``."""
    private = settings.directory / PRIVATE_DIR
    return (
        private / f"tokens-{settings.port}.json",
        private / f"jupyter_server_config-{settings.port}.json",
    )


def remove_server_files(settings: LabSettings) -> None:
    for path in server_files(settings):
        path.unlink(missing_ok=True)


def _write_private(path: Path, text: str) -> None:
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


def server_environment(settings: LabSettings) -> dict[str, str]:
    """The server's environment: the demo config, and the kernelspec of a source checkout
    (after any ``JUPYTER_PATH`` already set, so an admin's own kernelspec wins)."""
    env = dict(os.environ)
    env[CONFIG_ENV] = str(settings.config_path)
    env.update(settings.extra_env)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    checkout_share = Path(nbwarden.__file__).resolve().parents[1] / "share" / "jupyter"
    if (checkout_share / "kernels" / "nbwarden" / "kernel.json").exists():
        env["JUPYTER_PATH"] = os.pathsep.join(
            part for part in (env.get("JUPYTER_PATH", ""), str(checkout_share)) if part
        )
    return env


def start_lab(settings: LabSettings, logins: list[Login]) -> subprocess.Popen[bytes]:
    """Start ``jupyter lab`` in its own session, so a terminal Ctrl-C reaches only us."""
    config_file = write_server_config(settings, logins)
    command = [sys.executable, "-m", "nbwarden.demo.jupyter_main", f"--config={config_file}"]
    return subprocess.Popen(
        command,
        cwd=settings.directory,
        env=server_environment(settings),
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )


def wait_until_ready(
    process: subprocess.Popen[bytes],
    settings: LabSettings,
    login: Login,
    timeout_s: float = READY_TIMEOUT_S,
) -> None:
    """Poll ``/api/status`` with ``login``'s token until the server answers 200."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise DemoError(f"JupyterLab exited with code {process.returncode}; see its log above")
        if fetch_json(settings, "api/status", login.token) is not None:
            return
        time.sleep(0.5)
    raise DemoError(f"JupyterLab did not answer on port {settings.port} within {timeout_s:.0f} s")


def check_extension(settings: LabSettings, logins: list[Login]) -> None:
    """Fail unless the nbwarden API knows each login as its user, with its role.

    Without the extension the server would still serve kernels, ungoverned: never that.
    """
    for login in logins:
        answer = fetch_json(settings, "nbwarden/api/whoami", login.token)
        if not isinstance(answer, dict) or answer.get("user") != login.user:
            raise DemoError(
                "the nbwarden server extension is not answering (see the JupyterLab log above)"
            )
        if login.role not in answer.get("roles", ()):
            raise DemoError(f"the nbwarden API does not give {login.user} the {login.role} role")


def fetch_json(settings: LabSettings, path: str, token: str) -> object | None:
    """GET a JSON document from the demo server; ``None`` when it does not answer 200."""
    url = f"http://127.0.0.1:{settings.port}{settings.base_url}{path}"
    request = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 (loopback)
            if response.status != 200:
                return None
            answer: object = json.loads(response.read())
            return answer
    except (urllib.error.URLError, OSError, ValueError):
        return None


def stop_lab(process: subprocess.Popen[bytes], timeout_s: float = 30.0) -> int:
    """SIGTERM (Jupyter shuts its kernels down cleanly), then SIGKILL if it hangs."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode
