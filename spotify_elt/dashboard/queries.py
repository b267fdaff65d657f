"""Every query the dashboard runs, over schema `marts` only, as SQLAlchemy Core.

Each query is a function of a connection and the `Filters` that returns a DataFrame; `QUERIES`
names them (the benchmark calls them by name). Core expressions compile for each warehouse
(`.limit()` is TOP on SQL Server) and use only portable SQL: no dialect functions, integer
date keys for date ranges, and the aggregated marts instead of `fct_plays`, so that every query
stays well under a second on a million plays in DuckDB.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Literal

import pandas as pd  # type: ignore[import-untyped]
import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.sql.expression import ColumnElement

SCHEMA = "marts"
UNKNOWN_SK = "-1"  # every dimension's unknown member (docs/design.md, "Marts")

RankBy = Literal["plays", "minutes"]


def date_key(day: date) -> int:
    """The int yyyymmdd key of `dim_dates` and of every mart's `date_key`."""
    return day.year * 10000 + day.month * 100 + day.day


@dataclass(frozen=True)
class Filters:
    """What the sidebar chose: one listener and a range of their local days (both included)."""

    user_sk: str
    start: date
    end: date
    rank_by: RankBy = "plays"
    limit: int = 10

    @property
    def start_key(self) -> int:
        return date_key(self.start)

    @property
    def end_key(self) -> int:
        return date_key(self.end)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


# The marts as the dashboard sees them: only the columns it reads. Types matter for binding
# parameters and reading results (booleans are bit on SQL Server).
metadata = sa.MetaData(schema=SCHEMA)
ColumnType = sa.types.TypeEngine[Any] | type[sa.types.TypeEngine[Any]]
TEXT, INT, BIGINT, MINUTES = sa.String, sa.Integer, sa.BigInteger, sa.Numeric(18, 2)
DATE, TIMESTAMP, BOOLEAN, RATE = sa.Date, sa.DateTime, sa.Boolean, sa.Numeric(9, 4)


def _mart(name: str, **columns: ColumnType) -> sa.Table:
    return sa.Table(name, metadata, *(sa.Column(column, kind) for column, kind in columns.items()))


dim_users = _mart("dim_users", user_sk=TEXT, user_id=TEXT, display_name=TEXT, timezone=TEXT)
dim_tracks = _mart("dim_tracks", track_sk=TEXT, track_name=TEXT, album_sk=TEXT)
dim_albums = _mart("dim_albums", album_sk=TEXT, album_name=TEXT, artist_sk=TEXT, release_year=INT)
dim_artists = _mart("dim_artists", artist_sk=TEXT, artist_name=TEXT)
bridge_track_artists = _mart(
    "bridge_track_artists", track_sk=TEXT, artist_sk=TEXT, artist_position=INT
)
dim_dates = _mart("dim_dates", date_key=INT, year_number=INT, month_number=INT)
agg_daily_listening = _mart(
    "agg_daily_listening",
    user_sk=TEXT, date_key=INT, listening_date=DATE, plays=INT, counted_streams=INT,
    ms_played=BIGINT, minutes_played=MINUTES, track_plays=INT, episode_plays=INT,
    audiobook_plays=INT, track_minutes=MINUTES, episode_minutes=MINUTES,
    audiobook_minutes=MINUTES, plays_with_skip_data=INT, skipped_plays=INT,
)  # fmt: skip
agg_daily_track_listening = _mart(
    "agg_daily_track_listening",
    user_sk=TEXT, date_key=INT, track_sk=TEXT, album_sk=TEXT, plays=INT, ms_played=BIGINT,
    minutes_played=MINUTES,
)  # fmt: skip
agg_daily_artist_listening = _mart(
    "agg_daily_artist_listening",
    user_sk=TEXT, date_key=INT, artist_sk=TEXT, plays=INT, ms_played=BIGINT,
    minutes_played=MINUTES,
)  # fmt: skip
agg_hourly_listening = _mart(
    "agg_hourly_listening",
    user_sk=TEXT, date_key=INT, day_of_week=INT, hour_of_day=INT, plays=INT, ms_played=BIGINT,
    minutes_played=MINUTES,
)  # fmt: skip
fct_listening_sessions = _mart(
    "fct_listening_sessions",
    user_sk=TEXT, session_number=INT, date_key=INT, started_at_local=TIMESTAMP,
    ended_at_local=TIMESTAMP, duration_minutes=MINUTES, plays=INT, distinct_tracks=INT,
    minutes_played=MINUTES, skipped_plays=INT,
)  # fmt: skip
fct_listening_streaks = _mart(
    "fct_listening_streaks",
    user_sk=TEXT, started_on_date=DATE, ended_on_date=DATE, start_date_key=INT,
    end_date_key=INT, days=INT, plays=INT, minutes_played=MINUTES, is_latest=BOOLEAN,
)  # fmt: skip
fct_artist_streaks = _mart(
    "fct_artist_streaks",
    user_sk=TEXT, artist_sk=TEXT, started_on_date=DATE, ended_on_date=DATE,
    start_date_key=INT, end_date_key=INT, days=INT, plays=INT,
)  # fmt: skip
fct_discoveries = _mart(
    "fct_discoveries",
    user_sk=TEXT, discovery_type=TEXT, track_sk=TEXT, artist_sk=TEXT,
    first_played_at_local=TIMESTAMP, date_key=INT, total_plays=INT,
)  # fmt: skip
agg_weekly_discoveries = _mart(
    "agg_weekly_discoveries",
    user_sk=TEXT, week_start_date=DATE, week_start_date_key=INT, distinct_tracks=INT,
    new_tracks=INT, track_discovery_rate=RATE, distinct_artists=INT, new_artists=INT,
    artist_discovery_rate=RATE, is_first_week=BOOLEAN,
)  # fmt: skip
agg_on_repeat_tracks = _mart(
    "agg_on_repeat_tracks",
    user_sk=TEXT, track_sk=TEXT, list_rank=INT, plays=INT, minutes_played=MINUTES,
    last_played_at_local=TIMESTAMP, as_of_date=DATE,
)  # fmt: skip
agg_rediscover_tracks = _mart(
    "agg_rediscover_tracks",
    user_sk=TEXT, track_sk=TEXT, list_rank=INT, plays=INT, minutes_played=MINUTES,
    first_played_at_local=TIMESTAMP, last_played_at_local=TIMESTAMP, as_of_date=DATE,
)  # fmt: skip

