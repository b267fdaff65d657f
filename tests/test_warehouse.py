"""The raw layer's DDL and writes on every warehouse: names, idempotency, atomicity, T-SQL."""

from __future__ import annotations

import os
import stat
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import sqlglot
from conftest import run_cli, settings_from
from sqlalchemy.schema import CreateSchema

from ingestion.warehouse import (
    RAW_SCHEMA,
    Batch,
    Play,
    Warehouse,
    metadata,
    new_batch_id,
    recently_played,
)

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


def test_a_new_duckdb_warehouse_its_wal_and_its_folder_are_private(tmp_path: Path) -> None:
    """0600 (the folder 0700) under the usual umask; the WAL too, which DuckDB makes again at the
    first write after each checkpoint."""
    path = tmp_path / "new" / "warehouse.duckdb"
    wal = path.with_name(path.name + ".wal")
    moment = datetime(2026, 3, 29, 1, 0, 0)
    previous = os.umask(0o022)  # the usual umask: files readable by anyone, without the fix
    try:
        with Warehouse(settings_from({"SPOTIFY_ELT_DUCKDB_PATH": str(path)})) as warehouse:
            warehouse.create_raw_tables()
            with warehouse.engine.connect() as connection:
                connection.exec_driver_sql("checkpoint")
            assert not wal.exists(), "DuckDB kept its WAL over a checkpoint: test another way"
            warehouse.land_plays(
                Batch(new_batch_id(), "api", "u1", "succeeded", moment),
                [Play("u1", moment, '{"played_at": "x"}')],
            )
            assert wal.exists(), "no WAL while the connection is open: nothing checked"
            modes = {file.name: oct(stat.S_IMODE(file.stat().st_mode))
                     for file in (path.parent, path, wal)}  # fmt: skip
    finally:
        os.umask(previous)
    assert modes == {"new": "0o700", "warehouse.duckdb": "0o600", "warehouse.duckdb.wal": "0o600"}


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


def sql_server_ddl() -> list[str]:
    """Every statement `create_raw_tables` sends to SQL Server, captured without a server."""
    statements: list[str] = []

    def capture(statement: Any, *_: Any, **__: Any) -> None:
        statements.append(str(statement.compile(dialect=engine.dialect)).strip())

    engine = sa.create_mock_engine("mssql+pyodbc://", capture)
    capture(CreateSchema(RAW_SCHEMA))
    metadata.create_all(engine, checkfirst=False)
    return statements


def test_raw_ddl_is_valid_t_sql() -> None:
    statements = sql_server_ddl()
    creates = [s for s in statements if s.startswith("CREATE TABLE")]
    assert len(creates) == len(metadata.tables)
    for statement in statements:  # tables, the schema, and column comments (extended properties)
        assert sqlglot.parse_one(statement, read="tsql").key in {"create", "execute"}, statement
    for table in metadata.tables.values():
        (statement,) = [s for s in creates if s.startswith(f"CREATE TABLE {table.fullname} (")]
        assert "NTEXT" not in statement  # deprecated; JSON text is nvarchar(max) (DESIGN §2)
        for column in ("item", "record", "profile", "message"):
            if column in table.c:
                assert f"{column} NVARCHAR(max)" in statement
        assert "DATETIME2(6)" in statement and " DATETIME " not in statement
        assert (
            f"CONSTRAINT pk_{table.name} PRIMARY KEY" in statement
        )  # named, as dbt-sqlserver wants


def test_a_warehouse_an_earlier_version_left_readable_is_closed_up(tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    with Warehouse(settings_from({"SPOTIFY_ELT_DUCKDB_PATH": str(path)})) as warehouse:
        warehouse.create_raw_tables()
    path.chmod(0o644)  # as an earlier version made it

    with Warehouse(settings_from({"SPOTIFY_ELT_DUCKDB_PATH": str(path)})) as warehouse:
        warehouse.create_raw_tables()

    assert oct(stat.S_IMODE(path.stat().st_mode)) == "0o600"
