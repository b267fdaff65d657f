"""Throwaway databases on the suite's PostgreSQL server and on a configured SQL Server."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
import sqlalchemy

from tests.support.cli import settings_from


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str

    def connect(self, database: str = "postgres") -> psycopg.Connection[Any]:
        return psycopg.connect(
            host=self.host, port=self.port, user=self.user, dbname=database, autocommit=True
        )


@contextlib.contextmanager
def postgres_database(server: PostgresServer) -> Iterator[dict[str, str]]:
    """A fresh database on `server`, dropped afterwards; as environment variables."""
    database = f"test_{uuid.uuid4().hex[:12]}"
    with server.connect() as connection:
        connection.execute(f'create database "{database}"')
    try:
        yield {
            "SPOTIFY_ELT_TARGET": "postgres",
            "SPOTIFY_ELT_POSTGRES_HOST": server.host,
            "SPOTIFY_ELT_POSTGRES_PORT": str(server.port),
            "SPOTIFY_ELT_POSTGRES_USER": server.user,
            "SPOTIFY_ELT_POSTGRES_DATABASE": database,
        }
    finally:
        with server.connect() as connection:
            connection.execute(f'drop database if exists "{database}" with (force)')


# Read before any test runs: the autouse fixture clears SPOTIFY_* from the environment.
SQLSERVER_TEST_ENV = {
    name.replace("SPOTIFY_ELT_TEST_", "SPOTIFY_ELT_"): value
    for name, value in os.environ.items()
    if name.startswith("SPOTIFY_ELT_TEST_SQLSERVER_")
}


@contextlib.contextmanager
def sqlserver_database() -> Iterator[dict[str, str]]:
    """A fresh database on the configured SQL Server, dropped afterwards (skips without one)."""
    if "SPOTIFY_ELT_SQLSERVER_SERVER" not in SQLSERVER_TEST_ENV:
        pytest.skip(
            "not run: no SQL Server configured (set SPOTIFY_ELT_TEST_SQLSERVER_SERVER, "
            "_USER, _PASSWORD and optionally _DRIVER, _PORT, _TRUST_CERT)"
        )
    from ingestion.warehouse import engine_url

    database = f"test_{uuid.uuid4().hex[:12]}"
    variables = {**SQLSERVER_TEST_ENV, "SPOTIFY_ELT_TARGET": "sqlserver"}
    admin = settings_from({**variables, "SPOTIFY_ELT_SQLSERVER_DATABASE": "master"})
    engine = sqlalchemy.create_engine(engine_url(admin), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.exec_driver_sql(f"create database [{database}]")
    try:
        yield {**variables, "SPOTIFY_ELT_SQLSERVER_DATABASE": database}
    finally:
        with engine.connect() as connection:
            connection.exec_driver_sql(
                f"alter database [{database}] set single_user with rollback immediate; "
                f"drop database [{database}]"
            )
        engine.dispose()
