"""``nbwarden gateway``: run the gateway API as a standalone service."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

HELP = "run the gateway as a standalone service (the same API as the server extension)"
TOKENS_ENV = "NBWARDEN_GATEWAY_TOKENS_FILE"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default=None, help="address to listen on ([gateway] host)")
    parser.add_argument("--port", type=int, default=None, help="port ([gateway] port; 0: any)")
    parser.add_argument(
        "--tokens-file",
        type=Path,
        default=os.environ.get(TOKENS_ENV) or None,
        help=f"JSON {{token: username}} for users (default: ${TOKENS_ENV})",
    )


def run(args: argparse.Namespace) -> int:
    import asyncio

    from nbwarden.config import load_config
    from nbwarden.server_extension.auth import read_token_file
    from nbwarden.server_extension.runtime import RuntimeFile
    from nbwarden.server_extension.standalone import serve

    config = load_config(args.config)
    running = RuntimeFile.for_store(config.audit.path).read()
    if running is not None:
        print(
            f"nbwarden: a gateway (pid {running.pid}) already serves this audit store",
            file=sys.stderr,
        )
        return 1
    tokens = read_token_file(args.tokens_file) if args.tokens_file else {}
    host = args.host or config.gateway.host
    port = config.gateway.port if args.port is None else args.port
    try:
        asyncio.run(serve(config, host, port, tokens))
    except Exception as exc:
        print(f"nbwarden gateway: {type(exc).__name__}: {_safe(exc)}", file=sys.stderr)
        return 1
    return 0


def _safe(exc: Exception) -> str:
    """The gateway packages' errors are safe to print; anything else is named only."""
    if type(exc).__name__ in {"ProvenanceError", "ConfigError", "KeyFileError", "OSError"}:
        return str(exc)
    return "see the log"
