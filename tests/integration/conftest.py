"""Fixtures of the integration tests: a real PostgreSQL server for the session, a fresh database
on it or on a configured SQL Server per test, each warehouse in turn, and one `dbt parse` of the
project for the tests that read its manifest."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from ingestion.config import PROJECT_ROOT
from tests.support.databases import PostgresServer, postgres_database, sqlserver_database

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


# --------------------------------------------------------------------------------------------
# The project's manifest, parsed once: scripts/draw_schema.py parses it the way the schema
# picture needs, and the layer tests read the same file.


@pytest.fixture(scope="session")
def draw_schema() -> ModuleType:
    """scripts/draw_schema.py, a script rather than a package module, loaded from its file."""
    spec = importlib.util.spec_from_file_location(
        "draw_schema", PROJECT_ROOT / "scripts" / "draw_schema.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def manifest(draw_schema: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The manifest of a fresh `dbt parse` (no warehouse is opened)."""
    path = draw_schema.parse_project(tmp_path_factory.mktemp("dbt_parse"))
    parsed: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return parsed
