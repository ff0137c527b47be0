"""The one error type of the server extension package."""

from __future__ import annotations


class GatewayAPIError(Exception):
    """A request to the gateway API is refused or failed.

    ``status`` is the HTTP status to answer with; the message is safe to show: it never
    holds a secret, a URL with a password or a raw personal value.
    """

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
