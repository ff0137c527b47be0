"""``nbwarden audit``: verify the chain, purge by retention, list subjects a user saw."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nbwarden.provenance import ProvenanceStore
    from nbwarden.provenance.models import VerifyReport

HELP = "verify the provenance chain, purge old records, list subjects a user saw"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    verify = actions.add_parser(
        "verify", help="exit 0 if the chain is intact, else name the first bad record"
    )
    purge = actions.add_parser("purge", help="delete records older than the retention period")
    purge.add_argument("--older-than-days", type=int, default=None, metavar="DAYS")
    subjects = actions.add_parser("subjects", help="whose data a user saw (counts, pseudonyms)")
    subjects.add_argument("--user", required=True)
    subjects.add_argument("--since", type=datetime.fromisoformat, default=None, metavar="ISO")
    subjects.add_argument("--until", type=datetime.fromisoformat, default=None, metavar="ISO")
    for action in (verify, purge, subjects):
        action.add_argument(
            "--config", metavar="PATH", default=argparse.SUPPRESS, help="config file"
        )


def verify_command(store: ProvenanceStore) -> int:
    return print_verify_report(store.verify())


def print_verify_report(report: VerifyReport) -> int:
    if report.ok:
        print(f"chain intact: {report.checked} records verified")
        return 0
    print(f"chain BROKEN at {report.first_bad}: {report.problem}", file=sys.stderr)
    return 1


def purge_command(store: ProvenanceStore, older_than_days: int | None) -> int:
    removed = store.purge(older_than_days)
    print(f"purged {removed} records; a signed checkpoint covers them")
    return 0


def subjects_command(
    store: ProvenanceStore, user: str, since: datetime | None, until: datetime | None
) -> int:
    print(json.dumps(store.subjects_seen(user, since, until), indent=2))
    return 0


def run(args: argparse.Namespace) -> int:
    from nbwarden.config import load_config
    from nbwarden.provenance import ProvenanceError, ProvenanceStore

    config = load_config(args.config)
    if args.action == "verify":
        from nbwarden.provenance.models import VerifyReport
        from nbwarden.server_extension.client import GatewayClient
        from nbwarden.server_extension.errors import GatewayAPIError

        gateway = GatewayClient.for_running_gateway(config)
        if gateway is not None:
            try:
                return print_verify_report(VerifyReport(**gateway.get("audit/verify")))
            except GatewayAPIError as exc:
                print(f"nbwarden audit: {exc.message}", file=sys.stderr)
                return 3
    try:
        with ProvenanceStore(config.audit, read_only=args.action != "purge") as store:
            if args.action == "verify":
                return verify_command(store)
            if args.action == "purge":
                return purge_command(store, args.older_than_days)
            return subjects_command(store, args.user, args.since, args.until)
    except ProvenanceError as exc:
        print(f"nbwarden audit: {exc}", file=sys.stderr)
        return 3