# What must exist before the dashboard can show anything.
REQUIRED_TABLES = frozenset(metadata.tables[key].name for key in metadata.tables)


# --------------------------------------------------------------------------------------------
# Running a statement


def read_frame(connection: Connection, statement: sa.Executable) -> pd.DataFrame:
    """The rows of `statement` as a DataFrame, decimals as floats (charts and sums want them)."""
    result = connection.execute(statement)
    frame = pd.DataFrame(result.fetchall(), columns=list(result.keys()))
    for name in frame.columns:
        if frame[name].dtype == object and frame[name].map(_is_decimal).any():
            frame[name] = pd.to_numeric(frame[name].map(_float_or_none), errors="coerce")
    return frame


def _is_decimal(value: object) -> bool:
    return isinstance(value, Decimal)


def _float_or_none(value: object) -> float | None:
    return float(value) if isinstance(value, Decimal | int | float) else None


def _as_dates(frame: pd.DataFrame, *columns: str) -> pd.DataFrame:
    # Drivers differ (date objects, strings from FreeTDS): one dtype for the charts.
    for name in columns:
        frame[name] = pd.to_datetime(frame[name])
    return frame


def _ranked(frame: pd.DataFrame) -> pd.DataFrame:
    frame.insert(0, "rank", range(1, len(frame) + 1))
    return frame


def _in_range(table: sa.Table, filters: Filters) -> ColumnElement[bool]:
    return sa.and_(
        table.c.user_sk == filters.user_sk,
        table.c.date_key >= filters.start_key,
        table.c.date_key <= filters.end_key,
    )


def _overlapping(table: sa.Table, filters: Filters) -> ColumnElement[bool]:
    """Runs of days (streaks) that share at least one day with the range."""
    return sa.and_(
        table.c.user_sk == filters.user_sk,
        table.c.start_date_key <= filters.end_key,
        table.c.end_date_key >= filters.start_key,
    )


def _sum(column: sa.ColumnElement[object]) -> ColumnElement[object]:
    # sum() of no rows is null; 0 keeps the figures numbers.
    return sa.func.coalesce(sa.func.sum(column), 0)


