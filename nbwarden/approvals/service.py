"""The approval state machine: one-time approvals, time-boxed grants, unmasking.

Every state change is written to the journal (the provenance chain) before it takes
effect in memory, so a change that cannot be recorded does not happen, and a
restarted gateway rebuilds the same state from the journal.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from nbwarden.approvals.models import (
    CHECKED_BY_CONTENT,
    LEGAL_BASES,
    OPEN_STATES,
    ApprovalRequest,
    Authorization,
    Decision,
    Grant,
)
from nbwarden.approvals.notify import Notifier

APPROVER_ROLES = frozenset({"approver", "admin"})


class ApprovalError(Exception):
    """An approval action is refused: self-approval, wrong state, replay, expiry, no right."""


class Lineage(Protocol):
    """What the policy verdict saw a cell touch (``nbwarden.policy.Verdict`` fits)."""

    @property
    def statement_types(self) -> Sequence[str]: ...

    @property
    def tables_read(self) -> Sequence[str]: ...

    @property
    def tables_written(self) -> Sequence[str]: ...

    @property
    def columns_read(self) -> Sequence[str]: ...


class ApprovalJournal(Protocol):
    def record(self, kind: str, action: str, actor: str, snapshot: dict[str, Any]) -> None: ...

    def replay(self) -> Iterable[tuple[str, dict[str, Any]]]: ...


@dataclass(frozen=True)
class ApproverRule:
    """Who may approve for one connection or shell target, and how many must agree."""

    group: tuple[str, ...] = ()
    required: int = 1


@dataclass(frozen=True)
class ApprovalSettings:
    request_ttl_s: float = 3600.0
    grant_default_minutes: int = 30
    grant_max_minutes: int = 480


class ApprovalService:
    """Thread-safe: the gateway calls it from its worker threads and the REST handlers."""

    def __init__(
        self,
        journal: ApprovalJournal,
        settings: ApprovalSettings | None = None,
        approver_rules: dict[str, ApproverRule] | None = None,
        notifier: Notifier | None = None,
        clock: Callable[[], float] = time.time,
        mask_text: Callable[[str], str] | None = None,
        predict_entity: Callable[[str], str | None] | None = None,
    ) -> None:
        """``mask_text`` masks the free text approvers type (reasons, justifications)
        before it is recorded; the gateway passes its masker's. ``predict_entity`` names
        the entity type a column name hints at in the masking profile, if any."""
        self.journal = journal
        self.mask_text = mask_text or (lambda text: text)
        self.predict_entity = predict_entity or (lambda name: None)
        self.settings = settings or ApprovalSettings()
        self.approver_rules = dict(approver_rules or {})
        self.notifier = notifier or Notifier()
        self.clock = clock
        self._lock = threading.RLock()
        self._requests: dict[str, ApprovalRequest] = {}
        self._grants: dict[str, Grant] = {}
        self._replay()

    # requests ------------------------------------------------------------------

    def create_request(
        self,
        *,
        kind: str,
        target: str,
        requester: str,
        binding: str,
        code_sha256: str,
        code_masked: str,
        rules: Iterable[str],
        reasons: Iterable[str],
        purpose: str | None,
        execution_id: str | None = None,
        lineage: Lineage | None = None,
        kernel_id: str | None = None,
    ) -> ApprovalRequest:
        """A new pending request, or the open one already bound to the same code in the
        same kernel.

        ``lineage`` adds the statement types, tables and columns the verdict saw, and for
        each column read the masking its name predicts (names only, never values).
        """
        with self._lock:
            existing = self.find_open(binding, kernel_id)
            if existing is not None and existing.state == "pending":
                return existing
            now = self.clock()
            rule = self.approver_rules.get(target, ApproverRule())
            request = ApprovalRequest(
                id=uuid.uuid4().hex,
                kind=kind,
                target=target,
                requester=requester,
                binding=binding,
                code_sha256=code_sha256,
                code_masked=code_masked,
                rules=tuple(rules),
                reasons=tuple(reasons),
                purpose=purpose,
                created_at=now,
                expires_at=now + self.settings.request_ttl_s,
                required_approvals=max(1, rule.required),
                approver_group=rule.group,
                execution_id=execution_id,
                kernel_id=kernel_id,
                updated_at=now,
                **self._lineage_fields(lineage),
            )
            self._save_request(request, "requested", requester)
            return request

    def get(self, request_id: str) -> ApprovalRequest:
        with self._lock:
            self._expire_due()
            try:
                return self._requests[request_id]
            except KeyError:
                raise ApprovalError(f"no approval request {request_id!r}") from None

    def list_requests(
        self, state: str | None = None, requester: str | None = None
    ) -> list[ApprovalRequest]:
        with self._lock:
            self._expire_due()
            found = [
                r
                for r in self._requests.values()
                if (state is None or r.state == state)
                and (requester is None or r.requester == requester)
            ]
        return sorted(found, key=lambda r: r.created_at)

    def find_open(self, binding: str, kernel_id: str | None = None) -> ApprovalRequest | None:
        """The pending or approved request bound to this code for this kernel (or for
        callers without a kernel, when ``kernel_id`` is None)."""
        with self._lock:
            self._expire_due()
            for request in self._requests.values():
                if (
                    request.binding == binding
                    and request.kernel_id == kernel_id
                    and request.state in OPEN_STATES
                ):
                    return request
        return None

    def approve(
        self,
        request_id: str,
        approver: str,
        roles: frozenset[str],
        basis: str,
        justification: str = "",
        unmask_columns: Iterable[str] = (),
        unmask_entities: Iterable[str] = (),
        grant_minutes: int | None = None,
    ) -> ApprovalRequest:
        """Add one approval; the request is approved once enough approvers agree.

        With ``grant_minutes`` the final approval also opens a time-boxed grant for the
        requester on the same target and rules.
        """
        columns, entities = tuple(unmask_columns), tuple(unmask_entities)
        with self._lock:
            request = self._open_request(request_id, "pending")
            self._check_approver(request, approver, roles)
            if any(d.approver == approver for d in request.decisions):
                raise ApprovalError("you have already approved this request")
            _check_basis(basis, justification, needs_justification=bool(columns or entities))
            if grant_minutes is not None:
                self._grant_window(grant_minutes)
                if not justification.strip():
                    raise ApprovalError("a grant needs a justification")
            now = self.clock()
            justification = self.mask_text(justification.strip())
            decision = Decision(approver, now, basis, justification, columns, entities)
            decisions = (*request.decisions, decision)
            if len(decisions) < request.required_approvals:
                updated = request.with_changes(decisions=decisions, updated_at=now)
                self._save_request(updated, "approval_added", approver)
                return updated
            approved = request.with_changes(
                decisions=decisions,
                state="approved",
                expires_at=now + self.settings.request_ttl_s,
                updated_at=now,
            )
            if grant_minutes is not None:
                grant = self._new_grant(
                    user=request.requester,
                    target=request.target,
                    rules=request.rules,
                    minutes=grant_minutes,
                    granted_by=approver,
                    basis=basis,
                    justification=justification,
                    unmask_columns=approved.unmask_columns,
                    unmask_entities=approved.unmask_entities,
                    source_request=request.id,
                )
                approved = approved.with_changes(grant_id=grant.id)
            self._save_request(approved, "approved", approver)
            return approved

    def reject(
        self, request_id: str, approver: str, roles: frozenset[str], reason: str
    ) -> ApprovalRequest:
        with self._lock:
            request = self._open_request(request_id, "pending")
            self._check_approver(request, approver, roles)
            if not reason or not reason.strip():
                raise ApprovalError("rejecting needs a reason")
            rejected = request.with_changes(
                state="rejected",
                rejected_by=approver,
                reject_reason=self.mask_text(reason.strip()),
                updated_at=self.clock(),
            )
            self._save_request(rejected, "rejected", approver)
            return rejected

    def withdraw(self, request_id: str, user: str) -> ApprovalRequest:
        with self._lock:
            request = self._open_request(request_id, *OPEN_STATES)
            if request.requester != user:
                raise ApprovalError("only the requester can withdraw a request")
            withdrawn = request.with_changes(state="withdrawn", updated_at=self.clock())
            self._save_request(withdrawn, "withdrawn", user)
            return withdrawn

    def consume(self, request_id: str, binding: str, user: str, execution_id: str) -> Authorization:
        """Use an approved request for exactly one execution of exactly the approved code."""
        with self._lock:
            request = self.get(request_id)
            if request.requester != user or request.binding != binding:
                raise ApprovalError(
                    f"approval {request_id} does not cover this code, connection, user and "
                    "parameters: a new approval is needed"
                )
            if request.state == "used":
                raise ApprovalError(f"approval {request_id} was already used: it runs once")
            if request.state != "approved":
                raise ApprovalError(f"approval {request_id} is {request.state}, not approved")
            used = request.with_changes(
                state="used", used_by_execution=execution_id, updated_at=self.clock()
            )
            self._save_request(used, "used", user)
        return Authorization(
            approval_id=used.id,
            grant_id=None,
            basis=used.basis,
            justification=used.justification,
            approvers=tuple(d.approver for d in used.decisions),
            unmask_columns=used.unmask_columns,
            unmask_entities=used.unmask_entities,
        )

    def expire_due(self) -> list[ApprovalRequest]:
        """Expire every open request past its deadline (the server calls this periodically)."""
        with self._lock:
            return self._expire_due()

    # grants --------------------------------------------------------------------

    def create_grant(
        self,
        *,
        user: str,
        target: str,
        granted_by: str,
        roles: frozenset[str],
        basis: str,
        justification: str,
        rules: Iterable[str] = (),
        minutes: int | None = None,
        starts_at: float | None = None,
        unmask_columns: Iterable[str] = (),
        unmask_entities: Iterable[str] = (),
    ) -> Grant:
        with self._lock:
            if granted_by == user:
                raise ApprovalError("nobody grants access to themselves")
            self._check_role(target, granted_by, roles)
            _check_basis(basis, justification, needs_justification=True)
            return self._new_grant(
                user=user,
                target=target,
                rules=tuple(rules),
                minutes=self.settings.grant_default_minutes if minutes is None else minutes,
                granted_by=granted_by,
                basis=basis,
                justification=justification,
                unmask_columns=tuple(unmask_columns),
                unmask_entities=tuple(unmask_entities),
                starts_at=starts_at,
            )

    def revoke_grant(self, grant_id: str, by: str, roles: frozenset[str]) -> Grant:
        with self._lock:
            grant = self.get_grant(grant_id)
            self._check_role(grant.target, by, roles)
            if grant.state != "active":
                raise ApprovalError(f"grant {grant_id} is already {grant.state}")
            revoked = grant.with_changes(state="revoked", revoked_by=by, updated_at=self.clock())
            self._save_grant(revoked, "revoked", by)
            return revoked

    def get_grant(self, grant_id: str) -> Grant:
        with self._lock:
            try:
                return self._grants[grant_id]
            except KeyError:
                raise ApprovalError(f"no grant {grant_id!r}") from None

    def list_grants(self, active_only: bool = False, user: str | None = None) -> list[Grant]:
        now = self.clock()
        with self._lock:
            grants = [
                g
                for g in self._grants.values()
                if (user is None or g.user == user)
                and (not active_only or (g.state == "active" and now < g.ends_at))
            ]
        return sorted(grants, key=lambda g: g.starts_at)

    def covering_grant(self, user: str, target: str, rules: Iterable[str]) -> Authorization | None:
        """The active grant that lets ``user`` run a cell flagged by ``rules`` now, if any."""
        wanted, now = tuple(rules), self.clock()
        with self._lock:
            for grant in self._grants.values():
                if grant.covers(user, target, wanted, now):
                    return Authorization(
                        approval_id=grant.source_request,
                        grant_id=grant.id,
                        basis=grant.basis,
                        justification=grant.justification,
                        approvers=(grant.granted_by,),
                        unmask_columns=grant.unmask_columns,
                        unmask_entities=grant.unmask_entities,
                    )
        return None

    # internals -----------------------------------------------------------------

    def _lineage_fields(self, lineage: Lineage | None) -> dict[str, Any]:
        if lineage is None:
            return {}
        columns = tuple(lineage.columns_read)
        return {
            "statement_types": tuple(lineage.statement_types),
            "tables_read": tuple(lineage.tables_read),
            "tables_written": tuple(lineage.tables_written),
            "columns": columns,
            "masking": {column: self._predicted_masking(column) for column in columns},
        }

    def _predicted_masking(self, column: str) -> str:
        """The entity a column's own name predicts; ``t.email`` is judged as ``email``.

        Only a hint for the approver: a failing prediction must not stop the request,
        and the result is masked by content either way.
        """
        name = column.rsplit(".", 1)[-1]
        try:
            return self.predict_entity(name) or CHECKED_BY_CONTENT
        except Exception:
            return CHECKED_BY_CONTENT

    def _new_grant(
        self,
        *,
        user: str,
        target: str,
        rules: tuple[str, ...],
        minutes: int,
        granted_by: str,
        basis: str,
        justification: str,
        unmask_columns: tuple[str, ...],
        unmask_entities: tuple[str, ...],
        source_request: str | None = None,
        starts_at: float | None = None,
    ) -> Grant:
        now = self.clock()
        start = now if starts_at is None else starts_at
        grant = Grant(
            id=uuid.uuid4().hex,
            user=user,
            target=target,
            rules=rules,
            starts_at=start,
            ends_at=start + self._grant_window(minutes) * 60.0,
            granted_by=granted_by,
            basis=basis,
            justification=self.mask_text(justification.strip()),
            unmask_columns=unmask_columns,
            unmask_entities=unmask_entities,
            source_request=source_request,
            created_at=now,
            updated_at=now,
        )
        self._save_grant(grant, "granted", granted_by)
        return grant

    def _grant_window(self, minutes: int) -> int:
        if not 0 < minutes <= self.settings.grant_max_minutes:
            raise ApprovalError(
                f"a grant lasts 1 to {self.settings.grant_max_minutes} minutes, not {minutes}"
            )
        return minutes

    def _open_request(self, request_id: str, *states: str) -> ApprovalRequest:
        request = self.get(request_id)
        if request.state not in states:
            raise ApprovalError(f"approval request {request_id} is {request.state}")
        return request

    def _check_approver(self, request: ApprovalRequest, user: str, roles: frozenset[str]) -> None:
        if user == request.requester:
            raise ApprovalError("nobody approves or rejects their own request, admins included")
        self._check_role(request.target, user, roles)

    def _check_role(self, target: str, user: str, roles: frozenset[str]) -> None:
        if not roles & APPROVER_ROLES:
            raise ApprovalError(f"{user} is not an approver")
        group = self.approver_rules.get(target, ApproverRule()).group
        if group and user not in group:
            raise ApprovalError(f"{user} is not in the approver group for {target}")

    def _expire_due(self) -> list[ApprovalRequest]:
        now = self.clock()
        expired: list[ApprovalRequest] = []
        for request in list(self._requests.values()):
            if request.state in OPEN_STATES and now >= request.expires_at:
                changed = request.with_changes(state="expired", updated_at=now)
                self._save_request(changed, "expired", "nbwarden")
                expired.append(changed)
        return expired

    def _save_request(self, request: ApprovalRequest, action: str, actor: str) -> None:
        self.journal.record("request", action, actor, request.to_dict())
        self._requests[request.id] = request
        self.notifier.notify(
            {
                "kind": "request",
                "id": request.id,
                "state": request.state,
                "action": action,
                "target": request.target,
                "connection": request.target,
                "requester": request.requester,
                "approver": actor if actor not in (request.requester, "nbwarden") else None,
            }
        )

    def _save_grant(self, grant: Grant, action: str, actor: str) -> None:
        self.journal.record("grant", action, actor, grant.to_dict())
        self._grants[grant.id] = grant
        self.notifier.notify(
            {
                "kind": "grant",
                "id": grant.id,
                "state": grant.state,
                "action": action,
                "target": grant.target,
                "connection": grant.target,
                "requester": grant.user,
                "approver": actor,
            }
        )

    def _replay(self) -> None:
        for kind, snapshot in self.journal.replay():
            if kind == "request":
                request = ApprovalRequest.from_dict(snapshot)
                self._requests[request.id] = request
            elif kind == "grant":
                grant = Grant.from_dict(snapshot)
                self._grants[grant.id] = grant


def _check_basis(basis: str, justification: str, needs_justification: bool) -> None:
    if basis not in LEGAL_BASES:
        raise ApprovalError(f"legal basis must be one of {sorted(LEGAL_BASES)}, not {basis!r}")
    if needs_justification and not justification.strip():
        raise ApprovalError("unmasking or granting needs a justification besides the legal basis")
