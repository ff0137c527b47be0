"""``nbwarden mask IN OUT``: mask a CSV, Parquet or JSON-lines table."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

HELP = "mask personal data in a CSV, Parquet or JSON-lines table (same rows and columns out)"
FORMATS = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}
BATCH_ROWS = 20_000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "input", metavar="IN", type=Path, help="input table (.csv, .parquet, .jsonl)"
    )
    parser.add_argument("output", metavar="OUT", type=Path, help="output table, same format rules")
    parser.add_argument("--profile", default=None, help="masking profile name or YAML path")
    parser.add_argument("--report", type=Path, default=None, help="write findings as JSON here")
    parser.add_argument(
        "--key-file",
        type=Path,
        default=None,
        help="master key file for pseudonyms (default: the config's [audit] key_file if a "
        "config exists, else an ephemeral key: tokens then differ between runs)",
    )


def run(args: argparse.Namespace) -> int:
    from nbwarden.keys import KeyFileError
    from nbwarden.masking import MaskingError

    try:
        return _mask_file(args)
    except (MaskingError, KeyFileError) as exc:
        print(f"nbwarden mask: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(
            f"nbwarden mask: {exc.strerror or type(exc).__name__}: {exc.filename}", file=sys.stderr
        )
        return 1


def _mask_file(args: argparse.Namespace) -> int:
    import pyarrow as pa

    from nbwarden.masking import Masker, MaskingError
    from nbwarden.masking.tables import read_batches, write_batches

    in_format = _format_of(args.input)
    out_format = _format_of(args.output)
    profile, spacy_model, key = _settings(args)
    masker = Masker.for_profile(profile, pseudonym_key=key, spacy_model=spacy_model)
    report: dict[str, Any] = {"rows": 0, "entity_counts": Counter(), "columns": {}}
    subjects: set[tuple[str, str | None]] = set()

    def masked_batches() -> Any:
        for result in masker.mask_batches(read_batches(args.input, in_format, BATCH_ROWS)):
            report["rows"] += result.table.num_rows
            report["entity_counts"].update(result.entity_counts)
            for column, counts in result.column_findings.items():
                report["columns"].setdefault(column, Counter()).update(counts)
            subjects.update((s.entity_type, s.column) for s in result.subjects)
            yield result.table

    try:
        write_batches(masked_batches(), args.output, out_format)
    except (OSError, pa.ArrowException) as exc:
        args.output.unlink(missing_ok=True)
        raise MaskingError(f"cannot read or write the table: {type(exc).__name__}") from None
    except MaskingError:
        args.output.unlink(missing_ok=True)
        raise
    report["distinct_subjects"] = len(subjects)
    if args.report:
        args.report.write_text(
            json.dumps(report, indent=2, sort_keys=True) + "\n", encoding="utf-8"
        )
    print(f"masked {report['rows']} rows: {dict(report['entity_counts']) or 'nothing found'}")
    return 0


def _format_of(path: Path) -> str:
    from nbwarden.masking import MaskingError

    try:
        return FORMATS[path.suffix.lower()]
    except KeyError:
        raise MaskingError(
            f"unsupported file type {path.suffix!r}: use .csv, .parquet or .jsonl"
        ) from None


def _settings(args: argparse.Namespace) -> tuple[str, str, bytes | None]:
    """Profile, spaCy model and pseudonym key from the flags, then the config if one exists."""
    from nbwarden.config import MaskingConfig, find_config_path, load_config
    from nbwarden.keys import PSEUDONYM, derive_key, load_master_key

    masking = MaskingConfig()
    key_file = args.key_file
    config_path = find_config_path(args.config)
    if args.config or config_path.is_file():
        config = load_config(config_path)
        masking = config.masking
        key_file = key_file or config.audit.key_file
    key = derive_key(load_master_key(key_file), PSEUDONYM) if key_file else None
    return args.profile or masking.profile, masking.spacy_model, key
