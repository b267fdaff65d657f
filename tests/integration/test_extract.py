"""`spotify-elt extract` against the Spotify stand-in: every play once, gaps, faults, secrets."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from ingestion.extract import extract
from ingestion.spotify import TokenFile
from ingestion.warehouse import Warehouse
from tests.support.cli import (
    CLIENT_SECRET,
    REFRESH_TOKEN,
    CliResult,
    assert_one_line_error,
    base_environment,
    settings_from,
)
from tests.support.raw_tables import batches, expected_keys, landed
from tests.support.stand_in import SpotifyStandIn
from tests.support.web_api import plays

USER = "listener-1"
RECENTLY_PLAYED = "/v1/me/player/recently-played"


def test_lands_every_play_once_across_runs(
    stand_in: SpotifyStandIn, user: str, target_env: dict[str, str]
) -> None:
    history = plays(70)
    settings = settings_from(target_env)
    stand_in.add_plays(user, history[:30])
    with Warehouse(settings) as warehouse:
        first = extract(settings, warehouse)
        stand_in.add_plays(user, history[30:45])
        second = extract(settings, warehouse)
        third = extract(settings, warehouse)  # nothing new
        stand_in.add_plays(user, history[45:70])
        fourth = extract(settings, warehouse)
    runs = [*first, *second, *third, *fourth]
    inserted = [result.batch.rows_inserted for result in runs if result.batch]
    assert inserted == [30, 15, 0, 25]
    assert landed(target_env) == expected_keys(history)
    rows = batches(target_env)
    assert [row["status"] for row in rows] == ["succeeded"] * 4
    assert not any(row["gap_suspected"] for row in rows)
    assert [row["rows_duplicate"] for row in rows] == [0, 0, 0, 0]


def test_items_land_verbatim(
    stand_in: SpotifyStandIn, user: str, target_env: dict[str, str]
) -> None:
    history = plays(3)
    history[1]["track"]["name"] = 'Ünïcødé "quoted" 日本語 العربية 🎧 \\ ' + "x" * 400
    stand_in.add_plays(user, history)
    settings = settings_from(target_env)
    with Warehouse(settings) as warehouse:
        extract(settings, warehouse)
        stored = [json.loads(item) for item in warehouse.play_items()]
    assert sorted(stored, key=lambda item: item["played_at"]) == history


def test_one_request_per_user_when_nothing_is_new(
    stand_in: SpotifyStandIn, user: str, cli: Callable[..., CliResult]
) -> None:
    stand_in.add_plays(user, plays(40))
    assert cli("extract").returncode == 0
    before = stand_in.count(RECENTLY_PLAYED)
    result = cli("extract")
    assert result.returncode == 0, result.output
    assert stand_in.count(RECENTLY_PLAYED) - before == 1
    after = [r.query for r in stand_in.requests if r.path.endswith(RECENTLY_PLAYED)][-1]
    newest = datetime.fromisoformat(plays(40)[-1]["played_at"])
    assert after == {"limit": "50", "after": str(int(newest.timestamp() * 1000))}


def test_flags_a_gap_when_more_than_50_plays_happened_between_runs(
    stand_in: SpotifyStandIn, user: str, cli: Callable[..., CliResult], env: dict[str, str]
) -> None:
    history = plays(130)
    stand_in.add_plays(user, history[:10])
    assert cli("extract").returncode == 0
    stand_in.add_plays(user, history[10:130])  # 120 new plays; Spotify shows the last 50
    result = cli("extract")
    assert result.returncode == 0, result.output
    rows = batches(env)
    assert [row["gap_suspected"] for row in rows] == [False, True]
    assert rows[1]["rows_inserted"] == 50
    assert "gap suspected" in (rows[1]["message"] or "")
    assert landed(env) == expected_keys(history[:10] + history[80:])
    assert re.search(r"listener-1\s.*\syes\s", result.stdout), result.stdout


def test_honours_retry_after_on_429(
    stand_in: SpotifyStandIn, user: str, cli: Callable[..., CliResult], env: dict[str, str]
) -> None:
    stand_in.add_plays(user, plays(5))
    stand_in.fail_next(RECENTLY_PLAYED, 429, headers={"Retry-After": "3"})
    result = cli("extract")
    assert result.returncode == 0, result.output
    calls = [r.received_at for r in stand_in.requests if r.path.endswith(RECENTLY_PLAYED)]
    assert len(calls) == 2
    # Our own backoff would retry after 1-2 s: only Retry-After makes it wait 3.
    assert calls[1] - calls[0] >= 3, "the Retry-After of 3 s was not honoured"
    assert len(landed(env)) == 5


def test_retry_after_beyond_the_ceiling_fails_with_when_to_retry(
    stand_in: SpotifyStandIn, user: str, cli: Callable[..., CliResult], env: dict[str, str]
) -> None:
    stand_in.add_plays(user, plays(5))
    stand_in.fail_next(RECENTLY_PLAYED, 429, headers={"Retry-After": "3600"})
    result = cli("extract", extra_env={"SPOTIFY_ELT_MAX_RETRY_AFTER": "60"})
    assert_one_line_error(result, "rate limited", "retry after", "SPOTIFY_ELT_MAX_RETRY_AFTER")
    assert stand_in.count(RECENTLY_PLAYED) == 1
    assert landed(env) == []
    assert [(row["status"], row["rows_inserted"]) for row in batches(env)] == [("failed", 0)]


def test_quota_exceeded_is_not_retried(
    stand_in: SpotifyStandIn, user: str, cli: Callable[..., CliResult]
) -> None:
    stand_in.fail_next(
        RECENTLY_PLAYED,
        429,
        headers={"Retry-After": "1"},
        body={"error": {"status": 429, "message": "QUOTA_EXCEEDED"}},
    )
    assert_one_line_error(cli("extract"), "quota exceeded", "retry after")
    assert stand_in.count(RECENTLY_PLAYED) == 1


def test_revoked_token_ends_in_one_line_naming_auth(
    stand_in: SpotifyStandIn, user: str, cli: Callable[..., CliResult], env: dict[str, str]
) -> None:
    stand_in.add_plays(user, plays(5))
    stand_in.revoke(REFRESH_TOKEN)
    result = cli("extract")
    assert_one_line_error(result, "spotify-elt auth")
    assert result.returncode == 1
    assert landed(env) == []


def test_forbidden_quotes_spotifys_reason(
    stand_in: SpotifyStandIn, user: str, cli: Callable[..., CliResult]
) -> None:
    stand_in.fail_next(RECENTLY_PLAYED, 403)
    assert_one_line_error(cli("extract"), "403", "the user may not be registered")
    # Spotify sends the allowlist refusal as plain text, which spotipy reduces to "error".
    stand_in.fail_next(RECENTLY_PLAYED, 403, body="User not registered in the Developer Dashboard")
    assert_one_line_error(cli("extract"), "(403): User not registered in the Developer Dashboard")


def test_token_endpoint_outage_is_one_line_not_an_auth_error(
    stand_in: SpotifyStandIn, user: str, cli: Callable[..., CliResult]
) -> None:
    page = "<html>\n<head><title>502 Bad Gateway</title></head>\n<body>nginx</body>\n</html>"
    stand_in.fail_next("/api/token", 502, count=10, body=page)
    result = cli("extract", extra_env={"SPOTIFY_ELT_MAX_RETRIES": "1"})
    assert_one_line_error(result, "Spotify unavailable", "(HTTP 502) after 2 attempts")
    assert "spotify-elt auth" not in result.stderr


def test_one_failing_user_does_not_stop_the_others(
    stand_in: SpotifyStandIn, cli: Callable[..., CliResult], env: dict[str, str], tmp_path: Path
) -> None:
    token_dir = tmp_path / "tokens"
    for user_id in ("alice", "bob", "carol"):
        stand_in.add_user(user_id, user_id.title(), f"refresh-{user_id}")
        stand_in.add_plays(user_id, plays(3))
        TokenFile(token_dir / f"{user_id}.json").save_token_to_cache(
            {"access_token": "", "refresh_token": f"refresh-{user_id}", "expires_at": 0,
             "scope": "user-read-recently-played", "token_type": "Bearer", "expires_in": 0}
        )  # fmt: skip
    stand_in.revoke("refresh-bob")
    result = cli("extract", without=("SPOTIFY_REFRESH_TOKEN",))
    assert_one_line_error(result, "bob", "spotify-elt auth")
    assert sorted({user_id for user_id, _ in landed(env)}) == ["alice", "carol"]
    statuses = sorted((row["user_id"] or "", row["status"]) for row in batches(env))
    assert statuses == [("alice", "succeeded"), ("bob", "failed"), ("carol", "succeeded")]


def test_headless_run_with_a_token_lacking_scope_fails_fast(
    stand_in: SpotifyStandIn, cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    stand_in.add_user("dave", "Dave", "refresh-dave")
    TokenFile(tmp_path / "tokens" / "dave.json").save_token_to_cache(
        {"access_token": "stale", "refresh_token": "refresh-dave", "expires_at": 0,
         "scope": "user-read-email", "token_type": "Bearer", "expires_in": 0}
    )  # fmt: skip
    # stdin left open: spotipy's fallback would block on input() until the timeout.
    result = cli("extract", without=("SPOTIFY_REFRESH_TOKEN",), stdin=None, timeout=60)
    assert_one_line_error(result, "scope", "spotify-elt auth")


def test_no_authorised_user_says_what_to_do(cli: Callable[..., CliResult]) -> None:
    result = cli("extract", without=("SPOTIFY_REFRESH_TOKEN",))
    assert_one_line_error(result, "spotify-elt auth", "SPOTIFY_REFRESH_TOKEN")


def test_failure_inside_the_transaction_leaves_nothing_and_the_next_run_lands_all(
    stand_in: SpotifyStandIn, user: str, target_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    history = plays(20)
    stand_in.add_plays(user, history)
    settings = settings_from(target_env)

    def broken_insert(*_: Any) -> None:
        raise sa.exc.OperationalError("insert batch", {}, Exception("disk full"))

    with Warehouse(settings) as warehouse:
        monkeypatch.setattr(Warehouse, "_insert_batch", broken_insert)
        (failed,) = extract(settings, warehouse)
        assert failed.error is not None and "disk full" in failed.error
        monkeypatch.undo()
        assert landed(target_env) == []  # the plays inserted before the failure rolled back
        (succeeded,) = extract(settings, warehouse)
    assert succeeded.batch is not None and succeeded.batch.rows_inserted == 20
    assert landed(target_env) == expected_keys(history)


KILL_BEFORE_COMMIT = textwrap.dedent(
    """
    import os, signal, sys
    from ingestion import warehouse

    def kill_before_commit(self, connection, batch):
        # The plays of this batch are inserted, the transaction is open: die now.
        os.kill(os.getpid(), signal.SIGKILL)

    warehouse.Warehouse._insert_batch = kill_before_commit
    from spotify_elt.cli import main
    sys.argv = ["spotify-elt", "extract"]
    main()
    """
)


def test_sigkill_between_fetch_and_commit_loses_and_duplicates_nothing(
    stand_in: SpotifyStandIn, user: str, cli: Callable[..., CliResult], env: dict[str, str],
    tmp_path: Path,
) -> None:  # fmt: skip
    history = plays(30)
    stand_in.add_plays(user, history[:20])
    assert cli("extract").returncode == 0
    stand_in.add_plays(user, history[20:])
    killed = subprocess.run(
        [sys.executable, "-c", KILL_BEFORE_COMMIT],
        env={**base_environment(), **env},
        cwd=tmp_path,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert killed.returncode == -9, killed.stderr
    assert landed(env) == expected_keys(history[:20])
    result = cli("extract")
    assert result.returncode == 0, result.output
    assert landed(env) == expected_keys(history)
    assert [row["rows_inserted"] for row in batches(env)] == [20, 10]


def test_no_secret_in_any_output_or_log(
    stand_in: SpotifyStandIn,
    user: str,
    cli: Callable[..., CliResult],
    env: dict[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    stand_in.add_plays(user, plays(60))
    outputs = [cli("-v", "extract")]
    stand_in.fail_next(RECENTLY_PLAYED, 503)
    stand_in.fail_next(RECENTLY_PLAYED, 401)
    outputs.append(cli("-v", "extract"))
    stand_in.revoke(REFRESH_TOKEN)
    outputs.append(cli("-v", "run"))
    # In-process with every logger at DEBUG: spotipy would log the bearer token here.
    caplog.set_level("DEBUG")
    stand_in.add_user("erin", "Erin", "refresh-erin")
    settings = settings_from({**env, "SPOTIFY_REFRESH_TOKEN": "refresh-erin"})
    with Warehouse(settings) as warehouse:
        extract(settings, warehouse)
        batch_messages = [str(row["message"]) for row in warehouse.batches()]
    access_tokens = {
        request.headers.get("Authorization", "").removeprefix("Bearer ")
        for request in stand_in.requests
    } - {""}
    assert access_tokens, "the stand-in issued no access token: the test proves nothing"
    texts = [*(result.output for result in outputs), caplog.text, *batch_messages]
    for secret in {CLIENT_SECRET, REFRESH_TOKEN, "refresh-erin", *access_tokens}:
        for text in texts:
            assert secret not in text


def test_warehouse_unreachable_is_one_line(cli: Callable[..., CliResult], user: str) -> None:
    result = cli(
        "extract",
        extra_env={
            "SPOTIFY_ELT_TARGET": "postgres",
            "SPOTIFY_ELT_POSTGRES_PORT": "9",  # discard port: nothing listens
            "SPOTIFY_ELT_POSTGRES_PASSWORD": "pg-secret-31337",
        },
    )
    assert_one_line_error(result, "PostgreSQL 127.0.0.1:9")
    assert "pg-secret-31337" not in result.output


def store_token(token_dir: Path, user_id: str, **token: Any) -> Path:
    path = token_dir / f"{user_id}.json"
    defaults = {
        "access_token": "", "refresh_token": f"refresh-{user_id}", "expires_at": 0,
        "scope": "user-read-recently-played", "token_type": "Bearer", "expires_in": 0,
    }  # fmt: skip
    TokenFile(path).save_token_to_cache({**defaults, **token})
    return path


def test_damaged_token_file_names_the_file_and_auth(
    stand_in: SpotifyStandIn, cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    stand_in.add_user("frank", "Frank", "refresh-frank")
    path = store_token(tmp_path / "tokens", "frank")
    path.write_text('{"scope": "user-read-recently-played"}')
    result = cli("extract", without=("SPOTIFY_REFRESH_TOKEN",))
    assert_one_line_error(result, "frank.json is damaged", "spotify-elt auth")


def test_missing_app_credentials_fail_once_before_any_user(
    stand_in: SpotifyStandIn, cli: Callable[..., CliResult], env: dict[str, str], tmp_path: Path
) -> None:
    for user_id in ("hana", "ivan", "jo"):
        store_token(tmp_path / "tokens", user_id)
    result = cli("extract", without=("SPOTIFY_REFRESH_TOKEN", "SPOTIFY_CLIENT_SECRET"))
    assert_one_line_error(result, "SPOTIFY_CLIENT_ID and SPOTIFY_CLIENT_SECRET must be set")
    assert stand_in.requests == []


def test_messages_are_printed_as_text_not_markup(
    cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    odd = tmp_path / "[red]a[" / "b]"  # ".../[red]a[/b]/...": markup tags, if read as markup
    result = cli(
        "extract", extra_env={"SPOTIFY_ELT_TOKEN_DIR": str(odd)}, without=("SPOTIFY_REFRESH_TOKEN",)
    )
    assert_one_line_error(result, "no authorised Spotify user")
    odd.mkdir(parents=True)
    store_token(odd, "kim")
    (odd / "kim.json").write_text("{")
    result = cli(
        "extract", extra_env={"SPOTIFY_ELT_TOKEN_DIR": str(odd)}, without=("SPOTIFY_REFRESH_TOKEN",)
    )
    assert_one_line_error(result, "[red]a[/b]/kim.json")


def test_bad_warehouse_path_is_one_line(
    stand_in: SpotifyStandIn, user: str, cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    (tmp_path / "a-file").write_text("")
    result = cli(
        "extract", extra_env={"SPOTIFY_ELT_DUCKDB_PATH": str(tmp_path / "a-file" / "w.duckdb")}
    )
    assert_one_line_error(result, "cannot use the DuckDB file")
