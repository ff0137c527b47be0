"""Records are durable in the journal before DuckDB holds them: a crash in between loses
none, a line cut short by the crash is dropped, and an altered journal is refused."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

from nbwarden.config import AuditConfig
from nbwarden.provenance import ExecutionEnd, ProvenanceError, ProvenanceStore
from nbwarden.provenance import store as store_module
from nbwarden.provenance.journal import Journal, JournalRecord, journal_path, read_records
from tests.provenance.history import sample_start

CRASH_BEFORE_FOLDING = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    from nbwarden.config import AuditConfig
    from nbwarden.provenance import ExecutionEnd, ExecutionStart, ProvenanceStore, Subject
    from nbwarden.provenance import store as store_module

    store_module.INDEX_WHEN_IDLE_S = 3600
    store = ProvenanceStore(AuditConfig(path=Path(sys.argv[1]), key_file=Path(sys.argv[2])))
    for number in range(3):
        execution_id = store.record_start(ExecutionStart(
            user="alice", kind="sql", target="prod", code_masked=f"SELECT {number}",
            code_hash="ab" * 32))
        subjects = [Subject("EMAIL_ADDRESS", f"reader{i}@example.org", "email") for i in range(9)]
        store.record_end(execution_id, ExecutionEnd(status="ok", rows=9, subjects=subjects))
        print(execution_id, flush=True)
    os._exit(0)
    """
)