def _main_artist() -> sa.Subquery:
    """Each track's first credited artist (Spotify's order), named."""
    return (
        sa.select(bridge_track_artists.c.track_sk, dim_artists.c.artist_name)
        .join(dim_artists, dim_artists.c.artist_sk == bridge_track_artists.c.artist_sk)
        .where(bridge_track_artists.c.artist_position == 1)
        .subquery("main_artist")
    )


def _named_tracks(
    ranked: sa.Subquery, *columns: ColumnElement[object]
) -> sa.Select[tuple[object, ...]]:
    """`ranked` (a subquery with track_sk) with each track's name, main artist and album."""
    artist = _main_artist()
    return (
        sa.select(dim_tracks.c.track_name, artist.c.artist_name, dim_albums.c.album_name, *columns)
        .select_from(ranked)
        .join(dim_tracks, dim_tracks.c.track_sk == ranked.c.track_sk, isouter=True)
        .join(artist, artist.c.track_sk == ranked.c.track_sk, isouter=True)
        .join(dim_albums, dim_albums.c.album_sk == dim_tracks.c.album_sk, isouter=True)
    )


# --------------------------------------------------------------------------------------------
# The listeners and their history


def users(connection: Connection, filters: Filters | None = None) -> pd.DataFrame:
    """Every listener with plays: display name and first and last local day (filters unused)."""
    daily = agg_daily_listening
    spans = (
        sa.select(
            daily.c.user_sk,
            sa.func.min(daily.c.listening_date).label("first_date"),
            sa.func.max(daily.c.listening_date).label("last_date"),
            sa.func.sum(daily.c.plays).label("plays"),
        )
        .group_by(daily.c.user_sk)
        .subquery("spans")
    )
    statement = (
        sa.select(
            dim_users.c.user_sk,
            dim_users.c.user_id,
            dim_users.c.display_name,
            dim_users.c.timezone,
            spans.c.first_date,
            spans.c.last_date,
            spans.c.plays,
        )
        .join(spans, spans.c.user_sk == dim_users.c.user_sk)
        .where(dim_users.c.user_sk != UNKNOWN_SK)
        .order_by(dim_users.c.display_name, dim_users.c.user_id)
    )
    frame = read_frame(connection, statement)
    frame["first_date"] = pd.to_datetime(frame["first_date"]).dt.date
    frame["last_date"] = pd.to_datetime(frame["last_date"]).dt.date
    return frame


# --------------------------------------------------------------------------------------------
# Overview


def overview_totals(connection: Connection, filters: Filters) -> pd.DataFrame:
    """One row: plays, minutes (exact, from ms), days with plays, content split, skips, new
    tracks and artists, and how many different tracks and artists were played."""
    daily = agg_daily_listening
    totals = sa.select(
        _sum(daily.c.plays).label("plays"),
        _sum(daily.c.counted_streams).label("counted_streams"),
        _sum(daily.c.ms_played).label("ms_played"),
        sa.func.count().label("active_days"),
        _sum(daily.c.track_plays).label("track_plays"),
        _sum(daily.c.episode_plays).label("episode_plays"),
        _sum(daily.c.audiobook_plays).label("audiobook_plays"),
        _sum(daily.c.track_minutes).label("track_minutes"),
        _sum(daily.c.episode_minutes).label("episode_minutes"),
        _sum(daily.c.audiobook_minutes).label("audiobook_minutes"),
        _sum(daily.c.plays_with_skip_data).label("plays_with_skip_data"),
        _sum(daily.c.skipped_plays).label("skipped_plays"),
    ).where(_in_range(daily, filters))
    frame = read_frame(connection, totals)
    # A discovery is a row of fct_discoveries, dated on its first stream.
    discoveries = fct_discoveries
    for kind in ("track", "artist"):
        frame[f"new_{kind}s"] = connection.execute(
            sa.select(sa.func.count()).where(
                _in_range(discoveries, filters), discoveries.c.discovery_type == kind
            )
        ).scalar_one()
    # Distinct counts over a range cannot be summed from days: count them from the day-item marts.
    tracks = agg_daily_track_listening
    artists = agg_daily_artist_listening
    frame["distinct_tracks"] = connection.execute(
        sa.select(sa.func.count(sa.distinct(tracks.c.track_sk))).where(_in_range(tracks, filters))
    ).scalar_one()
    frame["distinct_artists"] = connection.execute(
        sa.select(sa.func.count(sa.distinct(artists.c.artist_sk))).where(
            _in_range(artists, filters)
        )
    ).scalar_one()
    frame["minutes_played"] = frame["ms_played"].astype(float) / 60000
    frame["days_in_range"] = filters.days
    return frame


