"""Approval notifications: in-process hooks and a generic JSON webhook.

Notifications carry ids, states, targets and user names only: never code, rules'
reasons, results or any personal value from data. The server extension appends a
hook that forwards each event to its jupyter_events EventLogger.
"""

from __future__ import annotations

import json
import logging
import threading
import urllib.request
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

NotificationHook = Callable[[dict[str, Any]], None]

WEBHOOK_TIMEOUT_S = 5.0


class Notifier:
    """Fan one approval event out to every hook and webhook; never raises to the caller."""

    def __init__(self, webhooks: Iterable[str] = ()) -> None:
        self.webhooks = tuple(webhooks)
        self.hooks: list[NotificationHook] = []

    def notify(self, event: dict[str, Any]) -> None:
        for hook in list(self.hooks):
            try:
                hook(dict(event))
            except Exception:
                log.warning("approval notification hook %r failed", hook, exc_info=False)
        for url in self.webhooks:
            thread = threading.Thread(
                target=send_webhook, args=(url, event), name="nbwarden-webhook", daemon=True
            )
            thread.start()


def webhook_body(event: dict[str, Any]) -> dict[str, Any]:
    """JSON with the event itself plus a Slack-compatible ``text`` line."""
    kind = event.get("kind", "request")
    who = event.get("approver") or event.get("actor") or ""
    text = (
        f"nbwarden {kind} {event.get('id')} on {event.get('target')}: {event.get('state')}"
        f" (requested by {event.get('requester')}{', by ' + who if who else ''})"
    )
    return {"text": text, "event": event}


def send_webhook(url: str, event: dict[str, Any]) -> bool:
    """POST the event; a failure is logged with the host only (URLs can hold tokens)."""
    if urlsplit(url).scheme not in ("http", "https"):
        log.warning("webhook skipped: only http(s) URLs are allowed")
        return False
    data = json.dumps(webhook_body(event)).encode("utf-8")
    request = urllib.request.Request(  # noqa: S310 - scheme checked above
        url, data=data, headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_S) as response:  # noqa: S310
            return 200 <= int(response.status) < 300
    except Exception as exc:
        log.warning("webhook to %s failed: %s", urlsplit(url).hostname, type(exc).__name__)
        return False
