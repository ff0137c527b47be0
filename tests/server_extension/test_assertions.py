"""Identity assertions: signing and checking, and kernels calling the API with them."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from nbwarden.server_extension import assertions
from nbwarden.server_extension.errors import GatewayAPIError
from nbwarden.server_extension.service import REFUSED_USER

KEY = bytes(range(32))
SOURCE = "%%sql shop\nSELECT id FROM customers WHERE id = 1"


def token(key: bytes = KEY, **overrides: Any) -> str:
    fields: dict[str, Any] = {
        "user": "alice",
        "kernel_id": "k-1",
        "cell_id": "c-1",
        "source": SOURCE,
        "ttl_s": 60,
    }
    fields.update(overrides)
    return assertions.sign(key, **fields)


def test_round_trip_names_user_kernel_cell_and_code() -> None:
    claims = assertions.verify(KEY, token(), kernel_id="k-1", source=SOURCE)
    assert (claims.user, claims.kernel_id, claims.cell_id) == ("alice", "k-1", "c-1")
    assert claims.code_hash == assertions.code_hash(SOURCE)
    assert token() != token(), "every assertion carries a fresh nonce"


@pytest.mark.parametrize(
    ("make", "check", "reason"),
    [
        (lambda: token(now=time.time() - 120), {}, "expired"),
        (lambda: token(key=bytes(32)), {}, "signature"),
        (lambda: token(), {"kernel_id": "k-2"}, "another kernel"),
        (lambda: token(), {"source": SOURCE + " OR 1=1"}, "cell source"),
        (lambda: token()[:-4] + "AAAA", {}, "signature"),
        (lambda: "not-a-token", {}, "malformed"),
        (lambda: "a.b.c", {}, "malformed"),
        (lambda: "x" * 5000 + ".y", {}, "malformed"),
    ],
)
def test_bad_assertions_are_refused(make: Any, check: dict[str, str], reason: str) -> None:
    with pytest.raises(GatewayAPIError) as refused:
        assertions.verify(KEY, make(), **check)
    assert refused.value.status == 403 and reason in refused.value.message


def test_tampered_payload_is_refused() -> None:
    body, mac = token().split(".")
    other_body, _ = token(user="dpo").split(".")
    with pytest.raises(GatewayAPIError, match="signature"):
        assertions.verify(KEY, f"{other_body}.{mac}")
    assert body != other_body


def kernel_headers(
    key_file: Path, source: str, kernel_id: str = "k-1", **overrides: Any
) -> dict[str, str]:
    key = assertions.assertion_key(key_file)
    signed = token(key=key, source=source, kernel_id=kernel_id, **overrides)
    return {"Authorization": f"NBWarden-Assertion {signed}", "X-NBWarden-Kernel": "k-1"}


async def test_kernel_call_with_a_valid_assertion_runs_as_the_asserted_user(
    api: Any, key_file: Path
) -> None:
    body = {
        "kind": "sql",
        "target": "shop",
        "code": "SELECT id FROM customers WHERE id = 1",
        "cell_source": SOURCE,
        "cell_id": "ignored",
    }
    status, outcome = await api(None, "POST", "execute", body, kernel_headers(key_file, SOURCE))
    assert status == 200, outcome
    status, record = await api("auditor", "GET", f"executions/{outcome['execution_id']}")
    assert status == 200
    assert (record["user"], record["kernel_id"], record["cell_id"]) == ("alice", "k-1", "c-1")


async def test_kernel_calls_with_bad_assertions_are_refused_and_recorded(
    api: Any, key_file: Path
) -> None:
    code = "SELECT id FROM customers WHERE id = 1"
    body = {"kind": "sql", "target": "shop", "code": code, "cell_source": SOURCE}
    cases = [
        (kernel_headers(key_file, SOURCE, now=time.time() - 600), body),
        (kernel_headers(key_file, SOURCE, kernel_id="k-other"), body),
        (kernel_headers(key_file, SOURCE), {**body, "cell_source": SOURCE + "\n-- more"}),
        (kernel_headers(key_file, SOURCE), {**body, "code": "SELECT email FROM customers"}),
        ({"Authorization": f"NBWarden-Assertion {token()}", "X-NBWarden-Kernel": "k-1"}, body),
        ({**kernel_headers(key_file, SOURCE), "X-NBWarden-Kernel": ""}, body),
    ]
    for headers, sent in cases:
        status, refused = await api(None, "POST", "execute", sent, headers)
        assert status == 403, (headers, refused)
        assert set(refused) == {"error"}
    status, records = await api("auditor", "GET", "executions", params={"user": REFUSED_USER})
    assert status == 200 and len(records) == len(cases)
    assert all(r["status"] == "blocked" for r in records)
    status, verify = await api("auditor", "GET", "audit/verify")
    assert verify["ok"] is True


async def test_a_kernel_assertion_opens_only_kernel_routes(api: Any, key_file: Path) -> None:
    headers = kernel_headers(key_file, SOURCE, user="dpo")
    for method, path in [
        ("GET", "approvals"),
        ("GET", "grants"),
        ("POST", "dsar"),
        ("GET", "audit/verify"),
        ("GET", "executions"),
    ]:
        status, _ = await api(None, method, path, {}, headers)
        assert status == 403, path
    status, me = await api(None, "GET", "whoami", None, headers)
    assert status == 200 and me["user"] == "dpo"
    status, refused = await api(
        None, "POST", "approvals/a1/approve", {"basis": "contract"}, headers
    )
    assert status == 403 and "kernel" in refused["error"]