def daily_listening(connection: Connection, filters: Filters) -> pd.DataFrame:
    """One row per local day with plays: plays and minutes by content type."""
    daily = agg_daily_listening
    statement = (
        sa.select(
            daily.c.listening_date,
            daily.c.plays,
            daily.c.counted_streams,
            daily.c.minutes_played,
            daily.c.track_minutes,
            daily.c.episode_minutes,
            daily.c.audiobook_minutes,
        )
        .where(_in_range(daily, filters))
        .order_by(daily.c.date_key)
    )
    return _as_dates(read_frame(connection, statement), "listening_date")


def monthly_listening(connection: Connection, filters: Filters) -> pd.DataFrame:
    """One row per calendar month with plays: plays and minutes by content type."""
    daily = agg_daily_listening
    year, month = dim_dates.c.year_number, dim_dates.c.month_number
    statement = (
        sa.select(
            year.label("year"),
            month.label("month"),
            _sum(daily.c.plays).label("plays"),
            _sum(daily.c.minutes_played).label("minutes_played"),
            _sum(daily.c.track_minutes).label("track_minutes"),
            _sum(daily.c.episode_minutes).label("episode_minutes"),
            _sum(daily.c.audiobook_minutes).label("audiobook_minutes"),
        )
        .join(dim_dates, dim_dates.c.date_key == daily.c.date_key)
        .where(_in_range(daily, filters))
        .group_by(year, month)
        .order_by(year, month)
    )
    frame = read_frame(connection, statement)
    frame["month_start"] = pd.to_datetime(
        {"year": frame["year"], "month": frame["month"], "day": 1}
    )
    return frame


# --------------------------------------------------------------------------------------------
# Tops


def _order(
    plays: ColumnElement[object], minutes: ColumnElement[object], filters: Filters
) -> tuple[ColumnElement[object], ...]:
    first, second = (plays, minutes) if filters.rank_by == "plays" else (minutes, plays)
    return (first.desc(), second.desc())


def _top(daily: sa.Table, key: str, filters: Filters) -> sa.Subquery:
    """The `filters.limit` items (`key` of a daily mart) with the most plays or minutes."""
    item = daily.c[key]
    plays, ms = sa.func.sum(daily.c.plays), sa.func.sum(daily.c.ms_played)
    return (
        sa.select(item, plays.label("plays"), ms.label("ms_played"))
        .where(_in_range(daily, filters))
        .group_by(item)
        .order_by(*_order(plays, ms, filters), item)
        .limit(filters.limit)
        .subquery("ranked")
    )


def top_tracks(connection: Connection, filters: Filters) -> pd.DataFrame:
    """The most played tracks of the range, by plays or minutes (`filters.rank_by`)."""
    ranked = _top(agg_daily_track_listening, "track_sk", filters)
    statement = _named_tracks(ranked, ranked.c.plays, ranked.c.ms_played, ranked.c.track_sk)
    statement = statement.order_by(
        *_order(ranked.c.plays, ranked.c.ms_played, filters), ranked.c.track_sk
    )
    return _ranked(_minutes(read_frame(connection, statement)))


def top_artists(connection: Connection, filters: Filters) -> pd.DataFrame:
    """The most played artists of the range; a play counts for every credited artist."""
    ranked = _top(agg_daily_artist_listening, "artist_sk", filters)
    statement = (
        sa.select(dim_artists.c.artist_name, ranked.c.plays, ranked.c.ms_played, ranked.c.artist_sk)
        .select_from(ranked)
        .join(dim_artists, dim_artists.c.artist_sk == ranked.c.artist_sk, isouter=True)
        .order_by(*_order(ranked.c.plays, ranked.c.ms_played, filters), ranked.c.artist_sk)
    )
    return _ranked(_minutes(read_frame(connection, statement)))


