"""Privacy exports shaped as Spotify really writes them (tests/support/export_eras.py), every era,
imported and transformed on DuckDB and PostgreSQL: every distinct record lands once, whatever
the order and mix of exports; every play is one fact with its end time, duration, content type
and video flag; the data tests hold; nothing private is stored."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from ingestion.warehouse import Batch, Warehouse, engine_url, new_batch_id, utc_now
from ingestion.warehouse import Play as ApiPlay
from tests.integration.test_dbt_project import query, snapshot, transform
from tests.support.cli import run_cli, settings_from
from tests.support.databases import PostgresServer, postgres_database
from tests.support.export_eras import (
    PRIVATE_FIELDS,
    PRIVATE_VALUES,
    SHOWS,
    TRACKS,
    UNKNOWN_SHOW,
    Play,
    account_files,
    era_plays,
    extended_files,
    listening_history,
    member_records,
    utc,
    write_export,
)
from tests.support.web_api import play_item

OLD = listening_history(utc(2021, 3, 1), 8, seed=1)
MID = listening_history(utc(2023, 2, 1), 6, seed=2)
NEW = listening_history(utc(2024, 5, 1), 8, seed=3)
# Episodes of a show that only the old Account data names: nothing says they are not music.
UNKNOWN_SHOW_PLAYS = [
    Play(utc(2021, 3, 2) + timedelta(hours=12, minutes=20 * n), 900_000 + n, "episode", -1)
    for n in range(2)
]

EXPORTS: dict[str, dict[str, str]] = {
    "endsong": extended_files(OLD, "endsong"),
    "transition": extended_files(MID, "transition"),
    # The same listener's export asked for twice: the older one ends halfway through NEW.
    "current_older": extended_files(OLD + NEW[: len(NEW) // 2], "current"),
    "current": extended_files(OLD + NEW, "current"),
    "current_recent": extended_files(NEW, "current"),
    "account": account_files(NEW, old=False),
    "account_old": account_files(OLD + UNKNOWN_SHOW_PLAYS, old=True),
    # Video history alone: Account data of the same period is not covered by it.
    "video_only": {
        name: text
        for name, text in extended_files(NEW, "current").items()
        if "Streaming_History_Video_" in name
    },
    # A 2023 export and a current one of the same period unzipped into one folder: their video
    # files have the same name, the current one's is left.
    "one_folder": extended_files(OLD, "transition") | extended_files(OLD, "current"),
}
# Zips are named after their export, but this one: a name with "endvideo" in it.
ZIP_NAMES = {"account": "my_weekendvideos.zip"}
# Each listener's imports, in order; an import of several exports passes them at once.
LISTENERS: dict[str, list[list[str]]] = {
    "endsong-listener": [["endsong"]],
    "transition-listener": [["transition"]],
    "current-listener": [["current_older"], ["current"]],
    "two-eras": [["endsong"], ["current"]],
    "two-eras-reversed": [["current"], ["endsong"]],
    "two-eras-at-once": [["endsong", "current"]],
    "account-listener": [["account"]],
    "account-old-listener": [["account_old"], ["current_recent"]],
    "video-and-account-listener": [["video_only"], ["account"]],
    "one-folder-listener": [["one_folder"]],
}
# The plays each Extended-only listener's warehouse must hold, whatever its exports wrote.
TRUE_PLAYS = {
    "endsong-listener": era_plays(OLD, "endsong"),
    "transition-listener": era_plays(MID, "transition"),
    "two-eras": OLD + NEW,
    "two-eras-reversed": OLD + NEW,
    "two-eras-at-once": OLD + NEW,
    "one-folder-listener": OLD,
    # A current export has no offline_timestamp for plays before 2023: two offline plays of a
    # track synced in one second are then identical in every field, one record. Its plays are
    # all of those but the second of each such pair.
    "current-listener": [
        play
        for number, play in enumerate(OLD + NEW)
        if not (
            play.offline_at
            and play.ended.year < 2023
            and number > 0
            and (OLD + NEW)[number - 1].offline_at
            and (OLD + NEW)[number - 1].ended == play.ended
        )
    ],
}
MERGE_TOLERANCE = timedelta(seconds=10)


# ---- what the files hold, worked out without the import's code ---------------------------


def is_account(member: str) -> bool:
    return member.rpartition("/")[2].startswith("StreamingHistory")


def is_video(member: str) -> bool:
    return member.rpartition("/")[2].startswith(("endvideo", "Streaming_History_Video"))


def identity(member: str, record: dict[str, Any]) -> tuple[Any, ...]:
    """A play's identity: its kind of file, end time, duration and what was played (the URI;
    the names where there is none)."""
    if is_account(member):
        names = [record.get(f) or "" for f in ("artistName", "trackName", "podcastName",
                                               "episodeName")]  # fmt: skip
        names += [record.get(f) for f in ("audiobookName", "chapterName", "authorName")]
        return ("account", record["endTime"], record["msPlayed"], *names)
    uris = [record.get(f) for f in ("spotify_track_uri", "spotify_episode_uri",
                                     "audiobook_chapter_uri")]  # fmt: skip
    uri = next((value for value in uris if value is not None), None)
    names = [record.get(f) or "" for f in (
        "master_metadata_album_artist_name", "master_metadata_album_album_name",
        "master_metadata_track_name", "episode_show_name", "episode_name",
    )]  # fmt: skip
    kind = "video" if is_video(member) else "extended"
    return (kind, record["ts"], record["ms_played"], *([uri] if uri else names))


def stored_form(record: dict[str, Any]) -> str:
    return json.dumps({k: v for k, v in record.items() if k not in PRIVATE_FIELDS}, sort_keys=True)


def expected_records(listener: str) -> tuple[int, int]:
    """(records, identical): how many records the listener's warehouse holds, and how many
    more its exports wrote identical to one of them (within one export).

    Within an export, a record identical to another in everything stored is the same record;
    records of one identity that differ are different plays. Across exports, each identity has
    as many records as the export with most of them (each wrote the same plays, in its era's
    fields). An export is a zip's files in one folder and named alike (numbers aside): two
    exports unzipped into one folder name their files differently."""
    most: Counter[tuple[Any, ...]] = Counter()
    identical = 0
    for export in (name for batch in LISTENERS[listener] for name in batch):
        distinct: dict[tuple[Any, ...], Counter[str]] = {}
        for member, records in member_records(EXPORTS[export]).items():
            named_alike = re.sub(r"[0-9]+", "#", member)
            for record in records:
                stored = distinct.setdefault((named_alike, identity(member, record)), Counter())
                stored[stored_form(record)] += 1
        for (_, key), forms in distinct.items():
            most[key] = max(most[key], len(forms))
            identical += sum(count - 1 for count in forms.values())
    return sum(most.values()), identical


def content_type(source_file: str, record: dict[str, Any]) -> str | None:
    """What a stored record played, from its fields alone (None: not a play)."""

    def has(*fields: str) -> bool:
        return any(record.get(f) is not None for f in fields)

    if has("spotify_episode_uri", "episode_show_name", "podcastName"):
        return "episode"
    if has("audiobook_chapter_uri", "audiobook_uri", "audiobook_title", "audiobookName"):
        return "audiobook"
    if has("spotify_track_uri", "master_metadata_track_name", "trackName"):
        # Old Account data: a show and an episode known from other records are an episode.
        if is_account(source_file) and (record.get("artistName"), record["trackName"]) in SHOWS:
            return "episode"
        return "track"
    return None


# ---- the warehouses ---------------------------------------------------------------------


def api_plays_of_current_listener() -> list[ApiPlay]:
    """Polls of the last two days of NEW: every track the API lists (over 30 s, not offline),
    ending 0.4 s after the export's time, as the two clocks differ."""
    since = NEW[-1].ended - timedelta(days=2)
    plays = []
    for play in NEW:
        if (
            play.kind != "track"
            or play.ms_played <= 30_000
            or play.offline_at
            or play.ended < since
        ):
            continue
        title, artist, album = TRACKS[play.item]
        played_at = (play.ended + timedelta(milliseconds=400)).replace(tzinfo=None)
        item = play_item(
            str(play.uri).rpartition(":")[2], played_at, name=title,
            artists=[(f"artist{play.item:02d}", artist)], album=(f"album{play.item:02d}", album),
            duration_ms=play.ms_played + 3_000,
        )  # fmt: skip
        plays.append(ApiPlay("current-listener", played_at, json.dumps(item, ensure_ascii=False)))
    return plays


