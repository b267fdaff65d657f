"""Benchmark every dashboard query on DuckDB over a million plays (not a test).

1. Generates the transform benchmark's synthetic history (``benchmarks/transform.py``: three
   listeners, a million plays over years by default) in a fresh DuckDB file and builds the marts
   with ``spotify-elt transform``, as a user would.
2. Times every query in ``spotify_elt.dashboard.queries.QUERIES`` for the listener with the most
   plays, over their whole history, their last year and their last 30 days: each on a fresh
   connection from the dashboard's own read-only engine (opening the file is part of the
   time, as it is on every page), one untimed run and then ``--repeat`` timed runs.
3. Times the alternative side by side: the same answers computed from ``fct_plays`` and the
   dimensions on every request, as a dashboard without the analytics marts would, for the
   queries where that is one statement. Their results are compared with the dashboard's, so a
   fast wrong answer does not pass.
4. Prints a Markdown table (median and slowest run per query and range, in milliseconds; the
   alternative's median and the ratio), the machine, and a "Problems" section when a query is
   over the 1 s budget or an answer differs.

    .venv/bin/python -m benchmarks.dashboard
    .venv/bin/python -m benchmarks.dashboard --plays 100k --repeat 3 --keep
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from benchmarks.common import machine_description, parse_size, problems_section, progress
from benchmarks.transform import USERS, generate_history, run_transform
from ingestion.config import Settings
from ingestion.warehouse import Warehouse, utc_now
from spotify_elt.dashboard.connection import create_engine
from spotify_elt.dashboard.queries import QUERIES, Filters, Query, date_key, users

BUDGET_SECONDS = 1.0

# The alternative: one statement over fct_plays per request (DuckDB SQL: it is only run here).
ALTERNATIVES: dict[str, str] = {
    "overview_totals": """
        select count(*) as plays, sum(ms_played) as ms_played,
            count(distinct date_key) as active_days,
            count(distinct case when content_type = 'track' then track_sk end) as distinct_tracks
        from marts.fct_plays where user_sk = :user_sk
            and date_key between :start_key and :end_key""",
    "daily_listening": """
        select date_key, count(*) as plays, sum(ms_played) as ms_played
        from marts.fct_plays where user_sk = :user_sk
            and date_key between :start_key and :end_key group by date_key order by date_key""",
    "top_tracks": """
        select tracks.track_name, ranked.plays, ranked.track_sk from (
            select track_sk, count(*) as plays, sum(ms_played) as ms_played
            from marts.fct_plays where user_sk = :user_sk
                and date_key between :start_key and :end_key and content_type = 'track'
            group by track_sk order by plays desc, ms_played desc, track_sk limit 10
        ) as ranked
        left join marts.dim_tracks as tracks on tracks.track_sk = ranked.track_sk
        order by ranked.plays desc, ranked.ms_played desc, ranked.track_sk""",
    "top_artists": """
        select artists.artist_name, ranked.plays, ranked.artist_sk from (
            select credits.artist_sk, count(*) as plays, sum(plays.ms_played) as ms_played
            from marts.fct_plays as plays
            inner join marts.bridge_track_artists as credits on credits.track_sk = plays.track_sk
            where plays.user_sk = :user_sk and plays.date_key between :start_key and :end_key
                and plays.content_type = 'track'
            group by credits.artist_sk order by plays desc, ms_played desc, credits.artist_sk
            limit 10
        ) as ranked
        left join marts.dim_artists as artists on artists.artist_sk = ranked.artist_sk
        order by ranked.plays desc, ranked.ms_played desc, ranked.artist_sk""",
    "hourly_heatmap": """
        select isodow(played_at_local) as day_of_week, hour(played_at_local) as hour_of_day,
            count(*) as plays
        from marts.fct_plays where user_sk = :user_sk
            and date_key between :start_key and :end_key group by all order by all""",
    "session_summary": """
        with plays as (
            select played_at, ms_played, date_key,
                lag(played_at) over (order by played_at, play_sk) as previous_ended_at
            from marts.fct_plays where user_sk = :user_sk
        ),
        numbered as (
            select *, sum(case when previous_ended_at is null
                or date_diff('millisecond', previous_ended_at, played_at) - ms_played > 1800000
                then 1 else 0 end) over (order by played_at rows unbounded preceding) as session
            from plays
        ),
        sessions as (
            select session, count(*) as plays, arg_min(date_key, played_at) as date_key
            from numbered group by session
        )
        select count(*) as sessions, sum(plays) as plays from sessions
        where date_key between :start_key and :end_key""",
}


def same_answer(name: str, ours: Any, theirs: Sequence[Any]) -> bool:
    """Whether the dashboard's frame and the alternative's rows say the same thing."""
    if name == "overview_totals":
        row = ours.iloc[0]
        return bool(
            int(row["plays"]) == theirs[0][0]
            and int(row["ms_played"]) == int(theirs[0][1])
            and int(row["active_days"]) == theirs[0][2]
            and int(row["distinct_tracks"]) == theirs[0][3]
        )
    if name == "daily_listening":
        return bool(int(ours["plays"].sum()) == sum(row[1] for row in theirs))
    if name in ("top_tracks", "top_artists"):
        key = "track_sk" if name == "top_tracks" else "artist_sk"
        return list(ours[key]) == [row[2] for row in theirs]
    if name == "hourly_heatmap":
        return {
            (int(r.day_of_week), int(r.hour_of_day)): int(r.plays) for r in ours.itertuples()
        } == {(row[0], row[1]): row[2] for row in theirs}
    if name == "session_summary":
        return bool(int(ours.iloc[0]["sessions"]) == theirs[0][0])
    raise KeyError(name)


@dataclass
class Timing:
    seconds: list[float] = field(default_factory=list)

    @property
    def median_ms(self) -> float:
        return statistics.median(self.seconds) * 1000

    @property
    def slowest_ms(self) -> float:
        return max(self.seconds) * 1000


def time_runs(
    engine: sa.Engine, run: Callable[[Connection], Any], repeat: int
) -> tuple[Timing, Any]:
    """One untimed run, then `repeat` timed ones, each on a new connection."""
    with engine.connect() as connection:
        answer = run(connection)
    timing = Timing()
    for _ in range(repeat):
        started = time.perf_counter()
        with engine.connect() as connection:
            run(connection)
        timing.seconds.append(time.perf_counter() - started)
    return timing, answer


def run_query(query: Query, filters: Filters, connection: Connection) -> Any:
    return query(connection, filters)


def fetch_rows(
    statement: sa.TextClause, parameters: dict[str, Any], connection: Connection
) -> list[Any]:
    return list(connection.execute(statement, parameters))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plays", type=parse_size, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    arguments = parser.parse_args(argv)

    directory = Path(tempfile.mkdtemp(prefix="spotify-elt-dashboard-benchmark-"))
    database = directory / "warehouse.duckdb"
    settings = Settings.model_validate(
        {"SPOTIFY_ELT_TARGET": "duckdb", "SPOTIFY_ELT_DUCKDB_PATH": str(database)}
    )
    progress(f"generating {arguments.plays:,} plays in {database}")
    with Warehouse(settings) as warehouse:
        warehouse.create_raw_tables()
    generate_history(database, arguments.plays, utc_now())
    progress("building the marts (spotify-elt transform)")
    build = run_transform(database, directory, "full")
    progress(f"built in {build.wall_seconds:.1f} s")

    engine = create_engine(settings)
    problems: list[str] = []
    with engine.connect() as connection:
        listeners = users(connection)
        [(fact_rows,)] = connection.execute(sa.text("select count(*) from marts.fct_plays"))
    listener = listeners.sort_values("plays", ascending=False).iloc[0]
    last: date = listener["last_date"]
    ranges = {
        "whole history": Filters(listener["user_sk"], listener["first_date"], last),
        "last year": Filters(listener["user_sk"], last - timedelta(days=364), last),
        "last 30 days": Filters(listener["user_sk"], last - timedelta(days=29), last),
    }
    rows: list[str] = []
    slowest = 0.0
    for name, query in QUERIES.items():
        cells = [f"`{name}`"]
        for label, filters in ranges.items():
            timing, answer = time_runs(engine, partial(run_query, query, filters), arguments.repeat)
            slowest = max(slowest, timing.slowest_ms)
            cells.append(f"{timing.median_ms:.0f} / {timing.slowest_ms:.0f}")
            if timing.slowest_ms > BUDGET_SECONDS * 1000:
                problems.append(f"{name} ({label}) took {timing.slowest_ms:.0f} ms")
            if label == "whole history" and name in ALTERNATIVES:
                parameters = {
                    "user_sk": filters.user_sk,
                    "start_key": date_key(filters.start),
                    "end_key": date_key(filters.end),
                }
                statement = sa.text(ALTERNATIVES[name])
                other, theirs = time_runs(
                    engine, partial(fetch_rows, statement, parameters), arguments.repeat
                )
                if not same_answer(name, answer, theirs):
                    problems.append(
                        f"{name}: the alternative's answer differs from the dashboard's"
                    )
                alternative = f"{other.median_ms:.0f} ({other.median_ms / timing.median_ms:.1f}x)"
        cells.append(alternative if name in ALTERNATIVES else "")
        rows.append("| " + " | ".join(cells) + " |")
        progress(f"{name}: done")
    engine.dispose()

    print(f"Dashboard queries on DuckDB, {fact_rows:,} plays of {len(USERS)} listeners; the "
          f"listener with the most plays ({int(listener['plays']):,}, "
          f"{listener['first_date']} to {last}). Milliseconds, median / slowest of "
          f"{arguments.repeat} runs, each on a new read-only connection. The marts were built in "
          f"{build.wall_seconds:.1f} s.")  # fmt: skip
    print()
    print("| query | whole history | last year | last 30 days "
          "| from fct_plays on each request (whole history) |")  # fmt: skip
    print("| --- | ---: | ---: | ---: | ---: |")
    print("\n".join(rows))
    print()
    print(f"Slowest run of any query: {slowest:.0f} ms (budget {BUDGET_SECONDS * 1000:.0f} ms).")
    print(f"Machine: {machine_description(['duckdb', 'duckdb-engine', 'sqlalchemy', 'dbt-core'])}")
    for line in problems_section(problems):
        print(line)
    if arguments.keep:
        progress(f"kept {directory}")
    else:
        shutil.rmtree(directory)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
