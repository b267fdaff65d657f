"""The dbt project: built and tested on DuckDB, PostgreSQL (and SQL Server when configured),
compiled to T-SQL offline, identical across warehouses, incremental equal to a full refresh."""

from __future__ import annotations

import gzip
import importlib.util
import json
import re
import subprocess
import zipfile
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
import sqlglot

import ingestion.warehouse as warehouse_module
from ingestion.config import DBT_PROJECT_DIR, PROJECT_ROOT
from ingestion.warehouse import Batch, Play, Warehouse, engine_url, new_batch_id, utc_now
from spotify_elt.demo import SAMPLE_DIR, SAMPLE_TIMEZONES, load_sample_data, load_sample_exports
from tests.support.cli import base_environment, run_cli, settings_from
from tests.support.databases import PostgresServer, postgres_database, sqlserver_database

SAMPLE_ZONES = ",".join(f"{user}={zone}" for user, zone in SAMPLE_TIMEZONES.items())

# The public names of the marts and the columns each has at least (docs/design.md, "Marts").
MART_COLUMNS = {
    "fct_plays": {
        "play_sk", "user_id", "user_sk", "played_at", "played_at_local", "date_key",
        "content_type", "track_sk", "context_sk", "ms_played", "is_ms_played_estimated",
        "is_counted_stream", "skipped", "shuffle", "reason_start", "reason_end", "platform",
        "source",
    },
    "dim_tracks": {
        "track_sk", "track_id", "track_uri", "track_name", "duration_ms", "explicit", "isrc",
        "is_local", "album_sk",
    },
    "dim_albums": {
        "album_sk", "album_id", "album_name", "album_type", "release_date", "release_year",
        "artist_sk",
    },
    "dim_artists": {"artist_sk", "artist_id", "artist_name"},
    "bridge_track_artists": {"track_sk", "artist_sk", "artist_position"},
    "dim_episodes": {"episode_sk"},
    "dim_contexts": {"context_sk", "context_type", "context_uri"},
    "dim_users": {"user_sk", "user_id", "display_name", "timezone"},
    "dim_dates": {"date_key"},
}  # fmt: skip
# Issue #6: the analytics marts over fct_plays (models/marts/analytics).
ANALYTICS_MARTS = [
    "agg_daily_listening", "agg_daily_track_listening", "agg_daily_artist_listening",
    "agg_hourly_listening", "agg_weekly_discoveries", "agg_on_repeat_tracks",
    "agg_rediscover_tracks", "fct_listening_sessions", "fct_listening_streaks",
    "fct_artist_streaks", "fct_discoveries",
]  # fmt: skip
DIMENSION_KEYS = {
    "dim_tracks": "track_sk",
    "dim_albums": "album_sk",
    "dim_artists": "artist_sk",
    "dim_episodes": "episode_sk",
    "dim_contexts": "context_sk",
    "dim_users": "user_sk",
    "dim_dates": "date_key",
}
FACT_FOREIGN_KEYS = {
    "user_sk": "dim_users",
    "track_sk": "dim_tracks",
    "episode_sk": "dim_episodes",
    "context_sk": "dim_contexts",
    "date_key": "dim_dates",
}


def query(env: dict[str, str], sql: str) -> list[tuple[Any, ...]]:
    engine = sa.create_engine(engine_url(settings_from(env)))
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(sa.text(sql))]
    finally:
        engine.dispose()


