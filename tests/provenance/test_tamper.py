"""The verifier against forged stores: every kind of tampering is found and named."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import duckdb
import pytest

from nbwarden.cli import main
from nbwarden.config import AuditConfig
from nbwarden.keys import CHAIN_SIGNATURE, derive_key, load_master_key
from nbwarden.provenance import ApprovalEvent, ProvenanceStore, VerifyReport
from nbwarden.provenance.chain import head_file_path, record_hash
from nbwarden.provenance.schema import CHAINED_COLUMNS, canonical_body_sql
from tests.provenance.history import record_history

TOTAL_RECORDS = 2 * 12 + 2


@pytest.fixture
def sealed(audit: AuditConfig) -> AuditConfig:
    """A closed store: 12 executions and 2 approval events, sealed by checkpoints."""
    with ProvenanceStore(audit) as store:
        record_history(store, executions=12, people=6)
        store.record_approval(ApprovalEvent("ap-1", "request", "pending", "alice"))
        store.record_approval(ApprovalEvent("ap-1", "request", "approved", "dpo"))
    return audit


def forge(audit: AuditConfig, sql: str, params: list[Any] | None = None) -> None:
    con = duckdb.connect(str(audit.path))
    con.execute(sql, params or [])
    con.close()


def query(audit: AuditConfig, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(audit.path), read_only=True)
    rows = con.execute(sql, params or []).fetchall()
    con.close()
    return rows


def verify(audit: AuditConfig) -> VerifyReport:
    with ProvenanceStore(audit, read_only=True) as store:
        return store.verify()


def test_honest_store_verifies(sealed: AuditConfig) -> None:
    report = verify(sealed)
    assert report.ok, report
    assert report.checked == TOTAL_RECORDS


def test_edited_record_is_named(sealed: AuditConfig) -> None:
    [(seq, execution_id)] = query(
        sealed, "SELECT seq, id FROM execution_starts ORDER BY seq LIMIT 1 OFFSET 4"
    )
    forge(sealed, "UPDATE execution_starts SET user_name = 'mallory' WHERE seq = ?", [seq])
    report = verify(sealed)
    assert not report.ok
    assert report.first_bad == f"seq {seq} (execution_starts {execution_id})"
    assert "edited" in (report.problem or "")


def test_edit_with_unkeyed_rehash_of_the_rest_is_found(sealed: AuditConfig) -> None:
    """Without the key a forger cannot recompute links, even with the algorithm at hand."""
    [(seq,)] = query(sealed, "SELECT seq FROM execution_ends ORDER BY seq LIMIT 1 OFFSET 2")
    forge(
        sealed,
        "UPDATE execution_ends SET status = 'error', hash = sha256(hash) WHERE seq = ?",
        [seq],
    )
    forge(
        sealed, "UPDATE execution_starts SET prev_hash = sha256(prev_hash) WHERE seq = ?", [seq + 1]
    )
    report = verify(sealed)
    assert not report.ok
    assert report.first_bad is not None and report.first_bad.startswith(f"seq {seq} ")


def test_deleted_record_is_found_at_the_gap(sealed: AuditConfig) -> None:
    [(seq,)] = query(sealed, "SELECT seq FROM execution_ends ORDER BY seq LIMIT 1 OFFSET 3")
    forge(sealed, "DELETE FROM execution_ends WHERE seq = ?", [seq])
    report = verify(sealed)
    assert not report.ok
    assert report.first_bad is not None and report.first_bad.startswith(f"seq {seq + 1} ")
    assert "missing" in (report.problem or "")
    assert report.checked == seq - 1


def test_inserted_record_is_found(sealed: AuditConfig) -> None:
    [row] = query(sealed, "SELECT * FROM approval_events ORDER BY seq LIMIT 1")
    forged = list(row)
    forged[0] = 5
    forged[3] = "approved"
    forge(sealed, f"INSERT INTO approval_events VALUES ({', '.join('?' * len(forged))})", forged)
    report = verify(sealed)
    assert not report.ok
    assert report.first_bad is not None and report.first_bad.startswith("seq 5 ")


def test_forged_record_appended_after_the_last_checkpoint_is_found(sealed: AuditConfig) -> None:
    [(seq, last_hash)] = query(
        sealed, "SELECT seq, hash FROM approval_events ORDER BY seq DESC LIMIT 1"
    )
    fake_hash = hashlib.sha256(f"{last_hash}forged".encode()).hexdigest()
    forge(
        sealed,
        "INSERT INTO approval_events VALUES (?, 'ap-1', 'request', 'approved', 'dpo',"
        " TIMESTAMP '2026-01-01', '{}', ?, ?)",
        [seq + 1, last_hash, fake_hash],
    )
    report = verify(sealed)
    assert not report.ok
    assert report.first_bad == f"seq {seq + 1} (approval_events ap-1)"


def test_reordered_records_are_found(sealed: AuditConfig) -> None:
    first, second = query(sealed, "SELECT seq FROM execution_starts ORDER BY seq LIMIT 2 OFFSET 2")
    forge(
        sealed,
        "UPDATE execution_starts SET seq = CASE WHEN seq = ? THEN ? ELSE ? END WHERE seq IN (?, ?)",
        [first[0], second[0], first[0], first[0], second[0]],
    )
    report = verify(sealed)
    assert not report.ok
    assert report.first_bad is not None and report.first_bad.startswith(f"seq {first[0]} ")


def test_truncated_tail_is_found(sealed: AuditConfig) -> None:
    forge(sealed, "DELETE FROM approval_events")
    forge(
        sealed,
        "DELETE FROM subject_index WHERE execution_id IN "
        "(SELECT id FROM execution_ends ORDER BY seq DESC LIMIT 1)",
    )
    forge(sealed, "DELETE FROM execution_ends WHERE seq = (SELECT max(seq) FROM execution_ends)")
    report = verify(sealed)
    assert not report.ok
    assert report.first_bad == f"seq {TOTAL_RECORDS - 2}"
    assert "truncated" in (report.problem or "")


def test_truncated_tail_with_its_checkpoints_removed_is_found(sealed: AuditConfig) -> None:
    forge(sealed, "DELETE FROM approval_events")
    forge(sealed, "DELETE FROM checkpoints WHERE head_seq > ?", [TOTAL_RECORDS - 2])
    report = verify(sealed)
    assert not report.ok
    assert "head file" in (report.problem or "")


def test_forged_checkpoint_is_found(sealed: AuditConfig) -> None:
    forge(sealed, "UPDATE checkpoints SET head_seq = head_seq - 1 WHERE number = 1")
    report = verify(sealed)
    assert not report.ok
    assert report.first_bad == "checkpoint 1"


@pytest.mark.parametrize(
    "change",
    [
        "masked = NOT masked",
        # a changed lookup key would hide the subject from DSAR without touching the digest
        "subject_key = subject_key + 1",
    ],
)
def test_changed_subject_index_is_found(sealed: AuditConfig, change: str) -> None:
    [(execution_id, subject_hmac)] = query(
        sealed, "SELECT execution_id, subject_hmac FROM subject_index LIMIT 1"
    )
    [(seq,)] = query(sealed, "SELECT seq FROM execution_ends WHERE id = ?", [execution_id])
    forge(sealed, f"UPDATE subject_index SET {change} WHERE subject_hmac = ?", [subject_hmac])
    report = verify(sealed)
    assert not report.ok
    assert report.first_bad == f"seq {seq} (execution_ends {execution_id})"


def rehash_chain(audit: AuditConfig, con: duckdb.DuckDBPyConnection) -> None:
    """Relink every record with the real key, as someone holding it could."""
    key = derive_key(load_master_key(Path(audit.key_file)), CHAIN_SIGNATURE)
    union = " UNION ALL ".join(
        f"SELECT seq, '{table}' AS name, {canonical_body_sql(table)} AS body FROM {table}"
        for table in CHAINED_COLUMNS
    )
    prev = "0" * 64
    for seq, table, body in con.execute(f"{union} ORDER BY seq").fetchall():
        current = record_hash(key, prev, body)
        con.execute(
            f"UPDATE {table} SET prev_hash = ?, hash = ? WHERE seq = ?", [prev, current, seq]
        )
        prev = current


def test_rewrite_by_a_key_holder_differs_from_the_signed_checkpoints(sealed: AuditConfig) -> None:
    [(seq,)] = query(sealed, "SELECT seq FROM execution_starts ORDER BY seq LIMIT 1 OFFSET 5")
    [(signed_seq, number)] = query(
        sealed,
        "SELECT head_seq, number FROM checkpoints WHERE head_seq >= ? ORDER BY head_seq LIMIT 1",
        [seq],
    )
    [(previous_signed,)] = query(
        sealed, "SELECT coalesce(max(head_seq), 0) FROM checkpoints WHERE head_seq < ?", [seq]
    )
    con = duckdb.connect(str(sealed.path))
    con.execute("UPDATE execution_starts SET purpose = 'rewritten' WHERE seq = ?", [seq])
    rehash_chain(sealed, con)
    con.close()
    report = verify(sealed)
    assert not report.ok
    assert report.first_bad == f"between seq {previous_signed + 1} and {signed_seq}"
    assert f"signed checkpoint {number}" in (report.problem or "")
    assert report.checked == signed_seq - 1


def test_subject_row_with_null_fields_is_found(sealed: AuditConfig) -> None:
    """A planted row whose index line is NULL must still change the execution's check."""
    [(seq, execution_id)] = query(
        sealed, "SELECT seq, id FROM execution_ends ORDER BY seq LIMIT 1 OFFSET 1"
    )
    forge(
        sealed,
        "INSERT INTO subject_index VALUES (?, NULL, NULL, 'email', NULL, TRUE, NULL)",
        [execution_id],
    )
    report = verify(sealed)
    assert not report.ok
    assert report.first_bad == f"seq {seq} (execution_ends {execution_id})"
    assert "subject index" in (report.problem or "")


