"""Fixtures for the provenance store: a fresh store on a temporary file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from nbwarden.config import AuditConfig
from nbwarden.provenance import ProvenanceStore


@pytest.fixture
def audit(tmp_path: Path) -> AuditConfig:
    return AuditConfig(
        path=tmp_path / "audit" / "provenance.duckdb",
        key_file=tmp_path / "keys" / "master.key",
        retention_days=30,
        checkpoint_every=7,
    )


@pytest.fixture
def store(audit: AuditConfig) -> Iterator[ProvenanceStore]:
    opened = ProvenanceStore(audit)
    yield opened
    opened.close()