def snapshot(env: dict[str, str], *, with_loaded_at: bool) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every mart, sorted; `loaded_at` differs between warehouses loaded apart,
    `transformed_at` between runs."""
    engine = sa.create_engine(engine_url(settings_from(env)))
    tables: dict[str, list[tuple[Any, ...]]] = {}
    try:
        with engine.connect() as connection:
            for table in [*MART_COLUMNS, *ANALYTICS_MARTS]:
                columns = [
                    column["name"]
                    for column in sa.inspect(connection).get_columns(table, schema="marts")
                    if column["name"] != "transformed_at"
                    and (with_loaded_at or column["name"] != "loaded_at")
                ]
                rows = connection.execute(
                    sa.text(f"select {', '.join(columns)} from marts.{table}")
                )
                tables[table] = sorted((tuple(row) for row in rows), key=repr)
    finally:
        engine.dispose()
    return tables


def transform(env: dict[str, str], cwd: Path, *arguments: str) -> None:
    result = run_cli("transform", *arguments, env=env, cwd=cwd, timeout=900)
    assert result.returncode == 0, result.output[-4000:]


def build_sample(env: dict[str, str], cwd: Path, sample_dir: Path = SAMPLE_DIR) -> None:
    settings = settings_from(env)
    with Warehouse(settings) as warehouse:
        load_sample_data(warehouse, sample_dir)
        load_sample_exports(settings, warehouse, sample_dir)
    transform(env, cwd)


def first_half_sample(root: Path) -> Path:
    """The first half of every user's polls, and demo-sam's Extended export only."""
    first_half = root / "first_half"
    (first_half / "exports").mkdir(parents=True)
    for path in SAMPLE_DIR.glob("*.json.gz"):
        recording = json.loads(gzip.decompress(path.read_bytes()))
        recording["responses"] = recording["responses"][: len(recording["responses"]) // 2]
        (first_half / path.name).write_bytes(gzip.compress(json.dumps(recording).encode()))
    extended = SAMPLE_DIR / "exports" / "demo-sam_extended.zip"
    (first_half / "exports" / extended.name).write_bytes(extended.read_bytes())
    return first_half


def sample_plays() -> dict[tuple[str, str], dict[str, Any]]:
    """Every distinct play of the recordings by (user, played_at), read without the loader."""
    plays = {}
    for path in SAMPLE_DIR.glob("*.json.gz"):
        recording = json.loads(gzip.decompress(path.read_bytes()))
        user_id = recording["profile"]["id"]
        for response in recording["responses"]:
            plays.update({(user_id, item["played_at"]): item for item in response["items"]})
    return plays


def sample_items() -> list[dict[str, Any]]:
    return list(sample_plays().values())


@pytest.fixture(scope="module")
def duckdb_built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("duckdb")
    env = {
        "SPOTIFY_ELT_DUCKDB_PATH": str(root / "warehouse.duckdb"),
        "SPOTIFY_ELT_USER_TIMEZONES": SAMPLE_ZONES,
    }
    build_sample(env, root)
    return env


@pytest.fixture(scope="module")
def postgres_built(
    postgres_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    root = tmp_path_factory.mktemp("postgres")
    with postgres_database(postgres_server) as variables:
        env = {**variables, "SPOTIFY_ELT_USER_TIMEZONES": SAMPLE_ZONES}
        # In two runs, so that the comparison with DuckDB (built at once) covers PostgreSQL's
        # incremental path too: its window deletes, merges and dimension updates.
        build_sample(env, root, first_half_sample(root))
        build_sample(env, root)
        yield env


@pytest.fixture(scope="module")
def sqlserver_built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    root = tmp_path_factory.mktemp("sqlserver")
    with sqlserver_database() as variables:
        env = {**variables, "SPOTIFY_ELT_USER_TIMEZONES": SAMPLE_ZONES}
        build_sample(env, root)
        yield env


@pytest.fixture(params=["duckdb", "postgres", "sqlserver"])
def built(request: pytest.FixtureRequest) -> dict[str, str]:
    """The sample data loaded and `spotify-elt transform` run (dbt build passed) on a target."""
    env: dict[str, str] = request.getfixturevalue(f"{request.param}_built")
    return env


def test_dbt_unit_tests_pass(built: dict[str, str], tmp_path: Path) -> None:
    """`spotify-elt transform` leaves dbt's unit tests out (spotify_elt/transform.py): here they
    run on each warehouse, over its built marts (dbt reads their column types)."""
    environment = {
        **base_environment(),
        **settings_from(built).dbt_environment(),
        "DBT_LOG_PATH": str(tmp_path / "logs"),
    }
    result = subprocess.run(
        [str(PROJECT_ROOT / ".venv" / "bin" / "dbt"), "test", "--select", "test_type:unit",
         "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
         "--target-path", str(tmp_path / "target")],
        env=environment, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:]
    unit_tests = sum(  # each model's YAML lists its unit tests after its `models:` entry
        len(re.findall(r"(?m)^  - name: ", yml.partition("\nunit_tests:\n")[2]))
        for path in (DBT_PROJECT_DIR / "models").rglob("*.yml")
        for yml in [path.read_text(encoding="utf-8")]
    )
    assert unit_tests >= 18
    # Counted from dbt's results, not its summary line: the on-run-start hook is a node too.
    results = json.loads((tmp_path / "target" / "run_results.json").read_text(encoding="utf-8"))
    passed = [
        r for r in results["results"]
        if r["unique_id"].startswith("unit_test.") and r["status"] == "pass"
    ]  # fmt: skip
    assert len(passed) == unit_tests, result.stdout[-2000:]


def test_marts_have_the_design_names_and_columns(built: dict[str, str]) -> None:
    engine = sa.create_engine(engine_url(settings_from(built)))
    try:
        inspector = sa.inspect(engine)
        assert set(MART_COLUMNS) <= set(inspector.get_table_names(schema="marts"))
        for table, columns in MART_COLUMNS.items():
            present = {column["name"] for column in inspector.get_columns(table, schema="marts")}
            assert columns <= present, f"marts.{table} lacks {sorted(columns - present)}"
    finally:
        engine.dispose()


def test_every_dimension_has_one_unknown_member(built: dict[str, str]) -> None:
    for table, key in DIMENSION_KEYS.items():
        unknown = "-1" if table == "dim_dates" else "'-1'"
        [(count,)] = query(built, f"select count(*) from marts.{table} where {key} = {unknown}")
        assert count == 1, table


def test_every_play_is_one_fact_and_finds_its_dimension_rows(built: dict[str, str]) -> None:
    [(raw,)] = query(built, "select count(*) from raw.spotify_recently_played")
    [(facts, keys)] = query(
        built,
        "select count(*), count(distinct play_sk) from marts.fct_plays where source <> 'export'",
    )
    assert raw == facts == keys == len(sample_plays()) > 3000
    for column, dimension in FACT_FOREIGN_KEYS.items():
        [(orphans,)] = query(
            built,
            f"select count(*) from marts.fct_plays as f left join marts.{dimension} as d "
            f"on f.{column} = d.{column} where d.{column} is null",
        )
        assert orphans == 0, column
    [(unknown,)] = query(
        built,
        "select count(*) from marts.fct_plays where "
        "(content_type = 'track' and (track_sk = '-1' or episode_sk <> '-1')) "
        "or (content_type <> 'track' and (episode_sk = '-1' or track_sk <> '-1'))",
    )
    assert unknown == 0  # every play names its track, or its episode or chapter, never both


def test_analytics_marts_match_a_reckoning_from_the_plays(built: dict[str, str]) -> None:
    """Sessions, streaks, discoveries and daily totals worked out in Python from fct_plays."""
    plays = query(
        built,
        "select user_id, play_sk, played_at, played_at_local, ms_played, is_counted_stream, "
        "content_type, track_sk from marts.fct_plays",
    )
    plays.sort(key=lambda play: (play[0], play[2], play[1]))
    gap = timedelta(minutes=30)

    sessions: list[tuple[str, datetime, datetime, int]] = []
    previous: tuple[Any, ...] | None = None
    for user, _, played_at, _, ms_played, *_ in plays:
        start = played_at - timedelta(milliseconds=ms_played)
        if previous is None or previous[0] != user or start - previous[2] > gap:
            sessions.append((user, start, played_at, 1))
        else:
            first = sessions[-1]
            sessions[-1] = (user, min(first[1], start), played_at, first[3] + 1)
        previous = (user, start, played_at)
    stored_sessions = query(
        built,
        "select user_id, started_at, ended_at, plays from marts.fct_listening_sessions",
    )
    assert sorted(stored_sessions) == sorted(sessions)
    assert len(sessions) > 300

    days: dict[str, set[date]] = {}
    for user, _, _, local, _, counted, *_ in plays:
        if counted:
            days.setdefault(user, set()).add(local.date())
    streaks = []
    for user, listened in days.items():
        for day in sorted(listened):
            if day - timedelta(days=1) not in listened:
                end = day
                while end + timedelta(days=1) in listened:
                    end += timedelta(days=1)
                streaks.append((user, day, end, (end - day).days + 1))
    stored_streaks = query(
        built,
        "select user_id, started_on_date, ended_on_date, days from marts.fct_listening_streaks",
    )
    assert sorted(stored_streaks) == sorted(streaks)
    assert max(streak[3] for streak in streaks) >= 7

    first_streams: dict[tuple[str, str], str] = {}
    for user, play_sk, _, _, _, counted, content_type, track_sk in plays:
        if counted and content_type == "track":
            first_streams.setdefault((user, track_sk), play_sk)
    stored_discoveries = query(
        built,
        "select user_id, track_sk, play_sk from marts.fct_discoveries "
        "where discovery_type = 'track'",
    )
    assert {(user, track): play for user, track, play in stored_discoveries} == first_streams

    daily: Counter[tuple[str, date]] = Counter()
    for user, _, _, local, ms_played, *_ in plays:
        daily[(user, local.date())] += ms_played
    stored_daily = query(
        built, "select user_id, listening_date, ms_played from marts.agg_daily_listening"
    )
    assert {(user, day): ms for user, day, ms in stored_daily} == daily


def sample_exports() -> dict[str, dict[str, list[dict[str, Any]]]]:
    """user -> kind (extended, music, podcast) -> records, read from the sample zips."""
    exports: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for path in sorted((SAMPLE_DIR / "exports").glob("*.zip")):
        user = exports.setdefault(path.name.partition("_")[0], {})
        with zipfile.ZipFile(path) as archive:
            for name in archive.namelist():
                base = name.rpartition("/")[2]
                kind = (
                    "extended" if base.startswith("Streaming_History_Audio")
                    else "music" if base.startswith("StreamingHistory_music")
                    else "podcast" if base.startswith("StreamingHistory_podcast")
                    else None
                )  # fmt: skip
                if kind:
                    user.setdefault(kind, []).extend(json.loads(archive.read(name)))
    return exports


def parse_utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).replace(tzinfo=None)


def expected_merge() -> tuple[dict[tuple[str, datetime], int], int, Counter[str]]:
    """The merge worked out in Python, independently of the SQL: API plays that an export record
    ends within 10 s of (plus the record's precision) -> that record's ms_played; how many
    export plays stay on their own; and the content types of all export plays."""
    api: dict[tuple[str, str], list[datetime]] = {}
    for (user_id, played_text), item in sample_plays().items():
        track = item["track"]
        for key in (track["uri"], f"name:{track['artists'][0]['name']}:{track['name']}"):
            api.setdefault((user_id, key), []).append(parse_utc(played_text))
    records: list[tuple[str, str, datetime, int, int]] = []  # user, key, end, precision, ms
    content: Counter[str] = Counter()
    for user_id, kinds in sample_exports().items():
        extended = [r for r in kinds.get("extended", []) if r["ts"]]
        ends = [parse_utc(r["ts"]) for r in extended]
        for record, end in zip(extended, ends, strict=True):
            if record["spotify_episode_uri"]:
                content["episode"] += 1
            elif record["audiobook_chapter_uri"]:
                content["audiobook"] += 1
            elif record["master_metadata_track_name"]:
                content["track"] += 1
                artist = record["master_metadata_album_artist_name"]
                name = f"name:{artist}:{record['master_metadata_track_name']}"
                key = record["spotify_track_uri"] or name
                records.append((user_id, key, end, 1, record["ms_played"]))
        for record in kinds.get("music", []):
            end = datetime.strptime(record["endTime"], "%Y-%m-%d %H:%M")
            if ends and min(ends) - timedelta(minutes=1) <= end <= max(ends):
                continue  # Extended history is the record there
            content["track"] += 1
            name = f"name:{record['artistName']}:{record['trackName']}"
            records.append((user_id, name, end, 60, record["msPlayed"]))
        content["episode"] += len(kinds.get("podcast", []))
    candidates = []
    for user_id, key, end, precision, ms_played in records:
        for played_at in api.get((user_id, key), []):
            offset = (played_at - end).total_seconds()
            if -10 <= offset < precision + 10:
                candidates.append((abs(offset - precision / 2), user_id, played_at, end, ms_played))
    merged: dict[tuple[str, datetime], int] = {}
    taken: set[tuple[str, datetime, int]] = set()
    for _, user_id, played_at, end, ms_played in sorted(candidates):  # nearest pairs first
        if (user_id, played_at) not in merged and (user_id, end, ms_played) not in taken:
            merged[(user_id, played_at)] = ms_played
            taken.add((user_id, end, ms_played))
    spoken = content["episode"] + content["audiobook"]  # the API lists neither
    return merged, len(records) - len(merged) + spoken, content


def test_export_records_and_api_plays_are_each_one_fact(built: dict[str, str]) -> None:
    """Issue #4: after API polls and an overlapping export every play is in fct_plays once;
    merged rows carry the export's ms_played; episodes, audiobooks and local files are there."""
    merged, export_only, content = expected_merge()
    rows = query(
        built,
        "select user_id, played_at, source, ms_played, is_ms_played_estimated, content_type, "
        "export_record_key from marts.fct_plays",
    )
    stored_merged = {(r[0], r[1]): r[3] for r in rows if r[2] == "api+export"}
    assert stored_merged == merged
    assert len(merged) > 1500
    assert all(not r[4] for r in rows if r[2] != "api") and all(r[4] for r in rows if r[2] == "api")
    assert sum(r[2] == "export" for r in rows) == export_only > 300
    assert Counter(r[5] for r in rows if r[2] != "api") == content
    assert content["episode"] > 30 and content["audiobook"] > 5
    keys = [(r[0], r[6]) for r in rows if r[6] is not None]
    assert len(keys) == len(set(keys))  # no export record is two plays
    # demo-sam's poller lost 16 plays one night: his export brings them back.
    [(recovered,)] = query(
        built,
        "select count(*) from marts.fct_plays where user_id = 'demo-sam' and source = 'export' "
        "and ms_played >= 30000 "
        "and played_at between '2026-10-16 22:20:00' and '2026-10-17 00:58:30'",
    )
    assert recovered == 16
    assert query(built, "select user_id, status, plays_recovered from marts.dq_polling_gaps") == [
        ("demo-sam", "filled", 16)
    ]
    # Local files have no URI in the export: matched to the API's local tracks by name.
    [(local_merged,)] = query(
        built,
        "select count(*) from marts.fct_plays f join marts.dim_tracks t on f.track_sk = t.track_sk "
        "where t.is_local = "
        + ("1" if built.get("SPOTIFY_ELT_TARGET") == "sqlserver" else "true")
        + " and f.source = 'api+export'",
    )
    assert local_merged > 0


def test_local_times_follow_each_listeners_zone_across_dst(built: dict[str, str]) -> None:
    rows = query(built, "select user_id, played_at, played_at_local, date_key from marts.fct_plays")
    in_repeated_hour = 0
    for user_id, played_at, local, date_key in rows:
        # Python's zoneinfo is the oracle: independent of every warehouse's time zone code.
        zone = ZoneInfo(SAMPLE_TIMEZONES[user_id])
        expected = played_at.replace(tzinfo=UTC).astimezone(zone).replace(tzinfo=None)
        assert local == expected, (user_id, played_at)
        assert date_key == int(expected.strftime("%Y%m%d"))
        first, second = (expected.replace(tzinfo=zone, fold=fold) for fold in (0, 1))
        in_repeated_hour += first.utcoffset() != second.utcoffset()
    # The sample has plays in the hour Madrid and New York each live twice.
    assert in_repeated_hour >= 10


def test_names_are_kept_verbatim(built: dict[str, str]) -> None:
    tracks = {i["track"]["uri"]: i["track"]["name"] for i in sample_items()}
    artists = {artist["name"] for item in sample_items() for artist in item["track"]["artists"]} | {
        item["track"]["album"]["artists"][0]["name"]
        for item in sample_items()
        if item["track"]["album"]["artists"]
    }
    stored_tracks = dict(
        query(built, "select track_uri, track_name from marts.dim_tracks where known_from = 'api'")
    )
    assert stored_tracks == tracks
    assert max(len(name) for name in stored_tracks.values()) == 400
    stored_artists = {
        name
        for (name,) in query(
            built, "select artist_name from marts.dim_artists where known_from = 'api'"
        )
    }
    assert stored_artists == artists


def test_bridge_keeps_every_artist_in_spotify_order(built: dict[str, str]) -> None:
    expected = {
        item["track"]["uri"]: [artist["name"] for artist in item["track"]["artists"]]
        for item in sample_items()
    }
    rows = query(
        built,
        "select t.track_uri, b.artist_position, a.artist_name from marts.bridge_track_artists b "
        "join marts.dim_tracks t on t.track_sk = b.track_sk "
        "join marts.dim_artists a on a.artist_sk = b.artist_sk where b.known_from = 'api'",
    )
    stored: dict[str, list[str]] = {}
    for uri, _, name in sorted(rows, key=lambda row: (row[0], row[1])):
        stored.setdefault(uri, []).append(name)
    assert stored == expected
    assert max(len(names) for names in stored.values()) >= 3


@pytest.mark.parametrize("other", ["postgres", "sqlserver"])
def test_marts_are_identical_on_every_warehouse(
    other: str, duckdb_built: dict[str, str], request: pytest.FixtureRequest
) -> None:
    """Same keys, same local times, same names: a warehouse is a deployment choice only."""
    other_env: dict[str, str] = request.getfixturevalue(f"{other}_built")
    reference = snapshot(duckdb_built, with_loaded_at=False)
    compared = snapshot(other_env, with_loaded_at=False)
    assert set(compared) == set(reference) == {*MART_COLUMNS, *ANALYTICS_MARTS}
    for table, rows in reference.items():
        assert compared[table] == rows, table


def test_incremental_runs_give_what_a_full_refresh_gives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {
        "SPOTIFY_ELT_DUCKDB_PATH": str(tmp_path / "warehouse.duckdb"),
        "SPOTIFY_ELT_USER_TIMEZONES": SAMPLE_ZONES,
    }
    # The first half of every user's polls and demo-sam's Extended export, built; then the
    # rest of the polls and the Account data, built incrementally. Export-only rows become
    # merged ones as their API plays arrive, and the reverse.
    build_sample(env, tmp_path, first_half_sample(tmp_path))
    count = "select count(*) from marts.fct_plays where source <> 'export'"
    [(halfway,)] = query(env, count)
    build_sample(env, tmp_path)
    [(after_sample,)] = query(env, count)
    assert 0 < halfway < after_sample == len(sample_plays())
    [(all_facts,)] = query(env, "select count(*) from marts.fct_plays")

    # The next loads are an hour and two hours later: the incremental look-back no longer
    # reaches the sample's loads, so the runs below redo only what those loads change.
    started = utc_now()
    monkeypatch.setattr(warehouse_module, "utc_now", lambda: started + timedelta(hours=1))

    # A play that arrives late: older than everything, its track renamed and credits reversed
    # since. The dimensions must keep what the newer plays say, as a full rebuild would.
    (user_id, _), item = next(iter(sample_plays().items()))
    late = json.loads(json.dumps(item))
    late["track"]["name"] = "OLDER NAME"
    late["track"]["artists"].reverse()
    late["played_at"] = "2026-09-01T10:00:00.000Z"
    with Warehouse(settings_from(env)) as warehouse:
        warehouse.land_plays(
            Batch(new_batch_id(), "api", user_id, "succeeded", utc_now()),
            [Play(user_id, datetime(2026, 9, 1, 10), json.dumps(late))],
        )
    transform(env, tmp_path)
    [(name,)] = query(
        env, f"select track_name from marts.dim_tracks where track_uri = '{item['track']['uri']}'"
    )
    assert name == item["track"]["name"]

    # Spotify credits one more artist on a track heard on many days: a poll two hours later
    # plays it as before, one three hours later with the new credit. Every day it was played is
    # redone in the artist marts (analytics_track_attribution), as a full rebuild would credit
    # the new artist on each. (Each run also redoes the loads of the previous one, within the
    # look-back: two polls keep the sample's loads out of this one.)
    days_by_track: dict[str, set[str]] = {}
    for (listener, played_at), play in sample_plays().items():
        if listener == user_id:
            days_by_track.setdefault(play["track"]["uri"], set()).add(played_at[:10])
    uri = max(days_by_track, key=lambda track: (len(days_by_track[track]), track))
    assert len(days_by_track[uri]) > 3
    track_play = next(
        play for (_, _), play in sample_plays().items() if play["track"]["uri"] == uri
    )
    featured = dict(track_play["track"]["artists"][0])
    featured.update(
        id="0featuredartist000000a", name="Featured", uri="spotify:artist:0featuredartist000000a"
    )
    for hours, day, artists in [
        (2, 19, track_play["track"]["artists"]),
        (3, 20, [*track_play["track"]["artists"], featured]),
    ]:
        newer = json.loads(json.dumps(track_play))
        newer["track"]["artists"] = artists
        newer["played_at"] = f"2026-11-{day}T12:00:00.000Z"
        monkeypatch.setattr(
            warehouse_module, "utc_now", lambda hours=hours: started + timedelta(hours=hours)
        )
        with Warehouse(settings_from(env)) as warehouse:
            warehouse.land_plays(
                Batch(new_batch_id(), "api", user_id, "succeeded", utc_now()),
                [Play(user_id, datetime(2026, 11, day, 12), json.dumps(newer))],
            )
        transform(env, tmp_path)
    [(rewritten,)] = query(
        env,
        "select count(*) from marts.fct_plays "
        "where transformed_at = (select max(transformed_at) from marts.fct_plays)",
    )
    assert rewritten < all_facts / 10
    [(featured_days,)] = query(
        env,
        "select count(*) from marts.agg_daily_artist_listening as days "
        "join marts.dim_artists as artists on days.artist_sk = artists.artist_sk "
        "where artists.artist_name = 'Featured'",
    )
    assert featured_days > 3

    # Kenji moves to UTC: an incremental run redoes his plays (and only needs the new zone).
    env["SPOTIFY_ELT_USER_TIMEZONES"] = SAMPLE_ZONES.replace("Asia/Tokyo", "UTC")
    transform(env, tmp_path)
    incremental = snapshot(env, with_loaded_at=True)
    assert len(incremental["fct_plays"]) == all_facts + 3
    assert query(
        env,
        "select count(*) from marts.fct_plays where user_id = 'demo-kenji' "
        "and (played_at_local <> played_at or timezone <> 'UTC')",
    ) == [(0,)]

    transform(env, tmp_path, "--full-refresh")
    refreshed = snapshot(env, with_loaded_at=True)
    for table in MART_COLUMNS:
        assert set(refreshed[table]) ^ set(incremental[table]) == set(), table
    assert refreshed == incremental


def test_a_listener_known_only_from_an_export_has_plays(tmp_path: Path) -> None:
    """An export imported for someone never polled: every play with content is a fact."""
    env = {"SPOTIFY_ELT_DUCKDB_PATH": str(tmp_path / "warehouse.duckdb")}
    path = SAMPLE_DIR / "exports" / "demo-ana_account.zip"
    imported = run_cli("import", "--user", "only-exported", str(path), env=env, cwd=tmp_path)
    assert imported.returncode == 0, imported.output
    transform(env, tmp_path)
    kinds = sample_exports()["demo-ana"]
    assert query(
        env,
        "select user_id, source, content_type, count(*) from marts.fct_plays "
        "group by user_id, source, content_type order by content_type",
    ) == [
        ("only-exported", "export", "episode", len(kinds["podcast"])),
        ("only-exported", "export", "track", len(kinds["music"])),
    ]
    assert query(env, "select count(*) from marts.dim_users where user_id = 'only-exported'") == [
        (1,)
    ]


def test_transform_on_an_empty_warehouse_gives_empty_marts(tmp_path: Path) -> None:
    env = {"SPOTIFY_ELT_DUCKDB_PATH": str(tmp_path / "warehouse.duckdb")}
    transform(env, tmp_path)
    assert query(env, "select count(*) from marts.fct_plays") == [(0,)]
    for table, key in DIMENSION_KEYS.items():
        if table != "dim_dates":
            assert query(env, f"select {key} from marts.{table}") == [("-1",)], table


def test_a_run_drops_what_an_earlier_version_built_and_this_one_does_not(tmp_path: Path) -> None:
    """An upgraded warehouse keeps no stale relation: the building blocks that were intermediate
    models named int_* (a view reading the marts, and an incremental table) go at the next run."""
    env = {"SPOTIFY_ELT_DUCKDB_PATH": str(tmp_path / "warehouse.duckdb")}
    transform(env, tmp_path)
    retired = ["int_plays_dated", "int_artist_plays_credited", "int_track_attribution"]
    engine = sa.create_engine(engine_url(settings_from(env)))
    try:
        with engine.begin() as connection:
            for name in retired[:2]:
                connection.execute(
                    sa.text(f"create view intermediate.{name} as select * from marts.fct_plays")
                )
            connection.execute(sa.text(f"create table intermediate.{retired[2]} (x varchar)"))
    finally:
        engine.dispose()
    listed = "select table_name from information_schema.tables where table_schema = 'intermediate'"
    assert set(retired) <= {name for (name,) in query(env, listed)}
    transform(env, tmp_path)
    left = {name for (name,) in query(env, listed)}
    assert not set(retired) & left
    assert {f"analytics_{name.removeprefix('int_')}" for name in retired} <= left


def single_argument_concats(sql: str) -> list[str]:
    """Every `concat(...)` with one argument: sqlglot quietly rewrites it to the argument."""
    found = []
    for match in re.finditer(r"\bconcat\(", sql, flags=re.IGNORECASE):
        depth, quoted, commas = 1, False, 0
        for position in range(match.end(), len(sql)):
            char = sql[position]
            if char == "'":
                quoted = not quoted
            elif not quoted and char == "(":
                depth += 1
            elif not quoted and char == ")":
                depth -= 1
                if depth == 0:
                    break
            elif not quoted and char == "," and depth == 1:
                commas += 1
        if commas == 0:
            found.append(sql[match.start() : position + 1])
    return found


def test_every_model_compiles_for_sqlserver_and_parses_as_tsql(tmp_path: Path) -> None:
    target = tmp_path / "target"
    environment = {
        **base_environment(),
        "SPOTIFY_ELT_USER_TIMEZONES": SAMPLE_ZONES,
        "DBT_LOG_PATH": str(tmp_path / "logs"),
    }
    compiled = subprocess.run(
        [str(PROJECT_ROOT / ".venv" / "bin" / "dbt"), "compile", "--target", "sqlserver",
         "--no-populate-cache", "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir",
         str(DBT_PROJECT_DIR), "--target-path", str(target),
         "--vars", "{offline_incremental_compile: true}"],
        env=environment, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert compiled.returncode == 0, compiled.stdout[-4000:]
    models = sorted((DBT_PROJECT_DIR / "models").rglob("*.sql"))
    outputs = {path.stem: path for path in (target / "compiled").rglob("models/**/*.sql")}
    assert {model.stem for model in models} <= set(outputs)
    for model in models:
        sql = outputs[model.stem].read_text(encoding="utf-8")
        parsed = sqlglot.parse(sql, read="tsql", error_level=sqlglot.ErrorLevel.RAISE)
        assert parsed and all(parsed), model.stem
        # sqlglot reads some things SQL Server refuses; look for those directly.
        for statement in parsed:
            assert statement is not None
            assert not list(statement.find_all(sqlglot.exp.Boolean)), f"{model.stem}: true/false"
            assert not list(statement.find_all(sqlglot.exp.Limit)), f"{model.stem}: limit"
        assert not single_argument_concats(sql), f"{model.stem}: CONCAT needs 2+ arguments"
    fact = outputs["fct_plays"].read_text(encoding="utf-8")
    assert "at time zone 'Romance Standard Time'" not in fact  # a CASE maps names, per user
    assert "when 'Europe/Madrid' then 'Romance Standard Time'" in fact
    assert "openjson(" in outputs["int_track_artists_unnested"].read_text(encoding="utf-8")
    assert "json_value(item, '$.track.name')" in outputs["stg_spotify__recently_played"].read_text(
        encoding="utf-8"
    )


def test_docs_site_describes_every_mart_and_column(
    duckdb_built: dict[str, str], tmp_path: Path
) -> None:
    result = run_cli("docs", env=duckdb_built, cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.output[-4000:]
    site = DBT_PROJECT_DIR / "target" / "static_index.html"
    assert f"Docs written to {site}" in result.stdout.replace("\n", "")
    assert site.stat().st_size > 100_000
    manifest = json.loads((DBT_PROJECT_DIR / "target" / "manifest.json").read_text())
    catalog = json.loads((DBT_PROJECT_DIR / "target" / "catalog.json").read_text())
    models = {
        node["name"]: node
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model"
    }
    assert set(MART_COLUMNS) <= set(models)
    for name, node in models.items():
        assert node["description"].strip(), f"{name} has no description"
        if name.startswith("int_"):
            continue  # building blocks: described, but nobody queries their columns
        actual = catalog["nodes"][node["unique_id"]]["columns"]
        undocumented = [
            column
            for column in actual
            if not node["columns"].get(column, {}).get("description", "").strip()
        ]
        assert not undocumented, f"{name}: {undocumented}"
    assert any(e["name"] == "listening_dashboard" for e in manifest["exposures"].values())


def test_windows_time_zone_table_is_the_generated_one() -> None:
    spec = importlib.util.spec_from_file_location(
        "generate_windows_time_zones", PROJECT_ROOT / "scripts" / "generate_windows_time_zones.py"
    )
    assert spec and spec.loader
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    assert generator.TARGET.read_text(encoding="utf-8") == generator.render()
    assert "'Europe/Madrid': 'Romance Standard Time'" in generator.render()


def test_an_unknown_time_zone_is_one_line_before_dbt_runs(tmp_path: Path) -> None:
    env = {
        "SPOTIFY_ELT_DUCKDB_PATH": str(tmp_path / "warehouse.duckdb"),
        "SPOTIFY_ELT_USER_TIMEZONES": "demo-ana=Europe/Madird",
    }
    result = run_cli("transform", env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: invalid SPOTIFY_ELT_USER_TIMEZONES: unknown time zone 'Europe/Madird' "
        "(use an IANA name such as Europe/Madrid)"
    ]
    assert not (tmp_path / "warehouse.duckdb").exists()


def test_schema_picture_is_drawn_from_the_models(
    draw_schema: ModuleType, manifest: dict[str, Any]
) -> None:
    """docs/images/star_schema.dot is what scripts/draw_schema.py makes of a fresh parse."""
    generated = draw_schema.render_dot(manifest)
    assert draw_schema.DOT_PATH.read_text(encoding="utf-8") == generated, (
        "the schema picture is stale: run .venv/bin/python scripts/draw_schema.py"
    )
    tables = draw_schema.core_tables(manifest)  # no analytics or data-quality mart
    assert set(tables) == set(MART_COLUMNS)
    edges = {
        (key.table, key.column, key.to_table) for key in draw_schema.foreign_keys(manifest, tables)
    }
    assert {("fct_plays", column, table) for column, table in FACT_FOREIGN_KEYS.items()} | {
        ("dim_tracks", "album_sk", "dim_albums"),
        ("dim_albums", "artist_sk", "dim_artists"),
        ("bridge_track_artists", "track_sk", "dim_tracks"),
        ("bridge_track_artists", "artist_sk", "dim_artists"),
    } == edges
