"""The one kind of cache the hot paths use: a dict that empties itself when full."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class BoundedCache(dict[K, V]):
    """A dict of at most ``max_entries`` entries: ``put`` clears it first when it is full.

    Masking and provenance cache values that are cheap to recompute once but hot when a
    cell is re-run; clearing everything keeps the bound without per-entry bookkeeping on
    the hot path. The entries hold raw or normalised personal data, so they live in the
    process's memory only and never reach disk or a log.
    """

    def __init__(self, max_entries: int) -> None:
        super().__init__()
        self.max_entries = max_entries

    def put(self, key: K, value: V) -> V:
        if len(self) >= self.max_entries:
            self.clear()
        self[key] = value
        return value


def misses(found: list[Any]) -> Iterator[int]:
    """The positions of None (a cache miss) in look-ups made with ``map(cache.get, keys)``,
    ascending, found at C speed: a result seen before but for a few new values (the next
    page) has a few, and a Python pass over all of them cost more than filling them. The
    caller may fill each position as it comes."""
    position = -1
    while True:
        try:
            position = found.index(None, position + 1)
        except ValueError:
            return
        yield position