def build(env: dict[str, str], root: Path, *, in_two_runs: bool) -> dict[str, list[str]]:
    """Every listener's imports, each run twice (the second must add nothing), API polls for
    one of them, and `spotify-elt transform`: once at the end, or `in_two_runs`, also after
    every listener's first import (the second run is then incremental). Returns what each
    first import printed."""
    zips = {
        name: write_export(root / ZIP_NAMES.get(name, f"{name}.zip"), members)
        for name, members in EXPORTS.items()
    }
    printed: dict[str, list[str]] = {}
    for turn in range(max(len(imports) for imports in LISTENERS.values())):
        for listener, imports in LISTENERS.items():
            if turn >= len(imports):
                continue
            paths = [str(zips[name]) for name in imports[turn]]
            first = run_cli("import", "--user", listener, *paths, env=env, cwd=root)
            assert first.returncode == 0, first.output
            again = run_cli("import", "--user", listener, *paths, env=env, cwd=root)
            assert again.returncode == 0, again.output
            assert "Imported 0 new plays" in again.stdout, again.stdout
            printed.setdefault(listener, []).append(first.stdout.strip())
        if in_two_runs and turn == 0:
            transform(env, root)
    with Warehouse(settings_from(env)) as warehouse:
        polls = Batch(new_batch_id(), "api", "current-listener", "succeeded", utc_now())
        warehouse.land_plays(polls, api_plays_of_current_listener(), {"id": "current-listener"})
    transform(env, root)
    return printed


