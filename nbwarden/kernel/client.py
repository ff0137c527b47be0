"""The kernel's HTTP client for the gateway API (``/nbwarden/api/``).

Every call carries ``Authorization: NBWarden-Assertion <token>``: the identity
assertion the server stamped on the cell being run. The kernel has no other way to
authenticate, so a cell without a valid assertion reaches no data.
"""

from __future__ import annotations

import os
from typing import Any

import httpx

GATEWAY_URL_ENV = "NBWARDEN_GATEWAY_URL"
ASSERTION_SCHEME = "NBWarden-Assertion"
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
    """Synchronous client; one per kernel, shared by all magics."""

    def __init__(self, base_url: str, timeout_s: float = 3600.0) -> None:
        self.base_url = base_url.rstrip("/") + "/"
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout_s, connect=10.0),
            trust_env=False,
        )

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
        self._http.close()

    def execute(self, body: dict[str, Any], assertion: str) -> tuple[int, dict[str, Any]]:
        """POST ``execute``; the HTTP status (200 ok, 202 pending, 403, 409, 422) and the body.

        A SQL result comes as an Arrow stream (``result["table"]``, no ``rows``): no JSON
        rows to encode on the server and decode here; every other answer is JSON.
        """
        from nbwarden.executor.payload import ARROW_STREAM  # pyarrow: not for `nbwarden --help`

        return self._call(
            "POST",
            "execute",
            assertion,
            body,
            accept=(200, 202, 403, 409, 422),
            media_types=f"{ARROW_STREAM}, application/json;q=0.9",
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
    ) -> tuple[int, dict[str, Any]]:
        headers = {"Authorization": f"{ASSERTION_SCHEME} {assertion}", "Accept": media_types}
        timeout = httpx.Timeout(timeout_s) if timeout_s else httpx.USE_CLIENT_DEFAULT
        try:
            response = self._http.request(method, path, json=body, headers=headers, timeout=timeout)
        except httpx.TimeoutException:
            raise GatewayError(f"the gateway did not answer {method} {path} in time") from None
        except httpx.HTTPError as exc:
            raise GatewayError(
                f"cannot reach the nbwarden gateway ({type(exc).__name__})"
            ) from None
        payload = _body(response)
        if response.status_code not in accept:
            raise GatewayError(_refusal_message(response.status_code, payload), status="refused")
        return response.status_code, payload


def _body(response: httpx.Response) -> dict[str, Any]:
    from nbwarden.executor.payload import ARROW_STREAM, read_arrow_answer

    if response.headers.get("Content-Type", "").startswith(ARROW_STREAM):
        try:
            return read_arrow_answer(response.content)
        except (OSError, ValueError):
            raise GatewayError("the gateway's Arrow answer cannot be read") from None
    try:
        payload = response.json()
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
