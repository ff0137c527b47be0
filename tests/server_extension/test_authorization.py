"""Every route refuses the unauthenticated and every role gets exactly its routes."""

from __future__ import annotations

import re
from typing import Any

from nbwarden.server_extension.handlers import ROUTES, NBWardenHandler
from tests.server_extension.conftest import TOKENS

ANY_USER = {"alice", "dpo", "dpo2", "auditor", "nobody"}
ANALYSTS = {"alice", "dpo"}
APPROVERS = {"dpo", "dpo2"}
AUDITORS = {"auditor"}

TABLE: list[tuple[str, str, dict[str, Any] | None, set[str]]] = [
    ("GET", "whoami", None, ANY_USER),
    ("GET", "connections", None, ANY_USER),
    ("GET", "openapi.json", None, ANY_USER),
    ("POST", "execute", {}, ANALYSTS),
    ("POST", "executions/e1/cancel", {}, ANALYSTS | APPROVERS),
    ("GET", "executions/e1/progress", None, ANALYSTS),
    ("GET", "approvals", None, ANALYSTS | APPROVERS),
    ("GET", "approvals/a1", None, ANALYSTS | APPROVERS),
    ("POST", "approvals/a1/approve", {"basis": "contract"}, APPROVERS),
    ("POST", "approvals/a1/reject", {"reason": "no"}, APPROVERS),
    ("POST", "approvals/a1/withdraw", {}, ANALYSTS | APPROVERS),
    ("GET", "grants", None, APPROVERS),
    ("POST", "grants", {}, APPROVERS),
    ("POST", "grants/g1/revoke", {}, APPROVERS),
    ("GET", "executions", None, AUDITORS),
    ("GET", "executions/e1", None, ANALYSTS | AUDITORS),
    ("POST", "dsar", {}, AUDITORS),
    ("GET", "audit/verify", None, AUDITORS),
    ("GET", "audit/stats", None, AUDITORS),
]


def registered_api_handlers(web_app: Any) -> list[tuple[str, type]]:
    """(regex, handler class) of every registered rule under /nbwarden/api/."""
    found: list[tuple[str, type]] = []

    def walk(router: Any) -> None:
        for rule in getattr(router, "rules", []):
            target = rule.target
            if hasattr(target, "rules"):
                walk(target)
                continue
            regex = getattr(rule.matcher, "regex", None)
            if regex is not None and "nbwarden/api" in regex.pattern:
                found.append((regex.pattern, target))

    walk(web_app.default_router)
    return found


def sample_path(pattern: str) -> str:
    path = re.sub(r"\((?:[^()]|\([^()]*\))*\)", "x1", pattern)
    return path.replace("\\", "").rstrip("$").replace("/?", "")


async def test_every_registered_route_refuses_unauthenticated(
    jp_serverapp: Any, jp_fetch: Any
) -> None:
    handlers = registered_api_handlers(jp_serverapp.web_app)
    assert {cls for _, cls in handlers} == {cls for _, cls in ROUTES}
    checked = 0
    for pattern, cls in handlers:
        assert issubclass(cls, NBWardenHandler)
        path = sample_path(pattern).split("nbwarden/api/", 1)[1] or "x1"
        for method in ("GET", "POST", "PUT", "DELETE", "PATCH"):
            if getattr(cls, method.lower()) is getattr(NBWardenHandler, method.lower()):
                continue
            for headers in ({"Authorization": ""}, {"Authorization": "token wrong"}):
                response = await jp_fetch(
                    "nbwarden",
                    "api",
                    *path.split("/"),
                    method=method,
                    headers=headers,
                    body=None if method == "GET" else "{}",
                    raise_error=False,
                )
                assert response.code == 403, (method, path, response.code)
                assert b"Traceback" not in (response.body or b"")
                checked += 1
    assert checked >= 2 * len(ROUTES)


async def test_roles_table_over_every_route(api: Any) -> None:
    assert {path.split("/")[0] for _, path, _, _ in TABLE} >= {"approvals", "grants", "audit"}
    users = sorted(TOKENS)
    for method, path, body, allowed in TABLE:
        for user in users:
            if user == "bob":
                continue
            status, payload = await api(user, method, path, body)
            if user in allowed:
                assert status != 403, (method, path, user, payload)
            else:
                assert status == 403, (method, path, user, status, payload)
                assert set(payload) == {"error"}


async def test_cookie_session_needs_xsrf(jp_fetch: Any) -> None:
    login = await jp_fetch(
        "nbwarden",
        "api",
        "whoami",
        params={"token": TOKENS["alice"]},
        headers={"Authorization": ""},
    )
    cookies = [c.split(";", 1)[0] for c in login.headers.get_list("Set-Cookie")]
    assert cookies, "the token login set no cookie"
    cookie_header = {"Cookie": "; ".join(cookies), "Authorization": ""}
    me = await jp_fetch("nbwarden", "api", "whoami", headers=cookie_header)
    assert b'"alice"' in me.body
    response = await jp_fetch(
        "nbwarden",
        "api",
        "execute",
        method="POST",
        raise_error=False,
        body='{"kind": "sql", "code": "SELECT 1"}',
        headers=cookie_header,
    )
    assert response.code == 403
    with_xsrf = {
        **cookie_header,
        "Cookie": cookie_header["Cookie"] + "; _xsrf=f00d",
        "X-XSRFToken": "f00d",
    }
    response = await jp_fetch(
        "nbwarden",
        "api",
        "execute",
        method="POST",
        raise_error=False,
        body='{"kind": "sql", "code": "SELECT 1"}',
        headers=with_xsrf,
    )
    assert response.code == 200, response.body


async def test_role_refusals_are_recorded_in_the_chain(api: Any) -> None:
    status, _ = await api("alice", "GET", "audit/verify")
    assert status == 403
    status, _ = await api("alice", "POST", "dsar", {"email": "someone@example.org"})
    assert status == 403
    status, records = await api("auditor", "GET", "executions", params={"user": "alice"})
    assert status == 200
    refused = [r for r in records if r["status"] == "blocked" and r["target"] == "gateway"]
    assert len(refused) == 2
    assert all("gateway.authorization" in str(r["rule_ids"]) for r in refused)
    assert "someone@example.org" not in str(records)
    status, report = await api("auditor", "GET", "audit/verify")
    assert status == 200 and report["ok"] is True
