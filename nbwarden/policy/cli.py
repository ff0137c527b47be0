"""``nbwarden check``: policy verdicts for code on stdin, without Jupyter."""

from __future__ import annotations

import argparse
import json
import sys
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nbwarden.policy.engine import PolicyEngine

HELP = "policy verdict (allow/flag/block) for SQL or shell code on stdin"
EXIT_CODES = {"allow": 0, "flag": 1, "block": 3}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kind", choices=("sql", "shell"), default="sql", help="default: sql")
    parser.add_argument(
        "--dialect", default=None, help="sqlglot dialect (default: postgres, or per line)"
    )
    parser.add_argument(
        "--jsonl",
        action="store_true",
        help='one {"kind","dialect","code"} object per input line, one verdict per output line',
    )
    parser.epilog = (
        "Exit status without --jsonl: 0 allow, 1 flag, 3 block, 2 usage or config error. "
        "With --jsonl: 0 when every line was judged, 1 when some line was malformed."
    )


def run(args: argparse.Namespace) -> int:
    from nbwarden.policy.errors import PolicyError

    try:
        engine = _engine(args.config)
        if args.jsonl:
            return _run_jsonl(engine, args, sys.stdin, sys.stdout)
        verdict = engine.check(args.kind, sys.stdin.read(), args.dialect)
    except PolicyError as exc:
        print(f"nbwarden check: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(verdict.to_dict()))
    return EXIT_CODES[verdict.action]


def _engine(config_path: str | None) -> PolicyEngine:
    """The config's rule pack when a config file is given or found, else the default pack."""
    from nbwarden.config import find_config_path, load_config
    from nbwarden.policy.engine import PolicyEngine

    path = find_config_path(config_path)
    if config_path or path.exists():
        return PolicyEngine.from_config(load_config(path).policy)
    return PolicyEngine()


def _run_jsonl(engine: PolicyEngine, args: argparse.Namespace, lines: IO[str], out: IO[str]) -> int:
    status = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            result = _judge_line(engine, args, line)
        except _BadLine as exc:
            status = 1
            result = {
                "action": "block",
                "rules": ["input.malformed"],
                "reasons": [f"line {number}: {exc}"],
            }
        out.write(json.dumps(result) + "\n")
    out.flush()
    return status


class _BadLine(Exception):
    pass


def _judge_line(engine: PolicyEngine, args: argparse.Namespace, line: str) -> dict[str, Any]:
    from nbwarden.policy.errors import PolicyError

    try:
        item = json.loads(line)
    except json.JSONDecodeError:
        raise _BadLine("not a JSON object") from None
    if not isinstance(item, dict) or not isinstance(item.get("code"), str):
        raise _BadLine('needs a JSON object with a "code" string')
    kind = item.get("kind") or args.kind
    dialect = item.get("dialect") or args.dialect
    if kind not in ("sql", "shell") or not (dialect is None or isinstance(dialect, str)):
        raise _BadLine('"kind" must be "sql" or "shell" and "dialect" a string')
    try:
        return engine.check(kind, item["code"], dialect).to_dict()
    except PolicyError as exc:
        raise _BadLine(str(exc)) from None
