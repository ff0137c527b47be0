"""``nbwarden demo``: prepare the demo directory and start JupyterLab with three logins."""

from __future__ import annotations

import argparse
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

HELP = (
    "the embedded demo: a synthetic production database, a config, a guided notebook, "
    "and JupyterLab with analyst, DPO and auditor logins"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dir",
        type=Path,
        default=Path("nbwarden-demo"),
        help="demo directory (default: ./nbwarden-demo)",
    )
    parser.add_argument(
        "--port", type=int, default=None, help="port (default: 8888, or a free one)"
    )
    parser.add_argument(
        "--postgres-url",
        metavar="URL",
        default=None,
        help="fill this (empty) PostgreSQL database instead of a SQLite file in --dir",
    )
    parser.add_argument(
        "--rows", type=int, default=10_000, help="number of customers (default: 10000)"
    )
    parser.add_argument("--seed", type=int, default=42, help="random seed (default: 42)")
    parser.add_argument(
        "--base-url", default="/", help="Jupyter base URL, e.g. behind a proxy (default: /)"
    )
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser")
    parser.add_argument(
        "--no-lab", action="store_true", help="prepare the files only; do not start JupyterLab"
    )


@dataclass(frozen=True)
class PreparedDemo:
    directory: Path
    config_path: Path
    extra_env: tuple[tuple[str, str], ...]
    """Variables the server needs that stay out of nbwarden.toml (a database URL)."""


def run(args: argparse.Namespace) -> int:
    from nbwarden.demo import DemoError

    try:
        prepared = prepare(args)
        if args.no_lab:
            print(f"\nFiles ready. Start the demo with: nbwarden demo --dir {prepared.directory}")
            return 0
        return serve(prepared, args)
    except DemoError as exc:
        print(f"nbwarden demo: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"nbwarden demo: {exc.strerror}: {exc.filename}", file=sys.stderr)
        return 1


def prepare(args: argparse.Namespace) -> PreparedDemo:
    """Write the database, config, notebook and log; print what was done."""
    from nbwarden.demo import DemoError
    from nbwarden.demo.database import prepare_database, safe_url, sqlite_url
    from nbwarden.demo.files import (
        DB_URL_ENV,
        NOTEBOOK_NAME,
        make_private,
        write_config,
        write_log,
        write_notebook,
    )
    from nbwarden.demo.synthetic import generate
    from nbwarden.keys import load_or_create_master_key

    if args.rows < 1:
        raise DemoError("--rows must be at least 1")
    directory: Path = args.dir.expanduser().resolve()
    directory.mkdir(parents=True, exist_ok=True)
    db_url = args.postgres_url or sqlite_url(directory / "prod.sqlite")
    started = time.perf_counter()
    database = prepare_database(db_url, args.rows, args.seed)
    elapsed = time.perf_counter() - started
    config_url, extra_env = _config_url(db_url, DB_URL_ENV)
    config_path = write_config(directory, config_url)
    notebook = write_notebook(directory)
    # A seed's first customers are the same at any size: the log's people are in the database.
    log = write_log(directory, generate(min(args.rows, 200), args.seed))
    load_or_create_master_key(directory / "audit" / "nbwarden.key")
    make_private(directory / "prod.sqlite", directory / "audit", log.parent, log)

    counts = ", ".join(f"{count} {name}" for name, count in database.row_counts.items())
    how = "reused" if database.reused else f"generated in {elapsed:.1f} s"
    print(f"nbwarden demo in {directory}")
    print(f"  database  prod = {safe_url(db_url)} ({how})")
    print(f"            {counts}")
    print(f"  config    {config_path}")
    print(f"  notebook  {directory / NOTEBOOK_NAME}{'' if notebook else ' (kept)'}")
    print(f"  DSAR step: the synthetic customer to look up is {database.subject_email}")
    if extra_env:
        print(f"  The database URL has a password: nbwarden.toml reads it from ${DB_URL_ENV}.")
    return PreparedDemo(directory, config_path, extra_env)


def _config_url(db_url: str, env_name: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    """Keep a password out of nbwarden.toml: the URL then goes in an environment variable."""
    import sqlalchemy as sa

    if sa.make_url(db_url).password is None:
        return db_url, ()
    return f"${{{env_name}}}", ((env_name, db_url),)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    """SIGTERM stops the demo like Ctrl-C, so JupyterLab is never left running behind us."""
    raise KeyboardInterrupt


def serve(prepared: PreparedDemo, args: argparse.Namespace) -> int:
    import webbrowser

    from nbwarden.demo.lab import (
        LabSettings,
        check_extension,
        choose_port,
        login_url,
        new_logins,
        remove_server_files,
        start_lab,
        stop_lab,
        wait_until_ready,
    )

    base_url = "/" + args.base_url.strip("/") + "/" if args.base_url.strip("/") else "/"
    settings = LabSettings(
        directory=prepared.directory,
        config_path=prepared.config_path,
        port=choose_port(args.port),
        base_url=base_url,
        extra_env=prepared.extra_env,
    )
    logins = new_logins()
    previous_handler = signal.signal(signal.SIGTERM, _interrupt)
    process = start_lab(settings, logins)
    try:
        wait_until_ready(process, settings, logins[0])
        check_extension(settings, logins)
        print("\nJupyterLab is running with the nbwarden extension. Log in as:")
        for login in logins:
            role = f"({login.role})"
            print(f"  {login.user:<8} {role:<10} {login_url(settings, login)}")
        print("Use a separate browser or private window per user. Ctrl-C stops the demo.")
        sys.stdout.flush()
        if not args.no_browser:
            webbrowser.open(login_url(settings, logins[0]))
        return process.wait()
    except KeyboardInterrupt:
        print("\nStopping JupyterLab...")
        return 0
    finally:
        stop_lab(process)
        remove_server_files(settings)
        signal.signal(signal.SIGTERM, previous_handler)
