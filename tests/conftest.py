"""Shared fixtures: a Spotify stand-in, a throwaway PostgreSQL server, the warehouses and the
CLI. The helpers they use, and the tests too, live in tests/support."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import (
    CLIENT_ID,
    CLIENT_SECRET,
    LISTENER,
    REFRESH_TOKEN,
    CliResult,
    run_cli,
)
from tests.support.databases import PostgresServer, postgres_database, sqlserver_database
from tests.support.stand_in import SpotifyStandIn


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """A developer's own Spotify or warehouse settings must never leak into a test."""
    for name in list(os.environ):
        if name.startswith(("SPOTIFY_", "DBT_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no stray .env is read
    # Opening a DuckDB warehouse tightens the process umask for good
    # (ingestion/warehouse.py `keep_duckdb_files_private`): not for the tests after this one.
    umask = os.umask(0o077)
    os.umask(umask)
    yield
    os.umask(umask)


@pytest.fixture
def stand_in() -> Iterator[SpotifyStandIn]:
    with SpotifyStandIn(client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as server:
        yield server


@pytest.fixture
def user(stand_in: SpotifyStandIn) -> str:
    """A listener the stand-in knows, by the refresh token of `env`."""
    stand_in.add_user(LISTENER, "Listener One", REFRESH_TOKEN)
    return LISTENER


@pytest.fixture
def env(stand_in: SpotifyStandIn, tmp_path: Path) -> dict[str, str]:
    """The environment of a headless run against the stand-in, on a DuckDB file of its own."""
    return {
        "SPOTIFY_CLIENT_ID": CLIENT_ID,
        "SPOTIFY_CLIENT_SECRET": CLIENT_SECRET,
        "SPOTIFY_REFRESH_TOKEN": REFRESH_TOKEN,
        "SPOTIFY_API_URL": stand_in.api_url,
        "SPOTIFY_ACCOUNTS_URL": stand_in.accounts_url,
        "SPOTIFY_ELT_DUCKDB_PATH": str(tmp_path / "warehouse.duckdb"),
        "SPOTIFY_ELT_TOKEN_DIR": str(tmp_path / "tokens"),
        "SPOTIFY_ELT_REQUEST_TIMEOUT": "5",
    }


@pytest.fixture
def cli(env: dict[str, str], tmp_path: Path) -> Callable[..., CliResult]:
    def invoke(
        *arguments: str,
        extra_env: dict[str, str] | None = None,
        without: tuple[str, ...] = (),
        **kwargs: Any,
    ) -> CliResult:
        child_env = {k: v for k, v in {**env, **(extra_env or {})}.items() if k not in without}
        return run_cli(*arguments, env=child_env, cwd=tmp_path, **kwargs)

    return invoke


# --------------------------------------------------------------------------------------------
# A real PostgreSQL server, started once for the session on loopback and thrown away after.


def _postgres_bindir() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), reverse=True)
    return versions[0].parent if versions else None


def _free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    bindir = _postgres_bindir()
    if bindir is None:
        pytest.fail("PostgreSQL server binaries not found: scripts/test.sh installs them")
    root = Path(tempfile.mkdtemp(prefix="spotify-elt-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:
        # initdb and postgres refuse to run as root: run them as the unprivileged owner.
        account = pwd.getpwnam("postgres" if _has_user("postgres") else "nobody")
        os.chown(root, account.pw_uid, account.pw_gid)
        # runuser lives in /usr/sbin, which a non-login PATH may leave out.
        runuser = shutil.which("runuser") or next(
            (path for path in ("/usr/sbin/runuser", "/sbin/runuser") if Path(path).exists()),
            "runuser",
        )
        run_as = [runuser, "-u", account.pw_name, "--"]
    data, port = root / "data", _free_port()
    subprocess.run(
        [*run_as, str(bindir / "initdb"), "-D", str(data), "-U", "spotify_elt",
         "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8"],
        check=True, capture_output=True,
    )  # fmt: skip
    options = (
        f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off"
    )
    subprocess.run(
        [*run_as, str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-w",
         "-l", str(root / "server.log"), "start"],
        check=True, capture_output=True,
    )  # fmt: skip
    try:
        yield PostgresServer("127.0.0.1", port, "spotify_elt")
    finally:
        subprocess.run(
            [*run_as, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            check=False, capture_output=True,
        )  # fmt: skip
        shutil.rmtree(root, ignore_errors=True)


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


@pytest.fixture
def postgres_env(postgres_server: PostgresServer) -> Iterator[dict[str, str]]:
    with postgres_database(postgres_server) as variables:
        yield variables


@pytest.fixture
def sqlserver_env() -> Iterator[dict[str, str]]:
    with sqlserver_database() as variables:
        yield variables


@pytest.fixture(params=["duckdb", "postgres", "sqlserver"])
def target_env(request: pytest.FixtureRequest, env: dict[str, str]) -> dict[str, str]:
    """`env` pointed at each warehouse in turn: DuckDB, the suite's PostgreSQL, a SQL Server."""
    if request.param == "duckdb":
        return env
    warehouse: dict[str, str] = request.getfixturevalue(f"{request.param}_env")
    return {**env, **warehouse}
