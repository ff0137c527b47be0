"""Fuzz every route of a running gateway from its own OpenAPI description (schemathesis).

Valid and invalid requests, as every kind of user and with no credential: never a 500,
never a stack trace, never a secret (database URL, key, token) in any response. Then
oversized, malformed and non-object bodies on every POST route.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis.generation import GenerationMode

from benchmarks.system.fleet import GatewayProcess
from nbwarden.config import load_config
from nbwarden.server_extension.handlers import MAX_BODY_BYTES
from tests.system.support import USERS, Workspace, write_workspace

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

EXAMPLES_PER_ROUTE = 25


@pytest.fixture(scope="module")
def fuzz_target(
    tmp_path_factory: pytest.TempPathFactory, postgres_url: str, customers: list[dict[str, Any]]
) -> Iterator[tuple[Workspace, GatewayProcess]]:
    workspace = write_workspace(
        tmp_path_factory.mktemp("fuzz"), {"prod": postgres_url}, shell=False
    )
    gateway = workspace.gateway("fuzz").start()
    try:
        yield workspace, gateway
    finally:
        gateway.stop()


def secrets_of(workspace: Workspace, gateway: GatewayProcess) -> list[str]:
    config = load_config(workspace.config_path)
    found = [config.connections["prod"].url, "postgresql+psycopg://", str(config.audit.path)]
    found.append(config.audit.key_file.read_text(encoding="ascii").strip())
    found.extend(workspace.tokens.values())
    runtime = gateway.runtime.read()
    assert runtime is not None
    found.append(runtime.token)
    return found


def assert_safe(response: Any, secrets: list[str], what: str) -> None:
    assert response.status_code < 500, f"{what}: HTTP {response.status_code} {response.text[:200]}"
    text = response.text
    assert "Traceback" not in text, what
    for secret in secrets:
        assert secret not in text, f"{what}: a secret is in the response"


def test_every_route_from_the_openapi_description(
    fuzz_target: tuple[Workspace, GatewayProcess],
) -> None:
    workspace, gateway = fuzz_target
    status, document = gateway.call("auditor", "GET", "openapi.json")
    assert status == 200
    schema = schemathesis.openapi.from_dict(document)
    secrets = secrets_of(workspace, gateway)
    base_url = gateway.url.removesuffix("/nbwarden/api")
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) >= 17
    callers = st.sampled_from([None, *USERS])
    fuzzed: set[tuple[str, str, str]] = set()
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(
                max_examples=EXAMPLES_PER_ROUTE,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(mode), user=callers)
            def fuzz(case: Any, user: str | None) -> None:
                headers = dict(case.headers or {})
                if user is not None:
                    headers["Authorization"] = f"token {workspace.tokens[user]}"
                response = case.call(base_url=base_url, headers=headers, timeout=60)
                assert_safe(response, secrets, f"{case.method} {case.formatted_path}")

            try:
                fuzz()
            except Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE, "no valid request could be generated"
                continue
            fuzzed.add((operation.method.upper(), operation.path, mode.value))
    assert len(fuzzed) >= len(operations) + 5, fuzzed
    status, verify = gateway.call("auditor", "GET", "audit/verify")
    assert status == 200 and verify["ok"] is True, verify


POST_ROUTES = [
    "execute",
    "executions/abc/cancel",
    "approvals/abc/approve",
    "approvals/abc/reject",
    "approvals/abc/withdraw",
    "grants",
    "grants/abc/revoke",
    "dsar",
]


@pytest.mark.parametrize("user", ["alice", "dpo", "auditor"])
def test_oversized_and_malformed_bodies(
    fuzz_target: tuple[Workspace, GatewayProcess], user: str
) -> None:
    workspace, gateway = fuzz_target
    secrets = secrets_of(workspace, gateway)
    headers = {
        "Authorization": f"token {workspace.tokens[user]}",
        "Content-Type": "application/json",
    }
    bodies = {
        "oversized": b'{"kind": "sql", "code": "' + b"x" * (MAX_BODY_BYTES + 10) + b'"}',
        "not json": b"{kind: sql",
        "not an object": b'["kind", "sql"]',
        "wrong types": b'{"kind": 1, "code": ["SELECT 1"], "basis": {}, "email": 3}',
        "binary": bytes(range(256)) * 4,
        "deep nesting": b"[" * 5000 + b"]" * 5000,
    }
    for route in POST_ROUTES:
        for name, body in bodies.items():
            response = httpx.post(
                f"{gateway.url}/{route}", content=body, headers=headers, timeout=60, trust_env=False
            )
            assert_safe(response, secrets, f"{name} body to {route}")
            assert response.status_code in (400, 403, 404, 409, 413, 422), (name, route)
    huge_cell = {"kind": "sql", "code": "SELECT 1 -- " + "y" * 300_000}
    status, body = gateway.call(user, "POST", "execute", huge_cell)
    assert status in (403, 422) and body.get("result") is None, body
    long_path = httpx.get(
        f"{gateway.url}/executions/{'z' * 5000}", headers=headers, timeout=60, trust_env=False
    )
    assert_safe(long_path, secrets, "long path")


def test_oversized_dsar_and_search_arguments(
    fuzz_target: tuple[Workspace, GatewayProcess], tmp_path: Path
) -> None:
    workspace, gateway = fuzz_target
    secrets = secrets_of(workspace, gateway)
    headers = {"Authorization": f"token {workspace.tokens['auditor']}"}
    for query in (
        "since=not-a-date",
        "limit=-4",
        "limit=99999999999999999999",
        "user=" + "u" * 9000,
    ):
        response = httpx.get(
            f"{gateway.url}/executions?{query}", headers=headers, timeout=60, trust_env=False
        )
        assert_safe(response, secrets, query[:40])
    status, body = gateway.call("auditor", "POST", "dsar", {"ids": {"x" * 500: "y" * 100_000}})
    assert status in (200, 400), body
