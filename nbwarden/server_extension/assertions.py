"""Signed identity assertions: the server vouches for who sent a cell to which kernel.

A token is ``base64url(json payload) + "." + base64url(HMAC-SHA256(key, payload))`` with
the payload ``{"u": user, "k": kernel id, "c": cell id, "h": sha256(cell source),
"exp": unix time, "n": nonce}``. The key is ``derive_key(master, IDENTITY_ASSERTION)``,
so it cannot be confused with any other key the gateway holds.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from nbwarden.keys import IDENTITY_ASSERTION, derive_key, load_or_create_master_key
from nbwarden.server_extension.errors import GatewayAPIError

HEADER_SCHEME = "NBWarden-Assertion"
MAX_TOKEN_CHARS = 4096


@dataclass(frozen=True)
class IdentityClaims:
    user: str
    kernel_id: str
    cell_id: str
    code_hash: str
    expires_at: int
    nonce: str


def assertion_key(key_file: Path) -> bytes:
    return derive_key(load_or_create_master_key(key_file), IDENTITY_ASSERTION)


@dataclass(frozen=True)
class CellStamper:
    """Signs executed cells with one key and lifetime: what the server puts on each cell."""

    key: bytes
    ttl_s: int

    def stamp(self, user: str, kernel_id: str, cell_id: str, source: str) -> str:
        return sign(
            self.key,
            user=user,
            kernel_id=kernel_id,
            cell_id=cell_id,
            source=source,
            ttl_s=self.ttl_s,
        )


def code_hash(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


def sign(
    key: bytes,
    *,
    user: str,
    kernel_id: str,
    cell_id: str,
    source: str,
    ttl_s: int,
    now: float | None = None,
) -> str:
    issued = time.time() if now is None else now
    payload = {
        "u": user,
        "k": kernel_id,
        "c": cell_id,
        "h": code_hash(source),
        "exp": int(issued) + ttl_s,
        "n": secrets.token_hex(8),
    }
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode("utf-8")
    mac = hmac.new(key, body, hashlib.sha256).digest()
    return f"{_b64encode(body)}.{_b64encode(mac)}"


def verify(
    key: bytes,
    token: str,
    *,
    kernel_id: str | None = None,
    source: str | None = None,
    now: float | None = None,
) -> IdentityClaims:
    """Check the signature, expiry and, when given, the kernel id and the cell source.

    Raise :class:`GatewayAPIError` (403) with a reason that names no secret.
    """
    claims = _decode(key, token)
    check_claims(claims, kernel_id=kernel_id, source=source, now=now)
    return claims


def check_claims(
    claims: IdentityClaims,
    *,
    kernel_id: str | None = None,
    source: str | None = None,
    now: float | None = None,
) -> None:
    """Check the expiry and, when given, that the claims name this kernel and this source."""
    current = time.time() if now is None else now
    if claims.expires_at < current:
        raise GatewayAPIError(403, "identity assertion expired")
    if kernel_id is not None and not hmac.compare_digest(claims.kernel_id, kernel_id):
        raise GatewayAPIError(403, "identity assertion was issued for another kernel")
    if source is not None and not hmac.compare_digest(claims.code_hash, code_hash(source)):
        raise GatewayAPIError(403, "identity assertion does not match the cell source")


def _decode(key: bytes, token: str) -> IdentityClaims:
    if len(token) > MAX_TOKEN_CHARS or token.count(".") != 1:
        raise GatewayAPIError(403, "malformed identity assertion")
    body_part, mac_part = token.split(".")
    try:
        body = _b64decode(body_part)
        mac = _b64decode(mac_part)
    except (binascii.Error, ValueError):
        raise GatewayAPIError(403, "malformed identity assertion") from None
    expected = hmac.new(key, body, hashlib.sha256).digest()
    if not hmac.compare_digest(mac, expected):
        raise GatewayAPIError(403, "identity assertion signature is invalid")
    try:
        payload = json.loads(body)
        return IdentityClaims(
            user=_text(payload["u"]),
            kernel_id=_text(payload["k"]),
            cell_id=_text(payload["c"]),
            code_hash=_text(payload["h"]),
            expires_at=int(payload["exp"]),
            nonce=_text(payload["n"]),
        )
    except (KeyError, TypeError, ValueError):
        raise GatewayAPIError(403, "malformed identity assertion") from None


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError("expected a string")
    return value


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
