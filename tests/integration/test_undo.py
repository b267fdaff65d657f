"""`spotify-elt import --undo BATCH_ID`: one import's records go, and the next `transform`
gives what a warehouse that never had them gives."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from ingestion.warehouse import Batch, Play, Warehouse, new_batch_id, utc_now
from tests.integration.test_real_exports import marts
from tests.support.cli import CliResult, assert_one_line_error, settings_from
from tests.support.databases import postgres_database
from tests.support.exports import START, extended_history, write_json
from tests.support.web_api import play_item

USER = "listener-1"


@pytest.fixture(params=["duckdb", "postgres"])
def two_warehouses(
    request: pytest.FixtureRequest, env: dict[str, str], tmp_path: Path
) -> tuple[dict[str, str], dict[str, str]]:
    """Two empty warehouses of one kind: one gets the import that is undone, one never does."""
    if request.param == "duckdb":
        return env, {**env, "SPOTIFY_ELT_DUCKDB_PATH": str(tmp_path / "without.duckdb")}
    return (
        {**env, **request.getfixturevalue("postgres_env")},
        {**env, **request.getfixturevalue("postgres_env_2")},
    )


@pytest.fixture
def postgres_env_2(postgres_server: Any) -> Any:
    with postgres_database(postgres_server) as variables:
        yield variables


def api_polls(env: dict[str, str]) -> None:
    """API plays of the days both imports cover: the undone import's plays merged with some."""
    plays = []
    for number, record in enumerate(extended_history(40, start=START + timedelta(hours=2))):
        if record["spotify_track_uri"] is None or number % 3:
            continue
        played_at = START + timedelta(hours=2, minutes=4 * number, milliseconds=400)
        item = play_item(
            record["spotify_track_uri"].rpartition(":")[2], played_at.replace(tzinfo=None),
            name=record["master_metadata_track_name"], duration_ms=record["ms_played"] + 2_000,
        )  # fmt: skip
        plays.append(Play(USER, played_at.replace(tzinfo=None), json.dumps(item)))
    with Warehouse(settings_from(env)) as warehouse:
        warehouse.create_raw_tables()
        batch = Batch(new_batch_id(), "api", USER, "succeeded", utc_now())
        warehouse.land_plays(batch, plays, {"id": USER})


def import_batches(env: dict[str, str]) -> list[dict[str, Any]]:
    with Warehouse(settings_from(env)) as warehouse:
        return [batch for batch in warehouse.batches() if batch["source"] == "export"]


def test_undo_then_transform_equals_never_importing(
    two_warehouses: tuple[dict[str, str], dict[str, str]],
    cli: Callable[..., CliResult],
    tmp_path: Path,
) -> None:
    undone, never = two_warehouses
    # The first export: three hours. The second overlaps its last hour (records it shares
    # stay, as the first import's) and goes on, across the polled hours, into the next day.
    first = write_json(tmp_path / "first" / "Streaming_History_Audio_2024_0.json",
                       extended_history(45))  # fmt: skip
    second = write_json(
        tmp_path / "second" / "Streaming_History_Audio_2024_1.json",
        extended_history(400, start=START + timedelta(hours=2), first=30),
    )
    for env in (undone, never):
        api_polls(env)
        assert cli("import", "--user", USER, str(first), extra_env=env).returncode == 0
        assert cli("transform", extra_env=env, timeout=600).returncode == 0
    assert cli("import", "--user", USER, str(second), extra_env=undone).returncode == 0
    assert cli("transform", extra_env=undone, timeout=600).returncode == 0
    listed = cli("import", "--list", extra_env=undone)
    assert listed.returncode == 0, listed.output
    second_batch = import_batches(undone)[-1]
    assert second_batch["batch_id"] in listed.stdout

    # The first import's plays that the second found there were not landed again: undoing the
    # first before the second would lose them.
    first_batch = import_batches(undone)[0]
    refused = cli("import", "--undo", first_batch["batch_id"], extra_env=undone)
    assert_one_line_error(refused, f"the later import {second_batch['batch_id']} found there")

    result = cli("import", "--undo", second_batch["batch_id"], extra_env=undone)

    assert result.returncode == 0, result.output
    assert f"removed {second_batch['rows_inserted']} records" in result.stdout, result.stdout
    assert import_batches(undone)[-1]["status"] == "undone"
    transformed = cli("transform", extra_env=undone, timeout=600)
    assert transformed.returncode == 0, transformed.output[-3000:]
    assert marts(undone) == marts(never)
    # Once is enough: a second undo of it, or of anything not an import, is one line.
    again = cli("import", "--undo", second_batch["batch_id"], extra_env=undone)
    assert_one_line_error(again, "is undone: nothing of it to undo")
    assert_one_line_error(cli("import", "--undo", "nope", extra_env=undone), "'nope' is no import")
