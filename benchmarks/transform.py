"""Benchmark the dbt transform on DuckDB over a synthetic listening history (not a test).

For each size (10,000 and 1,000,000 plays unless ``--sizes`` says otherwise) this script:

1. makes a fresh DuckDB file in a temporary directory and creates the raw tables with the
   project's own ``Warehouse.create_raw_tables()``;
2. generates that many plays of three users directly in DuckDB with SQL: item JSON shaped like the
   Web API's (track with album and 1-3 artists, ``played_at``, context or null), a catalogue
   that grows with the history (about one track per 15 plays, at most 80,000; an album per 8
   tracks; an artist per 20 tracks), ``played_at`` strictly increasing per user (a track's length
   apart, with breaks between sessions, over years at a million plays), and ``_loaded_at`` /
   ``_batch_id`` of a poller landing the new plays every 30 minutes; plus ``raw.spotify_users``
   and ``raw.load_batches`` rows;
3. times three runs of ``spotify-elt transform`` (``dbt build`` on the configured target), each
   a separate process, as a user would run it: the full build on empty marts, a run with
   nothing new, and a run after one user's next 50 plays landed (``_loaded_at`` = now);
4. prints a Markdown table of the wall-clock seconds (process start to exit, so dbt's start-up
   and parsing are included), the ratios of the largest size to the smallest, machine and
   version information, the data generation time (not part of the figures) and the slowest
   dbt nodes at the largest size, from dbt's ``run_results.json``.

After each run the marts are checked against counts computed from the raw JSON, so a model that
drops or duplicates rows does not go unnoticed. dbt writes its target and log directories into
the temporary directory (``DBT_TARGET_PATH``, ``DBT_LOG_PATH``), never into ``dbt_project/``.

Run from the repository root (a million plays takes a few minutes on two cores):

    .venv/bin/python -m benchmarks.transform
    .venv/bin/python -m benchmarks.transform --sizes 10k,100k --keep
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from benchmarks.common import machine_description, parse_size, problems_section, progress
from ingestion.config import Settings
from ingestion.warehouse import Warehouse, utc_now

DEFAULT_SIZES = (10_000, 1_000_000)
NEW_PLAYS = 50
OUTPUT_TAIL_LINES = 60

# (user_id, display name, time zone); the zones reach dbt through SPOTIFY_ELT_USER_TIMEZONES.
USERS = (
    ("bench-ana", "Ana Lucía", "Europe/Madrid"),
    ("bench-kenji", "健二", "Asia/Tokyo"),
    ("bench-sam", "Sam O'Neill", "America/New_York"),
)

# The newest generated play of the first user is this long before the benchmark starts, so the
# next 50 plays (at most about four hours of music) still end before "now".
HISTORY_ENDS_BEFORE_NOW = timedelta(hours=6)

RUNS = (
    ("full", "full build (s)"),
    ("nothing_new", "run with nothing new (s)"),
    ("new_plays", f"run adding {NEW_PLAYS} plays (s)"),
)

# ---- the synthetic catalogue and history -------------------------------------------------

# One row of parameters, read by every generating statement.
CREATE_PARAMETERS = """
create or replace temp table bench_parameters as
select
    cast(? as bigint) as plays,
    cast(? as bigint) as tracks,
    cast(? as bigint) as albums,
    cast(? as bigint) as artists,
    cast(? as bigint) as playlists
"""

CREATE_USERS = """
create or replace temp table bench_users (
    user_number bigint,
    user_id varchar,
    display_name varchar,
    plays bigint,
    history_end timestamp
)
"""

# Spotify-shaped artist objects (ids are 22 characters like Spotify's, hex instead of base62).
CREATE_ARTISTS = """
create or replace temp table bench_artists as
with named as (
    select
        r as artist_number,
        substr(md5('artist:' || r), 1, 22) as artist_id,
        case
            when r % 11 = 0 then 'Los Ñandúes ' || r
            when r % 17 = 0 then 'バンド ' || r
            when r % 23 = 0 then 'The "Quoted" Band ' || r
            else 'Artist ' || r
        end as artist_name
    from bench_parameters, range(bench_parameters.artists) as numbers(r)
)
select
    artist_number,
    {
        'external_urls': {'spotify': 'https://open.spotify.com/artist/' || artist_id},
        'href': 'https://api.spotify.com/v1/artists/' || artist_id,
        'id': artist_id,
        'name': artist_name,
        'type': 'artist',
        'uri': 'spotify:artist:' || artist_id
    } as artist