@pytest.fixture(scope="module")
def duckdb_real(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], Any]:
    root = tmp_path_factory.mktemp("real-duckdb")
    env = {"SPOTIFY_ELT_DUCKDB_PATH": str(root / "warehouse.duckdb")}
    return env, build(env, root, in_two_runs=True)


@pytest.fixture(scope="module")
def postgres_real(
    postgres_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[dict[str, str], Any]]:
    root = tmp_path_factory.mktemp("real-postgres")
    with postgres_database(postgres_server) as env:
        yield env, build(env, root, in_two_runs=False)


@pytest.fixture(params=["duckdb", "postgres"])
def real(request: pytest.FixtureRequest) -> tuple[dict[str, str], dict[str, list[str]]]:
    built: tuple[dict[str, str], dict[str, list[str]]] = request.getfixturevalue(
        f"{request.param}_real"
    )
    return built


def stored_records(env: dict[str, str]) -> list[tuple[str, str, dict[str, Any], str, int]]:
    rows = query(
        env,
        "select user_id, record_key, record, source_file, repeats "
        "from raw.spotify_streaming_history",
    )
    return [(user, key, json.loads(record), source, repeats)
            for user, key, record, source, repeats in rows]  # fmt: skip


# ---- the tests --------------------------------------------------------------------------


def test_every_distinct_record_lands_once(real: tuple[dict[str, str], Any]) -> None:
    """Ties in a second and a minute, offline plays synced together, records written twice,
    old-format and new-format exports of one period in either order or at once, a newer export
    over an older one, and each import again: every record once."""
    env, _ = real
    stored = stored_records(env)
    per_listener = Counter(user for user, *_ in stored)
    for listener in LISTENERS:
        assert per_listener[listener] == expected_records(listener)[0], listener
    for listener, plays in TRUE_PLAYS.items():
        assert per_listener[listener] == len(plays), listener
    # The old-format and the new-format export of one period, in any order: the same records.
    same_period = {
        listener: sorted(key for user, key, *_ in stored if user == listener)
        for listener in ("two-eras", "two-eras-reversed", "two-eras-at-once")
    }
    assert len({tuple(keys) for keys in same_period.values()}) == 1
    keys = [(user, key) for user, key, *_ in stored]
    assert len(keys) == len(set(keys))
    # Files that begin with a byte order mark were read like the others.
    marked = {name.rpartition("/")[2] for members in EXPORTS.values()
              for name, text in members.items() if text.startswith("\ufeff")}  # fmt: skip
    read = {source.rpartition("/")[2] for _, _, _, source, _ in stored}
    assert marked and marked <= read


def test_the_import_counts_records_plays_and_repeats_apart(
    real: tuple[dict[str, str], dict[str, list[str]]],
) -> None:
    env, printed = real
    stored = stored_records(env)
    for listener in ("endsong-listener", "transition-listener", "account-listener"):
        records, identical = expected_records(listener)
        plays = sum(
            content_type(source, record) is not None
            for user, _, record, source, _ in stored
            if user == listener
        )
        if listener == "account-listener":  # Account data has no record without content
            assert plays == records
            summary = f"Imported {records:,} new plays for"
        else:
            assert 0 < plays < records
            summary = f"Imported {records:,} new records ({plays:,} plays, {records - plays:,} "
        assert printed[listener][0].startswith(summary), printed[listener]
        assert f"{identical} identical records left out" in printed[listener][0]
        dq = query(
            env,
            "select sum(records), sum(plays), sum(identical_records) from marts.dq_import_records "
            f"where user_id = '{listener}'",
        )
        assert dq == [(records, plays, identical)], listener
        assert identical > 0


