"""Extract in process against the Spotify stand-in: paging, gaps, retries and their waits."""

from __future__ import annotations

from ingestion.extract import extract
from ingestion.warehouse import Warehouse
from tests.support.cli import settings_from
from tests.support.raw_tables import batches, expected_keys, landed
from tests.support.stand_in import SpotifyStandIn
from tests.support.web_api import plays

RECENTLY_PLAYED = "/v1/me/player/recently-played"


def test_no_gap_when_every_new_play_is_reported(
    stand_in: SpotifyStandIn, user: str, env: dict[str, str]
) -> None:
    history = plays(59)
    stand_in.add_plays(user, history[:10])
    settings = settings_from(env)
    with Warehouse(settings) as warehouse:
        extract(settings, warehouse)
        stand_in.add_plays(user, history[10:])  # 49 new plays: all within Spotify's window
        extract(settings, warehouse)
    assert [row["gap_suspected"] for row in batches(env)] == [False, False]
    assert landed(env) == expected_keys(history)


def test_follows_next_links_when_the_api_reports_more_than_a_page(
    stand_in: SpotifyStandIn, user: str, env: dict[str, str]
) -> None:
    history = plays(120)
    stand_in.window = 1000  # a Spotify that remembers more: pages must be followed
    stand_in.add_plays(user, history[:5])
    settings = settings_from(env)
    with Warehouse(settings) as warehouse:
        extract(settings, warehouse)
        stand_in.add_plays(user, history[5:])
        (result,) = extract(settings, warehouse)
    assert result.batch is not None
    assert result.batch.api_requests == 3  # 50 + 50 + 15
    assert not result.batch.gap_suspected
    assert landed(env) == expected_keys(history)


def test_retry_after_is_the_wait_not_the_backoff(
    stand_in: SpotifyStandIn, user: str, env: dict[str, str]
) -> None:
    stand_in.fail_next(RECENTLY_PLAYED, 429, headers={"Retry-After": "7"})
    stand_in.fail_next("/api/token", 429, headers={"Retry-After": "11"})
    waits: list[float] = []
    settings = settings_from(env)
    with Warehouse(settings) as warehouse:
        (result,) = extract(settings, warehouse, sleep=waits.append)
    assert result.error is None
    assert waits == [11.0, 7.0]


def test_retries_5xx_and_timeouts_with_backoff(
    stand_in: SpotifyStandIn, user: str, env: dict[str, str]
) -> None:
    stand_in.add_plays(user, plays(5))
    stand_in.fail_next(RECENTLY_PLAYED, 503, count=3)
    stand_in.delay_next("/v1/me", 1.5)
    waits: list[float] = []
    settings = settings_from(env, SPOTIFY_ELT_REQUEST_TIMEOUT=0.5)
    with Warehouse(settings) as warehouse:
        (result,) = extract(settings, warehouse, sleep=waits.append)
    assert result.error is None
    # Each request backs off on its own: the timeout on /me waits 1 s, the three 503s 1, 2 and
    # 4 s, each plus up to 1 s of jitter.
    assert len(waits) == 4, waits
    for wait, base in zip(waits, (1, 1, 2, 4), strict=True):
        assert base <= wait <= base + 1, waits
    assert len(landed(env)) == 5


def test_persistent_5xx_ends_in_one_line_after_bounded_retries(
    stand_in: SpotifyStandIn, user: str, env: dict[str, str]
) -> None:
    stand_in.fail_next(RECENTLY_PLAYED, 502, count=100)
    settings = settings_from(env, SPOTIFY_ELT_MAX_RETRIES=3)
    with Warehouse(settings) as warehouse:
        (result,) = extract(settings, warehouse, sleep=lambda _: None)
    assert result.error is not None
    assert "listener-1 (HTTP 502) after 4 attempts" in result.error
    assert stand_in.count(RECENTLY_PLAYED) == 4
