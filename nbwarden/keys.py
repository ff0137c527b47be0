"""The gateway's secret key file and the purpose-bound keys derived from it.

One random master key lives in a file outside DuckDB (``[audit] key_file``),
created with mode 0600 on first use. Each use gets its own subkey through
HKDF-style derivation, so a key shown to one component cannot be used for another.
Rotation: see docs/admin.md.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

KEY_BYTES = 32

SUBJECT_INDEX = "subject-index"
CHAIN_SIGNATURE = "chain-signature"
PSEUDONYM = "pseudonym"
IDENTITY_ASSERTION = "identity-assertion"


class KeyFileError(Exception):
    """The key file cannot be created or read, or has unsafe permissions."""


def load_or_create_master_key(path: Path) -> bytes:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return load_master_key(path)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(secrets.token_hex(KEY_BYTES) + "\n")
    return load_master_key(path)


def load_master_key(path: Path) -> bytes:
    if path.stat().st_mode & 0o077:
        raise KeyFileError(f"key file {path} must not be readable by group or others (chmod 600)")
    try:
        key = bytes.fromhex(path.read_text(encoding="ascii").strip())
    except ValueError:
        raise KeyFileError(f"key file {path} does not hold a hex key") from None
    if len(key) < 16:
        raise KeyFileError(f"key file {path} holds a key shorter than 128 bits")
    return key


def derive_key(master: bytes, purpose: str) -> bytes:
    """HKDF-Expand (RFC 5869) of one block, with the purpose as info."""
    prk = hmac.new(b"nbwarden", master, hashlib.sha256).digest()
    return hmac.new(prk, purpose.encode() + b"\x01", hashlib.sha256).digest()


def keyed_hash(key: bytes, value: str) -> str:
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()