from named
"""

# Tracks are spread evenly over albums, numbered within each album.
CREATE_TRACK_NUMBERS = """
create or replace temp table bench_track_numbers as
with spread as (
    select t as track_number_global, t * albums // tracks as album_number
    from bench_parameters, range(bench_parameters.tracks) as numbers(t)
)
select
    track_number_global as track_index,
    album_number,
    row_number() over (partition by album_number order by track_number_global) as track_number,
    count(*) over (partition by album_number) as total_tracks
from spread
"""

CREATE_ALBUMS = """
create or replace temp table bench_albums as
with sized as (
    select album_number, max(total_tracks) as total_tracks
    from bench_track_numbers
    group by album_number
),
described as (
    select
        sized.album_number,
        sized.total_tracks,
        substr(md5('album:' || sized.album_number), 1, 22) as album_id,
        hash(sized.album_number, 'album artist') % bench_parameters.artists as artist_number,
        case
            when sized.album_number % 10 = 0 then 'compilation'
            when sized.total_tracks <= 3 then 'single'
            else 'album'
        end as album_type,
        make_date(
            cast(1960 + hash(sized.album_number, 'year') % 66 as bigint),
            cast(1 + hash(sized.album_number, 'month') % 12 as bigint),
            cast(1 + hash(sized.album_number, 'day') % 28 as bigint)
        ) as released,
        case hash(sized.album_number, 'precision') % 20
            when 0 then 'year' when 1 then 'month' else 'day'
        end as release_date_precision,
        substr(md5('image:' || sized.album_number), 1, 24) as image_id,
        case
            when sized.album_number % 13 = 0 then 'Álbum número ' || sized.album_number
            when sized.album_number % 19 = 0 then 'アルバム ' || sized.album_number
            else 'Album ' || sized.album_number
        end as album_name
    from sized, bench_parameters
)
select
    described.album_number,
    described.artist_number,
    bench_artists.artist,
    {
        'album_type': described.album_type,
        'artists': [bench_artists.artist],
        'external_urls': {'spotify': 'https://open.spotify.com/album/' || described.album_id},
        'href': 'https://api.spotify.com/v1/albums/' || described.album_id,
        'id': described.album_id,
        'images': [
            {
                'height': 640,
                'url': 'https://i.scdn.co/image/ab67616d0000b273' || described.image_id,
                'width': 640
            },
            {
                'height': 300,
                'url': 'https://i.scdn.co/image/ab67616d00001e02' || described.image_id,
                'width': 300
            },
            {
                'height': 64,
                'url': 'https://i.scdn.co/image/ab67616d00004851' || described.image_id,
                'width': 64
            }
        ],
        'name': described.album_name,
        'release_date': case described.release_date_precision
            when 'year' then strftime(described.released, '%Y')
            when 'month' then strftime(described.released, '%Y-%m')
            else strftime(described.released, '%Y-%m-%d')
        end,
        'release_date_precision': described.release_date_precision,
        'total_tracks': described.total_tracks,
        'type': 'album',
        'uri': 'spotify:album:' || described.album_id
    } as album
