"""``nbwarden gateway``: the same API handlers in a Tornado app of their own.

For deployments where the gateway runs apart from users' Jupyter servers (a JupyterHub
managed service, say). Users authenticate with their token from the token map, kernels
with the identity assertion their Jupyter server stamped (the servers share the key
file with the gateway), the local CLI with the operator token of the runtime file.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import signal
from pathlib import Path
from typing import Any

from tornado import httpserver, web

from nbwarden.config import Config
from nbwarden.server_extension import assertions
from nbwarden.server_extension.auth import RoleAuthorizer, TokenMapIdentityProvider
from nbwarden.server_extension.handlers import API_PREFIX, MAX_BODY_BYTES, api_handlers
from nbwarden.server_extension.runtime import RuntimeFile
from nbwarden.server_extension.service import ApiState

log = logging.getLogger(__name__)


def make_app(state: ApiState, user_tokens: dict[str, str]) -> web.Application:
    identity = TokenMapIdentityProvider(user_tokens=user_tokens, token=secrets.token_urlsafe(32))
    authorizer = RoleAuthorizer(identity_provider=identity, roles_config=state.config.roles)
    settings: dict[str, Any] = {
        "nbwarden_api": state,
        "identity_provider": identity,
        "authorizer": authorizer,
        "base_url": "/",
        "xsrf_cookies": True,
        "cookie_secret": secrets.token_bytes(32),
        "headers": {},
        "allow_remote_access": state.config.gateway.host not in ("127.0.0.1", "localhost", "::1"),
        "local_hostnames": ["localhost"],
    }
    return web.Application(api_handlers("/"), **settings)


def build_state(config: Config) -> ApiState:
    from nbwarden.executor import Gateway

    gateway = Gateway.from_config(config)
    key = assertions.assertion_key(config.audit.key_file)
    return ApiState(config, gateway, key, "/" + API_PREFIX)


async def serve(
    config: Config, host: str, port: int, user_tokens: dict[str, str], ready: Any = None
) -> None:
    """Run until SIGTERM or SIGINT, then close the store (final checkpoint)."""
    state = await asyncio.to_thread(build_state, config)
    server = httpserver.HTTPServer(
        make_app(state, user_tokens), max_body_size=MAX_BODY_BYTES + 1024, xheaders=False
    )
    server.listen(port, address=host)
    bound_port = port or _bound_port(server)
    url = f"http://{_url_host(host)}:{bound_port}/{API_PREFIX}"
    runtime = RuntimeFile.for_store(config.audit.path)
    state.operator_token = runtime.write(url).token
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    print(f"nbwarden gateway listening on {url}", flush=True)
    if ready is not None:
        ready(url)
    try:
        await stop.wait()
    finally:
        server.stop()
        runtime.remove()
        await asyncio.to_thread(state.gateway.close)


def _bound_port(server: httpserver.HTTPServer) -> int:
    for sock in server._sockets.values():
        return int(sock.getsockname()[1])
    raise RuntimeError("the gateway is not listening")


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def read_tokens(path: Path | None) -> dict[str, str]:
    from nbwarden.server_extension.auth import read_token_file

    return read_token_file(path) if path else {}
