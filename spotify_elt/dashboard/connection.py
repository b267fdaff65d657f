"""The dashboard's way into the warehouse: a read-only engine, and the one sentence to show
(what is wrong, what to run) when the warehouse cannot be read yet."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from ingestion.config import Settings
from ingestion.errors import SpotifyEltError
from ingestion.warehouse import (
    connect_timed_out,
    connect_timeout_line,
    describe_target,
    engine_url,
    lock_timed_out,
    query_timed_out,
)
from ingestion.warehouse import create_engine as create_warehouse_engine
from spotify_elt.dashboard.queries import REQUIRED_TABLES, SCHEMA, users

# Seconds a dashboard query may run on a server: every query takes well under a second on a
# million plays (docs/figures.md, "Dashboard"), so one that runs this long is stuck (or queued
# behind a build's lock), and the page says so instead of spinning.
QUERY_TIMEOUT_SECONDS = 30


class WarehouseUnavailableError(SpotifyEltError):
    """The marts cannot be read now; the message says why and what to run."""


def create_engine(settings: Settings) -> Engine:
    """An engine that only reads.

    DuckDB: read-only, so that several dashboards can read one file. Any open connection,
    read-only or not, still keeps a writer (`spotify-elt transform`) out of the file, so none
    is pooled: the dashboard holds the file only while a page runs its queries.

    Servers: the connection, lock waits and each query are bounded (SPOTIFY_ELT_CONNECT_TIMEOUT,
    SPOTIFY_ELT_LOCK_TIMEOUT, `QUERY_TIMEOUT_SECONDS`), so that a server that does not answer
    makes the page say so.
    """
    if settings.target == "duckdb":
        return sa.create_engine(
            engine_url(settings), poolclass=NullPool, connect_args={"read_only": True}
        )
    return create_warehouse_engine(
        settings, statement_timeout=QUERY_TIMEOUT_SECONDS, pool_pre_ping=True, pool_recycle=300
    )


def missing_warehouse(settings: Settings) -> str | None:
    """The sentence for a DuckDB file that does not exist (read-only cannot create it)."""
    if settings.target == "duckdb" and not settings.duckdb_path.exists():
        return (
            f"There is no warehouse at {settings.duckdb_path} yet: run `spotify-elt demo` for "
            "sample data, or `spotify-elt run` to load your own listening history."
        )
    return None


def check_marts(connection: Connection, settings: Settings) -> str | None:
    """The sentence for marts that are missing or hold no plays; None when all is there."""
    inspector = sa.inspect(connection)
    present = set(inspector.get_table_names(schema=SCHEMA))
    present |= set(inspector.get_view_names(schema=SCHEMA))
    missing = sorted(REQUIRED_TABLES - present)
    if missing:
        return (
            f"The warehouse ({describe_target(settings)}) lacks the marts the dashboard reads "
            f"({', '.join(missing[:3])}{', …' if len(missing) > 3 else ''}): run "
            "`spotify-elt transform` to build them."
        )
    if users(connection).empty:
        return (
            "The warehouse has no plays yet: run `spotify-elt run` (or `spotify-elt import` "
            "your privacy export, then `spotify-elt transform`), or `spotify-elt demo` for "
            "sample data."
        )
    return None


def explain(error: SQLAlchemyError, settings: Settings) -> str:
    """One sentence for a failure to read the warehouse; never a secret or a traceback."""
    detail = str(getattr(error, "orig", None) or error)
    if settings.target == "duckdb" and "lock" in detail.lower():
        return (
            f"The warehouse {settings.duckdb_path} is busy: another program (a "
            "`spotify-elt transform`, `run`, `import` or `demo`) is writing to it; reload this "
            "page when it has finished."
        )
    if connect_timed_out(error):
        return (
            f"Cannot read the warehouse: {connect_timeout_line(settings)}; then reload this page."
        )
    if lock_timed_out(error) or query_timed_out(error):
        waited = settings.lock_timeout if lock_timed_out(error) else QUERY_TIMEOUT_SECONDS
        return (
            f"The warehouse ({describe_target(settings)}) did not answer within {waited} s: "
            "a build may hold the marts (`spotify-elt transform`); reload this page when it "
            "has finished."
        )
    first_line = settings.scrub(detail.strip().splitlines()[0] if detail.strip() else "")
    return (
        f"Cannot read the warehouse ({describe_target(settings)}): {first_line}. Check the "
        "SPOTIFY_ELT_* settings, then reload this page."
    )
