"""Shared fixtures: a Spotify stand-in, a throwaway PostgreSQL server, settings and the CLI."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import psycopg
import pytest
import sqlalchemy
from spotify_server import SpotifyStandIn

from ingestion.config import Settings

CLIENT_ID = "test-client-id"
CLIENT_SECRET = "test-client-secret-5f2d9c"
REFRESH_TOKEN = "test-refresh-token-a91b7e"


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


def settings_from(env: dict[str, str], **overrides: Any) -> Settings:
    """Settings exactly as the command line would read them from `env`."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        return Settings(_env_file=None, **overrides)  # type: ignore[call-arg]


@dataclass(frozen=True)
class CliResult:
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def base_environment() -> dict[str, str]:
    """This process's environment without any Spotify or dbt settings of the developer's."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("SPOTIFY_", "DBT_"))}


def run_cli(
    *arguments: str,
    env: dict[str, str],
    cwd: Path,
    stdin: str | None = "",
    timeout: float = 120,
) -> CliResult:
    """`spotify-elt ...` in a real child process, as a user or a scheduler runs it.

    `stdin=None` gives the child a stdin that stays open and silent, like a terminal nobody
    watches: a command that waits for input hangs until `timeout` instead of reading EOF.
    """
    child_env = {**base_environment(), **env}
    child_env["COLUMNS"] = "200"  # keep rich from wrapping the one line we assert on
    command = [sys.executable, "-m", "spotify_elt", *arguments]
    if stdin is not None:
        child = subprocess.run(
            command, env=child_env, cwd=cwd, input=stdin, capture_output=True, text=True,
            timeout=timeout, check=False,
        )  # fmt: skip
    else:
        silent_read, silent_write = os.pipe()
        try:
            child = subprocess.run(
                command, env=child_env, cwd=cwd, stdin=silent_read, capture_output=True,
                text=True, timeout=timeout, check=False,
            )  # fmt: skip
        finally:
            os.close(silent_read)
            os.close(silent_write)
    # Whatever a test expects of a command, a traceback is never the way it ends.
    assert "Traceback (most recent call last)" not in child.stderr, child.stderr[-4000:]
    return CliResult(child.returncode, child.stdout, child.stderr)


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
# The servers a command starts: where they listen, and whether they outlive it.

LOOPBACK = {"127.0.0.1", "::1"}


def process_tree(pid: int) -> list[psutil.Process]:
    """The process `pid` and every descendant it has now."""
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def tcp_listeners(processes: list[psutil.Process]) -> list[tuple[str, int, str]]:
    """(address, port, process) of every TCP socket the processes listen on.

    psutil reads /proc/net/tcp and tcp6 and matches their socket inodes with /proc/<pid>/fd."""
    found = []
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            for connection in process.net_connections(kind="tcp"):
                if connection.status == psutil.CONN_LISTEN:
                    address = connection.laddr
                    found.append((address.ip, address.port, " ".join(process.cmdline()[:3])))
    return found


def alive(processes: list[psutil.Process]) -> list[psutil.Process]:
    """Those still running. A zombie is not: it has ended, and waits for a parent to reap it
    (here PID 1 may never do that for orphans)."""
    running = []
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                running.append(process)
    return running


def outliving(processes: list[psutil.Process], timeout: float) -> list[str]:
    """The command lines of `processes` still running after up to `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while alive(processes) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = []
    for process in alive(processes):
        with contextlib.suppress(psutil.NoSuchProcess):
            left.append(" ".join(process.cmdline()))
    return left


def kill_all(processes: list[psutil.Process]) -> None:
    """After a failed test: nothing it started may keep running."""
    for process in alive(processes):
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()


# --------------------------------------------------------------------------------------------
# A real PostgreSQL server, started once for the session on loopback and thrown away after.


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str

    def connect(self, database: str = "postgres") -> psycopg.Connection[Any]:
        return psycopg.connect(
            host=self.host, port=self.port, user=self.user, dbname=database, autocommit=True
        )


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


@pytest.fixture
def postgres_env(postgres_server: PostgresServer) -> Iterator[dict[str, str]]:
    with postgres_database(postgres_server) as variables:
        yield variables


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


@contextlib.contextmanager
def duckdb_file_held(path: Path) -> Iterator[int]:
    """Another process holding the DuckDB file at `path` open, as a running command would;
    yields its process id."""
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('held', flush=True); "
         "time.sleep(120)", str(path)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        yield holder.pid
    finally:
        holder.kill()
        holder.wait()
