"""``nbwarden dsar``: the Art. 15 subject access report from the provenance store."""

from __future__ import annotations

import argparse
import sys

HELP = "subject access report: every execution that returned the subject's data"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--email", action="append", default=[], metavar="E")
    parser.add_argument("--phone", action="append", default=[], metavar="P")
    parser.add_argument("--name", action="append", default=[], metavar="N")
    parser.add_argument(
        "--id", action="append", default=[], metavar="TYPE=VALUE", help="e.g. IBAN_CODE=DE89..."
    )
    parser.add_argument("--format", choices=("json", "csv", "html"), default="json")


def run(args: argparse.Namespace) -> int:
    from nbwarden.config import load_config
    from nbwarden.masking.profile import load_profile
    from nbwarden.provenance import ProvenanceError, ProvenanceStore
    from nbwarden.provenance.report import identifiers_from_options, render

    try:
        identifiers = identifiers_from_options(args.email, args.phone, args.name, args.id)
    except ValueError as exc:
        print(f"nbwarden dsar: {exc}", file=sys.stderr)
        return 2
    if not identifiers:
        print("nbwarden dsar: give at least one of --email, --phone, --name, --id", file=sys.stderr)
        return 2
    config = load_config(args.config)
    from nbwarden.server_extension.client import GatewayClient
    from nbwarden.server_extension.errors import GatewayAPIError

    gateway = GatewayClient.for_running_gateway(config)
    try:
        if gateway is not None:
            body = {"identifiers": [list(pair) for pair in identifiers]}
            entries = gateway.post("dsar", body)["executions"]
        else:
            regions = load_profile(config.masking.profile).phone_regions
            with ProvenanceStore(config.audit, read_only=True) as store:
                entries = store.dsar(identifiers, regions)
    except (ProvenanceError, GatewayAPIError) as exc:
        print(f"nbwarden dsar: {exc}", file=sys.stderr)
        return 3
    sys.stdout.write(render(entries, args.format, config.audit.retention_days))
    return 0
