"""The Jupyter server extension: the gateway embedded in the user's Jupyter server.

On load it builds the Gateway from nbwarden.toml (or, with ``gateway_url``, points
kernels at a standalone gateway), registers the REST API, swaps in the governed kernel
websocket, registers the event schemas and tells kernels started later where the API is
(``NBWARDEN_GATEWAY_URL``). On link it makes the role authorizer and the multi-user
identity provider the server's defaults unless the admin configured others.
With no config file the extension stays inactive and changes nothing.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from jupyter_server.extension.application import ExtensionApp
from traitlets import Unicode, default

from nbwarden.config import CONFIG_ENV, Config, find_config_path, load_config
from nbwarden.server_extension import assertions
from nbwarden.server_extension.auth import RoleAuthorizer, TokenMapIdentityProvider
from nbwarden.server_extension.events import EventSink
from nbwarden.server_extension.handlers import API_PREFIX, api_handlers
from nbwarden.server_extension.runtime import RuntimeFile
from nbwarden.server_extension.service import ApiState
from nbwarden.server_extension.websocket import GovernedWebsocketConnection

GATEWAY_URL_ENV = "NBWARDEN_GATEWAY_URL"

SERVER_DEFAULTS: dict[str, type] = {
    "authorizer_class": RoleAuthorizer,
    "identity_provider_class": TokenMapIdentityProvider,
    "kernel_websocket_connection_class": GovernedWebsocketConnection,
}


class NBWardenExtension(ExtensionApp):
    name = "nbwarden"
    load_other_extensions = True

    config_file = Unicode(config=True, help="nbwarden.toml (default: $NBWARDEN_CONFIG, ./)")
    gateway_url = Unicode(
        None,
        allow_none=True,
        config=True,
        help="API URL of a standalone gateway (``.../nbwarden/api``); None: embedded.",
    )

    @default("config_file")
    def _default_config_file(self) -> str:
        return str(find_config_path())

    api_state: ApiState | None = None
    runtime: RuntimeFile | None = None

    @property
    def server(self) -> Any:
        """The linked ServerApp (always set once the extension is loaded)."""
        if self.serverapp is None:
            raise RuntimeError("the nbwarden extension is not linked to a server")
        return self.serverapp

    @property
    def active(self) -> bool:
        """Installed but unconfigured (no nbwarden.toml): stay out of the server's way."""
        return Path(self.config_file).is_file()

    def _link_jupyter_server_extension(self, serverapp: Any) -> None:
        super()._link_jupyter_server_extension(serverapp)
        if not self.active:
            self.log.warning(
                "nbwarden: no config file at %s; the extension is inactive", self.config_file
            )
            return
        configured = serverapp.config.get("ServerApp", {})
        for trait, cls in SERVER_DEFAULTS.items():
            if trait not in configured:
                setattr(serverapp, trait, cls)

    def initialize_settings(self) -> None:
        if not self.active:
            return
        config = load_config(self.config_file)
        os.environ[CONFIG_ENV] = str(Path(self.config_file).resolve())
        authorizer = self.server.authorizer
        if isinstance(authorizer, RoleAuthorizer):
            authorizer.roles_config = config.roles
        if isinstance(self.server.identity_provider, TokenMapIdentityProvider):
            self._keep_server_token_out_of_pages()
        remote = self.gateway_url or config.gateway.url
        if remote:
            self._use_remote_gateway(config, remote)
        else:
            self._start_embedded_gateway(config)

    def _start_embedded_gateway(self, config: Config) -> None:
        from nbwarden.executor import Gateway

        gateway = Gateway.from_config(config)
        events = EventSink(self.server.event_logger, self.server.io_loop.asyncio_loop)
        gateway.approvals.notifier.hooks.append(events.approval)
        base_path = self.server.base_url.rstrip("/") + "/" + API_PREFIX
        state = ApiState(
            config,
            gateway,
            assertions.assertion_key(config.audit.key_file),
            base_path,
            events,
        )
        self.api_state = state
        self.settings["nbwarden_api"] = state
        self.settings["nbwarden_cells"] = state
        api_url = self.server.connection_url.rstrip("/") + "/" + API_PREFIX
        os.environ[GATEWAY_URL_ENV] = api_url
        self.runtime = RuntimeFile.for_store(config.audit.path)
        state.operator_token = self.runtime.write(api_url).token
        self.log.info("nbwarden: embedded gateway at %s", api_url)

    def _keep_server_token_out_of_pages(self) -> None:
        """JupyterLab writes the server's token into every page; with several users that
        would make every browser act as the token's owner. Browsers use their own login
        cookie instead. Done again once all extensions have loaded, whatever their order."""

        def blank() -> None:
            self.server.web_app.settings.setdefault("page_config_data", {})["token"] = ""

        blank()
        self.server.io_loop.add_callback(blank)

    def _use_remote_gateway(self, config: Config, url: str) -> None:
        """Kernels call the standalone gateway; this server still stamps every cell."""
        os.environ[GATEWAY_URL_ENV] = url.rstrip("/")
        self.api_state = None
        key = assertions.assertion_key(config.audit.key_file)
        self.settings["nbwarden_cells"] = StampOnly(key, config.gateway.cell_assertion_ttl_s)
        self.log.info("nbwarden: kernels use the gateway at %s", url)

    def initialize_handlers(self) -> None:
        if self.api_state is not None:
            self.handlers.extend(api_handlers("/"))

    async def stop_extension(self) -> None:
        state = self.api_state
        if state is not None:
            await asyncio.to_thread(state.gateway.close)
        if self.runtime is not None:
            self.runtime.remove()


class StampOnly(assertions.CellStamper):
    """With a standalone gateway this server stamps cells but keeps no audit store.

    Governed cells are recorded by the gateway they call; plain Python cells are not
    recorded in this mode (the gateway has no route for it yet).
    """

    def record_cell(
        self, user: str, kernel_id: str, kernel_name: str, cell_id: str, source: str
    ) -> str:
        return ""

    def end_cell(self, execution_id: str, status: str) -> None:
        return None
