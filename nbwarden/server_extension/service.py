"""What the API handlers call: the embedded Gateway behind role and ownership checks.

``ApiState`` lives in the Tornado settings (``settings["nbwarden_api"]``) of the Jupyter
server or the standalone gateway. It turns JSON bodies into Gateway calls, enforces who
may see what (an analyst sees only their own approvals and executions) and turns the
Gateway's errors into :class:`GatewayAPIError` with a safe message and an HTTP status.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from jupyter_server.auth import User

from nbwarden.config import Config
from nbwarden.provenance.models import DSAR_MAX_IDENTIFIERS
from nbwarden.server_extension import assertions
from nbwarden.server_extension.auth import roles_of_user
from nbwarden.server_extension.errors import GatewayAPIError
from nbwarden.server_extension.events import EventSink

if TYPE_CHECKING:
    from nbwarden.executor import ExecuteRequest, Gateway

log = logging.getLogger(__name__)

T = TypeVar("T")

OUTCOME_STATUS = {
    "ok": 200,
    "pending": 202,
    "blocked": 403,
    "rejected": 403,
    "withheld": 422,
    "error": 422,
    "cancelled": 409,
}
DSAR_FIELDS = {"email": "EMAIL_ADDRESS", "phone": "PHONE_NUMBER", "name": "PERSON"}
MAX_LIST = 5000
REFUSED_USER = "<unverified kernel call>"
CURRENT_EXECUTION = "current"
REQUEST_FIELDS = ("params", "purpose", "notebook", "execution_count", "approval_id")


@dataclass(frozen=True)
class Caller:
    user: str
    roles: frozenset[str]
    claims: assertions.IdentityClaims | None = None

    @property
    def is_kernel(self) -> bool:
        return self.claims is not None

    def has(self, *roles: str) -> bool:
        return "admin" in self.roles or bool(self.roles & set(roles))


class ApiState:
    """The gateway as the REST handlers see it."""

    def __init__(
        self,
        config: Config,
        gateway: Gateway,
        assertion_key: bytes,
        base_path: str,
        events: EventSink | None = None,
    ) -> None:
        self.config = config
        self.gateway = gateway
        self.assertion_key = assertion_key
        self.stamper = assertions.CellStamper(assertion_key, config.gateway.cell_assertion_ttl_s)
        self.base_path = base_path
        self.events = events
        self.operator_token: str | None = None
        """The runtime file's token: it may act as any configured user (the local CLI)."""

    # identity -------------------------------------------------------------------

    def caller(self, user: User, claims: assertions.IdentityClaims | None) -> Caller:
        return Caller(user.username, roles_of_user(user, self.config.roles), claims)

    def is_operator_token(self, token: str) -> bool:
        return bool(self.operator_token) and hmac.compare_digest(
            str(self.operator_token).encode(), token.encode()
        )

    def user_object(self, username: str) -> User:
        return User(username=username, name=username, display_name=username)

    def record_refused_assertion(self, reason: str, path: str) -> None:
        """A forged, expired or misdirected assertion is logged and goes to the audit chain."""
        log.warning("nbwarden: refused a kernel call to %s: %s", path, reason)
        self.record_refused_call(REFUSED_USER, reason, path, "gateway.identity_assertion")

    def record_refused_call(self, user: str, reason: str, path: str, rule_id: str) -> None:
        """A refused call (bad assertion, missing role) is a ``blocked`` record in the chain."""
        from nbwarden.provenance import ExecutionEnd, ExecutionStart

        start = ExecutionStart(
            user=user,
            kind="python",
            target="gateway",
            code_masked=f"<call to {path} refused>",
            code_hash="",
            verdict="block",
            rule_ids=[rule_id],
        )
        try:
            execution_id = self.gateway.store.record_start(start)
            self.gateway.store.record_end(execution_id, ExecutionEnd("blocked", error=reason))
        except Exception:
            log.error("nbwarden: could not record a refused call")

    # notebook cells --------------------------------------------------------------

    def stamp(self, user: str, kernel_id: str, cell_id: str, source: str) -> str:
        return self.stamper.stamp(user, kernel_id, cell_id, source)

    def record_cell(
        self, user: str, kernel_id: str, kernel_name: str, cell_id: str, source: str
    ) -> str:
        """Record one executed notebook cell of any kernel; raises when it cannot.

        The record is queued, not awaited: the writer commits it within milliseconds, and
        any governed call the cell makes waits for its own start record, queued behind
        this one. A failed commit makes the next record raise, which refuses that cell.
        """
        from nbwarden.executor.codelog import cell_for_audit
        from nbwarden.provenance import ExecutionStart

        start = ExecutionStart(
            user=user,
            kind="python",
            target=kernel_name or "kernel",
            code_masked=self.gateway.masker.mask_text(cell_for_audit(source, self._dialect)).text,
            code_hash=assertions.code_hash(source),
            roles=sorted(self.config.roles.roles_of(user)),
            kernel_id=kernel_id,
            cell_id=cell_id or None,
        )
        return str(self.gateway.store.record_start(start, durable=False))

    def _dialect(self, magic_line: str) -> str | None:
        """The dialect of the connection a ``%%sql`` or ``%sql`` line names, else of the
        first one configured (the kernel's default)."""
        connections = self.config.connections
        named = [connections[w] for w in magic_line.split()[1:] if w in connections]
        chosen = named or list(connections.values())[:1]
        return chosen[0].dialect if chosen else None

    def end_cell(self, execution_id: str, status: str) -> None:
        from nbwarden.provenance import ExecutionEnd

        recorded = {"ok": "ok", "aborted": "cancelled"}.get(status, "error")
        try:
            self.gateway.store.record_end(execution_id, ExecutionEnd(status=recorded))
        except Exception:
            log.error("nbwarden: could not record the end of a notebook cell")
        if self.events is not None:
            self.events.execution(execution_id, recorded, None, None, None)

    # execution ------------------------------------------------------------------

    async def execute(
        self,
        caller: Caller,
        body: dict[str, Any],
        kernel_header: str | None = None,
        arrow: bool = False,
    ) -> tuple[int, dict[str, Any]]:
        """Run one governed cell; ``kernel_header`` is the ``X-NBWarden-Kernel`` header;
        ``arrow`` when the answer goes out as Arrow (a SQL result then carries it as
        ``ResultPayload.arrow_answer``)."""
        from nbwarden.executor import Identity

        request, kernel_id = self._execute_request(caller, body, kernel_header)
        identity = Identity(
            user=caller.user, roles=caller.roles, kernel_id=kernel_id, session_id=None
        )
        outcome = await self._guard(self.gateway.execute(request, identity, arrow=arrow))
        payload = _as_dict(outcome)
        status = str(payload.get("status", "error"))
        if self.events is not None and payload.get("execution_id"):
            action = (payload.get("verdict") or {}).get("action")
            self.events.execution(
                str(payload["execution_id"]), status, action, kernel_id, request.cell_id
            )
        return OUTCOME_STATUS.get(status, 500), payload

    def _execute_request(
        self, caller: Caller, body: dict[str, Any], kernel_header: str | None
    ) -> tuple[ExecuteRequest, str | None]:
        from nbwarden.executor import ExecuteRequest

        kind = _text_field(body, "kind", required=True)
        if kind not in ("sql", "shell"):
            raise GatewayAPIError(400, "kind must be 'sql' or 'shell'")
        code = _text_field(body, "code", required=True) or ""
        cell_id = _text_field(body, "cell_id")
        kernel_id = _text_field(body, "kernel_id") or kernel_header
        if caller.claims is not None:
            kernel_id, cell_id = self._check_kernel_call(caller.claims, body, code, kernel_id)
        fields = {name: body.get(name) for name in REQUEST_FIELDS}
        fields.update(
            kind=kind, code=code, cell_id=cell_id, target=self._target(kind, body.get("target"))
        )
        try:
            return ExecuteRequest.from_dict(fields), kernel_id
        except Exception as exc:
            raise _api_error(exc) from None

    def _target(self, kind: str, target: object) -> str:
        if isinstance(target, str) and target:
            return target
        if target is not None and target != "":
            raise GatewayAPIError(400, "target must be a string")
        names = list(self.config.connections if kind == "sql" else self.config.shell)
        if not names:
            raise GatewayAPIError(400, f"no {kind} target is configured")
        return names[0]

    def _check_kernel_call(
        self,
        claims: assertions.IdentityClaims,
        body: dict[str, Any],
        code: str,
        kernel_id: str | None,
    ) -> tuple[str, str]:
        """The assertion must name this kernel and this cell, and the code must be in it."""
        source = body.get("cell_source")
        if not isinstance(source, str):
            raise self._refuse("a kernel call must carry the cell source")
        if not kernel_id:
            raise self._refuse("a kernel call must name its kernel id")
        try:
            assertions.check_claims(claims, kernel_id=kernel_id, source=source)
        except GatewayAPIError as exc:
            raise self._refuse(exc.message) from None
        if code.strip() not in source:
            raise self._refuse("the governed code is not part of the asserted cell")
        return kernel_id, claims.cell_id

    def _refuse(self, reason: str) -> GatewayAPIError:
        self.record_refused_assertion(reason, self.base_path + "/execute")
        return GatewayAPIError(403, reason)

    async def cancel(self, caller: Caller, execution_id: str) -> dict[str, Any]:
        """Cancel a running statement; ``current`` is the one of the kernel's asserted cell."""
        from nbwarden.executor import Identity

        claims = caller.claims
        if execution_id == CURRENT_EXECUTION:
            execution_id = await self._current_execution(caller)
        identity = Identity(
            user=caller.user,
            roles=caller.roles,
            kernel_id=claims.kernel_id if claims else None,
            session_id=None,
        )
        try:
            cancelled = await self.gateway.cancel(execution_id, identity)
        except Exception as exc:
            raise GatewayAPIError(409, str(exc) or "cannot cancel") from None
        return {"id": execution_id, "cancelled": bool(cancelled)}

    def progress(self, caller: Caller, execution_id: str) -> dict[str, Any]:
        """Elapsed time and rows fetched of the running execution of the kernel's asserted cell.

        Only a kernel asks, for its own cell, so ``current`` is the only id accepted.
        """
        claims = caller.claims
        if execution_id != CURRENT_EXECUTION or claims is None:
            raise GatewayAPIError(400, "only a kernel may ask for the progress of its cell")
        for running in self.gateway.running_executions():
            if (
                running["user"] == caller.user
                and running["kernel_id"] == claims.kernel_id
                and running["cell_id"] == claims.cell_id
            ):
                return {
                    "id": running["execution_id"],
                    "elapsed_s": running["elapsed_s"],
                    "rows_fetched": running["rows_fetched"],
                }
        raise GatewayAPIError(404, "no running execution for this cell")

    async def _current_execution(self, caller: Caller) -> str:
        claims = caller.claims
        if claims is None:
            raise GatewayAPIError(400, "'current' names a kernel's cell: only a kernel may use it")
        started = await self._call(
            self.gateway.store.search_executions, user=caller.user, status="started", limit=100
        )
        for record in started:
            if record.get("kernel_id") == claims.kernel_id and record.get("cell_id") == (
                claims.cell_id
            ):
                return str(record["id"])
        raise GatewayAPIError(404, "no running execution for this cell")

    # approvals ------------------------------------------------------------------

    async def list_approvals(self, caller: Caller, state: str | None) -> list[dict[str, Any]]:
        requester = None if caller.has("approver") else caller.user
        found = await self._call(
            self.gateway.approvals.list_requests, state=state, requester=requester
        )
        return [_as_dict(request) for request in found[:MAX_LIST]]

    async def get_approval(self, caller: Caller, approval_id: str) -> dict[str, Any]:
        request = await self._call(self.gateway.approvals.get, approval_id)
        if not caller.has("approver") and request.requester != caller.user:
            raise GatewayAPIError(404, f"no approval request {approval_id!r}")
        return _record(request)

    async def approval_action(
        self, caller: Caller, approval_id: str, action: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        if caller.is_kernel and action != "withdraw":
            raise GatewayAPIError(403, "a kernel may only withdraw its own request")
        approvals = self.gateway.approvals
        if action == "withdraw":
            request = await self._call(approvals.withdraw, approval_id, caller.user)
        elif action == "reject":
            reason = _text_field(body, "reason", required=True)
            request = await self._call(
                approvals.reject, approval_id, caller.user, caller.roles, reason
            )
        else:
            request = await self._call(
                approvals.approve,
                approval_id,
                caller.user,
                caller.roles,
                _text_field(body, "basis", required=True),
                justification=_text_field(body, "justification") or "",
                unmask_columns=_text_list(body, "unmask_columns"),
                unmask_entities=_text_list(body, "unmask_entities"),
                grant_minutes=_optional_int(body, "grant_minutes"),
            )
        return _record(request)

    async def list_grants(self, caller: Caller, active_only: bool) -> list[dict[str, Any]]:
        grants = await self._call(self.gateway.approvals.list_grants, active_only=active_only)
        return [_as_dict(grant) for grant in grants[:MAX_LIST]]

    async def create_grant(self, caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
        grant = await self._call(
            self.gateway.approvals.create_grant,
            user=_text_field(body, "user", required=True),
            target=_text_field(body, "target", required=True),
            granted_by=caller.user,
            roles=caller.roles,
            basis=_text_field(body, "basis", required=True),
            justification=_text_field(body, "justification") or "",
            rules=_text_list(body, "rules"),
            minutes=_optional_int(body, "minutes"),
            unmask_columns=_text_list(body, "unmask_columns"),
            unmask_entities=_text_list(body, "unmask_entities"),
        )
        return _record(grant)

    async def revoke_grant(
        self, caller: Caller, grant_id: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        grant = await self._call(
            self.gateway.approvals.revoke_grant, grant_id, caller.user, caller.roles
        )
        return _record(grant)

    # audit ----------------------------------------------------------------------

    async def search_executions(
        self, caller: Caller, filters: dict[str, str | None], limit: int
    ) -> list[dict[str, Any]]:
        given: dict[str, Any] = {name: value for name, value in filters.items() if value}
        for name in ("since", "until"):
            if name in given:
                given[name] = _timestamp(given[name], name)
        rows = await self._call(
            self.gateway.store.search_executions, **given, limit=min(limit, MAX_LIST)
        )
        return [_record(row) for row in rows]

    async def get_execution(self, caller: Caller, execution_id: str) -> dict[str, Any]:
        record = await self._call(self.gateway.store.get_execution, execution_id)
        if record is None:
            raise GatewayAPIError(404, f"no execution {execution_id!r}")
        row = _record(record)
        if not caller.has("auditor") and row.get("user") != caller.user:
            raise GatewayAPIError(404, f"no execution {execution_id!r}")
        return row

    async def dsar(self, caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
        identifiers = dsar_identifiers(body)
        rows = await self._call(
            self.gateway.store.dsar,
            identifiers=identifiers,
            phone_regions=self.gateway.masker.profile.phone_regions,
        )
        return {"executions": [_as_dict(row) for row in rows], "count": len(rows)}

    async def verify(self, caller: Caller) -> dict[str, Any]:
        report = await self._call(self.gateway.store.verify)
        return _record(report)

    async def stats(self, caller: Caller) -> dict[str, Any]:
        stats = await self._call(self.gateway.store.stats)
        return _record(stats)

    def connections(self) -> dict[str, Any]:
        return {
            "connections": [
                {"name": c.name, "dialect": c.dialect} for c in self.config.connections.values()
            ],
            "shell": [{"name": s.name, "kind": s.kind} for s in self.config.shell.values()],
        }

    # errors -----------------------------------------------------------------------

    async def _call(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a blocking gateway call in a worker thread, mapping its errors."""
        result: T = await self._guard(asyncio.to_thread(function, *args, **kwargs))
        return result

    async def _guard(self, awaitable: Any) -> Any:
        try:
            return await awaitable
        except GatewayAPIError:
            raise
        except Exception as exc:
            raise _api_error(exc) from None


def dsar_identifiers(body: dict[str, Any]) -> list[tuple[str, str]]:
    """``{email, phone, name, ids: {TYPE: value}, identifiers: [[TYPE, value]]}`` -> pairs."""
    identifiers: list[tuple[str, str]] = []
    pairs = body.get("identifiers") or []
    if not isinstance(pairs, list):
        raise GatewayAPIError(400, "identifiers must be a list of [TYPE, value] pairs")
    for pair in pairs:
        if not (
            isinstance(pair, list) and len(pair) == 2 and all(isinstance(p, str) for p in pair)
        ):
            raise GatewayAPIError(400, "identifiers must be a list of [TYPE, value] pairs")
        identifiers.append((pair[0].upper(), pair[1]))
    for field_name, entity_type in DSAR_FIELDS.items():
        for value in _text_list(body, field_name, allow_single=True):
            identifiers.append((entity_type, value))
    ids = body.get("ids") or {}
    if not isinstance(ids, dict):
        raise GatewayAPIError(400, "ids must be an object {TYPE: value}")
    for entity_type, value in ids.items():
        if not isinstance(value, str) or not value.strip():
            raise GatewayAPIError(400, "each id must be a non-empty string")
        identifiers.append((str(entity_type).upper(), value))
    if not identifiers:
        raise GatewayAPIError(400, "a DSAR needs an email, phone, name or id")
    if len(identifiers) > DSAR_MAX_IDENTIFIERS:
        raise GatewayAPIError(400, f"a DSAR names one person: at most {DSAR_MAX_IDENTIFIERS}")
    return identifiers


def _api_error(exc: Exception) -> GatewayAPIError:
    """Map the gateway packages' one error type each to an HTTP status; safe messages only."""
    name = type(exc).__name__
    message = str(exc) or name
    if name == "ApprovalError":
        lowered = message.lower()
        if lowered.startswith("no approval request") or lowered.startswith("no grant"):
            return GatewayAPIError(404, message)
        return GatewayAPIError(409 if "already" in lowered else 403, message)
    if name == "ExecutionError":
        status = OUTCOME_STATUS.get(str(getattr(exc, "status", "error")), 400)
        return GatewayAPIError(400 if status == 422 else status, message)
    if name in ("ProvenanceError", "MaskingError", "PolicyError", "KeyFileError"):
        log.error("nbwarden: %s while serving the API", name)
        return GatewayAPIError(503, f"the gateway cannot serve this now ({name})")
    if name == "ConfigError":
        return GatewayAPIError(400, message)
    log.error("nbwarden: unexpected %s while serving the API", name)
    return GatewayAPIError(500, "internal error")


def _record(value: Any) -> dict[str, Any]:
    rendered = _as_dict(value)
    if not isinstance(rendered, dict):
        raise TypeError(f"expected an object, got {type(rendered).__name__}")
    return rendered


def _as_dict(value: Any) -> Any:
    if value is None or isinstance(value, dict | list | str | int | float | bool):
        return value
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        return to_dict()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    raise TypeError(f"cannot render {type(value).__name__} as JSON")


def _timestamp(value: str, name: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise GatewayAPIError(400, f"{name} must be an ISO 8601 date or time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _text_field(body: dict[str, Any], name: str, required: bool = False) -> str | None:
    value = body.get(name)
    if value is None or value == "":
        if required:
            raise GatewayAPIError(400, f"{name} is required")
        return None
    if not isinstance(value, str):
        raise GatewayAPIError(400, f"{name} must be a string")
    return value


def _text_list(body: dict[str, Any], name: str, allow_single: bool = False) -> list[str]:
    value = body.get(name)
    if value is None or value == "":
        return []
    if allow_single and isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise GatewayAPIError(400, f"{name} must be a list of strings")
    return list(value)


def _optional_int(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise GatewayAPIError(400, f"{name} must be an integer")
    return value
