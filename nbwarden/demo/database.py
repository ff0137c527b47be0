"""The demo "production" database: its schema, and filling it through SQLAlchemy.

The same code fills SQLite, DuckDB or PostgreSQL. A ``demo_info`` table marks a database
this command created: tables it did not create are never dropped, and a database already
filled with the same seed and size is reused as is.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from nbwarden.demo import DemoError
from nbwarden.demo.synthetic import DemoData, generate

GENERATOR_VERSION = "1"

metadata = sa.MetaData()

products = sa.Table(
    "products",
    metadata,
    sa.Column("product_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("sku", sa.String(16), nullable=False, unique=True),
    sa.Column("name", sa.String(120), nullable=False),
    sa.Column("category", sa.String(40), nullable=False),
    sa.Column("unit_price", sa.Numeric(10, 2, asdecimal=False), nullable=False),
)

customers = sa.Table(
    "customers",
    metadata,
    sa.Column("customer_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("full_name", sa.String(120), nullable=False),
    sa.Column("email", sa.String(160), nullable=False, unique=True),
    sa.Column("phone", sa.String(40), nullable=False),
    sa.Column("iban", sa.String(40)),
    sa.Column("birth_date", sa.Date, nullable=False),
    sa.Column("street_address", sa.String(200), nullable=False),
    sa.Column("postcode", sa.String(20), nullable=False),
    sa.Column("city", sa.String(80), nullable=False),
    sa.Column("country", sa.String(60), nullable=False),
    sa.Column("national_id", sa.String(40), nullable=False),
    sa.Column("national_id_type", sa.String(20), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
)

orders = sa.Table(
    "orders",
    metadata,
    sa.Column("order_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("customer_id", sa.Integer, nullable=False, index=True),
    sa.Column("product_name", sa.String(120), nullable=False),
    sa.Column("sku", sa.String(16), nullable=False),
    sa.Column("quantity", sa.Integer, nullable=False),
    sa.Column("amount", sa.Numeric(10, 2, asdecimal=False), nullable=False),
    sa.Column("delivery_address", sa.String(300), nullable=False),
    sa.Column("ordered_at", sa.DateTime, nullable=False),
    sa.Column("shipped_at", sa.DateTime),
)

support_tickets = sa.Table(
    "support_tickets",
    metadata,
    sa.Column("ticket_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("customer_id", sa.Integer, nullable=False, index=True),
    sa.Column("opened_at", sa.DateTime, nullable=False),
    sa.Column("channel", sa.String(20), nullable=False),
    sa.Column("subject", sa.String(120), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("event_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("customer_id", sa.Integer, index=True),
    sa.Column("occurred_at", sa.DateTime, nullable=False),
    sa.Column("event_type", sa.String(40), nullable=False),
    sa.Column("payload", sa.JSON, nullable=False),
)

demo_info = sa.Table(
    "demo_info",
    metadata,
    sa.Column("key", sa.String(40), primary_key=True),
    sa.Column("value", sa.String(200), nullable=False),
)

DATA_TABLES = ("products", "customers", "orders", "support_tickets", "events")


@dataclass(frozen=True)
class DemoDatabase:
    """What ``prepare_database`` did, and the e-mail of the customer the guide follows."""

    url: str
    reused: bool
    row_counts: dict[str, int]
    subject_email: str


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path.resolve()}"


def safe_url(url: str) -> str:
    """The URL with any password hidden, for messages."""
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "<unparseable database URL>"


def prepare_database(url: str, rows: int, seed: int) -> DemoDatabase:
    """Fill the database at ``url`` with demo data, or reuse it when already filled alike."""
    try:
        engine = sa.create_engine(url)
    except (sa.exc.ArgumentError, ImportError) as exc:
        raise DemoError(f"unusable database URL {safe_url(url)}: {type(exc).__name__}") from None
    try:
        reused = _matches(engine, rows, seed)
        if not reused:
            fill_database(engine, generate(rows, seed), rows, seed)
        return DemoDatabase(url, reused, _row_counts(engine), _subject_email(engine))
    except sa.exc.SQLAlchemyError as exc:
        raise DemoError(_database_problem(url, exc)) from None
    finally:
        engine.dispose()


def fill_database(engine: sa.Engine, data: DemoData, rows: int, seed: int) -> None:
    """Drop the demo tables (only if this command made them) and write ``data``."""
    _refuse_foreign_tables(engine)
    metadata.drop_all(engine)
    metadata.create_all(engine)
    fingerprint = _fingerprint(rows, seed)
    with engine.begin() as conn:
        for name, table_rows in data.tables().items():
            if table_rows:
                conn.execute(metadata.tables[name].insert(), table_rows)
        conn.execute(demo_info.insert(), [{"key": k, "value": v} for k, v in fingerprint.items()])


def _fingerprint(rows: int, seed: int) -> dict[str, str]:
    return {"generator": GENERATOR_VERSION, "rows": str(rows), "seed": str(seed)}


def _matches(engine: sa.Engine, rows: int, seed: int) -> bool:
    if not sa.inspect(engine).has_table("demo_info"):
        return False
    with engine.connect() as conn:
        stored = dict(conn.execute(sa.select(demo_info.c.key, demo_info.c.value)).tuples().all())
    return stored == _fingerprint(rows, seed)


def _refuse_foreign_tables(engine: sa.Engine) -> None:
    inspector = sa.inspect(engine)
    if inspector.has_table("demo_info"):
        return
    clashing = [name for name in DATA_TABLES if inspector.has_table(name)]
    if clashing:
        raise DemoError(
            f"the database already has table(s) {', '.join(clashing)} that nbwarden demo did "
            "not create; point the demo at an empty database"
        )


def _row_counts(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            name: int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())
            for name, table in metadata.tables.items()
            if name in DATA_TABLES
        }


def _subject_email(engine: sa.Engine) -> str:
    """The first customer's e-mail: the guided notebook's first query returns this row."""
    query = sa.select(customers.c.email).order_by(customers.c.customer_id).limit(1)
    with engine.connect() as conn:
        return str(conn.execute(query).scalar_one())


def _database_problem(url: str, exc: sa.exc.SQLAlchemyError) -> str:
    """A message without SQL parameters (they hold personal data) or a password."""
    if isinstance(exc, sa.exc.OperationalError) and exc.orig is not None:
        reason = str(exc.orig).strip().splitlines()[0][:200]
        return f"cannot use the demo database {safe_url(url)}: {reason}"
    return f"cannot write the demo database {safe_url(url)}: {type(exc).__name__}"