from described
inner join bench_artists on described.artist_number = bench_artists.artist_number
"""

# The track's JSON text, keys in the Web API's order. The album's artist is the first artist;
# 30 % of tracks credit a second artist and 10 % a third, all three distinct.
CREATE_TRACKS = """
create or replace temp table bench_tracks as
with described as (
    select
        numbers.track_index,
        numbers.album_number,
        numbers.track_number,
        substr(md5('track:' || numbers.track_index), 1, 22) as track_id,
        case
            when hash(numbers.track_index, 'artists') % 10 >= 9 then 3
            when hash(numbers.track_index, 'artists') % 10 >= 7 then 2
            else 1
        end as artist_count,
        (
            bench_albums.artist_number + 1
            + hash(numbers.track_index, 'second') % ((bench_parameters.artists - 1) // 2)
        ) % bench_parameters.artists as second_artist_number,
        (
            bench_albums.artist_number + bench_parameters.artists - 1
            - hash(numbers.track_index, 'third') % ((bench_parameters.artists - 1) // 2)
        ) % bench_parameters.artists as third_artist_number,
        case
            when numbers.track_index % 97 = 0 then 20000 + hash(numbers.track_index, 'ms') % 9000
            when numbers.track_index % 89 = 0 then 480000 + hash(numbers.track_index, 'ms') % 240000
            else 120000 + hash(numbers.track_index, 'ms') % 180001
        end as duration_ms,
        hash(numbers.track_index, 'explicit') % 6 = 0 as explicit,
        'QZ' || upper(substr(md5('isrc:' || numbers.track_index), 1, 3))
            || lpad(cast(numbers.track_index % 100 as varchar), 2, '0')
            || lpad(cast(numbers.track_index % 100000 as varchar), 5, '0') as isrc,
        case
            when numbers.track_index % 29 = 0 then 'Canción "' || numbers.track_index || '" (Remix)'
            when numbers.track_index % 31 = 0 then '노래 ' || numbers.track_index
            when numbers.track_index % 37 = 0 then 'It''s Track ' || numbers.track_index
            else 'Track ' || numbers.track_index
        end as track_name,
        bench_albums.artist,
        bench_albums.album
    from bench_track_numbers as numbers
    inner join bench_albums on numbers.album_number = bench_albums.album_number
    cross join bench_parameters
)
select
    described.track_index,
    described.album_number,
    described.duration_ms,
    described.artist_count,
    cast(to_json({
        'album': described.album,
        'artists': case described.artist_count
            when 1 then [described.artist]
            when 2 then [described.artist, second.artist]
            else [described.artist, second.artist, third.artist]
        end,
        'disc_number': 1,
        'duration_ms': described.duration_ms,
        'explicit': described.explicit,
        'external_ids': {'isrc': described.isrc},
        'external_urls': {'spotify': 'https://open.spotify.com/track/' || described.track_id},
        'href': 'https://api.spotify.com/v1/tracks/' || described.track_id,
        'id': described.track_id,
        'is_local': false,
        'name': described.track_name,
        'preview_url': cast(null as varchar),
        'track_number': described.track_number,
        'type': 'track',
        'uri': 'spotify:track:' || described.track_id
    }) as varchar) as track_json
from described
inner join bench_artists as second on described.second_artist_number = second.artist_number
inner join bench_artists as third on described.third_artist_number = third.artist_number
"""

# Every play of every user: which track (from the part of the catalogue discovered by then,
# favouring recent discoveries), when it ended (a track's length after the previous one, with a
# break of 30 minutes to 6 hours after one play in 25 on average, ending at the user's
# history_end) and where it was started from (one context per listening session).
CREATE_PLAYS = """
create or replace temp table bench_plays as
with numbered as (
    select
        j % 3 as user_number,
        j // 3 as play_number
    from bench_parameters, range(bench_parameters.plays) as numbers(j)
),
picked as (
    select
        numbered.user_number,
        numbered.play_number,
        bench_users.user_id,
        bench_users.history_end,
        greatest(1, least(
            bench_parameters.tracks,
            ceil(bench_parameters.tracks * (numbered.play_number + 1) / bench_users.plays)
        )) as known_tracks,
        (hash(numbered.user_number, numbered.play_number, 'habit') % 1000000) / 1e6 as habit,
        (hash(numbered.user_number, numbered.play_number, 'pick') % 1000000) / 1e6 as pick,
        numbered.play_number > 0
            and hash(numbered.user_number, numbered.play_number, 'break') % 25 = 0 as after_break
    from numbered
    inner join bench_users on numbered.user_number = bench_users.user_number
    cross join bench_parameters
),
chosen as (
    select
        picked.*,
        cast(case
            when habit < 0.55 then known_tracks - 1 - floor(pick * pick * pick * known_tracks)
            else floor(pick * known_tracks)
        end as bigint) as track_index
    from picked
),
timed as (
    select
        chosen.*,
        bench_tracks.duration_ms,
        bench_tracks.album_number,
        bench_tracks.duration_ms
            + hash(chosen.user_number, chosen.play_number, 'gap') % 1500
            + case
                when chosen.after_break
                    then 1800000 + hash(chosen.user_number, chosen.play_number, 'rest') % 19800001
                else 0
            end as step_ms,
        sum(cast(chosen.after_break as integer)) over (
            partition by chosen.user_number order by chosen.play_number
        ) as session_number
    from chosen
    inner join bench_tracks on chosen.track_index = bench_tracks.track_index
),
placed as (
    select
        timed.*,
        timed.history_end - to_milliseconds(cast(coalesce(sum(timed.step_ms) over (
            partition by timed.user_number
            order by timed.play_number
            rows between 1 following and unbounded following
        ), 0) as bigint)) as played_at,
        hash(timed.user_number, timed.session_number, 'context') % 100 as context_kind
    from timed
),
loaded as (
    select
        placed.*,
        time_bucket(interval 30 minutes, placed.played_at) as poll_slot
    from placed
)
select
    loaded.user_number,
    loaded.user_id,
    loaded.play_number,
    loaded.track_index,
    loaded.played_at,
    loaded.poll_slot
        + interval 30 minutes
        + to_milliseconds(cast(2000 + hash(loaded.user_id, loaded.poll_slot) % 40000 as bigint))
        as loaded_at,
    case
        when loaded.context_kind < 12 then null
        when loaded.context_kind < 25 then cast(to_json({
            'type': 'collection',
            'href': 'https://api.spotify.com/v1/me/tracks',
            'external_urls': {'spotify': 'https://open.spotify.com/collection/tracks'},
            'uri': 'spotify:user:' || loaded.user_id || ':collection'
        }) as varchar)
        when loaded.context_kind < 35 then cast(to_json({
            'type': 'album',
            'href': 'https://api.spotify.com/v1/albums/' || substr(md5('album:' || loaded.album_number), 1, 22),
            'external_urls': {
                'spotify': 'https://open.spotify.com/album/' || substr(md5('album:' || loaded.album_number), 1, 22)
            },
            'uri': 'spotify:album:' || substr(md5('album:' || loaded.album_number), 1, 22)
        }) as varchar)
        else cast(to_json({
            'type': 'playlist',
            'href': 'https://api.spotify.com/v1/playlists/' || substr(md5('playlist:' || (hash(loaded.user_number, loaded.session_number, 'playlist') % bench_parameters.playlists)), 1, 22),
            'external_urls': {
                'spotify': 'https://open.spotify.com/playlist/' || substr(md5('playlist:' || (hash(loaded.user_number, loaded.session_number, 'playlist') % bench_parameters.playlists)), 1, 22)
            },
            'uri': 'spotify:playlist:' || substr(md5('playlist:' || (hash(loaded.user_number, loaded.session_number, 'playlist') % bench_parameters.playlists)), 1, 22)
        }) as varchar)
    end as context_json
from loaded
cross join bench_parameters
"""  # noqa: E501

# A load's id: a UUID-shaped (36 characters) hash of the user and the load time.
BATCH_ID = """
    substr(md5(bench_plays.user_id || '|' || cast(bench_plays.loaded_at as varchar)), 1, 8)
    || '-' || substr(md5(bench_plays.user_id || '|' || cast(bench_plays.loaded_at as varchar)), 9, 4)
    || '-' || substr(md5(bench_plays.user_id || '|' || cast(bench_plays.loaded_at as varchar)), 13, 4)
    || '-' || substr(md5(bench_plays.user_id || '|' || cast(bench_plays.loaded_at as varchar)), 17, 4)
    || '-' || substr(md5(bench_plays.user_id || '|' || cast(bench_plays.loaded_at as varchar)), 21, 12)
"""  # noqa: E501

# The item exactly as the API writes it: track, played_at with milliseconds and a Z, context.
# Appended in load order, as the loader appends them.
INSERT_PLAYS = (
    """
insert into raw.spotify_recently_played (user_id, played_at, item, _batch_id, _loaded_at)
select
    bench_plays.user_id,
    bench_plays.played_at,
    '{"track":' || bench_tracks.track_json
        || ',"played_at":"' || strftime(bench_plays.played_at, '%Y-%m-%dT%H:%M:%S.%g') || 'Z"'
        || ',"context":' || coalesce(bench_plays.context_json, 'null')
        || '}' as item,
"""
    + BATCH_ID
    + """ as _batch_id,
    bench_plays.loaded_at as _loaded_at
from bench_plays
inner join bench_tracks on bench_plays.track_index = bench_tracks.track_index
order by bench_plays.loaded_at, bench_plays.user_id, bench_plays.played_at
"""
)

INSERT_BATCHES = (
    """
insert into raw.load_batches (
    batch_id, source, user_id, status, started_at, finished_at, rows_seen, rows_inserted,
    rows_duplicate, gap_suspected, api_requests, watermark_before, oldest_played_at,
    newest_played_at, message
)
with batches as (
    select
"""
    + BATCH_ID
    + """ as batch_id,
        bench_plays.user_id,
        bench_plays.loaded_at,
        count(*) as plays,
        min(bench_plays.played_at) as oldest_played_at,
        max(bench_plays.played_at) as newest_played_at
    from bench_plays
    group by all
)
select
    batch_id,
    'api',
    user_id,
    'succeeded',
    loaded_at - interval 2 seconds,
    loaded_at,
    plays,
    plays,
    0,
    false,
    1,
    lag(newest_played_at) over (partition by user_id order by loaded_at),
    oldest_played_at,
    newest_played_at,
    null
from batches
order by loaded_at, user_id
"""
)

# Each user's GET /me, stored by the user's latest load.
INSERT_PROFILES = """
insert into raw.spotify_users (user_id, profile, _batch_id, _loaded_at)
select
    bench_users.user_id,
    cast(to_json({
        'display_name': bench_users.display_name,
        'external_urls': {'spotify': 'https://open.spotify.com/user/' || bench_users.user_id},
        'href': 'https://api.spotify.com/v1/users/' || bench_users.user_id,
        'id': bench_users.user_id,
        'images': cast([] as varchar[]),
        'type': 'user',
        'uri': 'spotify:user:' || bench_users.user_id
    }) as varchar),
    arg_max(raw.load_batches.batch_id, raw.load_batches.finished_at),
    max(raw.load_batches.finished_at)
from bench_users
inner join raw.load_batches on bench_users.user_id = raw.load_batches.user_id
group by all
"""

# One user's next plays after their newest, picked from the whole catalogue, landed now.
INSERT_NEW_PLAYS = """
insert into raw.spotify_recently_played (user_id, played_at, item, _batch_id, _loaded_at)
with newest as (
    select max(played_at) as played_at
    from raw.spotify_recently_played
    where user_id = $user_id
),
picked as (
    select
        i,
        hash('new', i, $batch_id) % bench_parameters.tracks as track_index
    from bench_parameters, range($plays) as numbers(i)
),
placed as (
    select
        picked.i,
        bench_tracks.track_json,
        newest.played_at + to_milliseconds(cast(sum(
            bench_tracks.duration_ms + hash('gap', picked.i, $batch_id) % 1500
        ) over (order by picked.i) as bigint)) as played_at
    from picked
    inner join bench_tracks on picked.track_index = bench_tracks.track_index
    cross join newest
)
select
    $user_id,
    played_at,
    '{"track":' || track_json
        || ',"played_at":"' || strftime(played_at, '%Y-%m-%dT%H:%M:%S.%g') || 'Z"'
        || ',"context":null}',
    $batch_id,
    $loaded_at
from placed
order by played_at
"""

INSERT_NEW_BATCH = """
insert into raw.load_batches (
    batch_id, source, user_id, status, started_at, finished_at, rows_seen, rows_inserted,
    rows_duplicate, gap_suspected, api_requests, watermark_before, oldest_played_at,
    newest_played_at, message
)
select
    $batch_id, 'api', $user_id, 'succeeded', $loaded_at, $loaded_at, count(*), count(*), 0,
    false, 1, null, min(played_at), max(played_at), null
from raw.spotify_recently_played
where _batch_id = $batch_id
"""

# What the marts must hold, counted from the raw JSON without the models' SQL.
EXPECTED_COUNTS = """
with items as (
    select
        json_extract_string(item, [
            '$.track.uri', '$.track.album.id', '$.context.uri', '$.track.album.artists[0].id'
        ]) as fields,
        json_extract_string(item, '$.track.artists[*].id') as artist_ids
    from raw.spotify_recently_played
),
artists as (
    select unnest(artist_ids) as artist_id from items
    union
    select fields[4] from items
)
select
    (select count(*) from items) as fct_plays,
    (select count(distinct fields[1]) from items) + 1 as dim_tracks,
    (select count(distinct fields[2]) from items) + 1 as dim_albums,
    (select count(distinct artist_id) from artists) + 1 as dim_artists,
    (select count(distinct fields[3]) from items) + 1 as dim_contexts,
    (
        select count(*) from (
            select distinct fields[1], unnest(artist_ids) from items
        )
    ) as bridge_track_artists
"""

MART_COUNTS = """
select
    (select count(*) from marts.fct_plays) as fct_plays,
    (select count(*) from marts.dim_tracks) as dim_tracks,
    (select count(*) from marts.dim_albums) as dim_albums,
    (select count(*) from marts.dim_artists) as dim_artists,
    (select count(*) from marts.dim_contexts) as dim_contexts,
    (select count(*) from marts.bridge_track_artists) as bridge_track_artists
"""


@dataclass(frozen=True)
class Catalogue:
    tracks: int
    albums: int
    artists: int
    playlists: int

    @classmethod
    def for_history(cls, plays: int) -> Catalogue:
        tracks = max(min(plays // 15, 80_000), 40)
        return cls(
            tracks=tracks,
            albums=max(tracks // 8, 1),
            artists=max(tracks // 20, 5),
            playlists=10 + tracks // 200,
        )


def create_catalogue(connection: duckdb.DuckDBPyConnection, plays: int) -> Catalogue:
    """The temporary tables the plays are made of; deterministic for a given size."""
    catalogue = Catalogue.for_history(plays)
    connection.execute(
        CREATE_PARAMETERS,
        [plays, catalogue.tracks, catalogue.albums, catalogue.artists, catalogue.playlists],
    )
    for statement in (CREATE_ARTISTS, CREATE_TRACK_NUMBERS, CREATE_ALBUMS, CREATE_TRACKS):
        connection.execute(statement)
    return catalogue


def generate_history(database: Path, plays: int, now: datetime) -> Catalogue:
    """Fill the raw tables of `database` with `plays` plays of the three users."""
    now = now.replace(microsecond=now.microsecond // 1000 * 1000)  # Spotify's milliseconds
    with duckdb.connect(str(database)) as connection:
        catalogue = create_catalogue(connection, plays)
        connection.execute(CREATE_USERS)
        for number, (user_id, display_name, _zone) in enumerate(USERS):
            connection.execute(
                "insert into bench_users values (?, ?, ?, ?, ?)",
                [
                    number,
                    user_id,
                    display_name,
                    (plays - number + len(USERS) - 1) // len(USERS),
                    now - HISTORY_ENDS_BEFORE_NOW - timedelta(minutes=7 * number),
                ],
            )
        connection.execute(CREATE_PLAYS)
        connection.execute(INSERT_PLAYS)
        connection.execute(INSERT_BATCHES)
        connection.execute(INSERT_PROFILES)
        connection.execute("checkpoint")
    return catalogue


def add_new_plays(database: Path, plays: int, count: int) -> None:
    """Land the first user's next `count` plays, after their newest, as one load now."""
    with duckdb.connect(str(database)) as connection:
        create_catalogue(connection, plays)
        parameters = {
            "user_id": USERS[0][0],
            "batch_id": str(uuid.uuid4()),
            "loaded_at": utc_now(),
            "plays": count,
        }
        connection.execute(INSERT_NEW_PLAYS, parameters)
        del parameters["plays"]
        connection.execute(INSERT_NEW_BATCH, parameters)
        connection.execute("checkpoint")


def count_rows(database: Path, query: str) -> dict[str, int]:
    with duckdb.connect(str(database), read_only=True) as connection:
        cursor = connection.execute(query)
        row = cursor.fetchone()
        assert row is not None
        names = [column[0] for column in cursor.description or []]
    return {name: int(value) for name, value in zip(names, row, strict=True)}


# ---- running the transform ----------------------------------------------------------------


@dataclass(frozen=True)
class NodeTiming:
    name: str
    seconds: float


@dataclass(frozen=True)
class RunTiming:
    wall_seconds: float
    dbt_seconds: float
    nodes: tuple[NodeTiming, ...]


@dataclass
class SizeResult:
    plays: int
    catalogue: Catalogue
    generation_seconds: float
    directory: Path
    runs: dict[str, RunTiming] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def cli_path() -> Path:
    """`spotify-elt` of the environment this script runs in (`.venv/bin/spotify-elt`)."""
    name = "spotify-elt.exe" if os.name == "nt" else "spotify-elt"
    path = Path(sysconfig.get_path("scripts")) / name
    if path.exists():
        return path
    found = shutil.which("spotify-elt")
    if found is None:
        raise SystemExit("spotify-elt is not installed in this environment: run `uv sync` first")
    return Path(found)


def transform_environment(database: Path, directory: Path) -> dict[str, str]:
    environment = dict(os.environ)
    environment.update(
        {
            "SPOTIFY_ELT_TARGET": "duckdb",
            "SPOTIFY_ELT_DUCKDB_PATH": str(database),
            "SPOTIFY_ELT_TIMEZONE": "UTC",
            "SPOTIFY_ELT_USER_TIMEZONES": ",".join(f"{user}={zone}" for user, _, zone in USERS),
            # dbt's artefacts and logs stay in the temporary directory, out of dbt_project/.
            "DBT_TARGET_PATH": str(directory / "dbt_target"),
            "DBT_LOG_PATH": str(directory / "dbt_logs"),
            "DBT_USE_COLORS": "false",
        }
    )
    return environment


def read_run_results(path: Path) -> tuple[float, tuple[NodeTiming, ...]]:
    results: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    nodes = tuple(
        sorted(
            (
                NodeTiming(str(result["unique_id"]), float(result["execution_time"]))
                for result in results["results"]
            ),
            key=lambda node: node.seconds,
            reverse=True,
        )
    )
    return float(results["elapsed_time"]), nodes


def run_transform(database: Path, directory: Path, label: str) -> RunTiming:
    """Time one `spotify-elt transform` process; exit with the tail of its output on failure."""
    command = [str(cli_path()), "transform"]
    started = time.perf_counter()
    completed = subprocess.run(
        command,
        env=transform_environment(database, directory),
        # No developer's .env: the environment above is the whole configuration.
        cwd=directory,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    (directory / f"transform_{label}.log").write_text(completed.stdout, encoding="utf-8")
    if completed.returncode != 0:
        tail = "\n".join(completed.stdout.splitlines()[-OUTPUT_TAIL_LINES:])
        raise SystemExit(
            f"`spotify-elt transform` ({label}) failed with exit status {completed.returncode}"
            f" on {database}; the last lines of its output:\n{tail}"
        )
    run_results = directory / "dbt_target" / "run_results.json"
    if not run_results.exists():
        raise SystemExit(f"dbt wrote no {run_results}: was DBT_TARGET_PATH ignored?")
    kept = directory / f"run_results_{label}.json"
    shutil.copyfile(run_results, kept)
    dbt_seconds, nodes = read_run_results(kept)
    return RunTiming(wall, dbt_seconds, nodes)


def check_marts(result: SizeResult, label: str) -> None:
    """Compare the marts with counts from the raw JSON; note any difference."""
    database = result.directory / "warehouse.duckdb"
    expected = count_rows(database, EXPECTED_COUNTS)
    actual = count_rows(database, MART_COUNTS)
    for table, rows in expected.items():
        if actual[table] != rows:
            problem = (
                f"{format_size(result.plays)} plays, {label}: marts.{table} has "
                f"{actual[table]:,} rows, expected {rows:,}"
            )
            result.problems.append(problem)
            print(f"WARNING: {problem}", file=sys.stderr)


def benchmark(plays: int, keep: bool) -> SizeResult:
    directory = Path(tempfile.mkdtemp(prefix=f"spotify-elt-benchmark-{plays}-"))
    database = directory / "warehouse.duckdb"
    progress(f"{plays:,} plays: generating in {database}")
    started = time.perf_counter()
    settings = Settings.model_validate(
        {"SPOTIFY_ELT_TARGET": "duckdb", "SPOTIFY_ELT_DUCKDB_PATH": str(database)}
    )
    with Warehouse(settings) as warehouse:
        warehouse.create_raw_tables()
    catalogue = generate_history(database, plays, utc_now())
    result = SizeResult(plays, catalogue, time.perf_counter() - started, directory)
    progress(f"{plays:,} plays: generated in {result.generation_seconds:.1f} s")
    for label, _ in RUNS:
        if label == "new_plays":
            add_new_plays(database, plays, NEW_PLAYS)
        result.runs[label] = run_transform(database, directory, label)
        progress(f"{plays:,} plays: {label} took {result.runs[label].wall_seconds:.1f} s")
        check_marts(result, label)
    if keep or result.problems:
        progress(f"{plays:,} plays: kept {directory}")
    else:
        shutil.rmtree(directory)
    return result


# ---- the report ---------------------------------------------------------------------------


def format_size(plays: int) -> str:
    """10k, 1M, 2.5M: the short name of a size."""
    for unit, name in ((1_000_000, "M"), (1_000, "k")):
        if plays >= unit:
            return f"{plays / unit:g}{name}"
    return str(plays)


def parse_sizes(text: str) -> list[int]:
    return [parse_size(part) for part in text.split(",") if part.strip()]


def short_node_name(unique_id: str) -> str:
    """model.spotify_elt.fct_plays -> fct_plays; tests keep their kind."""
    kind, _, rest = unique_id.partition(".")
    name = rest.partition(".")[2] or rest
    if kind == "test":  # test.spotify_elt.unique_dim_tracks_track_sk.<hash>
        name = name.partition(".")[0]
    return name if kind == "model" else f"{kind} {name}"


def report(results: Sequence[SizeResult]) -> str:
    header = "| plays | " + " | ".join(title for _, title in RUNS) + " |"
    lines = [header, "| ---: |" + " ---: |" * len(RUNS)]
    for result in results:
        cells = [f"{result.runs[label].wall_seconds:.1f}" for label, _ in RUNS]
        lines.append(f"| {result.plays:,} | " + " | ".join(cells) + " |")
    lines.append("")
    if len(results) > 1:
        smallest, largest = results[0], results[-1]
        for label, title in RUNS[1:]:
            ratio = largest.runs[label].wall_seconds / smallest.runs[label].wall_seconds
            name = title.removeprefix("run ").removesuffix(" (s)").removeprefix("with ")
            lines.append(
                f"- {name}: {format_size(largest.plays)} / {format_size(smallest.plays)}"
                f" = {ratio:.2f}\N{MULTIPLICATION SIGN}"
            )
        lines.append("")
    lines.append(
        "Seconds of wall-clock time of `spotify-elt transform` (`dbt build`: models and tests,"
        " start-up and parsing included), one process per run, on a fresh DuckDB file of"
        " synthetic plays of 3 users."
    )
    lines.append("Machine: " + machine_description(("duckdb", "dbt-core", "dbt-duckdb")) + ".")
    lines.append(
        "Generating the data (not part of the figures): "
        + ", ".join(
            f"{result.plays:,} plays {result.generation_seconds:.1f} s"
            f" ({result.catalogue.tracks:,} tracks, {result.catalogue.albums:,} albums,"
            f" {result.catalogue.artists:,} artists)"
            for result in results
        )
        + "."
    )
    largest = results[-1]
    lines.append("")
    lines.append(f"dbt's own timings at {largest.plays:,} plays (run_results.json), slowest first:")
    lines.append("")
    for label, title in RUNS:
        run = largest.runs[label]
        models = [node for node in run.nodes if node.name.startswith("model.")]
        tests = [node for node in run.nodes if not node.name.startswith("model.")]
        slowest = ", ".join(
            f"{short_node_name(node.name)} {node.seconds:.2f}" for node in models[:5]
        )
        lines.append(
            f"- {title.removesuffix(' (s)')}: dbt {run.dbt_seconds:.1f} s of"
            f" {run.wall_seconds:.1f} s; models {sum(node.seconds for node in models):.1f} s"
            f" ({slowest}); {len(tests)} tests {sum(node.seconds for node in tests):.1f} s"
            f" (slowest: {short_node_name(tests[0].name) if tests else 'none'}"
            f" {tests[0].seconds if tests else 0.0:.2f})"
        )
    lines.extend(problems_section(all_problems(results)))
    return "\n".join(lines)


def all_problems(results: Sequence[SizeResult]) -> list[str]:
    """Marts that did not match the raw data, and a dbt project that changed meanwhile."""
    problems = [problem for result in results for problem in result.problems]
    nodes = {
        f"{format_size(result.plays)} {label}": frozenset(node.name for node in run.nodes)
        for result in results
        for label, run in result.runs.items()
    }
    if len(set(nodes.values())) > 1:
        counts = ", ".join(f"{run}: {len(names)}" for run, names in nodes.items())
        problems.append(f"the dbt project changed during the benchmark (nodes run: {counts})")
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--sizes",
        type=parse_sizes,
        default=list(DEFAULT_SIZES),
        help="comma-separated numbers of plays (10000, 10k, 1M); default: 10000,1000000",
    )
    parser.add_argument("--keep", action="store_true", help="keep each size's temporary directory")
    arguments = parser.parse_args(argv)
    sizes: list[int] = sorted(arguments.sizes)
    if not sizes:
        parser.error("no sizes given")
    results = [benchmark(plays, arguments.keep) for plays in sizes]
    print(report(results))
    return 1 if all_problems(results) else 0


if __name__ == "__main__":
    sys.exit(main())
