"""Fixtures of the whole suite: an environment of nobody's settings, the Spotify stand-in and its
listener, and the CLI. The warehouses' fixtures are in tests/integration/conftest.py; the
helpers, shared with the tests, in tests/support."""

from __future__ import annotations

import os
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
