"""The kernel websocket, governed: every executed cell is recorded, governed ones stamped.

``GovernedWebsocketConnection`` sits where jupyter_server forwards browser messages to a
kernel. For each ``execute_request`` it removes any client-supplied
``metadata["nbwarden"]`` (a browser cannot forge an assertion), records the cell for the
authenticated user in provenance (any kernel), and for ``nbwarden`` kernels adds
``metadata["nbwarden"] = {"assertion": TOKEN}``. Messages keep their order: while a cell
is being recorded, later messages wait for it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from jupyter_client.jsonutil import json_default
from jupyter_server.services.kernels.connection import base as ws_framing
from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection
from traitlets import List, Unicode

V1_PROTOCOL = "v1.kernel.websocket.jupyter.org"

deserialize_msg_from_ws_v1: Callable[[bytes], tuple[str, list[bytes]]] = (
    ws_framing.deserialize_msg_from_ws_v1
)
serialize_msg_to_ws_v1: Callable[[list[bytes], str], bytes] = ws_framing.serialize_msg_to_ws_v1
deserialize_binary_message: Callable[[bytes], dict[str, Any]] = (
    ws_framing.deserialize_binary_message
)
serialize_binary_message: Callable[[dict[str, Any]], bytes] = ws_framing.serialize_binary_message
METADATA_KEY = "nbwarden"


class CellRecorder(Protocol):
    """What the websocket needs from the gateway side (``settings["nbwarden_cells"]``)."""

    def stamp(self, user: str, kernel_id: str, cell_id: str, source: str) -> str: ...

    def record_cell(
        self, user: str, kernel_id: str, kernel_name: str, cell_id: str, source: str
    ) -> str: ...

    def end_cell(self, execution_id: str, status: str) -> None: ...


@dataclass
class DecodedRequest:
    """An incoming websocket message, decoded enough to read and rewrite its metadata."""

    channel: str
    header: dict[str, Any]
    metadata: dict[str, Any]
    content: dict[str, Any]
    form: str
    parts: list[Any]
    message: dict[str, Any] | None = None


class GovernedWebsocketConnection(ZMQChannelsWebsocketConnection):
    governed_kernel_names = List(
        Unicode(), default_value=["nbwarden"], config=True, help="Kernelspecs to stamp."
    )

    _tail: asyncio.Future[None] | None = None
    _open_cells: dict[str, str] | None = None
    _background: set[asyncio.Future[None]] | None = None

    def handle_incoming_message(self, incoming_msg: str) -> None:
        try:
            decoded = decode(incoming_msg, self.subprotocol == V1_PROTOCOL, self.session.unpack)
        except ValueError:
            self.log.warning("nbwarden: dropped an undecodable message for %s", self.kernel_id)
            return
        is_execute = decoded.header.get("msg_type") == "execute_request"
        if not is_execute and (self._tail is None or self._tail.done()):
            super().handle_incoming_message(incoming_msg)
            return
        previous = self._tail
        self._tail = asyncio.ensure_future(
            self._govern_in_order(incoming_msg, decoded if is_execute else None, previous)
        )

    async def _govern_in_order(
        self,
        incoming_msg: str,
        decoded: DecodedRequest | None,
        previous: asyncio.Future[None] | None,
    ) -> None:
        if previous is not None:
            await asyncio.gather(previous, return_exceptions=True)
        if decoded is None:
            super().handle_incoming_message(incoming_msg)
            return
        try:
            rewritten = await self._govern(decoded)
        except Exception as exc:
            self._refuse(decoded, exc)
            return
        super().handle_incoming_message(rewritten)

    async def _govern(self, request: DecodedRequest) -> Any:
        state: CellRecorder | None = self.websocket_handler.settings.get("nbwarden_cells")
        if state is None:
            raise RuntimeError("the nbwarden gateway is not running")
        request.metadata.pop(METADATA_KEY, None)
        user = self.websocket_handler.current_user
        username = user.username if user is not None else ""
        if not username:
            raise RuntimeError("the sender of this cell is not authenticated")
        code = str(request.content.get("code", ""))
        cell_id = str(request.metadata.get("cellId") or request.header.get("msg_id") or "")
        kernel_name = str(getattr(self.kernel_manager, "kernel_name", "") or "")
        execution_id = await asyncio.to_thread(
            state.record_cell, username, self.kernel_id, kernel_name, cell_id, code
        )
        if execution_id:
            self._cells()[str(request.header.get("msg_id", ""))] = execution_id
        if kernel_name in self.governed_kernel_names:
            token = state.stamp(username, self.kernel_id, cell_id, code)
            request.metadata[METADATA_KEY] = {"assertion": token}
        return encode(request, self.session.pack)

    def _refuse(self, request: DecodedRequest, exc: Exception) -> None:
        reason = str(exc) if isinstance(exc, RuntimeError) else type(exc).__name__
        self.log.error("nbwarden: refused a cell for kernel %s: %s", self.kernel_id, reason)
        write_stderr: Callable[[str, dict[str, Any]], None] = self.write_stderr
        write_stderr(f"nbwarden: this cell was not run: {reason}", request.header)

    def handle_outgoing_message(self, stream: str, outgoing_msg: list[Any]) -> None:
        if self._open_cells:
            self._note_reply(stream, outgoing_msg)
        super().handle_outgoing_message(stream, outgoing_msg)

    def _note_reply(self, stream: Any, outgoing_msg: list[Any]) -> None:
        """On an ``execute_reply``, record how the cell ended."""
        channel = stream if isinstance(stream, str) else getattr(stream, "channel", None)
        if channel != "shell":
            return
        try:
            _, parts = self.session.feed_identities(outgoing_msg)
            header = self.session.unpack(parts[1])
            if header.get("msg_type") != "execute_reply":
                return
            parent = self.session.unpack(parts[2])
            content = self.session.unpack(parts[4])
        except Exception:
            return
        execution_id = self._cells().pop(str(parent.get("msg_id", "")), None)
        state: CellRecorder | None = self.websocket_handler.settings.get("nbwarden_cells")
        if execution_id and state is not None:
            status = str(content.get("status", "error"))
            task = asyncio.ensure_future(asyncio.to_thread(state.end_cell, execution_id, status))
            if self._background is None:
                self._background = set()
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    def _cells(self) -> dict[str, str]:
        if self._open_cells is None:
            self._open_cells = {}
        return self._open_cells


def decode(incoming_msg: Any, v1: bool, unpack: Any) -> DecodedRequest:
    """Read channel, header, metadata and content of a websocket message, in any framing.

    Raise ``ValueError`` for a message that cannot be read: it is dropped, never forwarded
    unread. Metadata and content are decoded only for ``execute_request``.
    """
    try:
        if v1:
            channel, parts = deserialize_msg_from_ws_v1(incoming_msg)
            header = unpack(parts[0])
            if header.get("msg_type") != "execute_request":
                return DecodedRequest(channel, header, {}, {}, "v1", parts)
            metadata, content = unpack(parts[2]) or {}, unpack(parts[3]) or {}
            message = None
            form = "v1"
        else:
            parts = []
            if isinstance(incoming_msg, bytes):
                message = deserialize_binary_message(incoming_msg)
                form = "binary"
            else:
                message = json.loads(incoming_msg)
                form = "json"
            header = message["header"]
            metadata = message.setdefault("metadata", {}) or {}
            content = message.get("content") or {}
            channel = str(message.get("channel") or "shell")
    except Exception as exc:
        raise ValueError("undecodable kernel message") from exc
    if not all(isinstance(part, dict) for part in (header, metadata, content)):
        raise ValueError("kernel message parts must be objects")
    return DecodedRequest(channel, header, metadata, content, form, parts, message)


def encode(request: DecodedRequest, pack: Any) -> Any:
    """The message again, in the framing it came in, with the rewritten metadata."""
    if request.form == "v1":
        parts = list(request.parts)
        parts[2] = pack(request.metadata)
        return serialize_msg_to_ws_v1(parts, request.channel)
    assert request.message is not None
    request.message["metadata"] = request.metadata
    if request.form == "binary":
        return serialize_binary_message(request.message)
    return json.dumps(request.message, default=json_default)
