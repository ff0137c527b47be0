"""``nbwarden approvals list | approve ID | reject ID``: the approval queue from a shell.

While a gateway runs (its runtime file names a live process) every action goes through
its API; otherwise the command opens the audit store itself.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from datetime import UTC, datetime
from typing import Any

HELP = "list, approve or reject flagged cells"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("list", "approve", "reject"))
    parser.add_argument("id", nargs="?", help="approval request id (approve, reject)")
    parser.add_argument("--state", help="list: only requests in this state (e.g. pending)")
    parser.add_argument("--basis", help="approve: legal basis (e.g. legitimate_interests)")
    parser.add_argument("--justification", default="", help="approve: why")
    parser.add_argument("--reason", help="reject: why")
    parser.add_argument("--unmask-column", action="append", default=[], metavar="COLUMN")
    parser.add_argument("--unmask-entity", action="append", default=[], metavar="ENTITY")
    parser.add_argument("--grant-minutes", type=int, help="approve: also open a grant")
    parser.add_argument("--as", dest="as_user", help="act as USER (default: your login)")
    parser.add_argument("--json", action="store_true", help="list: one JSON object per line")


def run(args: argparse.Namespace) -> int:
    from nbwarden.config import load_config
    from nbwarden.server_extension.client import GatewayClient
    from nbwarden.server_extension.errors import GatewayAPIError

    if args.action != "list" and not args.id:
        print(f"nbwarden approvals {args.action}: an approval id is needed", file=sys.stderr)
        return 2
    config = load_config(args.config)
    user = args.as_user or getpass.getuser()
    client = GatewayClient.for_running_gateway(config, act_as=user)
    try:
        result = _direct(config, user, args) if client is None else _through_api(client, args)
    except GatewayAPIError as exc:
        print(f"nbwarden approvals: {exc.message}", file=sys.stderr)
        return 1
    except Exception as exc:
        if type(exc).__name__ not in ("ApprovalError", "ProvenanceError"):
            raise
        print(f"nbwarden approvals: {exc}", file=sys.stderr)
        return 1
    _print(result if isinstance(result, list) else [result], args.json)
    return 0


def _body(args: argparse.Namespace) -> dict[str, Any]:
    if args.action == "reject":
        return {"reason": args.reason or ""}
    return {
        "basis": args.basis or "",
        "justification": args.justification,
        "unmask_columns": args.unmask_column,
        "unmask_entities": args.unmask_entity,
        "grant_minutes": args.grant_minutes,
    }


def _through_api(client: Any, args: argparse.Namespace) -> Any:
    if args.action == "list":
        return client.get("approvals", state=args.state)
    return client.post(f"approvals/{args.id}/{args.action}", _body(args))


def _direct(config: Any, user: str, args: argparse.Namespace) -> Any:
    from nbwarden.executor.gateway import approval_service
    from nbwarden.provenance import ProvenanceStore

    roles = config.roles.roles_of(user)
    with ProvenanceStore(config.audit) as store:
        service = approval_service(config, store)
        if args.action == "list":
            requester = None if roles & {"approver", "admin"} else user
            found = service.list_requests(state=args.state, requester=requester)
            return [request.to_dict() for request in found]
        body = _body(args)
        if args.action == "reject":
            return service.reject(args.id, user, roles, body["reason"]).to_dict()
        return service.approve(
            args.id,
            user,
            roles,
            body["basis"],
            justification=body["justification"],
            unmask_columns=body["unmask_columns"],
            unmask_entities=body["unmask_entities"],
            grant_minutes=body["grant_minutes"],
        ).to_dict()


def _print(requests: list[dict[str, Any]], as_json: bool) -> None:
    for request in requests:
        if as_json:
            print(json.dumps(request, default=str))
            continue
        created = request.get("created_at")
        when = (
            datetime.fromtimestamp(float(created), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            if isinstance(created, int | float)
            else ""
        )
        fields = [
            str(request.get("id", "")),
            str(request.get("state", "")),
            str(request.get("target", "")),
            str(request.get("requester", "")),
            when,
            ",".join(request.get("rules") or ()),
        ]
        print("\t".join(fields))
