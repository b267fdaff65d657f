"""What the dashboard's pages share: the cached engine and query results, one warehouse
connection per page run, the sidebar's filters, and how numbers and dates are written."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import date, datetime

import pandas as pd  # type: ignore[import-untyped]
import streamlit as st
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from ingestion.config import Settings
from ingestion.warehouse import engine_url
from spotify_elt.dashboard.connection import (
    WarehouseUnavailableError,
    check_marts,
    create_engine,
    explain,
    missing_warehouse,
)
from spotify_elt.dashboard.queries import QUERIES, Filters, users

# Results are reused for this long (and dropped as soon as a DuckDB file changes): a scheduled
# run shows up within a minute, and moving between pages costs no query.
QUERY_TTL_SECONDS = 60
FILTERS_KEY = "dashboard_filters"


class _Run(threading.local):
    """The current script run's settings and connection. Streamlit runs each session's script
    in a thread of its own, and the pages run inside the main script's run."""

    settings: Settings | None = None
    connection: Connection | None = None


_run = _Run()


def _warehouse_key(settings: Settings) -> str:
    # Caches are per process, shared by every session (and by AppTest runs): key them by
    # the warehouse, never by anything a session chose.
    return engine_url(settings).render_as_string(hide_password=False)


@st.cache_resource(show_spinner=False)
def _engine(warehouse_key: str, _settings: Settings) -> Engine:
    return create_engine(_settings)


def _data_version(settings: Settings) -> float | None:
    """When the DuckDB file (or its write-ahead log) last changed: a new value drops the cache."""
    if settings.target != "duckdb":
        return None
    stamps = []
    for path in (
        settings.duckdb_path,
        settings.duckdb_path.with_name(settings.duckdb_path.name + ".wal"),
    ):
        try:
            stamps.append(path.stat().st_mtime)
        except OSError:
            continue
    return max(stamps, default=None)


def _settings() -> Settings:
    if _run.settings is None:
        raise RuntimeError("a dashboard page ran outside ui.page_run()")
    return _run.settings


def _connection() -> Connection:
    if _run.connection is None:
        _run.connection = _engine(_warehouse_key(_settings()), _settings()).connect()
    return _run.connection


@contextmanager
def page_run(settings: Settings) -> Iterator[None]:
    """One script run: the queries it misses in the cache share one connection, opened on
    the first and closed at the end (a DuckDB file is free again for writers then)."""
    _run.settings = settings
    try:
        yield
    finally:
        connection, _run.connection = _run.connection, None
        if connection is not None:
            # Closing what may already be broken: the page has said so.
            with suppress(SQLAlchemyError):
                connection.close()
        _run.settings = None


def warehouse_problem(settings: Settings) -> str | None:
    """The one sentence to show instead of the pages, or None when the marts hold plays."""
    missing = missing_warehouse(settings)
    if missing is not None:
        return missing
    try:
        return _checked(_warehouse_key(settings), _data_version(settings), settings)
    except WarehouseUnavailableError as error:
        return str(error)


@st.cache_data(ttl=10, show_spinner=False)
def _checked(warehouse_key: str, version: float | None, _settings: Settings) -> str | None:
    # A failure to read (a writer's lock, a server down) is raised, never cached: the next
    # run tries again. What the marts hold is cached until the DuckDB file changes.
    try:
        return check_marts(_connection(), _settings)
    except SQLAlchemyError as error:
        raise WarehouseUnavailableError(explain(error, _settings)) from None


def query(name: str, filters: Filters) -> pd.DataFrame:
    """The result of `QUERIES[name]`, from the cache when the same question was asked lately.

    Raises WarehouseUnavailableError with the sentence to show when the warehouse cannot be read.
    """
    settings = _settings()
    return _cached_query(_warehouse_key(settings), _data_version(settings), name, filters)


def listeners() -> pd.DataFrame:
    """Every listener with plays (the `users` query)."""
    settings = _settings()
    return _cached_query(_warehouse_key(settings), _data_version(settings), "users", None)


@st.cache_data(ttl=QUERY_TTL_SECONDS, show_spinner=False, max_entries=500)
def _cached_query(
    warehouse_key: str, version: float | None, name: str, filters: Filters | None
) -> pd.DataFrame:
    try:
        if filters is None:  # the one question asked before the sidebar exists
            return users(_connection())
        return QUERIES[name](_connection(), filters)
    except SQLAlchemyError as error:
        raise WarehouseUnavailableError(explain(error, _settings())) from None


