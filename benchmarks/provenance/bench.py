"""Provenance store benchmark: DSAR latency, append rate and verify time at scale.

    python -m benchmarks.provenance.bench [--quick] [--dir DIR]

Builds a store of 1,000,000 executions (2,000,000 chained records) and 5,000,000
subject-index rows with correct chain hashes, then measures, each beside a baseline
from the same run:
  * DSAR median latency through ProvenanceStore.dsar (baseline: the same lookup by a
    scan of the HMAC text), and by a name and by an ID, which look up many forms;
  * appends per second through record_start/record_end with chaining (baseline: plain
    row-by-row INSERTs into an unchained table);
  * ProvenanceStore.verify() over the whole store (baseline: reading the same columns);
  * the DuckDB checkpoint after one 1,000-row result's subject rows are indexed
    (baseline: the same with the ART index on ``subject_key`` that schema versions 2-3
    kept, which DuckDB rewrites whole at every checkpoint).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from nbwarden.config import AuditConfig
from nbwarden.identifiers import EMAIL, PERSON, normalize_identifier
from nbwarden.provenance import ExecutionEnd, ExecutionStart, ProvenanceStore, Subject
from nbwarden.provenance.chain import chain_hashes, subject_digests_sql
from nbwarden.provenance.schema import (
    CHAINED_COLUMNS,
    EXECUTION_ENDS,
    EXECUTION_STARTS,
    GENESIS_HASH,
    SUBJECT_INDEX,
    canonical_body_sql,
    subject_key,
)

SUBJECTS_PER_EXECUTION = 5
EMPTY_DIGEST = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def subject_email(number: int) -> str:
    return f"subject{number}@example.org"


def _stage_starts(con: duckdb.DuckDBPyConnection, executions: int) -> None:
    con.execute(
        """CREATE TABLE s AS SELECT
             2 * i + 1 AS seq, uuid()::VARCHAR AS id,
             TIMESTAMP '2026-01-01' + to_microseconds(i * 20_000_000) AS started_at,
             'analyst' || (i % 50) AS user_name, '["analyst"]' AS roles,
             'kernel-' || (i % 200) AS kernel_id, 'session-' || (i % 400) AS session_id,
             'reports/n' || (i % 300) || '.ipynb' AS notebook, 'cell-' || (i % 40) AS cell_id,
             i % 30 AS execution_count, 'churn study' AS purpose,
             'legitimate interest' AS legal_basis, 'sql' AS kind, 'prod' AS target,
             'SELECT email, phone FROM customers WHERE id = ?' AS code_masked,
             sha256(i::VARCHAR) AS code_hash, '["select"]' AS statement_types,
             '["customers"]' AS tables_read, '[]' AS tables_written,
             '["customers.email","customers.phone"]' AS columns_read, '[]' AS columns_written,
             'allow' AS verdict, '[]' AS rule_ids, NULL::VARCHAR AS approval_id,
             NULL::VARCHAR AS prev_hash, NULL::VARCHAR AS hash
           FROM range(?) t(i)""",
        [executions],
    )


def _stage_subjects(con: duckdb.DuckDBPyConnection, executions: int, pool: int, key: bytes) -> None:
    from nbwarden.keys import keyed_hash

    hmacs = [
        keyed_hash(key, f"{EMAIL}\x1f{normalize_identifier(EMAIL, subject_email(j))}")
        for j in range(pool)
    ]
    keys = [subject_key(digest) for digest in hmacs]
    con.register(
        "pool_arrow", pa.table({"j": range(pool), "subject_hmac": hmacs, "subject_key": keys})
    )
    con.execute("CREATE TABLE pool AS SELECT * FROM pool_arrow")
    con.execute(
        """CREATE TABLE si AS SELECT s.id AS execution_id, 'EMAIL_ADDRESS' AS entity_type,
             p.subject_hmac, 'email' AS result_column, 'customers.email' AS source,
             (k.k % 5 <> 0) AS masked, p.subject_key
           FROM s, range(?) k(k), pool p
           WHERE p.j = hash(s.seq, k.k) % ?""",
        [SUBJECTS_PER_EXECUTION, pool],
    )


def _stage_ends(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        f"""CREATE TABLE e AS SELECT
             s.seq + 1 AS seq, s.id, s.started_at + INTERVAL 2 SECOND AS ended_at,
             'ok' AS status, 20::BIGINT AS rows_returned, '{{"EMAIL_ADDRESS":5}}' AS entity_counts,
             '{{"email":"customers.email"}}' AS source_columns, '[]' AS unmasked_columns,
             '[]' AS unmasked_entities, coalesce(d.n, 0) AS subject_count,
             coalesce(d.digest, '{EMPTY_DIGEST}') AS subjects_digest,
             NULL::VARCHAR AS error_masked, NULL::VARCHAR AS prev_hash, NULL::VARCHAR AS hash
           FROM s LEFT JOIN ({subject_digests_sql("si")}) d ON d.execution_id = s.id"""
    )


def _chain_links(con: duckdb.DuckDBPyConnection, chain_key: bytes) -> pa.Table:
    """(seq, prev_hash, hash) of every staged record, chained by the store's own loop.

    The canonical bodies come from one ordered query in Arrow batches; seqs are 1..n.
    """
    staged = " UNION ALL ".join(
        f"SELECT seq, {canonical_body_sql(table, 't')} AS body FROM {name} t"
        for name, table in (("s", EXECUTION_STARTS), ("e", EXECUTION_ENDS))
    )
    hashes: list[str] = []
    prev = GENESIS_HASH
    for batch in con.sql(f"SELECT body FROM ({staged}) ORDER BY seq").to_arrow_reader(100_000):
        hashes += chain_hashes(chain_key, prev, batch.column(0).to_pylist())
        prev = hashes[-1]
    linked = pa.array(hashes, pa.large_string())
    previous = pa.concat_arrays([pa.array([GENESIS_HASH], pa.large_string()), linked[:-1]])
    return pa.table(
        {
            "seq": pa.array(range(1, len(hashes) + 1), pa.int64()),
            "prev_hash": previous,
            "hash": linked,
        }
    )


def _chain_and_insert(con: duckdb.DuckDBPyConnection, chain_key: bytes) -> None:
    con.register("links", _chain_links(con, chain_key))
    for staged, table in (("s", EXECUTION_STARTS), ("e", EXECUTION_ENDS)):
        names = [name for name, _ in CHAINED_COLUMNS[table]]
        columns = ", ".join(f"x.{name}" for name in names)
        con.execute(
            f"""INSERT INTO {table} ({", ".join(names)}, prev_hash, hash)
                SELECT {columns}, l.prev_hash, l.hash
                FROM {staged} x JOIN links l USING (seq) ORDER BY x.seq"""
        )
    con.unregister("links")
    con.execute("INSERT INTO subject_index SELECT * FROM si")
    for staged in ("s", "e", "si", "pool"):
        con.execute(f"DROP TABLE {staged}")


@dataclass
class Timing:
    """Wall and CPU seconds of one measured block; CPU counts every thread of the process."""

    wall: float = 0.0
    cpu: float = 0.0

    def __str__(self) -> str:
        return f"wall {self.wall:7.1f} s  cpu {self.cpu:7.1f} s"


@contextmanager
def measured() -> Iterator[Timing]:
    timing = Timing()
    wall, cpu = time.perf_counter(), time.process_time()
    yield timing
    timing.wall = time.perf_counter() - wall
    timing.cpu = time.process_time() - cpu


def build_store(audit: AuditConfig, executions: int, pool: int) -> Timing:
    """Create the store with real migrations, bulk-load it, let the store sign a checkpoint."""
    from nbwarden.keys import CHAIN_SIGNATURE, SUBJECT_INDEX, derive_key, load_master_key

    with measured() as timing:
        ProvenanceStore(audit).close()
        master = load_master_key(audit.key_file)
        con = duckdb.connect(str(audit.path))
        _stage_starts(con, executions)
        _stage_subjects(con, executions, pool, derive_key(master, SUBJECT_INDEX))
        _stage_ends(con)
        _chain_and_insert(con, derive_key(master, CHAIN_SIGNATURE))
        con.execute("CHECKPOINT")
        con.close()
        ProvenanceStore(audit).close()
    return timing


def median_ms(action: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median wall and CPU milliseconds of ``action`` over ``repeats`` runs."""
    walls, cpus = [], []
    for _ in range(repeats):
        with measured() as timing:
            action()
        walls.append(timing.wall * 1000)
        cpus.append(timing.cpu * 1000)
    return statistics.median(walls), statistics.median(cpus)


