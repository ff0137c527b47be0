"""The OpenAPI 3 description of the gateway API (served at ``openapi.json``)."""

from __future__ import annotations

from typing import Any

from nbwarden import __version__
from nbwarden.executor.payload import ARROW_STREAM

ID_PARAM_PATTERN = "^[A-Za-z0-9_.:-]{1,128}$"

_ERROR = {"$ref": "#/components/schemas/Error"}
_OBJECT: dict[str, Any] = {"type": "object", "additionalProperties": True}
_LIST: dict[str, Any] = {"type": "array", "items": _OBJECT}
_STRINGS: dict[str, Any] = {"type": "array", "items": {"type": "string"}}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    texts = {
        400: "invalid request",
        403: "not authenticated or not allowed",
        404: "unknown id",
        409: "wrong state (replay, already decided)",
        413: "body too large",
        422: "the cell failed or its result was withheld",
        503: "the gateway cannot record or read now",
    }
    return {str(code): _json(_ERROR, texts[code]) for code in (403, 413, 503, *codes)}


def _path_id(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "string", "pattern": ID_PARAM_PATTERN},
    }


def _query(name: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema or {"type": "string"}}


def _operation(
    summary: str,
    ok: dict[str, Any],
    errors: tuple[int, ...] = (),
    body: dict[str, Any] | None = None,
    parameters: list[dict[str, Any]] | None = None,
    ok_code: str = "200",
) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": summary,
        "responses": {ok_code: _json(ok, "success"), **_errors(*errors)},
    }
    if body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": body}},
        }
    if parameters:
        operation["parameters"] = parameters
    return operation


ARROW_ANSWER = (
    "With `Accept: application/vnd.apache.arrow.stream`, a SQL result (200) comes as an "
    "Arrow IPC stream of the masked table; its schema metadata `nbwarden` holds the JSON "
    "answer without `result.rows`, with `result.masked` as runs of rows per column "
    "(`[[first, past_last], ...]`). Every other answer, and every client that does not "
    "ask, gets JSON."
)


def _execute_operation() -> dict[str, Any]:
    operation = _operation("run a governed SQL or shell cell", _OBJECT, (400, 422), EXECUTE_BODY)
    operation["description"] = ARROW_ANSWER
    ok = operation["responses"]["200"]
    ok["content"][ARROW_STREAM] = {"schema": {"type": "string", "format": "binary"}}
    return operation


EXECUTE_BODY: dict[str, Any] = {
    "type": "object",
    "required": ["kind", "code"],
    "properties": {
        "kind": {"type": "string", "enum": ["sql", "shell"]},
        "target": {"type": "string", "nullable": True},
        "code": {"type": "string"},
        "cell_source": {"type": "string", "description": "required with a kernel assertion"},
        "kernel_id": {"type": "string", "description": "required with a kernel assertion"},
        "params": _OBJECT,
        "purpose": {"type": "string", "nullable": True},
        "notebook": {"type": "string", "nullable": True},
        "cell_id": {"type": "string", "nullable": True},
        "execution_count": {"type": "integer", "nullable": True},
        "approval_id": {"type": "string", "nullable": True},
        "client_ref": {"type": "string", "nullable": True},
    },
}

APPROVE_BODY: dict[str, Any] = {
    "type": "object",
    "required": ["basis"],
    "properties": {
        "basis": {"type": "string"},
        "justification": {"type": "string"},
        "unmask_columns": _STRINGS,
        "unmask_entities": _STRINGS,
        "grant_minutes": {"type": "integer", "nullable": True},
    },
}

REJECT_BODY: dict[str, Any] = {
    "type": "object",
    "required": ["reason"],
    "properties": {"reason": {"type": "string"}},
}

GRANT_BODY: dict[str, Any] = {
    "type": "object",
    "required": ["user", "target", "basis", "justification"],
    "properties": {
        "user": {"type": "string"},
        "target": {"type": "string"},
        "basis": {"type": "string"},
        "justification": {"type": "string"},
        "rules": _STRINGS,
        "minutes": {"type": "integer"},
        "unmask_columns": _STRINGS,
        "unmask_entities": _STRINGS,
    },
}

