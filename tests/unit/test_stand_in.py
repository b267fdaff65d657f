"""Checks that the loopback Spotify stand-in is faithful enough for the real spotipy client.

Every test drives the stand-in through spotipy itself (token refresh, code exchange, paging,
error mapping), because the rest of the suite relies on spotipy behaving against it exactly
as it would against Spotify.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
import spotipy
from spotipy.cache_handler import MemoryCacheHandler

from tests.support.stand_in import SpotifyStandIn
from tests.support.web_api import play_item

SCOPE = "user-read-recently-played"
REDIRECT_URI = "http://127.0.0.1:8888/callback"
T0 = datetime(2026, 11, 20, 8, 0, 0, 123_000, tzinfo=UTC)


def _ms(moment: datetime) -> int:
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)


@pytest.fixture
def stand_in() -> Iterator[SpotifyStandIn]:
    with SpotifyStandIn() as server:
        server.add_user("alice", "Alice A.", "rt-alice")
        yield server


def _oauth(
    stand_in: SpotifyStandIn,
    refresh_token: str | None = "rt-alice",  # noqa: S107 - fake token for the stand-in
    client_secret: str = "test-client-secret",  # noqa: S107 - fake secret for the stand-in
) -> Any:
    cache = MemoryCacheHandler(
        None
        if refresh_token is None
        else {
            "access_token": "",
            "refresh_token": refresh_token,
            "expires_at": 0,
            "scope": SCOPE,
            "token_type": "Bearer",
            "expires_in": 0,
        }
    )
    oauth = spotipy.SpotifyOAuth(
        client_id="test-client-id",
        client_secret=client_secret,
        redirect_uri=REDIRECT_URI,
        scope=SCOPE,
        cache_handler=cache,
        open_browser=False,
        requests_timeout=5,
    )
    oauth.OAUTH_TOKEN_URL = f"{stand_in.accounts_url}/api/token"
    oauth.OAUTH_AUTHORIZE_URL = f"{stand_in.accounts_url}/authorize"
    return oauth


def _client(stand_in: SpotifyStandIn, oauth: Any, **kwargs: Any) -> Any:
    options: dict[str, Any] = {"retries": 0, "status_retries": 0, "requests_timeout": 5}
    options.update(kwargs)
    sp = spotipy.Spotify(auth_manager=oauth, **options)
    sp.prefix = stand_in.api_url + "/"
    return sp


def _plays(count: int, start: datetime = T0) -> list[dict[str, Any]]:
    return [play_item(f"track{i:02d}", start + timedelta(minutes=i)) for i in range(count)]


def test_refresh_grant_through_spotify_oauth(stand_in: SpotifyStandIn) -> None:
    oauth = _oauth(stand_in)

    token = oauth.get_access_token(as_dict=False)

    assert isinstance(token, str) and token
    assert stand_in.count("/api/token") == 1
    sent = stand_in.requests[-1]
    assert sent.method == "POST"
    assert sent.form == {"refresh_token": "rt-alice", "grant_type": "refresh_token"}
    assert sent.headers["Authorization"].startswith("Basic ")
    cached = oauth.cache_handler.get_cached_token()
    # No refresh_token comes back, so spotipy must have carried the old one forward.
    assert cached["refresh_token"] == "rt-alice"
    assert cached["access_token"] == token


def test_me_via_spotipy_and_unknown_token(stand_in: SpotifyStandIn) -> None:
    sp = _client(stand_in, _oauth(stand_in))

    me = sp.me()

    assert me == {
        "display_name": "Alice A.",
        "external_urls": {"spotify": "https://open.spotify.com/user/alice"},
        "href": "https://api.spotify.com/v1/users/alice",
        "id": "alice",
        "images": [],
        "type": "user",
        "uri": "spotify:user:alice",
    }
    assert stand_in.count("/v1/me") == 1

    forged = spotipy.Spotify(auth="not-a-token", retries=0, status_retries=0)
    forged.prefix = stand_in.api_url + "/"
    with pytest.raises(spotipy.SpotifyException) as caught:
        forged.me()
    assert caught.value.http_status == 401
    assert "Invalid access token" in caught.value.msg


def test_recently_played_cursors_window_and_next(stand_in: SpotifyStandIn) -> None:
    stand_in.add_plays("alice", _plays(60))
    sp = _client(stand_in, _oauth(stand_in))

    first = sp.current_user_recently_played(limit=20)

    # Only the newest 50 of 60 plays are visible: track10..track59, newest first.
    assert [item["track"]["id"] for item in first["items"]] == [
        f"track{i:02d}" for i in range(59, 39, -1)
    ]
    assert first["limit"] == 20
    # Links name Spotify itself, as Spotify's do, whoever answered.
    spotify = "https://api.spotify.com/v1"
    assert first["href"] == f"{spotify}/me/player/recently-played?limit=20"
    oldest_ms = _ms(T0 + timedelta(minutes=40))
    assert first["cursors"] == {
        "after": str(_ms(T0 + timedelta(minutes=59))),
        "before": str(oldest_ms),
    }
    assert first["next"] == f"{spotify}/me/player/recently-played?before={oldest_ms}&limit=20"

    seen = [item["track"]["id"] for item in first["items"]]
    page = first
    while page["next"]:
        page = sp.next({**page, "next": page["next"].replace(spotify, stand_in.api_url)})
        seen.extend(item["track"]["id"] for item in page["items"])
    assert seen == [f"track{i:02d}" for i in range(59, 9, -1)]
    assert page["next"] is None

    after = sp.current_user_recently_played(limit=50, after=_ms(T0 + timedelta(minutes=55)))
    assert [item["track"]["id"] for item in after["items"]] == [
        "track59",
        "track58",
        "track57",
        "track56",
    ]
    assert after["next"] is None

    before = sp.current_user_recently_played(limit=3, before=_ms(T0 + timedelta(minutes=12)))
    assert [item["track"]["id"] for item in before["items"]] == ["track11", "track10"]

    empty = sp.current_user_recently_played(after=_ms(T0 + timedelta(days=1)))
    assert empty["items"] == []
    assert empty["cursors"] is None
    assert empty["next"] is None

    stand_in.window = 5
    assert len(sp.current_user_recently_played(limit=50)["items"]) == 5


def test_recently_played_rejects_bad_parameters(stand_in: SpotifyStandIn) -> None:
    sp = _client(stand_in, _oauth(stand_in))

    with pytest.raises(spotipy.SpotifyException) as caught:
        sp.current_user_recently_played(limit=51)
    assert caught.value.http_status == 400
    with pytest.raises(spotipy.SpotifyException) as caught:
        sp.current_user_recently_played(after=1, before=2)
    assert caught.value.http_status == 400


def test_fail_next_429_exposes_retry_after(stand_in: SpotifyStandIn) -> None:
    # spotipy's own urllib3 Retry turns a 429 into "Max Retries" without headers even with
    # retries=0, so callers that want Retry-After must bring a session without that adapter.
    sp = _client(stand_in, _oauth(stand_in), requests_session=requests.Session())
    stand_in.fail_next("/me/player/recently-played", 429, headers={"Retry-After": "7"})

    with pytest.raises(spotipy.SpotifyException) as caught:
        sp.current_user_recently_played()
    assert caught.value.http_status == 429
    assert caught.value.headers["Retry-After"] == "7"
    # The queued failure is spent; the next call is served normally.
    assert sp.current_user_recently_played()["items"] == []

    stand_in.fail_next("/v1/me", 403)
    with pytest.raises(spotipy.SpotifyException) as caught:
        sp.me()
    assert caught.value.http_status == 403
    assert "the user may not be registered" in caught.value.msg


def test_delay_next_trips_client_timeout(stand_in: SpotifyStandIn) -> None:
    sp = _client(stand_in, _oauth(stand_in), requests_timeout=0.2)
    sp.me()  # fetch the token first so only the API call is delayed
    stand_in.delay_next("/v1/me", 1.0)

    with pytest.raises(requests.exceptions.Timeout):
        sp.me()
    assert sp.me()["id"] == "alice"


def test_revoked_refresh_token_is_invalid_grant(stand_in: SpotifyStandIn) -> None:
    stand_in.revoke("rt-alice")

    with pytest.raises(spotipy.SpotifyOauthError) as caught:
        _oauth(stand_in).get_access_token(as_dict=False)
    assert caught.value.error == "invalid_grant"
    assert caught.value.error_description == "Refresh token revoked"


def test_wrong_client_secret_is_invalid_client(stand_in: SpotifyStandIn) -> None:
    with pytest.raises(spotipy.SpotifyOauthError) as caught:
        _oauth(stand_in, client_secret="wrong").get_access_token(as_dict=False)
    assert caught.value.error == "invalid_client"


def test_authorization_code_exchange_is_one_time(stand_in: SpotifyStandIn) -> None:
    oauth = _oauth(stand_in, refresh_token=None)
    assert oauth.get_authorize_url().startswith(f"{stand_in.accounts_url}/authorize?")
    assert requests.get(oauth.get_authorize_url(), timeout=5).status_code == 200
    code = stand_in.issue_code("alice", REDIRECT_URI)

    with pytest.warns(DeprecationWarning):
        token_info = oauth.get_access_token(code, as_dict=True, check_cache=False)

    assert token_info["refresh_token"] == "rt-alice"
    assert token_info["token_type"] == "Bearer"
    assert token_info["expires_in"] == 3600
    assert _client(stand_in, oauth).me()["id"] == "alice"
    with (
        pytest.warns(DeprecationWarning),
        pytest.raises(spotipy.SpotifyOauthError) as caught,
    ):
        oauth.get_access_token(code, as_dict=True, check_cache=False)
    assert caught.value.error == "invalid_grant"
    assert caught.value.error_description == "Invalid authorization code"


def test_play_item_shapes() -> None:
    local = play_item(
        None,
        datetime(2026, 11, 20, 8, 15, 30, 999_999, tzinfo=UTC),
        name="My Song",
        artists=[(None, "Local Band")],
        album=(None, "Home Tapes"),
        duration_ms=185_500,
        is_local=True,
        with_millis=False,
    )
    assert local["played_at"] == "2026-11-20T08:15:30Z"
    track = local["track"]
    assert track["is_local"] is True
    assert track["id"] is None and track["href"] is None
    assert track["uri"] == "spotify:local:Local+Band:Home+Tapes:My+Song:185"
    assert track["album"]["id"] is None and track["album"]["images"] == []
    assert track["artists"][0]["id"] is None and track["artists"][0]["external_urls"] == {}

    item = play_item(
        "4uLU6hMCjMI75M1A2tKUQC",
        datetime(2026, 11, 20, 8, 15, 30, 123_456, tzinfo=UTC),
        context_uri="spotify:playlist:37i9dQZF1DXcBWIGoYBM5M",
    )
    assert item["played_at"] == "2026-11-20T08:15:30.123Z"
    assert item["context"] == {
        "type": "playlist",
        "href": "https://api.spotify.com/v1/playlists/37i9dQZF1DXcBWIGoYBM5M",
        "external_urls": {"spotify": "https://open.spotify.com/playlist/37i9dQZF1DXcBWIGoYBM5M"},
        "uri": "spotify:playlist:37i9dQZF1DXcBWIGoYBM5M",
    }
    assert item["track"]["uri"] == "spotify:track:4uLU6hMCjMI75M1A2tKUQC"
    assert len(item["track"]["album"]["images"]) == 3
    assert "popularity" not in item["track"]
    assert "available_markets" not in item["track"]
