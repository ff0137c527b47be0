"""A gateway on real components: DuckDB data, provenance file, Presidio/spaCy masker, policy."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from executor_support import Clock, ConfigMaker, GatewayMaker
from faker import Faker

from nbwarden.approvals import ApprovalService, ApprovalSettings, Notifier, ProvenanceJournal
from nbwarden.config import Config, parse_config
from nbwarden.executor import Gateway
from nbwarden.executor.gateway import approval_service, mask_text_or_withhold
from nbwarden.masking import Masker
from nbwarden.policy import PolicyEngine
from nbwarden.provenance import ProvenanceStore


@pytest.fixture(scope="session")
def masker() -> Masker:
    return Masker.for_profile("default", pseudonym_key=secrets.token_bytes(32))


@pytest.fixture(scope="session")
def policy() -> PolicyEngine:
    return PolicyEngine()


@pytest.fixture
def customers(tmp_path: Path) -> list[dict[str, Any]]:
    """Twenty synthetic customers in a DuckDB file ``sales.duckdb``."""
    fake = Faker()
    Faker.seed(1234)
    people = [
        {"id": i, "name": fake.name(), "email": fake.unique.email(), "city": fake.city()}
        for i in range(1, 21)
    ]
    with duckdb.connect(str(tmp_path / "sales.duckdb")) as con:
        con.execute("CREATE TABLE customers (id INTEGER, name TEXT, email TEXT, city TEXT)")
        con.executemany(
            "INSERT INTO customers VALUES (?, ?, ?, ?)",
            [(p["id"], p["name"], p["email"], p["city"]) for p in people],
        )
    return people


@pytest.fixture
def make_config(tmp_path: Path, key_file: Path) -> ConfigMaker:
    def build(extra_connections: dict[str, Any] | None = None, **sections: Any) -> Config:
        raw: dict[str, Any] = {
            "audit": {"path": str(tmp_path / "audit.duckdb"), "key_file": str(key_file)},
            "connections": {
                "prod": {"url": f"duckdb:///{tmp_path / 'sales.duckdb'}", "row_cap": 10},
                **(extra_connections or {}),
            },
            "shell": {
                "local": {"kind": "local", "workdir": str(tmp_path / "work"), "timeout_s": 5}
            },
            **sections,
        }
        return parse_config(raw, base_dir=tmp_path)

    return build


@pytest.fixture
def make_gateway(
    make_config: ConfigMaker, masker: Masker, policy: PolicyEngine, customers: Any
) -> Iterator[GatewayMaker]:
    made: list[Gateway] = []

    def build(
        config: Config | None = None, clock: Clock | None = None, masker_: Masker | None = None
    ) -> Gateway:
        config = config or make_config()
        store = ProvenanceStore(config.audit)
        if clock is None:
            approvals = approval_service(config, store, masker_ or masker)
        else:
            settings = ApprovalSettings(request_ttl_s=config.gateway.approval_ttl_s)
            approvals = ApprovalService(
                ProvenanceJournal(store),
                settings,
                None,
                Notifier(),
                clock=clock,
                mask_text=lambda text: mask_text_or_withhold(masker_ or masker, text),
            )
        gateway = Gateway(config, policy, masker_ or masker, store, approvals)
        made.append(gateway)
        return gateway

    yield build
    for gateway in made:
        with contextlib.suppress(Exception):
            gateway.close()
