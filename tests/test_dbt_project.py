"""The dbt project: built and tested on DuckDB, PostgreSQL (and SQL Server when configured),
compiled to T-SQL offline, identical across warehouses, incremental equal to a full refresh."""

from __future__ import annotations

import gzip
import importlib.util
import json
import re
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
import sqlglot
from conftest import (
    PostgresServer,
    base_environment,
    postgres_database,
    run_cli,
    settings_from,
    sqlserver_database,
)

from ingestion.config import DBT_PROJECT_DIR, PROJECT_ROOT
from ingestion.demo import SAMPLE_DIR, SAMPLE_TIMEZONES, load_sample_data
from ingestion.warehouse import Batch, Play, Warehouse, engine_url, new_batch_id, utc_now

SAMPLE_ZONES = ",".join(f"{user}={zone}" for user, zone in SAMPLE_TIMEZONES.items())

# DESIGN §4.3: the public names of the marts and the columns each has at least.
DESIGN_COLUMNS = {
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
    """Every row of every mart, sorted; `loaded_at` differs between warehouses loaded apart."""
    engine = sa.create_engine(engine_url(settings_from(env)))
    tables: dict[str, list[tuple[Any, ...]]] = {}
    try:
        with engine.connect() as connection:
            for table in DESIGN_COLUMNS:
                columns = [
                    column["name"]
                    for column in sa.inspect(connection).get_columns(table, schema="marts")
                    if with_loaded_at or column["name"] != "loaded_at"
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
    with Warehouse(settings_from(env)) as warehouse:
        load_sample_data(warehouse, sample_dir)
    transform(env, cwd)


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


def test_marts_have_the_design_names_and_columns(built: dict[str, str]) -> None:
    engine = sa.create_engine(engine_url(settings_from(built)))
    try:
        inspector = sa.inspect(engine)
        assert set(DESIGN_COLUMNS) <= set(inspector.get_table_names(schema="marts"))
        for table, columns in DESIGN_COLUMNS.items():
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
    [(facts, keys)] = query(built, "select count(*), count(distinct play_sk) from marts.fct_plays")
    assert raw == facts == keys == len(sample_plays()) > 3000
    for column, dimension in FACT_FOREIGN_KEYS.items():
        [(orphans,)] = query(
            built,
            f"select count(*) from marts.fct_plays as f left join marts.{dimension} as d "
            f"on f.{column} = d.{column} where d.{column} is null",
        )
        assert orphans == 0, column
    [(unknown_tracks,)] = query(built, "select count(*) from marts.fct_plays where track_sk = '-1'")
    assert unknown_tracks == 0  # every API play names its track, local files included


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
    stored_tracks = dict(query(built, "select track_uri, track_name from marts.dim_tracks"))
    stored_tracks.pop(None)  # the unknown member
    assert stored_tracks == tracks
    assert max(len(name) for name in stored_tracks.values()) == 400
    stored_artists = {name for (name,) in query(built, "select artist_name from marts.dim_artists")}
    assert stored_artists - {"Unknown artist"} == artists


def test_bridge_keeps_every_artist_in_spotify_order(built: dict[str, str]) -> None:
    expected = {
        item["track"]["uri"]: [artist["name"] for artist in item["track"]["artists"]]
        for item in sample_items()
    }
    rows = query(
        built,
        "select t.track_uri, b.artist_position, a.artist_name from marts.bridge_track_artists b "
        "join marts.dim_tracks t on t.track_sk = b.track_sk "
        "join marts.dim_artists a on a.artist_sk = b.artist_sk",
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
    for table in DESIGN_COLUMNS:
        assert compared[table] == reference[table], table


def test_incremental_runs_give_what_a_full_refresh_gives(tmp_path: Path) -> None:
    env = {
        "SPOTIFY_ELT_DUCKDB_PATH": str(tmp_path / "warehouse.duckdb"),
        "SPOTIFY_ELT_USER_TIMEZONES": SAMPLE_ZONES,
    }
    # The first half of every user's polls, built; then the rest, built incrementally.
    first_half = tmp_path / "first_half"
    first_half.mkdir()
    for path in SAMPLE_DIR.glob("*.json.gz"):
        recording = json.loads(gzip.decompress(path.read_bytes()))
        recording["responses"] = recording["responses"][: len(recording["responses"]) // 2]
        (first_half / path.name).write_bytes(gzip.compress(json.dumps(recording).encode()))
    build_sample(env, tmp_path, first_half)
    [(halfway,)] = query(env, "select count(*) from marts.fct_plays")
    build_sample(env, tmp_path)
    [(after_sample,)] = query(env, "select count(*) from marts.fct_plays")
    assert 0 < halfway < after_sample == len(sample_plays())

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

    # Kenji moves to UTC: an incremental run redoes his plays (and only needs the new zone).
    env["SPOTIFY_ELT_USER_TIMEZONES"] = SAMPLE_ZONES.replace("Asia/Tokyo", "UTC")
    transform(env, tmp_path)
    incremental = snapshot(env, with_loaded_at=True)
    assert len(incremental["fct_plays"]) == after_sample + 1
    assert query(
        env,
        "select count(*) from marts.fct_plays where user_id = 'demo-kenji' "
        "and (played_at_local <> played_at or timezone <> 'UTC')",
    ) == [(0,)]

    transform(env, tmp_path, "--full-refresh")
    assert snapshot(env, with_loaded_at=True) == incremental


def test_transform_on_an_empty_warehouse_gives_empty_marts(tmp_path: Path) -> None:
    env = {"SPOTIFY_ELT_DUCKDB_PATH": str(tmp_path / "warehouse.duckdb")}
    transform(env, tmp_path)
    assert query(env, "select count(*) from marts.fct_plays") == [(0,)]
    for table, key in DIMENSION_KEYS.items():
        if table != "dim_dates":
            assert query(env, f"select {key} from marts.{table}") == [("-1",)], table


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
    assert set(DESIGN_COLUMNS) <= set(models)
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
