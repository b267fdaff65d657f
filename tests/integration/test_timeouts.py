"""Nothing hangs (issue #17): a warehouse that never answers, a lock another session holds, two
runs at once. Real processes on the suite's PostgreSQL and on a server that stalls.

Each bound below is the configured timeout plus a margin for a Python process to start and
import the loader (about 2 s here); the commands it bounds took 15 s to 130 s, or for ever,
before they had timeouts.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from ingestion.config import load_settings
from ingestion.errors import ConfigError
from ingestion.warehouse import Warehouse, recently_played
from spotify_elt.dashboard import queries
from tests.support.cli import REFRESH_TOKEN, base_environment, run_cli, settings_from
from tests.support.databases import PostgresServer
from tests.support.processes import duckdb_file_held
from tests.support.stand_in import SpotifyStandIn
from tests.support.web_api import play_item

USER = "listener-1"
TIMEOUT = 3  # seconds, SPOTIFY_ELT_CONNECT_TIMEOUT and SPOTIFY_ELT_LOCK_TIMEOUT in these tests
MARGIN = 15  # seconds for the process to start and import; the loader's own waits are bounded
APP = Path(queries.__file__).with_name("app.py")


@pytest.fixture
def stalled_port() -> Iterator[int]:
    """A TCP server on loopback that accepts every connection and never answers: a warehouse
    host whose PostgreSQL hangs, or a proxy in front of one that is gone."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    listener.settimeout(0.2)  # so that the acceptor sees the end of the test
    held: list[socket.socket] = []
    stopped = threading.Event()

    def accept() -> None:
        while not stopped.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            held.append(connection)  # kept open, never read, never written

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stopped.set()
        acceptor.join(timeout=5)
        listener.close()
        for connection in held:
            connection.close()


def dbt_paths(root: Path, name: str = "dbt") -> dict[str, str]:
    # dbt's target and logs in the test's folder: never into dbt_project/, which others use.
    return {
        "DBT_TARGET_PATH": str(root / f"{name}_target"),
        "DBT_LOG_PATH": str(root / f"{name}_logs"),
    }


def one_error_line(output: str) -> str:
    """The one line a failed command printed, `error:` and all; it must be all it printed."""
    assert "Traceback" not in output, output
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), output
    return lines[0]


def timed(function: Callable[[], Any]) -> tuple[Any, float]:
    started = time.monotonic()
    result = function()
    return result, time.monotonic() - started


# --------------------------------------------------------------------------------------------
# A PostgreSQL that accepts connections and never answers


@pytest.mark.parametrize("command", ["extract", "transform", "docs"])
def test_a_stalled_postgresql_is_one_line_within_the_connect_timeout(
    command: str, stalled_port: int, env: dict[str, str], tmp_path: Path
) -> None:
    stalled = {
        **env,
        **dbt_paths(tmp_path),
        "SPOTIFY_ELT_TARGET": "postgres",
        "SPOTIFY_ELT_POSTGRES_HOST": "127.0.0.1",
        "SPOTIFY_ELT_POSTGRES_PORT": str(stalled_port),
        "SPOTIFY_ELT_POSTGRES_PASSWORD": "pg-secret-27182",
        "SPOTIFY_ELT_CONNECT_TIMEOUT": str(TIMEOUT),
    }
    result, seconds = timed(lambda: run_cli(command, env=stalled, cwd=tmp_path, timeout=180))
    assert result.returncode == 1, result.output
    line = one_error_line(result.output)
    assert f"PostgreSQL 127.0.0.1:{stalled_port}/spotify_elt did not answer within 3 s" in line
    assert "SPOTIFY_ELT_POSTGRES_HOST" in line and "SPOTIFY_ELT_POSTGRES_PORT" in line
    assert "SPOTIFY_ELT_CONNECT_TIMEOUT" in line
    assert "pg-secret-27182" not in result.output
    assert TIMEOUT <= seconds < TIMEOUT + MARGIN, seconds


