"""Run every benchmark and write their figures to docs/benchmarks.md.

    .venv/bin/python -m benchmarks.run_all [--quick] [--only NAME ...] [--output PATH]

Each benchmark runs as its own process (``python -m benchmarks.NAME.bench ARGS``) so one
cannot warm another's caches; its printed figures go into the page verbatim, with the
command that produced them, the machine (CPU model, cores, memory, Python) and the date.
``--quick`` uses each benchmark's smaller mode where it has one (the page says so);
``--full NAME ...`` keeps the named ones at full size.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = REPO / "docs" / "benchmarks.md"


@dataclass(frozen=True)
class Benchmark:
    name: str
    title: str
    full: tuple[str, ...] = ()
    quick: tuple[str, ...] = ()


BENCHMARKS = (
    Benchmark("masking", "Masking vs plain Presidio", (), ("--quick",)),
    Benchmark("kernel", "Governed cell vs plain JupySQL", (), ("--repeats", "9")),
    Benchmark(
        "provenance", "DSAR latency at 1M executions, audit appends per second", (), ("--quick",)
    ),
    Benchmark("policy", "Policy verdicts per second", (), ("--repeats", "3")),
    Benchmark(
        "system", "Gateway requests per second at 16 concurrent kernels", (), ("--cells", "15")
    ),
    Benchmark("executor", "What governing one SQL cell costs, in-process", (), ("--repeat", "7")),
)


def machine() -> dict[str, str]:
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = "unknown"
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        memory = f"{pages / 2**30:.1f} GiB"
    except (ValueError, OSError):
        pass
    return {
        "CPU": cpu,
        "cores (nproc)": str(os.cpu_count()),
        "memory": memory,
        "Python": platform.python_version(),
        "OS": f"{platform.system()} {platform.release()}",
    }


def run(benchmark: Benchmark, quick: bool) -> tuple[str, str, float, int]:
    args = benchmark.quick if quick else benchmark.full
    command = [sys.executable, "-m", f"benchmarks.{benchmark.name}.bench", *args]
    shown = " ".join([".venv/bin/python", "-m", f"benchmarks.{benchmark.name}.bench", *args])
    print(f"running {shown}", file=sys.stderr, flush=True)
    started = time.monotonic()
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - started
    output = done.stdout.strip()
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-5:])
        output = f"{output}\n\nFAILED (exit {done.returncode}):\n{tail}".strip()
    return shown, output, elapsed, done.returncode


def page(
    results: list[tuple[Benchmark, str, str, float, int]], quick: bool, invocation: str
) -> str:
    lines = [
        "# Benchmarks",
        "",
        f"Written by `{invocation}` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.",
        "Every figure below is printed by the command above it, with its baseline measured in",
        "the same run on the same machine.",
        "Each benchmark's module docstring says exactly what is measured.",
        "",
        "| machine | |",
        "|---|---|",
        *[f"| {key} | {value} |" for key, value in machine().items()],
        "",
    ]
    if quick:
        lines += [
            "Quick modes were used where a benchmark has one (smaller data sets; the commands",
            "show which). The full runs are the same commands without `--quick`.",
            "",
        ]
    for benchmark, command, output, elapsed, code in results:
        status = "" if code == 0 else " (FAILED)"
        lines += [
            f"## {benchmark.title}{status}",
            "",
            f"`{command}` ({elapsed:.0f} s)",
            "",
            "```",
            output or "(no output)",
            "```",
            "",
        ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="each benchmark's smaller mode")
    parser.add_argument("--only", nargs="*", default=None, metavar="NAME")
    parser.add_argument(
        "--full", nargs="*", default=(), metavar="NAME", help="run these in full even with --quick"
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args()
    chosen = [b for b in BENCHMARKS if args.only is None or b.name in args.only]
    results = []
    for benchmark in chosen:
        command, output, elapsed, code = run(
            benchmark, args.quick and benchmark.name not in args.full
        )
        print(output, flush=True)
        results.append((benchmark, command, output, elapsed, code))
    invocation = " ".join([".venv/bin/python -m benchmarks.run_all", *sys.argv[1:]])
    args.output.write_text(page(results, args.quick, invocation), encoding="utf-8")
    print(f"wrote {args.output}", file=sys.stderr)
    return 0 if all(code == 0 for *_, code in results) else 1


if __name__ == "__main__":
    sys.exit(main())
