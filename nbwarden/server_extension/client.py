"""A small HTTP client for the gateway API, used by the CLI while a gateway runs."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from nbwarden.config import Config
from nbwarden.server_extension.errors import GatewayAPIError
from nbwarden.server_extension.runtime import RuntimeFile

ACT_AS_HEADER = "X-NBWarden-As"


class GatewayClient:
    def __init__(
        self, base_url: str, token: str, act_as: str | None = None, timeout_s: float = 60.0
    ) -> None:
        self.base_url = base_url.rstrip("/") + "/"
        self.token = token
        self.act_as = act_as
        self.timeout_s = timeout_s

    @classmethod
    def for_running_gateway(cls, config: Config, act_as: str | None = None) -> GatewayClient | None:
        """A client for the gateway that owns ``config``'s audit store, if one runs."""
        info = RuntimeFile.for_store(config.audit.path).read()
        if info is None:
            return None
        return cls(info.url, info.token, act_as)

    def get(self, path: str, **query: str | None) -> Any:
        given = {name: value for name, value in query.items() if value is not None}
        if given:
            path = f"{path}?{urllib.parse.urlencode(given)}"
        return self.request("GET", path)

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return self.request("POST", path, body or {})

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(  # noqa: S310 - the URL comes from our runtime file
            self.base_url + path.lstrip("/"), data=data, method=method
        )
        request.add_header("Authorization", f"token {self.token}")
        request.add_header("Content-Type", "application/json")
        if self.act_as:
            request.add_header(ACT_AS_HEADER, self.act_as)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:  # noqa: S310
                return _json(response.read())
        except urllib.error.HTTPError as exc:
            payload = _json(exc.read())
            message = payload.get("error") if isinstance(payload, dict) else None
            raise GatewayAPIError(exc.code, str(message or exc.reason)) from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            reason = getattr(exc, "reason", exc)
            raise GatewayAPIError(503, f"cannot reach the gateway: {reason}") from None


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw or b"null")
    except ValueError:
        return None
