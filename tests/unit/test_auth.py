"""`spotify-elt auth` without a browser: URL out, redirect URL in, token stored 0600."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlparse

from tests.support.cli import CLIENT_SECRET, CliResult, base_environment
from tests.support.stand_in import SpotifyStandIn
from tests.support.web_api import play_item

REDIRECT_URI = "http://127.0.0.1:8888/callback"


def authorise_interactively(env: dict[str, str], cwd: Path, stand_in: SpotifyStandIn) -> CliResult:
    """Answer `spotify-elt auth` like a person: read its URL, approve, paste the redirect."""
    child = subprocess.Popen(
        [sys.executable, "-m", "spotify_elt", "auth"],
        env={**base_environment(), **env, "COLUMNS": "400"},
        cwd=cwd,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stderr is not None and child.stdin is not None
    shown = []
    for line in child.stderr:
        shown.append(line)
        if "/authorize?" in line:
            break
    url = urlparse(shown[-1].strip())
    query = {key: values[0] for key, values in parse_qs(url.query).items()}
    assert f"{url.scheme}://{url.netloc}" == stand_in.accounts_url
    assert query["scope"] == "user-read-recently-played"
    assert query["redirect_uri"] == REDIRECT_URI
    code = stand_in.issue_code("newbie", query["redirect_uri"])
    redirect = f"{REDIRECT_URI}?{urlencode({'code': code, 'state': query['state']})}"
    stdout, stderr = child.communicate(redirect + "\n", timeout=60)
    return CliResult(child.returncode, stdout, "".join(shown) + stderr)


def test_auth_stores_a_private_token_that_extract_then_uses(
    stand_in: SpotifyStandIn, env: dict[str, str], tmp_path: Path, cli: Callable[..., CliResult]
) -> None:
    stand_in.add_user("newbie", "Nüwe Bïe", "refresh-newbie")
    stand_in.add_plays("newbie", [play_item("t1", datetime(2026, 11, 1, tzinfo=UTC))])
    stored = {k: v for k, v in env.items() if k != "SPOTIFY_REFRESH_TOKEN"}
    result = authorise_interactively(stored, tmp_path, stand_in)
    assert result.returncode == 0, result.output
    assert "Authorised Nüwe Bïe (newbie)" in result.stdout
    token_file = tmp_path / "tokens" / "newbie.json"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(token_file.parent.stat().st_mode) == 0o700
    token = json.loads(token_file.read_text())
    assert token["refresh_token"] == "refresh-newbie"
    for secret in (CLIENT_SECRET, "refresh-newbie", token["access_token"]):
        assert secret not in result.output
    # The stored token is what a later headless run uses.
    extracted = cli("extract", without=("SPOTIFY_REFRESH_TOKEN",))
    assert extracted.returncode == 0, extracted.output
    assert "newbie" in extracted.stdout
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600  # rewritten after the refresh


def test_auth_with_nothing_pasted_fails_in_one_line(cli: Callable[..., CliResult]) -> None:
    result = cli("auth", stdin="")
    assert result.returncode == 1
    assert "Traceback" not in result.output
    assert result.stderr.strip().splitlines()[-1].startswith("error: no redirect URL given")


def test_auth_rejects_a_redirect_of_another_attempt(
    stand_in: SpotifyStandIn, cli: Callable[..., CliResult]
) -> None:
    stand_in.add_user("newbie", "Newbie", "refresh-newbie")
    code = stand_in.issue_code("newbie", REDIRECT_URI)
    result = cli("auth", "--redirect-url", f"{REDIRECT_URI}?code={code}&state=forged")
    assert result.returncode == 1
    assert "another authorisation attempt" in result.stderr


def test_auth_reports_a_denied_consent(cli: Callable[..., CliResult]) -> None:
    result = cli("auth", "--redirect-url", f"{REDIRECT_URI}?error=access_denied&state=x")
    assert result.returncode == 1
    assert "did not authorise the app: access_denied" in result.stderr


def test_unwritable_token_store_is_one_line(
    stand_in: SpotifyStandIn, env: dict[str, str], tmp_path: Path
) -> None:
    stand_in.add_user("newbie", "Newbie", "refresh-newbie")
    (tmp_path / "a-file").write_text("")
    unusable = {**env, "SPOTIFY_ELT_TOKEN_DIR": str(tmp_path / "a-file" / "tokens")}
    result = authorise_interactively(unusable, tmp_path, stand_in)
    assert result.returncode == 1
    assert "Traceback" not in result.output
    assert result.stderr.strip().splitlines()[-1].startswith("error: cannot write the token file")
    assert "SPOTIFY_ELT_TOKEN_DIR" in result.stderr
