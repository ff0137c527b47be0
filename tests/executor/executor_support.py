"""Helpers shared by the executor tests."""

from __future__ import annotations

from collections.abc import Callable

from nbwarden.config import Config
from nbwarden.executor import Gateway

ConfigMaker = Callable[..., Config]
GatewayMaker = Callable[..., Gateway]


class Clock:
    """A settable time source, so expiry is tested without sleeping."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now