def test_dbt_itself_gives_up_on_a_stalled_postgresql_within_its_connect_timeout(
    stalled_port: int, tmp_path: Path
) -> None:
    """The DAG's docs and dbt tasks call dbt without the loader's check first: the profile's
    connect_timeout bounds them (each connection is tried twice, two are opened)."""
    stalled = {
        **base_environment(),
        **dbt_paths(tmp_path),
        "SPOTIFY_ELT_TARGET": "postgres",
        "SPOTIFY_ELT_POSTGRES_PORT": str(stalled_port),
        "SPOTIFY_ELT_CONNECT_TIMEOUT": str(TIMEOUT),
    }
    as_the_dag_does = (
        "from ingestion.config import load_settings\n"
        "from spotify_elt.transform import generate_docs\n"
        "generate_docs(load_settings())\n"
    )
    command = [sys.executable, "-c", as_the_dag_does]
    result, seconds = timed(
        lambda: subprocess.run(
            command, env=stalled, cwd=tmp_path, capture_output=True, text=True, timeout=300
        )
    )
    assert result.returncode != 0, result.stdout[-4000:]
    assert f"port {stalled_port} failed: timeout expired" in result.stdout, result.stdout[-4000:]
    assert seconds < 4 * TIMEOUT + 20, seconds  # dbt itself takes some 10 s to start here


def test_the_timeouts_are_settings_and_reach_dbt(monkeypatch: pytest.MonkeyPatch) -> None:
    defaults = settings_from({})
    assert (defaults.connect_timeout, defaults.lock_timeout) == (10, 60)
    chosen = settings_from({"SPOTIFY_ELT_CONNECT_TIMEOUT": "7", "SPOTIFY_ELT_LOCK_TIMEOUT": "5"})
    environment = chosen.dbt_environment()
    assert environment["SPOTIFY_ELT_CONNECT_TIMEOUT"] == "7"  # profiles.yml reads it
    assert environment["PGOPTIONS"] == "-c lock_timeout=5000"  # libpq reads it for dbt
    monkeypatch.setenv("SPOTIFY_ELT_CONNECT_TIMEOUT", "1")  # libpq would wait 2 s anyway
    with pytest.raises(ConfigError, match=r"^invalid SPOTIFY_ELT_CONNECT_TIMEOUT: "):
        load_settings()


