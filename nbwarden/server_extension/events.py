"""jupyter_events schemas for approvals and executions, and a thread-safe emitter.

Events carry ids, states, connection and user names only: never code, results or any
personal value. The lab extension subscribes through ``/api/events/subscribe``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from jupyter_events import EventLogger

APPROVAL_SCHEMA_ID = "https://events.nbwarden.dev/approval"
EXECUTION_SCHEMA_ID = "https://events.nbwarden.dev/execution"

_NULLABLE_TEXT = {"type": ["string", "null"]}

APPROVAL_SCHEMA: dict[str, Any] = {
    "$id": APPROVAL_SCHEMA_ID,
    "version": "1",
    "title": "nbwarden approval",
    "description": "An approval request or grant changed state.",
    "type": "object",
    "required": ["id", "state"],
    "properties": {
        "id": {"type": "string"},
        "kind": {"type": "string", "title": "request or grant"},
        "state": {"type": "string"},
        "connection": _NULLABLE_TEXT,
        "requester": _NULLABLE_TEXT,
        "approver": _NULLABLE_TEXT,
    },
}

EXECUTION_SCHEMA: dict[str, Any] = {
    "$id": EXECUTION_SCHEMA_ID,
    "version": "1",
    "title": "nbwarden execution",
    "description": "A governed or recorded execution finished or changed state.",
    "type": "object",
    "required": ["id", "status"],
    "properties": {
        "id": {"type": "string"},
        "status": {"type": "string"},
        "action": _NULLABLE_TEXT,
        "kernel_id": _NULLABLE_TEXT,
        "cell_id": _NULLABLE_TEXT,
    },
}

log = logging.getLogger(__name__)


class EventSink:
    """Emit nbwarden events on a jupyter_events logger from any thread."""

    def __init__(self, event_logger: EventLogger, loop: asyncio.AbstractEventLoop) -> None:
        self.event_logger = event_logger
        self.loop = loop
        for schema in (APPROVAL_SCHEMA, EXECUTION_SCHEMA):
            if schema["$id"] not in event_logger.schemas.schema_ids:
                event_logger.register_event_schema(schema)

    def approval(self, event: dict[str, Any]) -> None:
        data = {
            "id": str(event.get("id", "")),
            "kind": str(event.get("kind", "request")),
            "state": str(event.get("state", "")),
            "connection": _optional(event.get("target", event.get("connection"))),
            "requester": _optional(event.get("requester", event.get("user"))),
            "approver": _optional(event.get("approver", event.get("actor"))),
        }
        self._emit(APPROVAL_SCHEMA_ID, data)

    def execution(
        self,
        execution_id: str,
        status: str,
        action: str | None = None,
        kernel_id: str | None = None,
        cell_id: str | None = None,
    ) -> None:
        data = {
            "id": execution_id,
            "status": status,
            "action": action,
            "kernel_id": kernel_id,
            "cell_id": cell_id,
        }
        self._emit(EXECUTION_SCHEMA_ID, data)

    def _emit(self, schema_id: str, data: dict[str, Any]) -> None:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            self._emit_now(schema_id, data)
        elif not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self._emit_now, schema_id, data)

    def _emit_now(self, schema_id: str, data: dict[str, Any]) -> None:
        try:
            self.event_logger.emit(schema_id=schema_id, data=data)
        except Exception:
            log.warning("nbwarden: could not emit a %s event", schema_id.rsplit("/", 1)[-1])


def _optional(value: object) -> str | None:
    return None if value is None else str(value)