def top_albums(connection: Connection, filters: Filters) -> pd.DataFrame:
    """The most played albums of the range, with the album's main artist."""
    ranked = _top(agg_daily_track_listening, "album_sk", filters)
    statement = (
        sa.select(
            dim_albums.c.album_name,
            dim_artists.c.artist_name,
            dim_albums.c.release_year,
            ranked.c.plays,
            ranked.c.ms_played,
            ranked.c.album_sk,
        )
        .select_from(ranked)
        .join(dim_albums, dim_albums.c.album_sk == ranked.c.album_sk, isouter=True)
        .join(dim_artists, dim_artists.c.artist_sk == dim_albums.c.artist_sk, isouter=True)
        .order_by(*_order(ranked.c.plays, ranked.c.ms_played, filters), ranked.c.album_sk)
    )
    return _ranked(_minutes(read_frame(connection, statement)))


def _minutes(frame: pd.DataFrame) -> pd.DataFrame:
    # Summed from exact ms, so that a ranking by minutes never depends on rounding.
    frame["minutes_played"] = frame.pop("ms_played").astype(float) / 60000
    return frame


# --------------------------------------------------------------------------------------------
# Time patterns


def hourly_heatmap(connection: Connection, filters: Filters) -> pd.DataFrame:
    """Plays and minutes per ISO day of week (1 = Monday) and local hour, over the range."""
    hourly = agg_hourly_listening
    statement = (
        sa.select(
            hourly.c.day_of_week,
            hourly.c.hour_of_day,
            _sum(hourly.c.plays).label("plays"),
            _sum(hourly.c.minutes_played).label("minutes_played"),
        )
        .where(_in_range(hourly, filters))
        .group_by(hourly.c.day_of_week, hourly.c.hour_of_day)
        .order_by(hourly.c.day_of_week, hourly.c.hour_of_day)
    )
    return read_frame(connection, statement)


def busiest_hour(connection: Connection, filters: Filters) -> pd.DataFrame:
    """The local hour of the day with the most minutes over the range (one row, or none)."""
    hourly = agg_hourly_listening
    minutes = sa.func.sum(hourly.c.minutes_played)
    plays = sa.func.sum(hourly.c.plays)
    statement = (
        sa.select(hourly.c.hour_of_day, plays.label("plays"), minutes.label("minutes_played"))
        .where(_in_range(hourly, filters))
        .group_by(hourly.c.hour_of_day)
        .order_by(minutes.desc(), plays.desc(), hourly.c.hour_of_day)
        .limit(1)
    )
    return read_frame(connection, statement)


def biggest_day(connection: Connection, filters: Filters) -> pd.DataFrame:
    """The local day with the most minutes in the range (one row, or none)."""
    daily = agg_daily_listening
    statement = (
        sa.select(daily.c.listening_date, daily.c.plays, daily.c.minutes_played)
        .where(_in_range(daily, filters))
        .order_by(daily.c.minutes_played.desc(), daily.c.plays.desc(), daily.c.date_key)
        .limit(1)
    )
    return _as_dates(read_frame(connection, statement), "listening_date")


# --------------------------------------------------------------------------------------------
# Sessions and streaks

SESSION_BUCKETS = (15, 30, 60, 120, 240)  # upper bounds in minutes; a last bucket beyond


def session_summary(connection: Connection, filters: Filters) -> pd.DataFrame:
    """One row: sessions started in the range, their average and longest duration, plays."""
    sessions = fct_listening_sessions
    duration = sa.cast(sessions.c.duration_minutes, sa.Float)
    statement = sa.select(
        sa.func.count().label("sessions"),
        sa.func.avg(duration).label("average_minutes"),
        sa.func.max(duration).label("longest_minutes"),
        sa.func.avg(sa.cast(sessions.c.plays, sa.Float)).label("average_plays"),
        _sum(sessions.c.minutes_played).label("minutes_played"),
    ).where(_in_range(sessions, filters))
    return read_frame(connection, statement)


