"""``nbwarden run NOTEBOOK [-o OUT] --user U --purpose P [--approval-timeout S]``."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "execute a notebook headless through the governed kernel (for CI and scheduled jobs)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("notebook", type=Path, help="the .ipynb to execute")
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        default=None,
        help="where to write the executed notebook (default: NAME.executed.ipynb beside it)",
    )
    parser.add_argument("--user", required=True, help="the analyst the cells run as")
    parser.add_argument("--purpose", required=True, help="the declared purpose of this run")
    parser.add_argument(
        "--approval-timeout",
        type=float,
        default=None,
        metavar="S",
        help="withdraw a flagged cell's approval request after S seconds (default: wait)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=None,
        metavar="S",
        help="interrupt a cell after S seconds, approval wait included (default: none)",
    )
    parser.add_argument(
        "--kernel", default="nbwarden", help="kernelspec to run (default: nbwarden)"
    )


def run(args: argparse.Namespace) -> int:
    import asyncio
    import sys

    from nbwarden.config import ConfigError, load_config
    from nbwarden.kernel.headless import HeadlessRun, print_report, use_config_for_kernels

    if not args.notebook.is_file():
        print(f"nbwarden run: no such notebook: {args.notebook}", file=sys.stderr)
        return 2
    config = load_config(args.config)
    use_config_for_kernels(config)
    output = args.output or args.notebook.with_name(f"{args.notebook.stem}.executed.ipynb")
    headless = HeadlessRun(
        config,
        user=args.user,
        purpose=args.purpose,
        approval_timeout_s=args.approval_timeout,
        kernel_name=args.kernel,
        cell_timeout_s=args.timeout,
    )
    try:
        report = asyncio.run(headless.execute(args.notebook, output))
    except ConfigError:
        raise
    except Exception as exc:
        print(f"nbwarden run: failed ({type(exc).__name__}): {_safe(exc)}", file=sys.stderr)
        return 1
    print_report(report, output)
    return 1 if report.failed else 0


def _safe(exc: Exception) -> str:
    """The nbwarden packages' errors carry safe messages; others are named, not quoted."""
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    if type(exc).__module__.startswith("nbwarden"):
        return str(exc)
    return "details not shown: they may quote notebook or data content"
