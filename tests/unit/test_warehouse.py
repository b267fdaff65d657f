"""The raw layer's DDL and files, in process: DuckDB files kept private, T-SQL that parses."""

from __future__ import annotations

import os
import stat
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import sqlglot
from sqlalchemy.schema import CreateSchema

from ingestion.warehouse import (
    RAW_SCHEMA,
    Batch,
    Play,
    Warehouse,
    metadata,
    new_batch_id,
)
from tests.support.cli import settings_from


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
        assert (
            "NTEXT" not in statement
        )  # deprecated; JSON text is nvarchar(max) (docs/design.md, "Raw layer")
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
