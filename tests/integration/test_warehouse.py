"""The raw layer on every warehouse: names, idempotency, atomicity; and the files dbt creates."""

from __future__ import annotations

import os
import stat
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from ingestion.warehouse import (
    RAW_SCHEMA,
    Batch,
    Play,
    Warehouse,
    new_batch_id,
    recently_played,
)
from tests.support.cli import run_cli, settings_from

RAW_TABLES = {"spotify_recently_played", "spotify_streaming_history", "load_batches"}


def test_raw_tables_are_created_idempotently_with_the_contract_names(
    target_env: dict[str, str],
) -> None:
    with Warehouse(settings_from(target_env)) as warehouse:
        warehouse.create_raw_tables()
        warehouse.create_raw_tables()  # every run does this: it must be harmless
        inspector = sa.inspect(warehouse.engine)
        tables = set(inspector.get_table_names(schema=RAW_SCHEMA))
        assert tables >= RAW_TABLES
        played = {
            column["name"]
            for column in inspector.get_columns("spotify_recently_played", RAW_SCHEMA)
        }
        assert played == {"user_id", "played_at", "item", "_batch_id", "_loaded_at"}
        batches = {column["name"] for column in inspector.get_columns("load_batches", RAW_SCHEMA)}
        assert batches >= {
            "source", "user_id", "rows_seen", "rows_inserted", "rows_duplicate", "status",
            "gap_suspected", "message",
        }  # fmt: skip
        # The key is enforced by the database itself, not only by the loader's checks.
        row = {"user_id": "u", "played_at": datetime(2026, 1, 1), "item": "{}",
               "_batch_id": "b", "_loaded_at": datetime(2026, 1, 1)}  # fmt: skip
        with warehouse.engine.begin() as connection:
            connection.execute(recently_played.insert(), [row])
        with pytest.raises(sa.exc.IntegrityError), warehouse.engine.begin() as connection:
            connection.execute(recently_played.insert(), [row])


def test_landing_twice_adds_nothing_and_keeps_millisecond_precision(
    target_env: dict[str, str],
) -> None:
    moments = [datetime(2026, 3, 29, 0, 59, 59, 999000), datetime(2026, 3, 29, 1, 0, 0, 1000)]
    plays = [Play("u1", moment, '{"played_at": "x"}') for moment in moments]
    with Warehouse(settings_from(target_env)) as warehouse:
        warehouse.create_raw_tables()
        batch = Batch(new_batch_id(), "api", "u1", "succeeded", moments[0])
        first = warehouse.land_plays(batch, plays + plays[:1])  # a duplicate inside the batch
        second = warehouse.land_plays(
            Batch(new_batch_id(), "api", "u1", "succeeded", moments[0]), plays
        )
        assert (first.rows_seen, first.rows_inserted, first.rows_duplicate) == (3, 2, 1)
        assert (second.rows_inserted, second.rows_duplicate) == (0, 2)
        assert warehouse.count_plays("u1") == 2
        assert warehouse.watermark("u1") == moments[1]
        assert warehouse.watermark("nobody") is None


def test_a_warehouse_that_dbt_creates_is_private_too(tmp_path: Path) -> None:
    """`spotify-elt docs` on a new DuckDB file: dbt-duckdb creates it, not the loader."""
    path = tmp_path / "warehouse.duckdb"
    env = {
        "SPOTIFY_ELT_DUCKDB_PATH": str(path),
        # dbt's target and logs in the test's folder: never into dbt_project/, which others use.
        "DBT_TARGET_PATH": str(tmp_path / "dbt_target"),
        "DBT_LOG_PATH": str(tmp_path / "dbt_logs"),
    }
    previous = os.umask(0o022)  # the command inherits it
    try:
        result = run_cli("docs", env=env, cwd=tmp_path, timeout=300)
    finally:
        os.umask(previous)
    assert result.returncode == 0, result.output[-3000:]
    assert oct(stat.S_IMODE(path.stat().st_mode)) == "0o600"