def test_planted_subject_rows_are_found(sealed: AuditConfig) -> None:
    forge(
        sealed,
        "INSERT INTO subject_index VALUES"
        " ('ghost', 'EMAIL_ADDRESS', 'ab', 'email', NULL, TRUE, 171)",
    )
    report = verify(sealed)
    assert not report.ok
    assert report.first_bad == "subject index of ghost"


def test_missing_head_file_is_found(sealed: AuditConfig) -> None:
    head_file_path(Path(sealed.path)).unlink()
    assert not verify(sealed).ok


def write_config(audit: AuditConfig, directory: Path) -> Path:
    config = directory / "nbwarden.toml"
    config.write_text(
        f'[audit]\npath = "{audit.path}"\nkey_file = "{audit.key_file}"\nretention_days = 30\n'
    )
    return config


def test_audit_verify_command_exit_codes(
    sealed: AuditConfig, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(sealed, tmp_path)
    assert main(["audit", "--config", str(config), "verify"]) == 0
    assert f"{TOTAL_RECORDS} records" in capsys.readouterr().out
    forge(sealed, "UPDATE execution_starts SET purpose = 'other' WHERE seq = 1")
    assert main(["audit", "--config", str(config), "verify"]) == 1
    assert "seq 1 (execution_starts" in capsys.readouterr().err