def crash_before_folding(audit: AuditConfig) -> list[str]:
    """Three executions recorded durably by a process that died before folding them."""
    child = subprocess.run(
        [sys.executable, "-c", CRASH_BEFORE_FOLDING, str(audit.path), str(audit.key_file)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return child.stdout.split()


def tables_hold(audit: AuditConfig) -> int:
    con = duckdb.connect(str(audit.path), read_only=True)
    try:
        row = con.execute("SELECT count(*) FROM execution_ends").fetchone()
    finally:
        con.close()
    assert row is not None
    return int(row[0])


def test_a_durable_record_is_in_the_journal_until_folded(audit: AuditConfig) -> None:
    executions = crash_before_folding(audit)
    assert tables_hold(audit) == 0
    assert [record.table for record in read_records(journal_path(audit.path))] == [
        "execution_starts",
        "execution_ends",
    ] * 3
    with ProvenanceStore(audit) as store:
        assert [store.get_execution(e)["status"] for e in executions] == ["ok"] * 3  # type: ignore[index]
        assert store.verify().ok
    assert tables_hold(audit) == 3
    assert not journal_path(audit.path).exists()


def test_a_reader_without_a_gateway_sees_the_journal(audit: AuditConfig) -> None:
    executions = crash_before_folding(audit)
    with ProvenanceStore(audit, read_only=True) as reader:
        assert reader.get_execution(executions[-1]) is not None
        assert reader.verify().ok


def test_a_line_cut_short_by_the_crash_is_dropped(audit: AuditConfig) -> None:
    executions = crash_before_folding(audit)
    path = journal_path(audit.path)
    last = path.read_text(encoding="utf-8").splitlines()[-1]
    with path.open("a", encoding="utf-8") as journal:
        journal.write(last[: len(last) // 2])
    with ProvenanceStore(audit) as store:
        assert all(store.get_execution(e) is not None for e in executions)
        assert store.verify().ok
        execution_id = store.record_start(sample_start())
        store.record_end(execution_id, ExecutionEnd(status="ok"))
        assert store.verify().ok


def test_a_record_cut_inside_its_subject_lines_is_dropped(audit: AuditConfig) -> None:
    executions = crash_before_folding(audit)
    path = journal_path(audit.path)
    entries = journal_entries(path.read_bytes())
    last = entries[-1]
    path.write_bytes(b"".join(entries[:-1]) + last[: last.index(b"\n") + 100])
    with ProvenanceStore(audit) as store:
        statuses = [store.get_execution(e)["status"] for e in executions]  # type: ignore[index]
        assert statuses == ["ok", "ok", "incomplete"]
        found = store.dsar([("EMAIL_ADDRESS", "reader3@example.org")])
        assert [entry["execution_id"] for entry in found] == executions[:2]
        assert store.verify().ok


def journal_entries(data: bytes) -> list[bytes]:
    """The journal's records as written: a JSON line, then for an end record its subject
    lines (``n`` bytes) and a line break."""
    entries, position = [], 0
    while position < len(data):
        end = data.index(b"\n", position) + 1
        length = json.loads(data[position:end]).get("n")
        end += 0 if length is None else length + 1
        entries.append(data[position:end])
        position = end
    return entries


def altered_body(entry: bytes) -> bytes:
    header, newline, rest = entry.partition(b"\n")
    fields = json.loads(header)
    fields["b"] = fields["b"].replace("SELECT 1", "SELECT 7")
    return json.dumps(fields).encode() + newline + rest


def altered_lines(entry: bytes) -> bytes:
    """One character of the first HMAC among the end record's subject lines changed."""
    start = entry.index(b"\t", entry.index(b"\n")) + 1
    changed = b"0" if entry[start : start + 1] != b"0" else b"1"
    return entry[:start] + changed + entry[start + 1 :]


@pytest.mark.parametrize(
    "alter",
    [
        pytest.param(lambda es: [*es[:2], altered_body(es[2]), *es[3:]], id="edited"),
        pytest.param(lambda es: [*es[:2], *es[3:]], id="removed"),
        pytest.param(lambda es: [*es[:2], es[3], es[2], *es[4:]], id="reordered"),
        pytest.param(lambda es: [es[0], b"{not json\n", *es[1:]], id="garbled"),
        pytest.param(lambda es: [es[0], es[1][:-1] + b"x", *es[2:]], id="lines overrun"),
        pytest.param(lambda es: [es[0], altered_lines(es[1]), *es[2:]], id="lines edited"),
    ],
)
def test_an_altered_journal_is_refused(audit: AuditConfig, alter: object) -> None:
    crash_before_folding(audit)
    path = journal_path(audit.path)
    assert callable(alter)
    path.write_bytes(b"".join(alter(journal_entries(path.read_bytes()))))
    with pytest.raises(ProvenanceError, match="audit journal"):
        ProvenanceStore(audit)
    assert path.exists()


def test_a_journal_behind_the_tables_is_skipped(audit: AuditConfig) -> None:
    """A crash after DuckDB committed the fold but before the journal was emptied."""
    executions = crash_before_folding(audit)
    path = journal_path(audit.path)
    kept = path.read_bytes()
    with ProvenanceStore(audit) as store:
        assert store.verify().ok
    path.write_bytes(kept)
    with ProvenanceStore(audit) as store:
        assert store.verify().ok
        assert len(store.search_executions(user="alice")) == len(executions)
    assert tables_hold(audit) == len(executions)


def test_a_failed_write_is_reported(tmp_path: Path) -> None:
    """``/dev/full`` refuses every write, as a full disk does."""
    journal = Journal(Path("/dev/full"))
    record = JournalRecord("execution_starts", 1, (), "[]", "0" * 64, "1" * 64)
    try:
        with pytest.raises(ProvenanceError, match="cannot write the audit journal"):
            journal.append([record])
        assert journal.size == 0
    finally:
        journal.close()
    assert Path("/dev/full").exists()


def test_reads_fail_while_durable_records_cannot_be_folded(
    audit: AuditConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DuckDB refusing the fold (a disk error, injected here) leaves durable records it
    does not hold: an answer without them would look complete, so reads fail; the records
    are folded at close or replayed at the next open."""

    def disk_error(*_args: object) -> None:
        raise duckdb.IOException("injected")

    monkeypatch.setattr(store_module, "INDEX_WHEN_IDLE_S", 3600)
    with ProvenanceStore(audit) as store:
        execution_id = store.record_start(sample_start())
        monkeypatch.setattr(store_module, "_insert_journaled", disk_error)
        with pytest.raises(ProvenanceError):
            store.get_execution(execution_id)
        with pytest.raises(ProvenanceError):
            store.record_start(sample_start())
        monkeypatch.undo()
    with ProvenanceStore(audit) as reopened:
        assert reopened.get_execution(execution_id) is not None
        assert reopened.verify().ok
