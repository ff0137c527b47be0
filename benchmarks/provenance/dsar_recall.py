"""Subject access recall: how many planted identifiers a request finds.

    python -m benchmarks.provenance.dsar_recall [--rows N]

Masks the masking benchmark's synthetic rows (Faker, 15 locales: names, e-mail addresses,
phone numbers, a column of mixed national IDs, IBANs, support tickets naming people and
numbers) as one query result, records the result's subjects in a real ProvenanceStore as
the gateway does, then asks ``ProvenanceStore.dsar`` for every planted identifier as the
data writes it, and for each name also written surname first and in capitals. Beside it,
from the same run: the identifiers an exact lookup finds, the value's own normalised form
under its own entity type only (what a request looked up before the second session of
2026-12-07, when it began to look up other forms and types).
"""

from __future__ import annotations

import argparse
import tempfile
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.masking.synthetic import generate
from nbwarden.config import AuditConfig
from nbwarden.identifiers import PERSON, normalize_identifier
from nbwarden.masking import Masker
from nbwarden.masking.offline import use_bundled_suffix_list
from nbwarden.masking.results import Subjects
from nbwarden.provenance import ExecutionEnd, ExecutionStart, ProvenanceStore


def requests(entity: str, value: str) -> list[str]:
    """How a data subject or their DPO may write the identifier."""
    if entity != PERSON or len(value.split()) != 2:
        return [value]
    given, family = value.split()
    return [value, f"{family}, {given}", value.upper()]


def record(store: ProvenanceStore, subjects: Subjects) -> str:
    start = ExecutionStart(
        user="bench",
        kind="sql",
        target="shop",
        code_masked="SELECT * FROM customers",
        code_hash="0" * 64,
        started_at=datetime.now(UTC),
    )
    execution_id = store.record_start(start)
    store.record_end(execution_id, ExecutionEnd(status="ok", rows=1, subjects=subjects))
    return execution_id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=300)
    args = parser.parse_args()
    use_bundled_suffix_list()
    data = generate(args.rows)
    masker = Masker.for_profile()
    regions = masker.profile.phone_regions
    result = masker.mask_table(data.table)
    recorded = {(s.entity_type, s.identifier) for s in result.subjects}
    asked: Counter[str] = Counter()
    found: Counter[str] = Counter()
    exact: Counter[str] = Counter()
    with tempfile.TemporaryDirectory(prefix="nbwarden-recall-") as directory:
        audit = AuditConfig(path=Path(directory) / "a.duckdb", key_file=Path(directory) / "k")
        with ProvenanceStore(audit) as store:
            execution_id = record(store, result.subjects)
            for _, _, entity, value in data.planted:
                for written in requests(entity, value):
                    asked[entity] += 1
                    entries = store.dsar([(entity, written)], regions)
                    found[entity] += execution_id in {e["execution_id"] for e in entries}
                    normalised = normalize_identifier(entity, written, regions)
                    exact[entity] += (entity, normalised) in recorded
    print(f"{args.rows} rows, {len(data.planted)} planted identifiers, {len(recorded)} subjects")
    print(f"{'entity type':22}{'requests':>9}{'found':>9}{'exact lookup':>14}")
    for entity in sorted(asked):
        print(
            f"{entity:22}{asked[entity]:>9}{found[entity] / asked[entity]:>9.1%}"
            f"{exact[entity] / asked[entity]:>14.1%}"
        )
    total = sum(asked.values())
    print(
        f"{'all':22}{total:>9}{sum(found.values()) / total:>9.1%}"
        f"{sum(exact.values()) / total:>14.1%}"
    )


if __name__ == "__main__":
    main()
