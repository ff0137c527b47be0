"""Time against input length for long inputs: masking, policy and error scrubbing.

    .venv/bin/python -m benchmarks.masking.long_inputs [--base N]

Each case runs at three sizes, each twice the last, and prints the seconds and the
growth per doubling: about 2 where time grows with the length, about 4 where it grows
with its square (as each case below did before it was fixed: an 8,000-line log took
52 s to mask; see docs/security.md, "Findings"). Inputs are synthetic (Faker, fixed seed).
"""

from __future__ import annotations

import argparse
import hashlib
import time
from collections.abc import Callable

import pyarrow as pa
from faker import Faker

from nbwarden.executor.scrub import scrub_message
from nbwarden.identifiers import normalize_email
from nbwarden.masking import Masker
from nbwarden.policy import PolicyEngine

Case = Callable[[int], Callable[[], object]]
"""Given a size, the call to time."""


def cases(masker: Masker, policy: PolicyEngine, fake: Faker) -> dict[str, Case]:
    people = [(fake.name(), fake.email()) for _ in range(200)]

    def log_lines(n: int) -> str:
        return "\n".join(
            f"2026-12-0{i % 9 + 1} login ip=10.{i % 250}.{i % 7}.{i % 250} user=u{i}@example.org"
            for i in range(n)
        )

    def notes(n: int) -> str:
        return "\n".join(
            f"{people[i % 200][0]} {i} wrote from {people[i % 200][1]} about a parcel."
            for i in range(n)
        )

    def listing(n: int) -> str:
        return "\n".join(f"Visit by {people[i % 200][0]} to the depot {i}" for i in range(n))

    def token(n: int) -> str:
        digest = hashlib.sha256(b"bench").hexdigest()
        return (digest * (n // 64 + 1))[:n]

    return {
        "mask_output: log lines (n lines)": lambda n: lambda: masker.mask_output(log_lines(n)),
        "mask_output: notes with names (n/4 lines)": lambda n: (
            lambda: masker.mask_output(notes(n // 4))
        ),
        "mask_output: names, no full stops (n/4 lines)": lambda n: (
            lambda: masker.mask_output(listing(n // 4))
        ),
        "mask_text: 'Rue ' repeated (4n chars)": lambda n: lambda: masker.mask_text("Rue " * n),
        "mask_text: a hash, then an address (25n chars)": lambda n: (
            lambda: masker.mask_text(f"{token(25 * n)} {people[0][1]}")
        ),
        "mask_table: 3 hashes and addresses (25n chars each)": lambda n: (
            lambda: masker.mask_table(
                pa.table({"payload": [f"{token(25 * n)} {p[1]}" for p in people[:3]]})
            )
        ),
        "check_shell: one long word (25n chars)": lambda n: (
            lambda: policy.check_shell(f"echo '{'a' * 25 * n}'")
        ),
        "check_sql: '/*!' left open (8n times)": lambda n: (
            lambda: policy.check_sql("SELECT 1 " + "/*!" * 8 * n, "mysql")
        ),
        "scrub_message: 'a.' run (25n chars)": lambda n: (
            lambda: scrub_message("a." * 12 * n + " db://u:p@h/x", [], str)
        ),
        "normalize_email: spaces (25n chars)": lambda n: (
            lambda: normalize_email(f"jane{' ' * 25 * n}(at) example.org")
        ),
    }


def timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=int, default=2000, help="the smallest size n")
    args = parser.parse_args()
    fake = Faker()
    Faker.seed(5)
    masker = Masker.for_profile(pseudonym_key=bytes(range(32)))
    masker.mask_text("Warm up: Anna Smith")
    policy = PolicyEngine()
    sizes = (args.base, 2 * args.base, 4 * args.base)
    print(f"seconds at n = {', '.join(f'{size:,}' for size in sizes)}; growth per doubling")
    for name, case in cases(masker, policy, fake).items():
        seconds = [timed(case(size)) for size in sizes]
        growth = (seconds[2] / seconds[0]) ** 0.5 if seconds[0] > 0 else float("nan")
        shown = "  ".join(f"{value:7.3f}" for value in seconds)
        print(f"{name:<54}{shown}   x{growth:.1f}")


if __name__ == "__main__":
    main()