def bench_dsar(audit: AuditConfig, pool: int, repeats: int) -> None:
    with ProvenanceStore(audit, read_only=True) as store:
        numbers = iter(range(7, pool, max(1, pool // (repeats * 3))))

        def one_dsar() -> object:
            entries = store.dsar([(EMAIL, subject_email(next(numbers)))])
            assert entries, "every pooled subject appears in the history"
            return entries

        dsar_ms, dsar_cpu = median_ms(one_dsar, repeats)
        by_name = median_ms(lambda: store.dsar([(PERSON, "Ana De Souza")]), repeats)
        by_id = median_ms(lambda: store.dsar([("NL_BSN", "047256837")]), repeats)
        con = duckdb.connect(str(audit.path), read_only=True)
        digest = store.subject_hmac(EMAIL, subject_email(3))
        scan_ms, scan_cpu = median_ms(
            lambda: con.execute(
                "SELECT * FROM executions WHERE id IN (SELECT execution_id FROM subject_index"
                " WHERE upper(subject_hmac) = upper(?))",
                [digest],
            ).fetchall(),
            3,
        )
        con.close()
    print(f"DSAR median latency      {dsar_ms:9.1f} ms  cpu {dsar_cpu:7.1f} ms  (target < 200 ms)")
    print(
        f"  baseline HMAC scan     {scan_ms:9.1f} ms  cpu {scan_cpu:7.1f} ms"
        f"  ratio {scan_ms / dsar_ms:6.1f}x"
    )
    print(
        f"  by name                {by_name[0]:9.1f} ms  cpu {by_name[1]:7.1f} ms"
        "  (2,585 forms: with the titles and suffixes older records hold)"
    )
    print(
        f"  by ID                  {by_id[0]:9.1f} ms  cpu {by_id[1]:7.1f} ms"
        "  (as every type of ID or number the index holds)"
    )


def bench_checkpoint(audit: AuditConfig, repeats: int = 5) -> None:
    con = duckdb.connect(str(audit.path))
    try:
        rows = con.execute(f"SELECT count(*) FROM {SUBJECT_INDEX}").fetchone()
        kept = rows[0] if rows else 0
        now_ms = _checkpoint_ms(con, repeats)
        con.execute(f"CREATE INDEX subject_key ON {SUBJECT_INDEX} (subject_key)")
        art_ms = _checkpoint_ms(con, repeats)
        con.execute("DROP INDEX subject_key")
        con.execute(f"DELETE FROM {SUBJECT_INDEX} WHERE rowid >= {kept}")
        con.execute("CHECKPOINT")
    finally:
        con.close()
    print(
        f"checkpoint after 4,000 subject rows {now_ms:6.1f} ms"
        f"  (with an ART index on subject_key: {art_ms:6.1f} ms, ratio {art_ms / now_ms:5.1f}x)"
    )


def _checkpoint_ms(con: duckdb.DuckDBPyConnection, repeats: int) -> float:
    """Median time of a checkpoint after inserting one 1,000-row result's subject rows."""
    walls = []
    for _ in range(repeats):
        con.execute(f"INSERT INTO {SUBJECT_INDEX} SELECT * FROM {SUBJECT_INDEX} LIMIT 4000")
        started = time.perf_counter()
        con.execute("CHECKPOINT")
        walls.append((time.perf_counter() - started) * 1000)
    return statistics.median(walls)


def _sample_execution(store: ProvenanceStore, number: int, durable: bool) -> None:
    execution_id = store.record_start(
        ExecutionStart(
            user=f"analyst{number % 7}",
            kind="sql",
            target="prod",
            code_masked="SELECT email FROM customers WHERE id = ?",
            code_hash=f"{number:064x}",
            purpose="churn study",
            tables_read=("customers",),
        ),
        durable=durable,
    )
    subjects = [Subject(EMAIL, subject_email(number * 3 + k), "email") for k in range(3)]
    store.record_end(
        execution_id,
        ExecutionEnd(status="ok", rows=3, entity_counts={EMAIL: 3}, subjects=subjects),
        durable=durable,
    )


def _rates(executions: int, timing: Timing) -> str:
    return (
        f"{executions / timing.wall:9.0f} executions/s  ({executions / timing.cpu:7.0f} per CPU-s)"
    )


def bench_appends(directory: Path, executions: int, threads: int) -> None:
    for name in ("appends.duckdb", "appends.duckdb.head", "baseline.duckdb"):
        (directory / name).unlink(missing_ok=True)
    audit = AuditConfig(path=directory / "appends.duckdb", key_file=directory / "appends.key")
    with ProvenanceStore(audit) as store:
        with measured() as pipelined:
            for number in range(executions):
                _sample_execution(store, number, durable=False)
            store.index_subjects()

        def worker(offset: int) -> None:
            for number in range(offset, executions, threads):
                _sample_execution(store, number, durable=True)

        workers = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
        with measured() as concurrent:
            for thread in workers:
                thread.start()
            for thread in workers:
                thread.join()
            store.index_subjects()
        assert store.verify().ok
    con = duckdb.connect(str(directory / "baseline.duckdb"))
    con.execute("CREATE TABLE plain (id VARCHAR, user_name VARCHAR, code VARCHAR, status VARCHAR)")
    baseline_n = max(200, executions // 10)
    with measured() as baseline:
        for number in range(baseline_n):
            con.execute("INSERT INTO plain VALUES (?, ?, ?, NULL)", [str(number), "a", "SELECT 1"])
            con.execute("UPDATE plain SET status = 'ok' WHERE id = ?", [str(number)])
    con.close()
    print(
        f"appends, pipelined    {_rates(executions, pipelined)}"
        "  start+end, 3 subjects each, durable and indexed at the end (target >= 5000/s)"
    )
    print(f"appends, {threads} threads  {_rates(executions, concurrent)}  every call durable")
    print(
        f"  baseline row-by-row {_rates(baseline_n, baseline)}  unchained INSERT+UPDATE,"
        f" ratio {executions / pipelined.wall / (baseline_n / baseline.wall):6.1f}x"
    )


def bench_verify(audit: AuditConfig) -> None:
    with ProvenanceStore(audit, read_only=True) as store, measured() as verify:
        report = store.verify()
    assert report.ok, report
    con = duckdb.connect(str(audit.path), read_only=True)
    with measured() as read:
        for table in CHAINED_COLUMNS:
            con.sql(f"SELECT * FROM {table}").to_arrow_table()
        con.sql("SELECT * FROM subject_index").to_arrow_table()
    con.close()
    per_million = 1_000_000 / report.checked
    print(
        f"verify {report.checked:,} records  {verify}; per 1M records: wall"
        f" {verify.wall * per_million:5.1f} s, cpu {verify.cpu * per_million:5.1f} s"
        " (target < 30 s per 1M)"
    )
    print(f"  baseline read only     {read}  ratio {verify.wall / read.wall:6.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20,000 executions instead of 1M")
    parser.add_argument(
        "--dir", type=Path, default=None, help="work directory, kept; a store built there is reused"
    )
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()
    executions = 20_000 if args.quick else 1_000_000
    pool = executions // 2
    directory = args.dir or Path(tempfile.mkdtemp(prefix="nbwarden-bench-"))
    directory.mkdir(parents=True, exist_ok=True)
    audit = AuditConfig(path=directory / "history.duckdb", key_file=directory / "history.key")
    print("load average at start: {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()))
    try:
        rows = executions * SUBJECTS_PER_EXECUTION
        if audit.path.exists():
            print(f"store: reusing {audit.path} ({executions:,} executions, {rows:,} subject rows)")
        else:
            built = build_store(audit, executions, pool)
            print(f"store: {executions:,} executions, {rows:,} subject rows, built: {built}")
        bench_dsar(audit, pool, args.repeats)
        bench_verify(audit)
        bench_appends(directory, 2_000 if args.quick else 20_000, threads=16)
        bench_checkpoint(audit)
    finally:
        print("load average at end:   {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()))
        if args.dir is None:
            shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
