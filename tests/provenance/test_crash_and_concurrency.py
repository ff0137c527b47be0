"""A writer killed with SIGKILL mid-write, and many writers sharing one store."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

from nbwarden.config import AuditConfig
from nbwarden.provenance import ExecutionEnd, ProvenanceStore, Subject
from tests.provenance.history import sample_start

CHILD = textwrap.dedent(
    """
    import sys, threading, time
    from pathlib import Path
    from nbwarden.config import AuditConfig
    from nbwarden.provenance import ExecutionEnd, ExecutionStart, ProvenanceStore

    audit = AuditConfig(path=Path(sys.argv[1]), key_file=Path(sys.argv[2]), checkpoint_every=25)
    store = ProvenanceStore(audit)

    def start(user):
        return ExecutionStart(user=user, kind="sql", target="prod", code_masked="SELECT 1",
                              code_hash="ab" * 32)

    def background():
        while True:
            execution_id = store.record_start(start("bulk"), durable=False)
            store.record_end(execution_id, ExecutionEnd(status="ok"), durable=False)
            time.sleep(0.001)

    threading.Thread(target=background, daemon=True).start()
    for number in range(10_000):
        execution_id = store.record_start(start("main"))
        if number == 15:
            print("holding", execution_id, flush=True)
            time.sleep(60)
        store.record_end(execution_id, ExecutionEnd(status="ok"))
        print("durable", execution_id, flush=True)
    """
)


def test_sigkill_mid_write_leaves_a_visible_incomplete_record(audit: AuditConfig) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(audit.path), str(audit.key_file)],
        stdout=subprocess.PIPE,
        text=True,
    )
    durable: list[str] = []
    holding = None
    assert child.stdout is not None
    try:
        for line in child.stdout:
            kind, execution_id = line.split()
            if kind == "holding":
                holding = execution_id
                break
            durable.append(execution_id)
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    assert holding is not None and len(durable) == 15

    with ProvenanceStore(audit) as store:
        assert store.verify().ok
        interrupted = store.get_execution(holding)
        assert interrupted is not None and interrupted["status"] == "incomplete"
        assert all((store.get_execution(i) or {}).get("status") == "ok" for i in durable)
        assert not store.search_executions(status="started", limit=10_000)
        after = store.record_start(sample_start("alice"))
        store.record_end(after, ExecutionEnd(status="ok"))
    with ProvenanceStore(audit, read_only=True) as reader:
        report = reader.verify()
        assert report.ok, report
        assert (reader.get_execution(after) or {}).get("status") == "ok"


def test_sixteen_concurrent_writers_lose_nothing(audit: AuditConfig) -> None:
    per_thread = 25
    recorded: dict[int, list[str]] = {}
    errors: list[BaseException] = []

    def writer(store: ProvenanceStore, number: int) -> None:
        try:
            ids = []
            for step in range(per_thread):
                execution_id = store.record_start(sample_start(f"user{number}"))
                subject = Subject("EMAIL_ADDRESS", f"t{number}s{step}@example.org", "email")
                store.record_end(execution_id, ExecutionEnd(status="ok", subjects=[subject]))
                ids.append(execution_id)
            recorded[number] = ids
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    with ProvenanceStore(audit) as store:
        threads = [threading.Thread(target=writer, args=(store, n)) for n in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors
        report = store.verify()
        assert report.ok, report
        assert report.checked == 16 * per_thread * 2
        for number, ids in recorded.items():
            found = store.search_executions(user=f"user{number}", status="ok", limit=1000)
            assert {e["id"] for e in found} == set(ids)
        [entry] = store.dsar([("EMAIL_ADDRESS", "t7s3@example.org")])
        assert entry["execution_id"] == recorded[7][3]


def test_chain_continues_across_restarts(audit: AuditConfig) -> None:
    for round_number in range(3):
        with ProvenanceStore(audit) as store:
            execution_id = store.record_start(sample_start(f"round{round_number}"))
            store.record_end(execution_id, ExecutionEnd(status="ok"))
    with ProvenanceStore(audit, read_only=True) as reader:
        report = reader.verify()
    assert report.ok and report.checked == 6
    assert Path(str(audit.path) + ".head").exists()