def session_lengths(connection: Connection, filters: Filters) -> pd.DataFrame:
    """How many sessions of each length (buckets of `SESSION_BUCKETS`) the range had."""
    sessions = fct_listening_sessions
    bucket = sa.case(
        *(
            (sessions.c.duration_minutes < bound, index)
            for index, bound in enumerate(SESSION_BUCKETS)
        ),
        else_=len(SESSION_BUCKETS),
    )
    # Grouped outside the subquery: PostgreSQL and SQL Server bind the CASE's constants as
    # parameters, and a GROUP BY repeating it would not match the SELECT.
    bucketed = (
        sa.select(bucket.label("bucket"), sessions.c.minutes_played)
        .where(_in_range(sessions, filters))
        .subquery("bucketed")
    )
    statement = (
        sa.select(
            bucketed.c.bucket,
            sa.func.count().label("sessions"),
            _sum(bucketed.c.minutes_played).label("minutes_played"),
        )
        .group_by(bucketed.c.bucket)
        .order_by(bucketed.c.bucket)
    )
    frame = read_frame(connection, statement)
    labels = session_bucket_labels()
    frame["length"] = [labels[int(index)] for index in frame["bucket"]]
    return frame


def session_bucket_labels() -> list[str]:
    """'0-15', '15-30', ... '240+': minutes."""
    bounds = (0, *SESSION_BUCKETS)
    labels = [f"{low}-{high}" for low, high in itertools.pairwise(bounds)]
    return [*labels, f"{SESSION_BUCKETS[-1]}+"]


def longest_sessions(connection: Connection, filters: Filters) -> pd.DataFrame:
    """The longest sessions that started in the range."""
    sessions = fct_listening_sessions
    statement = (
        sa.select(
            sessions.c.started_at_local,
            sessions.c.ended_at_local,
            sessions.c.duration_minutes,
            sessions.c.plays,
            sessions.c.distinct_tracks,
            sessions.c.minutes_played,
            sessions.c.skipped_plays,
        )
        .where(_in_range(sessions, filters))
        .order_by(
            sessions.c.duration_minutes.desc(),
            sessions.c.plays.desc(),
            sessions.c.session_number,
        )
        .limit(filters.limit)
    )
    return _ranked(
        _as_dates(read_frame(connection, statement), "started_at_local", "ended_at_local")
    )


def streaks(connection: Connection, filters: Filters) -> pd.DataFrame:
    """Every run of consecutive days with a counted stream that touches the range, in time
    order; `days_in_range` counts only its days inside the range."""
    streak = fct_listening_streaks
    statement = (
        sa.select(
            streak.c.started_on_date,
            streak.c.ended_on_date,
            streak.c.days,
            streak.c.plays,
            streak.c.minutes_played,
            streak.c.is_latest,
        )
        .where(_overlapping(streak, filters))
        .order_by(streak.c.start_date_key)
    )
    frame = _as_dates(read_frame(connection, statement), "started_on_date", "ended_on_date")
    start = frame["started_on_date"].clip(lower=pd.Timestamp(filters.start))
    end = frame["ended_on_date"].clip(upper=pd.Timestamp(filters.end))
    frame["days_in_range"] = (end - start).dt.days.astype("int64") + 1
    frame["is_latest"] = frame["is_latest"].astype(bool)
    return frame


def artist_streaks(connection: Connection, filters: Filters) -> pd.DataFrame:
    """The longest runs of consecutive days with the same artist that touch the range."""
    streak = fct_artist_streaks
    statement = (
        sa.select(
            dim_artists.c.artist_name,
            streak.c.started_on_date,
            streak.c.ended_on_date,
            streak.c.days,
            streak.c.plays,
        )
        .join(dim_artists, dim_artists.c.artist_sk == streak.c.artist_sk, isouter=True)
        .where(_overlapping(streak, filters))
        .order_by(
            streak.c.days.desc(), streak.c.plays.desc(), streak.c.start_date_key, streak.c.artist_sk
        )
        .limit(filters.limit)
    )
    return _ranked(_as_dates(read_frame(connection, statement), "started_on_date", "ended_on_date"))


# --------------------------------------------------------------------------------------------
# Discoveries


def weekly_discoveries(connection: Connection, filters: Filters) -> pd.DataFrame:
    """Every local week (Monday start) that touches the range: distinct and new tracks and
    artists, and the share that was new."""
    weekly = agg_weekly_discoveries
    first_monday = filters.start - timedelta(days=filters.start.weekday())
    statement = (
        sa.select(
            weekly.c.week_start_date,
            weekly.c.distinct_tracks,
            weekly.c.new_tracks,
            weekly.c.track_discovery_rate,
            weekly.c.distinct_artists,
            weekly.c.new_artists,
            weekly.c.artist_discovery_rate,
            weekly.c.is_first_week,
        )
        .where(
            weekly.c.user_sk == filters.user_sk,
            weekly.c.week_start_date_key >= date_key(first_monday),
            weekly.c.week_start_date_key <= filters.end_key,
        )
        .order_by(weekly.c.week_start_date_key)
    )
    frame = _as_dates(read_frame(connection, statement), "week_start_date")
    frame["is_first_week"] = frame["is_first_week"].astype(bool)
    return frame


