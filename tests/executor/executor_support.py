"""Helpers shared by the executor tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

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


def create_text_table(url: str, table: str, rows: list[dict[str, Any]]) -> sa.Engine:
    """``table`` on a real server, replaced if there, holding ``rows``: an ``id`` and text
    columns named by the rows' other keys."""
    names = list(rows[0])
    columns = ", ".join(f"{name} varchar(200)" for name in names if name != "id")
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(f"DROP TABLE IF EXISTS {table}"))
        conn.execute(sa.text(f"CREATE TABLE {table} (id int primary key, {columns})"))
        values = ", ".join(f":{name}" for name in names)
        conn.execute(sa.text(f"INSERT INTO {table} ({', '.join(names)}) VALUES ({values})"), rows)
    return engine


def drop_table(engine: sa.Engine, table: str) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text(f"DROP TABLE IF EXISTS {table}"))
    engine.dispose()