def test_every_play_is_one_fact_with_its_time_duration_and_kind(
    real: tuple[dict[str, str], Any],
) -> None:
    env, _ = real
    facts: dict[tuple[str, str], list[tuple[Any, ...]]] = {}
    for row in query(
        env,
        "select user_id, export_record_key, played_at, ms_played, content_type, is_video, source "
        "from marts.fct_plays where export_record_key is not null",
    ):
        facts.setdefault((row[0], row[1]), []).append(row)
    kinds: Counter[tuple[str, bool]] = Counter()
    for user, key, record, source_file, _ in stored_records(env):
        kind = content_type(source_file, record)
        if kind is None:
            assert (user, key) not in facts
            continue
        [(_, _, played_at, ms_played, stored_kind, video, source)] = facts.pop((user, key))
        if "ts" in record:
            ended = datetime.strptime(record["ts"], "%Y-%m-%dT%H:%M:%SZ")
        else:  # Account data: the minute
            ended = datetime.strptime(record["endTime"], "%Y-%m-%d %H:%M")
        if source == "export":
            assert played_at == ended
        else:
            assert source == "api+export" and user == "current-listener"
            assert ended - MERGE_TOLERANCE <= played_at <= ended + MERGE_TOLERANCE
        assert ms_played == record.get("ms_played", record.get("msPlayed"))
        assert stored_kind == kind, (user, record)
        assert bool(video) == is_video(source_file)
        kinds[(kind, bool(video))] += 1
    assert facts == {}
    assert {kind for kind, _ in kinds} == {"track", "episode", "audiobook"}
    assert kinds[("track", True)] > 0 and kinds[("episode", True)] > 0  # music and podcast videos
    # The old Account data's podcasts: known shows are episodes, an unknown one stays music.
    old_account = Counter(
        (json.loads(record)["artistName"], content_type, episode_sk != "-1")
        for content_type, episode_sk, record in query(
            env,
            "select f.content_type, f.episode_sk, r.record from marts.fct_plays f "
            "join raw.spotify_streaming_history r "
            "on r.user_id = f.user_id and r.record_key = f.export_record_key "
            "where f.user_id = 'account-old-listener' and r.source_file like '%StreamingHistory0%'",
        )
    )
    for show, _ in SHOWS:
        episodes = sum(p.kind == "episode" and SHOWS[p.item][0] == show and not p.video
                       for p in OLD if p.item >= 0)  # fmt: skip
        assert old_account[(show, "episode", True)] == episodes > 0, show
    assert old_account[(UNKNOWN_SHOW[0], "track", False)] == len(UNKNOWN_SHOW_PLAYS)
    [(merged,)] = query(env, "select count(*) from marts.fct_plays where source = 'api+export'")
    assert merged == len(api_plays_of_current_listener())


def test_nothing_private_is_stored_anywhere(real: tuple[dict[str, str], Any]) -> None:
    """No IP address, login, user agent or location, in any table of any schema."""
    env, _ = real
    engine = sa.create_engine(engine_url(settings_from(env)))
    found: list[str] = []
    try:
        inspector = sa.inspect(engine)
        with engine.connect() as connection:
            for schema in ("raw", "staging", "intermediate", "marts"):
                for table in inspector.get_table_names(schema) + inspector.get_view_names(schema):
                    columns = [c["name"] for c in inspector.get_columns(table, schema)]
                    found += [f"{schema}.{table}.{c}" for c in columns if c in PRIVATE_FIELDS]
                    text = repr(
                        connection.execute(sa.text(f"select * from {schema}.{table}")).all()
                    )
                    found += [
                        f"{schema}.{table}: {value}"
                        for value in (*PRIVATE_VALUES, *(f'"{name}"' for name in PRIVATE_FIELDS))
                        if value in text
                    ]
    finally:
        engine.dispose()
    assert found == []


def marts(env: dict[str, str]) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the star and the analytics marts (test_dbt_project's snapshot), and of
    dq_import_records without the imports' own ids."""
    tables = snapshot(env, with_loaded_at=False)
    tables["dq_import_records"] = sorted(
        query(
            env,
            "select user_id, record_format, records, identical_records, plays, "
            "records_without_content, video_plays, plays_of_zero_ms, counted_streams, "
            "first_ended_at, last_ended_at from marts.dq_import_records",
        ),
        key=repr,
    )
    return tables


def test_both_warehouses_build_the_same_marts(
    duckdb_real: tuple[dict[str, str], Any], postgres_real: tuple[dict[str, str], Any]
) -> None:
    """Ties broken the same way everywhere, and DuckDB's two runs (the second incremental)
    give what PostgreSQL's one gives: the star and every analytics mart, row for row."""
    duckdb_marts, postgres_marts = marts(duckdb_real[0]), marts(postgres_real[0])
    assert duckdb_marts.keys() == postgres_marts.keys()
    for table in duckdb_marts:
        assert duckdb_marts[table] == postgres_marts[table], table
        # Every listener plays the same few tracks in every period: none to rediscover.
        assert duckdb_marts[table] or table == "agg_rediscover_tracks", table


def test_a_full_refresh_gives_what_the_incremental_runs_gave(
    duckdb_real: tuple[dict[str, str], Any], tmp_path: Path
) -> None:
    """Last in this file: it rebuilds the DuckDB warehouse the tests above read."""
    env, _ = duckdb_real
    incremental = marts(env)
    transform(env, tmp_path, "--full-refresh")
    assert marts(env) == incremental