def _discoveries(filters: Filters, kind: str) -> sa.Subquery:
    found = fct_discoveries
    return (
        sa.select(
            found.c.track_sk,
            found.c.artist_sk,
            found.c.first_played_at_local,
            found.c.total_plays,
            found.c.date_key,
        )
        .where(_in_range(found, filters), found.c.discovery_type == kind)
        .order_by(
            found.c.total_plays.desc(),
            found.c.first_played_at_local,
            found.c.track_sk,
            found.c.artist_sk,
        )
        .limit(filters.limit)
        .subquery("found")
    )


def track_discoveries(connection: Connection, filters: Filters) -> pd.DataFrame:
    """Tracks first heard in the range, most played since first."""
    found = _discoveries(filters, "track")
    statement = _named_tracks(found, found.c.first_played_at_local, found.c.total_plays).order_by(
        found.c.total_plays.desc(), found.c.first_played_at_local, found.c.track_sk
    )
    return _ranked(_as_dates(read_frame(connection, statement), "first_played_at_local"))


def artist_discoveries(connection: Connection, filters: Filters) -> pd.DataFrame:
    """Artists first heard in the range, most played since first, with the track that did it."""
    found = _discoveries(filters, "artist")
    statement = (
        sa.select(
            dim_artists.c.artist_name,
            dim_tracks.c.track_name.label("first_track"),
            found.c.first_played_at_local,
            found.c.total_plays,
        )
        .select_from(found)
        .join(dim_artists, dim_artists.c.artist_sk == found.c.artist_sk, isouter=True)
        .join(dim_tracks, dim_tracks.c.track_sk == found.c.track_sk, isouter=True)
        .order_by(found.c.total_plays.desc(), found.c.first_played_at_local, found.c.artist_sk)
    )
    return _ranked(_as_dates(read_frame(connection, statement), "first_played_at_local"))


def on_repeat(connection: Connection, filters: Filters) -> pd.DataFrame:
    """The listener's On Repeat list: most played of their last days (not the date range)."""
    return _listed(connection, agg_on_repeat_tracks, filters, "last_played_at_local")


def rediscover(connection: Connection, filters: Filters) -> pd.DataFrame:
    """Tracks the listener loved before but has not played lately (not the date range)."""
    return _listed(
        connection, agg_rediscover_tracks, filters, "first_played_at_local", "last_played_at_local"
    )


def _listed(connection: Connection, table: sa.Table, filters: Filters, *times: str) -> pd.DataFrame:
    listed = (
        sa.select(table)
        .where(table.c.user_sk == filters.user_sk, table.c.list_rank <= max(filters.limit, 1))
        .subquery("listed")
    )
    statement = _named_tracks(
        listed,
        listed.c.list_rank.label("rank"),
        listed.c.plays,
        listed.c.minutes_played,
        *(listed.c[name] for name in times),
        listed.c.as_of_date,
    ).order_by(listed.c.list_rank, listed.c.track_sk)
    frame = read_frame(connection, statement)
    return _as_dates(frame, *times, "as_of_date")


Query = Callable[[Connection, Filters], pd.DataFrame]

# Every query of the dashboard by name, for the pages and the benchmark.
QUERIES: dict[str, Query] = {
    "users": users,
    "overview_totals": overview_totals,
    "daily_listening": daily_listening,
    "monthly_listening": monthly_listening,
    "top_tracks": top_tracks,
    "top_artists": top_artists,
    "top_albums": top_albums,
    "hourly_heatmap": hourly_heatmap,
    "busiest_hour": busiest_hour,
    "biggest_day": biggest_day,
    "session_summary": session_summary,
    "session_lengths": session_lengths,
    "longest_sessions": longest_sessions,
    "streaks": streaks,
    "artist_streaks": artist_streaks,
    "weekly_discoveries": weekly_discoveries,
    "track_discoveries": track_discoveries,
    "artist_discoveries": artist_discoveries,
    "on_repeat": on_repeat,
    "rediscover": rediscover,
}