DSAR_BODY: dict[str, Any] = {
    "type": "object",
    "properties": {
        "email": {"type": "string"},
        "phone": {"type": "string"},
        "name": {"type": "string"},
        "ids": {"type": "object", "additionalProperties": {"type": "string"}},
        "identifiers": {
            "type": "array",
            "items": {"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 2},
        },
        "format": {"type": "string", "enum": ["json"]},
    },
}


def openapi_document(base_path: str) -> dict[str, Any]:
    """The API description; ``base_path`` is where the API is mounted, e.g. ``/nbwarden/api``."""
    approval_id = [_path_id("approval_id")]
    paths: dict[str, Any] = {
        "/whoami": {"get": _operation("who is calling, with their roles", _OBJECT)},
        "/connections": {"get": _operation("connection and shell target names", _OBJECT)},
        "/openapi.json": {"get": _operation("this document", _OBJECT)},
        "/execute": {"post": _execute_operation()},
        "/executions": {
            "get": _operation(
                "search executions (auditor)",
                _LIST,
                (400,),
                parameters=[
                    *(_query(n) for n in ("user", "connection", "table", "status")),
                    _query("since", {"type": "string", "format": "date-time"}),
                    _query("until", {"type": "string", "format": "date-time"}),
                    _query("limit", {"type": "integer", "minimum": 1}),
                ],
            )
        },
        "/executions/{execution_id}": {
            "get": _operation(
                "one execution record", _OBJECT, (404,), parameters=[_path_id("execution_id")]
            )
        },
        "/executions/{execution_id}/cancel": {
            "post": _operation(
                "cancel a running statement",
                _OBJECT,
                (404, 409),
                parameters=[_path_id("execution_id")],
            )
        },
        "/executions/{execution_id}/progress": {
            "get": _operation(
                "elapsed time and rows fetched of the kernel's running cell ('current' only)",
                _OBJECT,
                (400, 404),
                parameters=[_path_id("execution_id")],
            )
        },
        "/approvals": {
            "get": _operation("the approval queue", _LIST, parameters=[_query("state")])
        },
        "/approvals/{approval_id}": {
            "get": _operation("one approval request", _OBJECT, (404,), parameters=approval_id)
        },
        "/approvals/{approval_id}/approve": {
            "post": _operation(
                "approve with a legal basis", _OBJECT, (400, 404, 409), APPROVE_BODY, approval_id
            )
        },
        "/approvals/{approval_id}/reject": {
            "post": _operation(
                "reject with a reason",
                _OBJECT,
                (400, 404, 409),
                {
                    "type": "object",
                    "required": ["reason"],
                    "properties": {"reason": {"type": "string"}},
                },
                approval_id,
            )
        },
        "/approvals/{approval_id}/withdraw": {
            "post": _operation(
                "withdraw one's own request", _OBJECT, (404, 409), _OBJECT, approval_id
            )
        },
        "/grants": {
            "get": _operation(
                "time-boxed grants", _LIST, parameters=[_query("active", {"type": "boolean"})]
            ),
            "post": _operation(
                "open a time-boxed grant", _OBJECT, (400, 409), GRANT_BODY, ok_code="201"
            ),
        },
        "/grants/{grant_id}/revoke": {
            "post": _operation(
                "revoke a grant", _OBJECT, (404, 409), _OBJECT, [_path_id("grant_id")]
            )
        },
        "/dsar": {"post": _operation("Art. 15 subject access report", _OBJECT, (400,), DSAR_BODY)},
        "/audit/verify": {"get": _operation("verify the provenance chain", _OBJECT)},
        "/audit/stats": {"get": _operation("per-day counts and turnaround", _OBJECT)},
    }
    return {
        "openapi": "3.0.3",
        "info": {"title": "nbwarden gateway API", "version": __version__},
        "servers": [{"url": base_path}],
        "security": [{"token": []}, {"assertion": []}],
        "components": {
            "securitySchemes": {
                "token": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "token <user token>",
                },
                "assertion": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "NBWarden-Assertion <signed identity assertion> (kernels)",
                },
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {"error": {"type": "string"}},
                }
            },
        },
        "paths": paths,
    }
