"""What `import` lets land, every model can build: each record that once made every later
`transform` fail is refused in one line, or skipped and counted, on DuckDB and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from ingestion.warehouse import Warehouse
from tests.support.cli import REFRESH_TOKEN, CliResult, assert_one_line_error, settings_from
from tests.support.exports import extended_history, write_json
from tests.support.raw_tables import batch_rows, history_rows, landed
from tests.support.stand_in import SpotifyStandIn
from tests.support.web_api import plays

USER = "listener-1"
FILE = "Streaming_History_Audio_2024.json"


def _set(field: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda record: record.update({field: value})


# Each record the fault probe landed and every later transform then failed on, with the rule
# that now refuses it. Each is written as the 6th record of an otherwise valid file.
POISON: dict[str, tuple[Callable[[dict[str, Any]], None] | str, str]] = {
    "1900": (_set("ts", "1900-01-01T00:00:00Z"), "`ts` is before 2006, when Spotify began"),
    "2045": (_set("ts", "2045-06-01T12:00:00Z"), "`ts` is in the future"),
    "9999": (_set("ts", "9999-12-31T23:59:59Z"), "`ts` is in the future"),
    "ms-2^31": (
        _set("ms_played", 2**31),
        "`ms_played` is not a whole number of milliseconds up to 2147483647",
    ),
    "nul": (
        _set("master_metadata_track_name", "Bad\u0000Name"),
        "holds a NUL character (\\u0000), which PostgreSQL cannot store",
    ),
    # The import read the first `ts`, PostgreSQL the last.
    "key-twice": (
        '"ts": "2024-03-01T08:20:00Z", "ts": "9999-12-31T23:59:59Z"',
        "has a field twice",
    ),
}


def poisoned_file(folder: Path, *names: str, count: int = 30) -> Path:
    """An Extended file of `count` valid records, then the poison records `names`."""
    records = extended_history(count)
    texts = [json.dumps(record, ensure_ascii=False) for record in records]
    for number, name in enumerate(names):
        poison, _ = POISON[name]
        record = extended_history(1, first=1000 + number)[0]
        if isinstance(poison, str):  # text no dict can hold: a key written twice
            text = json.dumps(record).replace(f'"ts": "{record["ts"]}"', poison)
        else:
            poison(record)
            text = json.dumps(record)
        texts.insert(5, text)
    path = folder / FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("[\n" + ",\n".join(texts) + "\n]", encoding="utf-8")
    return path


@pytest.fixture(params=["duckdb", "postgres"])
def warehouse_env(request: pytest.FixtureRequest, env: dict[str, str]) -> dict[str, str]:
    if request.param == "duckdb":
        return env
    return {**env, **request.getfixturevalue("postgres_env")}


def fact_count(env: dict[str, str], where: str = "1 = 1") -> int:
    with Warehouse(settings_from(env)) as warehouse, warehouse.engine.connect() as connection:
        return int(
            connection.execute(sa.text(f"select count(*) from marts.fct_plays where {where}"))
            .scalar_one()
        )  # fmt: skip


@pytest.mark.parametrize("name", list(POISON))
def test_a_poison_record_is_refused_in_one_line_and_nothing_lands(
    name: str, warehouse_env: dict[str, str], cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    write_json(tmp_path / "earlier" / FILE, extended_history(3, first=500))
    assert (
        cli("import", "--user", USER, str(tmp_path / "earlier"), extra_env=warehouse_env).returncode
        == 0
    )
    before = history_rows(warehouse_env), batch_rows(warehouse_env)

    result = cli(
        "import", "--user", USER, str(poisoned_file(tmp_path / name, name)),
        extra_env=warehouse_env,
    )  # fmt: skip

    assert_one_line_error(result, f"{FILE}, record 6: {POISON[name][1]}; nothing was imported")
    assert (history_rows(warehouse_env), batch_rows(warehouse_env)) == before


def test_skipped_poison_is_counted_and_the_rest_builds(
    warehouse_env: dict[str, str], cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    """Every poison record in one file: skipped and counted; the transform that follows passes
    and holds exactly the valid plays, those at the edges of the rules included."""
    poisoned_file(tmp_path / "export", *POISON)
    # At the edges, and valid: before 2008 (the calendar's first year until now), the longest
    # play a warehouse's integer holds, a record that ends tomorrow.
    edges = extended_history(3, first=2000)
    edges[0]["ts"] = "2007-06-01T12:00:00Z"
    edges[1]["ms_played"] = 2**31 - 1
    edges[2]["ts"] = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    write_json(tmp_path / "export" / "Streaming_History_Audio_2007.json", edges)

    imported = cli(
        "import", "--user", USER, "--skip-invalid", str(tmp_path / "export"),
        extra_env=warehouse_env,
    )  # fmt: skip

    assert imported.returncode == 0, imported.output
    reasons = {reason for _, reason in POISON.values()}
    for reason in reasons:
        assert reason in imported.stdout, imported.stdout
    assert "Traceback" not in imported.output
    assert "Imported 33 new" in imported.stdout, imported.stdout
    transformed = cli("transform", extra_env=warehouse_env, timeout=600)
    assert transformed.returncode == 0, transformed.output[-3000:]
    assert fact_count(warehouse_env) == 33
    assert fact_count(warehouse_env, "played_at < '2008-01-01'") == 1
    assert fact_count(warehouse_env, "ms_played = 2147483647") == 1


def test_a_play_from_the_api_outside_the_rules_lands_nothing(
    stand_in: SpotifyStandIn, env: dict[str, str], cli: Callable[..., CliResult]
) -> None:
    """The API is held to the same time rule: a page with a play in the future fails that
    listener's extract in one line, and nothing of the page lands."""
    stand_in.add_user(USER, "Listener One", REFRESH_TOKEN)
    stand_in.add_plays(USER, [*plays(3), *plays(1, start=datetime(2045, 6, 1, tzinfo=UTC))])

    result = cli("extract")

    assert_one_line_error(result, "bad played_at", "before 2006 or in the future")
    assert landed(env) == []


def test_a_poison_record_an_earlier_version_landed_is_named_and_undone(
    warehouse_env: dict[str, str], cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    """A warehouse filled before these rules may hold a play in year 9999: `transform` fails
    in one line that names the failing node and dbt's log, and undoing that import mends it."""
    write_json(tmp_path / "good" / FILE, extended_history(20))
    write_json(tmp_path / "bad" / FILE, extended_history(5, first=100))
    for folder in ("good", "bad"):
        imported = cli("import", "--user", USER, str(tmp_path / folder), extra_env=warehouse_env)
        assert imported.returncode == 0, imported.output
    with Warehouse(settings_from(warehouse_env)) as warehouse:
        bad = warehouse.batches()[-1]["batch_id"]
        with warehouse.transaction() as connection:  # as an earlier version let it land
            connection.execute(
                sa.text(
                    "update raw.spotify_streaming_history set record = replace(record, "
                    '\'"ts":"2024-\', \'"ts":"9999-\') where _batch_id = :bad'
                ),
                {"bad": bad},
            )

    failed = cli("transform", extra_env=warehouse_env, timeout=600)

    assert_one_line_error(failed, f"dbt build failed on {settings_from(warehouse_env).target}: ",
                          " failed", "(log: ")  # fmt: skip
    undone = cli("import", "--undo", bad, extra_env=warehouse_env)
    assert undone.returncode == 0, undone.output
    transformed = cli("transform", extra_env=warehouse_env, timeout=600)
    assert transformed.returncode == 0, transformed.output[-3000:]
    assert fact_count(warehouse_env) == 20
