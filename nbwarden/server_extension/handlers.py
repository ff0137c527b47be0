"""The REST API under ``/nbwarden/api/``: the same handlers in Jupyter and standalone.

Every handler is a jupyter_server ``APIHandler``: users authenticate with the server's
token or cookie (XSRF on for browsers), kernels with ``Authorization: NBWarden-Assertion``.
Each method is wrapped in ``@authorized`` (Jupyter's Authorizer) and checks roles again
itself. Errors are JSON ``{"error": message}`` and never carry a stack trace.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from http.client import responses
from typing import Any, TypeVar

from jupyter_server.auth.decorator import authorized as jupyter_authorized
from jupyter_server.base.handlers import APIHandler
from tornado import web

from nbwarden.executor.payload import ARROW_STREAM
from nbwarden.server_extension import assertions
from nbwarden.server_extension.auth import RoledUser, has_any
from nbwarden.server_extension.errors import GatewayAPIError
from nbwarden.server_extension.openapi import openapi_document
from nbwarden.server_extension.service import ApiState, Caller

log = logging.getLogger(__name__)

API_PREFIX = "nbwarden/api"
MAX_BODY_BYTES = 2 * 1024 * 1024
KERNEL_HEADER = "X-NBWarden-Kernel"
ACT_AS_HEADER = "X-NBWarden-As"
OPERATOR_USER = "nbwarden-operator"
ID_PATTERN = r"([A-Za-z0-9_.:-]{1,128})"

HandlerT = TypeVar("HandlerT", bound=Callable[..., Awaitable[None]])


def authorized(action: str, resource: str) -> Callable[[HandlerT], HandlerT]:
    """jupyter_server's ``@authorized`` (the server's Authorizer decides), typed."""
    decorator: Callable[[HandlerT], HandlerT] = jupyter_authorized(action, resource)
    return decorator


class NBWardenHandler(APIHandler):
    """Base of every nbwarden API handler: authentication, JSON in and out, safe errors."""

    auth_resource = "nbwarden"
    kernel_callable = False
    """May a kernel call this route with an identity assertion (not only a user session)?"""

    claims: assertions.IdentityClaims | None = None
    _refusal_recorded = False

    @property
    def state(self) -> ApiState:
        state: ApiState = self.settings["nbwarden_api"]
        return state

    async def prepare(self) -> None:  # type: ignore[override]
        if len(self.request.body or b"") > MAX_BODY_BYTES:
            raise GatewayAPIError(413, f"request body larger than {MAX_BODY_BYTES} bytes")
        header = self.request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme == assertions.HEADER_SCHEME:
            self._authenticate_kernel(token.strip())
        elif scheme.lower() == "token" and self.state.is_operator_token(token.strip()):
            self._authenticate_operator()
        await super().prepare()

    def _authenticate_operator(self) -> None:
        """The local CLI, holding the runtime file's token, acts as the user it names.

        Without a name it is the operator, with the admin role: the same power as
        opening the audit store directly, which the token's file permissions imply.
        """
        username = self.request.headers.get(ACT_AS_HEADER, "").strip()
        if username:
            self._jupyter_current_user = self.state.user_object(username)
        else:
            self._jupyter_current_user = RoledUser(
                username=OPERATOR_USER, nbwarden_roles=frozenset({"admin"})
            )
        self._token_authenticated = True

    def _authenticate_kernel(self, token: str) -> None:
        if not self.kernel_callable:
            raise GatewayAPIError(403, "kernels may not call this route")
        try:
            claims = assertions.verify(self.state.assertion_key, token)
        except GatewayAPIError as exc:
            self.state.record_refused_assertion(exc.message, self.request.path)
            self._refusal_recorded = True
            raise
        self.claims = claims
        self._jupyter_current_user = self.state.user_object(claims.user)
        self._token_authenticated = True

    def check_xsrf_cookie(self) -> None:
        if self.claims is not None:
            return
        super().check_xsrf_cookie()

    @property
    def caller(self) -> Caller:
        user = self.current_user
        if user is None:
            raise GatewayAPIError(403, "not authenticated")
        return self.state.caller(user, self.claims)

    def require(self, *roles: str) -> Caller:
        caller = self.caller
        if roles and not has_any(caller.roles, roles):
            raise GatewayAPIError(403, f"needs role {' or '.join(roles)}")
        return caller

    def json_body(self) -> dict[str, Any]:
        if not self.request.body:
            return {}
        try:
            body = json.loads(self.request.body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise GatewayAPIError(400, "request body is not valid JSON") from None
        if not isinstance(body, dict):
            raise GatewayAPIError(400, "request body must be a JSON object")
        return body

    def reply(self, payload: Any, status: int = 200) -> None:
        self.set_status(status)
        self.finish(json.dumps(payload, default=str))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        message = responses.get(status_code, "error")
        if isinstance(exc, GatewayAPIError):
            self.set_status(exc.status)
            status_code = exc.status
            message = exc.message
        if status_code == 403:
            self._record_refusal(message)
        elif isinstance(exc, web.HTTPError) and exc.log_message:
            message = exc.log_message % exc.args if exc.args else exc.log_message
        elif status_code >= 500:
            log.error("nbwarden API: unexpected %s", type(exc).__name__ if exc else "error")
            message = "internal error"
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"error": message}))

    def _record_refusal(self, reason: str) -> None:
        """An authenticated user refused a route (a missing role) leaves a chain record.

        Unauthenticated calls stay in the HTTP log only: recording them would let anyone
        on the network grow the audit store at will.
        """
        user = getattr(self, "_jupyter_current_user", None)
        name = getattr(user, "username", None)
        if self._refusal_recorded or not name:
            return
        self._refusal_recorded = True
        self.state.record_refused_call(name, reason, self.request.path, "gateway.authorization")

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, GatewayAPIError | web.HTTPError):
            return
        log.error("nbwarden API: unhandled %s on %s", typ.__name__, self.request.path)


class WhoAmIHandler(NBWardenHandler):
    kernel_callable = True

    @authorized(action="read", resource="nbwarden")
    async def get(self) -> None:  # type: ignore[override]
        caller = self.caller
        self.reply({"user": caller.user, "roles": sorted(caller.roles)})


class ConnectionsHandler(NBWardenHandler):
    kernel_callable = True

    @authorized(action="read", resource="nbwarden")
    async def get(self) -> None:  # type: ignore[override]
        self.caller  # noqa: B018 - authenticated, any role
        self.reply(self.state.connections())


class OpenAPIHandler(NBWardenHandler):
    @authorized(action="read", resource="nbwarden")
    async def get(self) -> None:  # type: ignore[override]
        self.reply(openapi_document(self.state.base_path))


class ExecuteHandler(NBWardenHandler):
    kernel_callable = True

    @authorized(action="write", resource="nbwarden:execute")
    async def post(self) -> None:  # type: ignore[override]
        caller = self.require("analyst")
        kernel_header = self.request.headers.get(KERNEL_HEADER)
        wants_arrow = self._wants_arrow()
        status, payload = await self.state.execute(
            caller, self.json_body(), kernel_header, arrow=wants_arrow
        )
        stream = getattr(payload.get("result"), "arrow_answer", None) if status == 200 else None
        if stream is None:
            self.reply(payload, status)
            return
        self.finish(stream, set_content_type=ARROW_STREAM)

    def _wants_arrow(self) -> bool:
        """Only a client that asks for Arrow gets it; a SQL result only, errors stay JSON."""
        return accepts(self.request.headers.get("Accept", ""), ARROW_STREAM)


class CancelHandler(NBWardenHandler):
    kernel_callable = True

    @authorized(action="write", resource="nbwarden:executions")
    async def post(self, execution_id: str) -> None:  # type: ignore[override]
        caller = self.require("analyst", "approver")
        self.reply(await self.state.cancel(caller, execution_id))


class ProgressHandler(NBWardenHandler):
    kernel_callable = True

    @authorized(action="read", resource="nbwarden:executions")
    async def get(self, execution_id: str) -> None:  # type: ignore[override]
        caller = self.require("analyst")
        self.reply(self.state.progress(caller, execution_id))


class ApprovalsHandler(NBWardenHandler):
    @authorized(action="read", resource="nbwarden:approvals")
    async def get(self) -> None:  # type: ignore[override]
        caller = self.require("analyst", "approver")
        state = self.get_query_argument("state", None)
        self.reply(await self.state.list_approvals(caller, state))


class ApprovalHandler(NBWardenHandler):
    kernel_callable = True

    @authorized(action="read", resource="nbwarden:approvals")
    async def get(self, approval_id: str) -> None:  # type: ignore[override]
        caller = self.require("analyst", "approver")
        self.reply(await self.state.get_approval(caller, approval_id))


class ApprovalActionHandler(NBWardenHandler):
    kernel_callable = True
    """Kernels may only withdraw (the service refuses approve and reject from a kernel)."""

    @authorized(action="write", resource="nbwarden:approvals")
    async def post(self, approval_id: str, action: str) -> None:  # type: ignore[override]
        if action == "withdraw":
            caller = self.require("analyst", "approver")
        else:
            caller = self.require("approver")
        result = await self.state.approval_action(caller, approval_id, action, self.json_body())
        self.reply(result)


class GrantsHandler(NBWardenHandler):
    @authorized(action="read", resource="nbwarden:grants")
    async def get(self) -> None:  # type: ignore[override]
        caller = self.require("approver")
        active_only = self.get_query_argument("active", "false").lower() == "true"
        self.reply(await self.state.list_grants(caller, active_only))

    @authorized(action="write", resource="nbwarden:grants")
    async def post(self) -> None:  # type: ignore[override]
        caller = self.require("approver")
        self.reply(await self.state.create_grant(caller, self.json_body()), 201)


class GrantRevokeHandler(NBWardenHandler):
    @authorized(action="write", resource="nbwarden:grants")
    async def post(self, grant_id: str) -> None:  # type: ignore[override]
        caller = self.require("approver")
        self.reply(await self.state.revoke_grant(caller, grant_id, self.json_body()))


class ExecutionsHandler(NBWardenHandler):
    @authorized(action="read", resource="nbwarden:executions")
    async def get(self) -> None:  # type: ignore[override]
        caller = self.require("auditor")
        names = ("user", "connection", "table", "since", "until", "status")
        filters = {name: self.get_query_argument(name, None) for name in names}
        limit = _int_argument(self.get_query_argument("limit", "500"), "limit")
        self.reply(await self.state.search_executions(caller, filters, limit))


class ExecutionHandler(NBWardenHandler):
    @authorized(action="read", resource="nbwarden:executions")
    async def get(self, execution_id: str) -> None:  # type: ignore[override]
        caller = self.require("auditor", "analyst")
        self.reply(await self.state.get_execution(caller, execution_id))


class DsarHandler(NBWardenHandler):
    @authorized(action="write", resource="nbwarden:audit")
    async def post(self) -> None:  # type: ignore[override]
        caller = self.require("auditor")
        self.reply(await self.state.dsar(caller, self.json_body()))


class AuditVerifyHandler(NBWardenHandler):
    @authorized(action="read", resource="nbwarden:audit")
    async def get(self) -> None:  # type: ignore[override]
        caller = self.require("auditor")
        self.reply(await self.state.verify(caller))


class AuditStatsHandler(NBWardenHandler):
    @authorized(action="read", resource="nbwarden:audit")
    async def get(self) -> None:  # type: ignore[override]
        caller = self.require("auditor")
        self.reply(await self.state.stats(caller))


class NotFoundHandler(NBWardenHandler):
    """Unknown paths under the API prefix answer a JSON 404, after authentication."""

    @authorized(action="read", resource="nbwarden")
    async def get(self, _path: str) -> None:  # type: ignore[override]
        raise GatewayAPIError(404, "no such API route")

    async def post(self, _path: str) -> None:  # type: ignore[override]
        await self.get(_path)


def accepts(accept_header: str, media_type: str) -> bool:
    """Does the Accept header name ``media_type`` itself with a non-zero q?"""
    for media_range in accept_header.split(","):
        name, *params = (part.strip() for part in media_range.split(";"))
        if name.lower() != media_type:
            continue
        weights = [p.partition("=")[2] for p in params if p.lower().startswith("q=")]
        try:
            return not weights or float(weights[0]) > 0
        except ValueError:
            return False
    return False


def _int_argument(value: str, name: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise GatewayAPIError(400, f"{name} must be an integer") from None
    if number < 1:
        raise GatewayAPIError(400, f"{name} must be positive")
    return number


ROUTES: list[tuple[str, type[NBWardenHandler]]] = [
    ("whoami", WhoAmIHandler),
    ("connections", ConnectionsHandler),
    ("openapi.json", OpenAPIHandler),
    ("execute", ExecuteHandler),
    (rf"executions/{ID_PATTERN}/cancel", CancelHandler),
    (rf"executions/{ID_PATTERN}/progress", ProgressHandler),
    ("approvals", ApprovalsHandler),
    (rf"approvals/{ID_PATTERN}", ApprovalHandler),
    (rf"approvals/{ID_PATTERN}/(approve|reject|withdraw)", ApprovalActionHandler),
    ("grants", GrantsHandler),
    (rf"grants/{ID_PATTERN}/revoke", GrantRevokeHandler),
    ("executions", ExecutionsHandler),
    (rf"executions/{ID_PATTERN}", ExecutionHandler),
    ("dsar", DsarHandler),
    ("audit/verify", AuditVerifyHandler),
    ("audit/stats", AuditStatsHandler),
    ("(.*)", NotFoundHandler),
]


def api_handlers(base_url: str) -> list[tuple[str, type[NBWardenHandler]]]:
    """Tornado URL specs for every route, under ``{base_url}nbwarden/api/``."""
    root = base_url.rstrip("/") + "/" + API_PREFIX + "/"
    return [
        (root + pattern + "/?$" if pattern != "(.*)" else root + pattern, handler)
        for pattern, handler in ROUTES
    ]
