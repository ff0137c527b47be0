"""The ``nbwarden`` console script.

Each command lives in the package it belongs to, as a module with ``HELP``,
``add_arguments(parser)`` and ``run(args) -> int``. Command modules keep heavy
imports inside ``run`` so that ``nbwarden --help`` and ``nbwarden check`` start fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import Protocol

from nbwarden import __version__
from nbwarden.config import ConfigError

COMMANDS: dict[str, str] = {
    "check": "nbwarden.policy.cli",
    "mask": "nbwarden.masking.cli",
    "dsar": "nbwarden.provenance.dsar_cli",
    "audit": "nbwarden.provenance.audit_cli",
    "approvals": "nbwarden.approvals.cli",
    "run": "nbwarden.kernel.run_cli",
    "gateway": "nbwarden.server_extension.gateway_cli",
    "demo": "nbwarden.demo.cli",
}


class CommandModule(Protocol):
    HELP: str

    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace) -> int: ...


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nbwarden", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"nbwarden {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        module: CommandModule = importlib.import_module(module_name)  # type: ignore[assignment]
        sub = commands.add_parser(name, help=module.HELP, description=module.HELP)
        sub.add_argument(
            "--config",
            metavar="PATH",
            default=None,
            help="config file (default: $NBWARDEN_CONFIG, then ./nbwarden.toml)",
        )
        module.add_arguments(sub)
        sub.set_defaults(handler=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except ConfigError as exc:
        print(f"nbwarden: configuration error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
