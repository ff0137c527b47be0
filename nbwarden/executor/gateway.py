"""The trusted gateway: one governed request end to end.

Order of work for each request (DESIGN.md, "A governed SQL cell"): mask the code for
the record, judge it with the policy, find what authorises a flagged cell, write the
start record (nothing runs unless it is written), use the approval, execute with the
gateway's credentials, mask the result, write the end record (nothing is returned
unless it is written), return the masked payload. Every refusal also leaves a record.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nbwarden.approvals import (
    ApprovalError,
    ApprovalRequest,
    ApprovalService,
    ApprovalSettings,
    ApproverRule,
    Authorization,
    Notifier,
    ProvenanceJournal,
    binding_hash,
)
from nbwarden.config import Config, ConfigError
from nbwarden.executor.codelog import code_for_audit
from nbwarden.executor.models import (
    MAX_CODE_BYTES,
    ExecuteRequest,
    ExecutionError,
    Identity,
    Outcome,
    Status,
)
from nbwarden.executor.payload import ResultPayload, arrow_answer, shell_payload, sql_payload
from nbwarden.executor.scrub import connection_secrets, driver_message, scrub_message
from nbwarden.executor.shell import ShellTargetError, run_local, run_ssh
from nbwarden.executor.sql import CancelHandle, SqlRunner, StatementCancelled
from nbwarden.masking.columns import ColumnOrigin, hinted_entity
from nbwarden.policy.lineage import UNKNOWN as UNKNOWN_SOURCE
from nbwarden.provenance import ExecutionEnd, ExecutionStart, ProvenanceStore

if TYPE_CHECKING:
    from nbwarden.masking import Masker, MaskResult, TextMaskResult
    from nbwarden.policy import PolicyEngine

WORKERS = 8


@dataclass
class _Running:
    user: str
    kernel_id: str | None
    cell_id: str | None
    handle: CancelHandle
    started: float = field(default_factory=time.monotonic)

    def progress(self) -> dict[str, Any]:
        return {
            "elapsed_s": round(time.monotonic() - self.started, 3),
            "rows_fetched": self.handle.rows_fetched,
        }


@dataclass
class _Plan:
    """What is known about a request before its start record is written."""

    request: ExecuteRequest
    identity: Identity
    code_sha256: str
    code_masked: str
    purpose_masked: str | None = None
    notebook_masked: str | None = None
    """Notebooks get named after the case they serve (``complaint jane@....ipynb``)."""
    dialect: str | None = None
    verdict: Any = None
    refusal: ExecutionError | None = None
    authorization: Authorization | None = None
    needs_approval: bool = False
    approval: dict[str, Any] | None = None
    approval_id: str | None = None


class Gateway:
    def __init__(
        self,
        config: Config,
        policy: PolicyEngine,
        masker: Masker,
        store: ProvenanceStore,
        approvals: ApprovalService,
    ) -> None:
        self.config = config
        self.policy = policy
        self.masker = masker
        self.store = store
        self.approvals = approvals
        self.sql = SqlRunner(config.connections)
        self._pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="nbwarden-gw")
        self._running: dict[str, _Running] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, config: Config) -> Gateway:
        from nbwarden.keys import PSEUDONYM, derive_key, load_or_create_master_key
        from nbwarden.masking import Masker
        from nbwarden.policy import PolicyEngine

        master = load_or_create_master_key(config.audit.key_file)
        store = ProvenanceStore(config.audit)
        try:
            masker = Masker.from_config(config.masking, pseudonym_key=derive_key(master, PSEUDONYM))
            policy = PolicyEngine.from_config(config.policy)
            approvals = approval_service(config, store, masker)
        except Exception:
            store.close()
            raise
        return cls(config, policy, masker, store, approvals)

    async def execute(
        self, request: ExecuteRequest, identity: Identity, *, arrow: bool = False
    ) -> Outcome:
        loop = asyncio.get_running_loop()
        run = functools.partial(self.execute_sync, request, identity, arrow=arrow)
        return await loop.run_in_executor(self._pool, run)

    async def cancel(self, execution_id: str, identity: Identity) -> bool:
        """Cancel a running statement or shell command; only its owner (or an admin) may."""
        with self._lock:
            running = self._running.get(execution_id)
        if running is None:
            raise ExecutionError(f"execution {execution_id} is not running")
        if running.user != identity.user and "admin" not in identity.roles:
            raise ExecutionError("only the user who started an execution can cancel it")
        running.handle.cancel()
        return True

    def progress(self, execution_id: str, identity: Identity) -> dict[str, Any]:
        """Elapsed time and rows fetched so far of a running execution; only its owner may ask."""
        with self._lock:
            running = self._running.get(execution_id)
        if running is None or running.user != identity.user:
            raise ExecutionError(f"execution {execution_id} is not running")
        return {"execution_id": execution_id, **running.progress()}

    def running_executions(self) -> list[dict[str, Any]]:
        """What runs now, so a kernel interrupt can be mapped to the execution to cancel
        and a kernel can show the progress of its cell."""
        with self._lock:
            return [
                {
                    "execution_id": execution_id,
                    "user": running.user,
                    "kernel_id": running.kernel_id,
                    "cell_id": running.cell_id,
                    **running.progress(),
                }
                for execution_id, running in self._running.items()
            ]

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        self.sql.dispose()
        self.store.close()

    # the request, step by step -------------------------------------------------

    def execute_sync(
        self, request: ExecuteRequest, identity: Identity, *, arrow: bool = False
    ) -> Outcome:
        """``arrow=True``: for a caller that sends the answer on as an Arrow stream. A SQL
        result then has no JSON ``rows`` (about a millisecond per 1,000) and carries the
        stream, written while the end record is made durable (``ResultPayload``)."""
        plan = self._plan(request, identity)
        try:
            execution_id = self.store.record_start(self._start_record(plan))
        except Exception:
            return Outcome(
                "error", None, error="the audit store cannot record this execution: nothing ran"
            )
        if plan.refusal is not None:
            return self._finish(execution_id, plan, plan.refusal.status, plan.refusal.message)
        if plan.needs_approval:
            return self._hold_for_approval(execution_id, plan)
        try:
            self._use_approval(execution_id, plan)
        except ApprovalError as exc:
            return self._finish(execution_id, plan, "error", str(exc))
        return self._run(execution_id, plan, arrow)

    def _plan(self, request: ExecuteRequest, identity: Identity) -> _Plan:
        code_bytes = request.code.encode("utf-8", errors="replace")
        plan = _Plan(request, identity, hashlib.sha256(code_bytes).hexdigest(), "")
        if len(code_bytes) > MAX_CODE_BYTES:
            plan.code_masked = f"<cell of {len(code_bytes)} bytes not recorded: over the limit>"
            plan.refusal = ExecutionError(
                f"the cell is {len(code_bytes)} bytes; the gateway accepts at most "
                f"{MAX_CODE_BYTES} bytes per cell"
            )
            return plan
        try:
            plan.code_masked = self.masker.mask_text(self._code_for_audit(request)).text
            if request.purpose:
                plan.purpose_masked = self.masker.mask_text(request.purpose).text
            if request.notebook:
                plan.notebook_masked = self.masker.mask_text(request.notebook).text
        except Exception:
            plan.code_masked = "<code not recorded: masking failed>"
            plan.refusal = ExecutionError("masking the cell failed: nothing ran", "withheld")
            return plan
        try:
            self._judge(plan)
        except ExecutionError as exc:
            plan.refusal = exc
        return plan

    def _judge(self, plan: _Plan) -> None:
        request, identity = plan.request, plan.identity
        if request.kind not in ("sql", "shell"):
            raise ExecutionError("kind must be 'sql' or 'shell'")
        try:
            if request.kind == "sql":
                plan.dialect = self.config.connection(request.target).dialect
                plan.verdict = self.policy.check_sql(
                    request.code,
                    dialect=plan.dialect,
                    connection=request.target,
                    role=identity.policy_role,
                    purpose=request.purpose,
                    unmasked_columns=(),
                )
            else:
                self.config.shell_target(request.target)
                plan.verdict = self.policy.check_shell(
                    request.code,
                    target=request.target,
                    role=identity.policy_role,
                    purpose=request.purpose,
                    is_personal=self._is_personal,
                )
        except ConfigError as exc:
            raise ExecutionError(self._mask_text(str(exc))) from None
        except Exception:
            raise ExecutionError("policy evaluation failed: nothing ran") from None
        if plan.verdict.action == "block":
            reasons = "; ".join(plan.verdict.reasons) or "blocked by policy"
            raise ExecutionError(f"blocked: {self._mask_text(reasons)}", "blocked")
        if self.config.policy.require_purpose and not (request.purpose or "").strip():
            raise ExecutionError("a purpose is required: declare one with %purpose", "blocked")
        self._authorise(plan)

    def _authorise(self, plan: _Plan) -> None:
        """Find what lets this cell run: the named approval, a grant, or an approved
        request already bound to exactly this code in this kernel (re-running the cell uses
        it)."""
        request = plan.request
        if request.approval_id:
            approval = self._named_approval(plan, request.approval_id)
        elif plan.verdict.action == "flag":
            grant = self.approvals.covering_grant(
                plan.identity.user, request.target, tuple(plan.verdict.rules)
            )
            if grant is not None:
                plan.authorization = grant
                return
            found = self.approvals.find_open(self._binding(plan), plan.identity.kernel_id)
            if found is None:
                plan.needs_approval = True
                return
            approval = found
        else:
            return
        plan.approval = approval.to_dict()
        plan.approval_id = approval.id
        plan.authorization = Authorization(
            approval_id=approval.id,
            grant_id=None,
            basis=approval.basis,
            justification=approval.justification,
        )
        plan.needs_approval = approval.state == "pending"

    def _named_approval(self, plan: _Plan, approval_id: str) -> ApprovalRequest:
        try:
            approval = self.approvals.get(approval_id)
        except ApprovalError as exc:
            raise ExecutionError(str(exc)) from None
        if approval.binding != self._binding(plan):
            raise ExecutionError(
                f"approval {approval.id} does not cover this code, connection, user and "
                "parameters: a new approval is needed"
            )
        plan.approval = approval.to_dict()
        if approval.state == "rejected":
            raise ExecutionError(
                f"approval {approval.id} was rejected: {approval.reject_reason}",
                "rejected",
            )
        if approval.state not in ("pending", "approved"):
            raise ExecutionError(f"approval {approval.id} is {approval.state}")
        return approval

    def _start_record(self, plan: _Plan) -> ExecutionStart:
        request, identity, verdict = plan.request, plan.identity, plan.verdict
        auth = plan.authorization
        return ExecutionStart(
            user=identity.user,
            kind=request.kind,
            target=request.target,
            code_masked=plan.code_masked,
            code_hash=plan.code_sha256,
            roles=sorted(identity.roles),
            kernel_id=identity.kernel_id,
            session_id=identity.session_id,
            notebook=plan.notebook_masked,
            cell_id=request.cell_id,
            execution_count=request.execution_count,
            purpose=plan.purpose_masked,
            legal_basis=auth.basis if auth else None,
            statement_types=list(getattr(verdict, "statement_types", ())),
            tables_read=list(getattr(verdict, "tables_read", ())),
            tables_written=list(getattr(verdict, "tables_written", ())),
            columns_read=list(getattr(verdict, "columns_read", ())),
            verdict=verdict.action if verdict is not None else None,
            rule_ids=list(verdict.rules) if verdict is not None else [],
            approval_id=auth.approval_id if auth else None,
        )

    def _hold_for_approval(self, execution_id: str, plan: _Plan) -> Outcome:
        if plan.approval is None or plan.approval.get("state") != "pending":
            request = plan.request
            try:
                created = self.approvals.create_request(
                    kind=request.kind,
                    target=request.target,
                    requester=plan.identity.user,
                    binding=self._binding(plan),
                    code_sha256=plan.code_sha256,
                    code_masked=plan.code_masked,
                    rules=plan.verdict.rules,
                    reasons=plan.verdict.reasons,
                    purpose=plan.purpose_masked,
                    execution_id=execution_id,
                    lineage=plan.verdict,
                    kernel_id=plan.identity.kernel_id,
                )
            except Exception:
                return self._finish(
                    execution_id, plan, "error", "the approval request could not be recorded"
                )
            plan.approval = created.to_dict()
        return self._finish(execution_id, plan, "pending", "waiting for approval")

    def _use_approval(self, execution_id: str, plan: _Plan) -> None:
        if plan.approval_id is None:
            return
        plan.authorization = self.approvals.consume(
            plan.approval_id, self._binding(plan), plan.identity.user, execution_id
        )
        plan.approval = self.approvals.get(plan.approval_id).to_dict()

    def _binding(self, plan: _Plan) -> str:
        request = plan.request
        return binding_hash(
            request.kind, request.target, request.code, plan.identity.user, request.params
        )

    def _run(self, execution_id: str, plan: _Plan, arrow: bool) -> Outcome:
        handle = CancelHandle()
        with self._lock:
            self._running[execution_id] = _Running(
                plan.identity.user, plan.identity.kernel_id, plan.request.cell_id, handle
            )
        try:
            if plan.request.kind == "sql":
                return self._run_sql(execution_id, plan, handle, arrow)
            return self._run_shell(execution_id, plan, handle)
        finally:
            with self._lock:
                self._running.pop(execution_id, None)

    def _run_sql(
        self, execution_id: str, plan: _Plan, handle: CancelHandle, arrow: bool
    ) -> Outcome:
        request = plan.request
        connection = self.config.connection(request.target)
        try:
            result = self.sql.run(request.target, request.code, request.params, handle)
        except StatementCancelled as exc:
            return self._cancelled(execution_id, plan, exc.timed_out, connection.timeout_s)
        except Exception as exc:
            message = scrub_message(
                driver_message(exc), connection_secrets(connection), self._mask_text
            )
            return self._finish(execution_id, plan, "error", message)
        auth = plan.authorization
        origins = column_origins(result.table.column_names, plan.verdict)
        stop = _stop_at(handle, connection.timeout_s - result.elapsed_s)
        try:
            masked: MaskResult | None = self.masker.mask_table(
                result.table,
                unmask_columns=auth.unmask_columns if auth else (),
                unmask_entities=auth.unmask_entities if auth else (),
                origins=origins,
                name_hints=not describes_schema(plan.verdict),
                stop=stop,
            )
        except Exception:
            masked = None  # withheld below, unless the cell was interrupted or timed out
        if stop():  # interrupted or timed out while or after masking: nothing goes out
            return self._cancelled(
                execution_id, plan, handle.timed_out, connection.timeout_s, while_masking=True
            )
        if masked is None:
            return self._finish(
                execution_id, plan, "withheld", "masking the result failed: it is withheld"
            )
        end = ExecutionEnd(
            status="ok",
            rows=result.table.num_rows,
            entity_counts=dict(masked.entity_counts),
            subjects=masked.subjects,
            source_columns=source_columns(result.table.column_names, plan.verdict, origins),
            unmasked_columns=auth.unmask_columns if auth else (),
            unmasked_entities=auth.unmask_entities if auth else (),
        )
        return self._deliver(
            execution_id,
            plan,
            end,
            lambda: sql_payload(
                masked.table,
                result.types,
                masked.masked_cells,
                masked.entity_counts,
                result.truncated,
                result.elapsed_s,
                result.rows_affected,
                json_rows=not arrow,
                truncated_by=result.truncated_by,
            ),
            arrow,
        )

    def _run_shell(self, execution_id: str, plan: _Plan, handle: CancelHandle) -> Outcome:
        target = self.config.shell_target(plan.request.target)
        runner = run_ssh if target.kind == "ssh" else run_local
        try:
            result = runner(target, plan.request.code, handle)
        except ShellTargetError as exc:
            return self._finish(execution_id, plan, "error", str(exc))
        except OSError:
            return self._finish(
                execution_id, plan, "error", f"shell target {target.name} could not start"
            )
        if result.timed_out or result.cancelled:
            return self._cancelled(execution_id, plan, result.timed_out, target.timeout_s)
        stop = _stop_at(handle, target.timeout_s - result.elapsed_s)
        try:
            masked: tuple[TextMaskResult, TextMaskResult] | None = (
                self.masker.mask_output(result.stdout, stop),
                self.masker.mask_text(result.stderr, stop),
            )
        except Exception:
            masked = None
        if stop():
            return self._cancelled(
                execution_id, plan, handle.timed_out, target.timeout_s, while_masking=True
            )
        if masked is None:
            return self._finish(
                execution_id, plan, "withheld", "masking the output failed: it is withheld"
            )
        stdout, stderr = masked
        counts = dict(stdout.entity_counts)
        for entity, count in stderr.entity_counts.items():
            counts[entity] = counts.get(entity, 0) + count
        end = ExecutionEnd(
            status="ok",
            entity_counts=counts,
            subjects=[*stdout.subjects, *stderr.subjects],
        )
        return self._deliver(
            execution_id,
            plan,
            end,
            lambda: shell_payload(
                stdout.text,
                stderr.text,
                result.exit_code,
                result.truncated,
                counts,
                result.elapsed_s,
            ),
        )

    def _deliver(
        self,
        execution_id: str,
        plan: _Plan,
        end: ExecutionEnd,
        build_payload: Callable[[], dict[str, Any]],
        arrow: bool = False,
    ) -> Outcome:
        """Queue the end record, build the answer (and its Arrow stream, ``arrow``) while
        the store makes the record durable, and return it only once the record is."""
        try:
            self.store.record_end(execution_id, end, durable=False)
        except Exception:
            return self._withheld(execution_id, plan)
        payload = build_payload()
        outcome = Outcome(
            "ok", execution_id, verdict=_verdict_dict(plan), approval=plan.approval, result=payload
        )
        if arrow and isinstance(payload, ResultPayload):
            payload.arrow_answer = arrow_answer(outcome.to_dict())
        try:
            self.store.flush()
        except Exception:
            return self._withheld(execution_id, plan)
        return outcome

    def _withheld(self, execution_id: str, plan: _Plan) -> Outcome:
        return Outcome(
            "withheld",
            execution_id,
            verdict=_verdict_dict(plan),
            approval=plan.approval,
            error="the audit store cannot record the result: it is withheld",
        )

    def _cancelled(
        self,
        execution_id: str,
        plan: _Plan,
        timed_out: bool,
        timeout_s: float,
        while_masking: bool = False,
    ) -> Outcome:
        message = "cancelled by the user"
        if timed_out:
            during = " while its result was masked" if while_masking else ""
            message = f"timed out after {timeout_s:g} s{during} and was cancelled"
        return self._finish(execution_id, plan, "error", message, recorded_status="cancelled")

    def _finish(
        self,
        execution_id: str,
        plan: _Plan,
        status: Status,
        message: str,
        recorded_status: str | None = None,
    ) -> Outcome:
        """End a request that returns no data; the message is recorded and shown as is."""
        outcome_error = None if status == "pending" else message
        try:
            self.store.record_end(
                execution_id, ExecutionEnd(status=recorded_status or status, error=outcome_error)
            )
        except Exception:
            outcome_error = f"{message} (the audit store could not record this)"
        return Outcome(
            status,
            execution_id,
            verdict=_verdict_dict(plan),
            approval=plan.approval,
            error=outcome_error,
        )

    def _mask_text(self, text: str) -> str:
        return mask_text_or_withhold(self.masker, text)

    def _is_personal(self, column: str) -> bool:
        return hinted_entity(self.masker.profile, column) is not None

    def _code_for_audit(self, request: ExecuteRequest) -> str:
        connection = self.config.connections.get(request.target)
        return code_for_audit(
            request.kind, request.code, connection.dialect if connection else None
        )


def _stop_at(handle: CancelHandle, seconds: float) -> Callable[[], bool]:
    """Masking's ``stop`` for what is left of an execution's timeout: true once the owner
    cancels or ``seconds`` have passed, which then counts as the execution timing out.
    Masking asks it itself, every few hundred values, so no timer is needed."""
    deadline = time.monotonic() + seconds

    def stop() -> bool:
        if time.monotonic() >= deadline:
            handle.cancel(timed_out=True)  # no-op once requested: the owner's cancel stands
        return handle.requested

    return stop


def mask_text_or_withhold(masker: Masker, text: str) -> str:
    try:
        return str(masker.mask_text(text).text)
    except Exception:
        return "<text withheld: masking failed>"


def approval_service(
    config: Config, store: ProvenanceStore, masker: Masker | None = None
) -> ApprovalService:
    rules = {
        name: ApproverRule(tuple(c.approvers), c.required_approvals)
        for name, c in config.connections.items()
    }
    rules.update(
        {
            name: ApproverRule(tuple(t.approvers), t.required_approvals)
            for name, t in config.shell.items()
        }
    )
    settings = ApprovalSettings(
        request_ttl_s=float(config.gateway.approval_ttl_s),
        grant_default_minutes=config.gateway.grant_default_minutes,
        grant_max_minutes=config.gateway.grant_max_minutes,
    )
    return ApprovalService(
        ProvenanceJournal(store),
        settings,
        rules,
        Notifier(config.notify.webhooks),
        mask_text=(lambda text: mask_text_or_withhold(masker, text)) if masker else None,
        predict_entity=(lambda name: hinted_entity(masker.profile, name)) if masker else None,
    )


SCHEMA_STATEMENTS = frozenset({"SHOW", "DESCRIBE", "DESC", "PRAGMA"})
SCHEMA_TABLES = frozenset({"sqlite_master", "sqlite_schema", "sqlite_temp_master"})


def describes_schema(verdict: Any) -> bool:
    """Whether the cell's result describes the schema (``SHOW TABLES``, ``PRAGMA
    table_info``, ``SELECT name FROM sqlite_master``): its ``name`` column holds the names
    of tables and columns, so column names are no hints there. The values are still
    masked by what they show."""
    types = set(getattr(verdict, "statement_types", ()) or ())
    tables = {str(t).lower() for t in getattr(verdict, "tables_read", ()) or ()}
    if types and types <= SCHEMA_STATEMENTS:
        return True
    return types == {"SELECT"} and bool(tables) and tables <= SCHEMA_TABLES


def column_origins(result_columns: list[str], verdict: Any) -> dict[str, ColumnOrigin]:
    """Result column -> the table columns its values come from, by the policy's lineage of
    the cell's last statement; only columns that have such sources."""
    lineage = getattr(verdict, "result_lineage", None)
    if lineage is None:
        return {}
    origins: dict[str, ColumnOrigin] = {}
    for position, name in enumerate(result_columns):
        column = lineage.column(position, name)
        if column is not None and column.sources:
            origins[name] = ColumnOrigin(column.sources, column.unchanged)
    return origins


def source_columns(
    result_columns: list[str], verdict: Any, origins: dict[str, ColumnOrigin] | None = None
) -> dict[str, str]:
    """Result column -> ``table.column`` read, where the lineage names exactly one source
    (``SELECT upper(email) AS contact``), else where exactly one column read has its name.
    ``origins``: :func:`column_origins` of the same result, when the caller has them."""
    if origins is None:
        origins = column_origins(result_columns, verdict)
    by_name: dict[str, list[str]] = {}
    for qualified in getattr(verdict, "columns_read", ()) or ():
        by_name.setdefault(str(qualified).rsplit(".", 1)[-1].lower(), []).append(str(qualified))
    mapping: dict[str, str] = {}
    for column in result_columns:
        origin = origins.get(column)
        sources = sorted(origin.sources) if origin else by_name.get(column.lower(), [])
        if len(sources) == 1 and sources[0] != UNKNOWN_SOURCE:
            mapping[column] = sources[0]
    return mapping


def _verdict_dict(plan: _Plan) -> dict[str, Any] | None:
    return plan.verdict.to_dict() if plan.verdict is not None else None