def test_the_dashboard_on_a_stalled_postgresql_says_so_in_one_line(
    stalled_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {
        "SPOTIFY_ELT_TARGET": "postgres",
        "SPOTIFY_ELT_POSTGRES_HOST": "127.0.0.1",
        "SPOTIFY_ELT_POSTGRES_PORT": str(stalled_port),
        "SPOTIFY_ELT_CONNECT_TIMEOUT": str(TIMEOUT),
    }.items():
        monkeypatch.setenv(name, value)
    # AppTest raises when a run outlasts its timeout: a page that spins fails the test.
    app, seconds = timed(lambda: AppTest.from_file(str(APP), default_timeout=60).run())
    assert not app.exception, [element.value for element in app.exception]
    assert [element.value for element in app.title] == ["Overview"]
    shown = [element.value for element in (*app.info, *app.warning, *app.error)]
    assert len(shown) == 1, shown
    assert shown[0].startswith(
        f"Cannot read the warehouse: PostgreSQL 127.0.0.1:{stalled_port}/spotify_elt did not "
        "answer within 3 s: check that the server is up"
    ), shown[0]
    assert "\n" not in shown[0] and "Traceback" not in shown[0]
    assert TIMEOUT <= seconds < TIMEOUT + MARGIN, seconds


# --------------------------------------------------------------------------------------------
# Two runs at once


def advisory_locks(server: PostgresServer, database: str) -> int:
    with server.connect() as connection:
        row = connection.execute(
            "select count(*) from pg_locks join pg_database on pg_database.oid = pg_locks.database "
            "where locktype = 'advisory' and granted and datname = %s",
            (database,),
        ).fetchone()
    return int(row[0]) if row else 0


@pytest.mark.postgres
def test_a_second_transform_on_postgresql_fails_at_once_and_the_first_builds(
    postgres_server: PostgresServer, postgres_env: dict[str, str], tmp_path: Path
) -> None:
    database = postgres_env["SPOTIFY_ELT_POSTGRES_DATABASE"]
    first_env = {**base_environment(), **postgres_env, **dbt_paths(tmp_path, "first")}
    first = subprocess.Popen(
        [sys.executable, "-m", "spotify_elt", "transform"], env=first_env, cwd=tmp_path,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while advisory_locks(postgres_server, database) == 0:
            assert first.poll() is None, first.communicate()[0][-4000:]
            assert time.monotonic() < deadline, "the first transform took no run lock"
            time.sleep(0.2)
        second_env = {**postgres_env, **dbt_paths(tmp_path, "second")}
        second, seconds = timed(
            lambda: run_cli("transform", env=second_env, cwd=tmp_path, timeout=120)
        )
        assert first.poll() is None, "the first build ended before the second started"
        output, _ = first.communicate(timeout=900)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert first.returncode == 0, output[-4000:]
    assert second.returncode == 1, second.output[-4000:]
    line = one_error_line(second.output)
    assert line.startswith(
        f"error: another run is in progress on PostgreSQL 127.0.0.1:"
        f"{postgres_env['SPOTIFY_ELT_POSTGRES_PORT']}/{database} ("
    ), line
    assert line.endswith("try again when it has finished"), line
    assert seconds < MARGIN, seconds  # at once: no dbt, no waiting
    # The warehouse is whole: the lock is free again and the next build passes.
    assert advisory_locks(postgres_server, database) == 0
    again = run_cli(
        "transform", env={**postgres_env, **dbt_paths(tmp_path, "again")}, cwd=tmp_path,
        timeout=900,
    )  # fmt: skip
    assert again.returncode == 0, again.output[-4000:]


@pytest.mark.postgres
def test_dbt_on_postgresql_gives_up_on_a_lock_held_too_long(
    postgres_server: PostgresServer, postgres_env: dict[str, str], tmp_path: Path
) -> None:
    """dbt's own sessions have the lock timeout too (libpq reads it from PGOPTIONS)."""
    on_postgres = {**postgres_env, **dbt_paths(tmp_path), "SPOTIFY_ELT_LOCK_TIMEOUT": str(TIMEOUT)}
    with Warehouse(settings_from(on_postgres)) as warehouse:
        warehouse.create_raw_tables()
    database = postgres_env["SPOTIFY_ELT_POSTGRES_DATABASE"]
    # Another session holds a raw table for itself: the staging models cannot read it.
    with postgres_server.connect(database) as holder, holder.transaction():
        holder.execute("lock table raw.spotify_recently_played in access exclusive mode")
        result = run_cli("transform", env=on_postgres, cwd=tmp_path, timeout=300)
    assert result.returncode == 1, result.output[-4000:]
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    assert "canceling statement due to lock timeout" in result.stdout, result.stdout[-4000:]


def test_a_second_writer_of_a_duckdb_file_reads_as_a_run_in_progress(
    env: dict[str, str], tmp_path: Path
) -> None:
    path = Path(env["SPOTIFY_ELT_DUCKDB_PATH"])
    duckdb.connect(str(path)).close()
    with duckdb_file_held(path) as holder:
        for command in ("transform", "extract"):
            result = run_cli(command, env={**env, **dbt_paths(tmp_path)}, cwd=tmp_path)
            assert result.returncode == 1, result.output
            assert one_error_line(result.output) == (
                f"error: another run is in progress on DuckDB file {path} (process "
                f"{holder} has the file open, and DuckDB lets one process write it at a "
                "time): try again when it has finished"
            )


# --------------------------------------------------------------------------------------------
# `extract` behind a lock another session holds


PAUSE_IN_THE_LANDING = textwrap.dedent(
    """
    import sys, time
    from ingestion import warehouse

    def pause(self, connection, batch):
        # The user's plays are inserted and their transaction is open: hold it.
        print("landing", flush=True)
        time.sleep(120)

    warehouse.Warehouse._insert_batch = pause
    from spotify_elt.cli import main
    sys.argv = ["spotify-elt", "extract"]
    main()
    """
)


def plays(count: int) -> list[dict[str, Any]]:
    from datetime import UTC, datetime, timedelta

    start = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    return [play_item(f"track{n:04d}", start + timedelta(minutes=4 * n)) for n in range(count)]


@contextlib.contextmanager
def paused_extract(environment: dict[str, str], cwd: Path) -> Iterator[subprocess.Popen[str]]:
    """A real `spotify-elt extract` stopped inside its landing transaction."""
    child = subprocess.Popen(
        [sys.executable, "-c", PAUSE_IN_THE_LANDING], env={**base_environment(), **environment},
        cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "landing", child.communicate()
        yield child
    finally:
        child.kill()
        child.wait()


@pytest.mark.postgres
def test_extract_behind_another_extract_of_the_user_is_one_line_within_the_lock_timeout(
    stand_in: SpotifyStandIn, env: dict[str, str], postgres_env: dict[str, str], tmp_path: Path
) -> None:
    stand_in.add_user(USER, "Listener One", REFRESH_TOKEN)
    stand_in.add_plays(USER, plays(12))
    on_postgres = {**env, **postgres_env, "SPOTIFY_ELT_LOCK_TIMEOUT": str(TIMEOUT)}
    with paused_extract(on_postgres, tmp_path):
        result, seconds = timed(
            lambda: run_cli("extract", env=on_postgres, cwd=tmp_path, timeout=60)
        )
    assert result.returncode == 1, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert "Traceback" not in result.output and len(errors) == 1, result.stderr
    assert errors[0].startswith(
        f"error: another extract for {USER} is in progress on PostgreSQL 127.0.0.1:"
    ), errors[0]
    assert "SPOTIFY_ELT_LOCK_TIMEOUT" in errors[0]
    assert TIMEOUT <= seconds < TIMEOUT + MARGIN, seconds
    # The paused one is gone (its transaction rolled back): the next extract lands every play.
    again = run_cli("extract", env=on_postgres, cwd=tmp_path, timeout=60)
    assert again.returncode == 0, again.output
    with Warehouse(settings_from(on_postgres)) as warehouse, warehouse.engine.connect() as c:
        count = c.execute(sa.select(sa.func.count()).select_from(recently_played)).scalar_one()
    assert count == 12


@pytest.mark.postgres
def test_extract_behind_a_table_lock_is_one_line_within_the_lock_timeout(
    postgres_server: PostgresServer, stand_in: SpotifyStandIn, env: dict[str, str],
    postgres_env: dict[str, str], tmp_path: Path,
) -> None:  # fmt: skip
    stand_in.add_user(USER, "Listener One", REFRESH_TOKEN)
    stand_in.add_plays(USER, plays(3))
    on_postgres = {**env, **postgres_env, "SPOTIFY_ELT_LOCK_TIMEOUT": str(TIMEOUT)}
    with Warehouse(settings_from(on_postgres)) as warehouse:
        warehouse.create_raw_tables()
    # Another session (a migration, someone's maintenance) holds the table for itself.
    database = postgres_env["SPOTIFY_ELT_POSTGRES_DATABASE"]
    with postgres_server.connect(database) as holder, holder.transaction():
        holder.execute("lock table raw.spotify_recently_played in access exclusive mode")
        result, seconds = timed(
            lambda: run_cli("extract", env=on_postgres, cwd=tmp_path, timeout=60)
        )
    assert result.returncode == 1, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert "Traceback" not in result.output and len(errors) == 1, result.stderr
    assert "another session held a lock this needs for over 3 s" in errors[0], errors[0]
    assert "SPOTIFY_ELT_LOCK_TIMEOUT" in errors[0]
    assert TIMEOUT <= seconds < TIMEOUT + MARGIN, seconds
