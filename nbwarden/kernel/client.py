"""The kernel's HTTP client for the gateway API (``/nbwarden/api/``).

Every call carries ``Authorization: NBWarden-Assertion <token>``: the identity
assertion the server stamped on the cell being run. The kernel has no other way to
authenticate, so a cell without a valid assertion reaches no data.

It speaks HTTP/1.1 through the standard library's ``http.client`` on kept-alive
connections: per call that costs about half of what a general client (httpx) spends on
request and response models, a cell's largest fixed cost after the gateway itself.
"""

from __future__ import annotations

import http.client
import json
import os
import select
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

GATEWAY_URL_ENV = "NBWARDEN_GATEWAY_URL"
ASSERTION_SCHEME = "NBWarden-Assertion"
CONNECT_TIMEOUT_S = 10.0
WAIT_INTERVAL_S = 0.5
PROGRESS_TIMEOUT_S = 2.0
"""A progress poll is only decoration: never let a slow one hold up the cell."""


class GatewayError(Exception):
    """A governed cell did not produce a result: refused, blocked, rejected or failed.

    The message is safe to show: it comes from the gateway's safe error text or names
    only rule ids, request ids and HTTP statuses, never a URL credential or a data value.
    """

    def __init__(self, message: str, status: str = "error", rules: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.status = status
        self.rules = rules

    def _render_traceback_(self) -> list[str]:
        """IPython shows this instead of a stack trace: the cause, not nbwarden's frames."""
        return [f"\x1b[0;31mGatewayError\x1b[0m: {self}"]


class GatewayClient:
    """Synchronous client; one per kernel, shared by all magics and their threads (each
    call takes a connection of its own from a small pool)."""

    def __init__(self, base_url: str, timeout_s: float = 3600.0) -> None:
        self.base_url = base_url.rstrip("/") + "/"
        self.timeout_s = timeout_s
        self._pool = _ConnectionPool(self.base_url)

    @classmethod
    def from_env(cls) -> GatewayClient:
        url = os.environ.get(GATEWAY_URL_ENV)
        if not url:
            raise GatewayError(
                f"{GATEWAY_URL_ENV} is not set: this kernel reaches data only through the "
                "nbwarden gateway; start it from a Jupyter server with the nbwarden extension"
            )
        return cls(url)

    def close(self) -> None:
        self._pool.close()

    def execute(
        self,
        body: dict[str, Any],
        assertion: str,
        while_waiting: Callable[[], None] | None = None,
    ) -> tuple[int, dict[str, Any]]:
        """POST ``execute``; the HTTP status (200 ok, 202 pending, 403, 409, 422) and the body.

        A SQL result comes as an Arrow stream (``result["table"]``, no ``rows``): no JSON
        rows to encode on the server and decode here; every other answer is JSON.
        ``while_waiting`` is called every ``WAIT_INTERVAL_S`` until the answer starts.
        """
        from nbwarden.executor.payload import ARROW_STREAM  # pyarrow: not for `nbwarden --help`

        return self._call(
            "POST",
            "execute",
            assertion,
            body,
            accept=(200, 202, 403, 409, 422),
            media_types=f"{ARROW_STREAM}, application/json;q=0.9",
            while_waiting=while_waiting,
        )

    def approval(self, approval_id: str, assertion: str) -> dict[str, Any]:
        return self._call("GET", f"approvals/{approval_id}", assertion)[1]

    def withdraw(self, approval_id: str, assertion: str) -> dict[str, Any]:
        return self._call("POST", f"approvals/{approval_id}/withdraw", assertion, {})[1]

    def cancel(self, execution_id: str, assertion: str) -> dict[str, Any]:
        return self._call("POST", f"executions/{execution_id}/cancel", assertion, {})[1]

    def progress(self, execution_id: str, assertion: str) -> dict[str, Any] | None:
        """Elapsed time and rows fetched of a running execution; None once it is not running."""
        status, payload = self._call(
            "GET",
            f"executions/{execution_id}/progress",
            assertion,
            accept=(200, 404),
            timeout_s=PROGRESS_TIMEOUT_S,
        )
        return payload if status == 200 else None

    def connections(self, assertion: str) -> dict[str, Any]:
        return self._call("GET", "connections", assertion)[1]

    def whoami(self, assertion: str) -> dict[str, Any]:
        return self._call("GET", "whoami", assertion)[1]

    def _call(
        self,
        method: str,
        path: str,
        assertion: str,
        body: dict[str, Any] | None = None,
        accept: tuple[int, ...] = (200,),
        timeout_s: float | None = None,
        media_types: str = "application/json",
        while_waiting: Callable[[], None] | None = None,
    ) -> tuple[int, dict[str, Any]]:
        headers = {"Authorization": f"{ASSERTION_SCHEME} {assertion}", "Accept": media_types}
        data = None if body is None else _json_bytes(body)
        if data is not None:
            headers["Content-Type"] = "application/json"
        try:
            status, content_type, content = self._pool.send(
                method, path, data, headers, timeout_s or self.timeout_s, while_waiting
            )
        except TimeoutError:
            raise GatewayError(f"the gateway did not answer {method} {path} in time") from None
        except (OSError, http.client.HTTPException) as exc:
            raise GatewayError(
                f"cannot reach the nbwarden gateway ({type(exc).__name__})"
            ) from None
        payload = _body(content_type, content)
        if status not in accept:
            raise GatewayError(_refusal_message(status, payload), status="refused")
        return status, payload


class _ConnectionPool:
    """Kept-alive connections to the gateway: a call takes an idle one (or opens one) and
    gives it back once it has read the whole answer. A connection the server has closed
    meanwhile reads as ready (its end of file) and is dropped before it is used, so no
    request is ever sent twice."""

    def __init__(self, base_url: str) -> None:
        parts = urllib.parse.urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise GatewayError(f"{GATEWAY_URL_ENV} must be an http:// or https:// URL")
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._path = parts.path
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def send(
        self,
        method: str,
        path: str,
        data: bytes | None,
        headers: dict[str, str],
        timeout_s: float,
        while_waiting: Callable[[], None] | None = None,
    ) -> tuple[int, str, bytes]:
        """The answer's status, content type and body; raises OSError, TimeoutError or
        ``http.client.HTTPException``. Waits on the calling thread, so a kernel interrupt
        reaches it; a call it interrupts closes its connection."""
        connection = self._take()
        try:
            if connection.sock is None:
                connection.connect()
            connection.sock.settimeout(timeout_s)
            connection.request(method, self._path + path, body=data, headers=headers)
            if while_waiting is not None:
                _wait_for_answer(connection.sock, timeout_s, while_waiting)
            response = connection.getresponse()
            content = response.read()
        except BaseException:
            connection.close()
            raise
        if response.will_close:
            connection.close()
        else:
            with self._lock:
                self._idle.append(connection)
        return response.status, response.getheader("Content-Type", ""), content

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()

    def _take(self) -> http.client.HTTPConnection:
        with self._lock:
            while self._idle:
                connection = self._idle.pop()
                if connection.sock is not None and not _readable(connection.sock):
                    return connection
                connection.close()
        if self._https:
            return http.client.HTTPSConnection(
                self._host,
                self._port,
                timeout=CONNECT_TIMEOUT_S,
                context=ssl.create_default_context(),
            )
        return http.client.HTTPConnection(self._host, self._port, timeout=CONNECT_TIMEOUT_S)


def _wait_for_answer(sock: Any, timeout_s: float, while_waiting: Callable[[], None]) -> None:
    """Until the answer's first bytes arrive, call ``while_waiting`` every
    ``WAIT_INTERVAL_S``; raises TimeoutError past ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not select.select([sock], [], [], WAIT_INTERVAL_S)[0]:
        if time.monotonic() >= deadline:
            raise TimeoutError
        while_waiting()


def _readable(sock: Any) -> bool:
    """An idle kept-alive connection has nothing to read unless the server closed it."""
    try:
        return bool(select.select([sock], [], [], 0)[0])
    except (OSError, ValueError):
        return True


def _json_bytes(body: dict[str, Any]) -> bytes:
    try:
        return json.dumps(body, ensure_ascii=False, allow_nan=False).encode("utf-8")
    except ValueError:
        raise GatewayError(
            "the cell's parameters cannot be sent: NaN and infinity are not JSON numbers"
        ) from None


def _body(content_type: str, content: bytes) -> dict[str, Any]:
    from nbwarden.executor.payload import ARROW_STREAM, read_arrow_answer

    if content_type.startswith(ARROW_STREAM):
        try:
            return read_arrow_answer(content)
        except (OSError, ValueError):
            raise GatewayError("the gateway's Arrow answer cannot be read") from None
    try:
        payload = json.loads(content)
    except ValueError:
        return {}
    return payload if isinstance(payload, dict) else {"value": payload}


def _refusal_message(status_code: int, payload: dict[str, Any]) -> str:
    detail = payload.get("error") or payload.get("message") or payload.get("reason") or ""
    if status_code == 401:
        prefix = "the gateway refused this cell: no valid identity assertion"
    elif status_code == 403:
        prefix = "the gateway refused this call"
    elif status_code == 404:
        prefix = "not found on the gateway"
    else:
        prefix = f"the gateway answered HTTP {status_code}"
    return f"{prefix}: {detail}" if detail else prefix