# --------------------------------------------------------------------------------------------
# The sidebar and page headings


def choose_filters(users: pd.DataFrame) -> Filters:
    """The sidebar: listener and date range (default: their whole history)."""
    names = users["display_name"].fillna(users["user_id"])
    repeated = names.duplicated(keep=False)
    labels = {
        row.user_sk: f"{name} ({row.user_id})" if twice else str(name)
        for row, name, twice in zip(users.itertuples(), names, repeated, strict=True)
    }
    # `?listener=<user id>` in the URL opens on that listener (a bookmark, the README's picture).
    wanted = st.query_params.get("listener")
    ids = list(users["user_id"])
    first_shown = ids.index(wanted) if wanted in ids else 0
    with st.sidebar:
        user_sk = st.selectbox(
            "Listener", options=list(labels), index=first_shown,
            format_func=labels.__getitem__, key="listener",
        )  # fmt: skip
        user = users.loc[users["user_sk"] == user_sk].iloc[0]
        first, last = user["first_date"], user["last_date"]
        # One widget per listener, so that switching listener starts from their whole history.
        picked = st.date_input(
            "Dates (local time)", value=(first, last), min_value=first, max_value=last,
            key=f"dates-{user_sk}", format="YYYY-MM-DD",
        )  # fmt: skip
        start, end = _date_range(picked, first, last)
        st.caption(
            f"{markdown_text(user['user_id'])} · {markdown_text(user['timezone'])} · history "
            f"{first:%d %b %Y} to {last:%d %b %Y}"
        )
        if st.button("Reload data", help="Read the warehouse again now, not from the cache."):
            st.cache_data.clear()
    filters = Filters(user_sk=str(user_sk), start=start, end=end)
    st.session_state[FILTERS_KEY] = filters
    st.session_state["listener_name"] = labels[user_sk]
    return filters


def _date_range(picked: object, first: date, last: date) -> tuple[date, date]:
    # While a range is being picked, the widget holds its first day only.
    if isinstance(picked, tuple | list):
        days = [day for day in picked if isinstance(day, date)]
        if len(days) == 2:
            return days[0], days[1]
        if len(days) == 1:
            return days[0], days[0]
        return first, last
    if isinstance(picked, date):
        return picked, picked
    return first, last


def filters() -> Filters:
    """What the sidebar chose in this run."""
    chosen = st.session_state[FILTERS_KEY]
    assert isinstance(chosen, Filters)
    return chosen


def page_header(title: str, chosen: Filters, note: str | None = None) -> None:
    st.title(title)
    span = f"{chosen.start:%d %b %Y} to {chosen.end:%d %b %Y}"
    days = days_text(chosen.days)
    listener = markdown_text(st.session_state.get("listener_name", ""))
    st.caption(f"{listener} · {span} ({days})" + (f" · {note}" if note else ""))


# --------------------------------------------------------------------------------------------
# Numbers and dates as people read them


def count_text(value: float) -> str:
    return f"{round(value):,}"


def minutes_text(minutes: float) -> str:
    """'45 min', '12 h 05 min' or '1,234 h'."""
    minutes = max(float(minutes), 0.0)
    if minutes < 60:
        return f"{round(minutes)} min"
    hours, rest = divmod(round(minutes), 60)
    if hours >= 100:
        return f"{hours:,} h"
    return f"{hours} h {rest:02d} min"


def day_text(value: date | datetime | pd.Timestamp) -> str:
    return f"{value:%a %d %b %Y}"


def time_text(value: datetime | pd.Timestamp) -> str:
    return f"{value:%a %d %b %Y, %H:%M}"


def days_text(days: int) -> str:
    return f"{days:,} day{'' if days == 1 else 's'}"


def markdown_text(text: object) -> str:
    """`text` shown as itself in Markdown: names hold *, _, [ and the like."""
    escaped = "(unknown)" if text is None or text is pd.NA or text != text else str(text)
    for character in "\\`*_{}[]<>()#+-.!|~$":
        escaped = escaped.replace(character, "\\" + character)
    return escaped


def hour_text(hour: int) -> str:
    return f"{hour:02d}:00-{(hour + 1) % 24:02d}:00"


def no_plays(chosen: Filters) -> bool:
    """Say so when the range holds no plays of the listener; True when it does not."""
    totals = query("overview_totals", chosen)
    if int(totals["plays"].iloc[0]) == 0:
        st.info("No plays in these dates: widen the date range in the sidebar.")
        return True
    return False
