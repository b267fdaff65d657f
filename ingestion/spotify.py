"""The Spotify Web API client: OAuth tokens, `/me` and recently-played, with retries that listen.

The only module that imports spotipy. It turns every Spotify failure into one of the one-line
errors in `ingestion.errors`, and never lets spotipy fall back to an interactive prompt.
"""

from __future__ import annotations

import email.utils
import json
import logging
import os
import secrets
import tempfile
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import requests
import spotipy
from spotipy.cache_handler import CacheHandler, MemoryCacheHandler
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt
from tenacity.wait import wait_exponential_jitter

from ingestion.config import SPOTIFY_API_URL, Settings
from ingestion.errors import (
    AuthError,
    ConfigError,
    RateLimitedError,
    SpotifyApiError,
    SpotifyEltError,
)
from ingestion.rules import EARLIEST_PLAY, latest_play

log = logging.getLogger(__name__)

SCOPE = "user-read-recently-played"
PAGE_LIMIT = 50
# Spotify keeps only the last 50 plays, so a run needs one page, two at most; a misbehaving
# `next` chain must not keep a scheduled run busy.
MAX_PAGES = 10
EPOCH = datetime(1970, 1, 1)
MAX_RETRY_AFTER_SECONDS = 7 * 24 * 3600.0

T = TypeVar("T")

# spotipy logs request headers (the bearer token) and token-endpoint bodies at DEBUG, and every
# HTTP error at ERROR: we report failures ourselves, in one line, so its logger stays quiet.
logging.getLogger("spotipy").setLevel(logging.CRITICAL)


def parse_played_at(value: object) -> datetime:
    """Spotify's `played_at` ("...T08:15:30.123Z" or "...T08:15:30Z") as a naive UTC datetime."""
    if not isinstance(value, str):
        raise ValueError(f"played_at is not a string: {value!r}")
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError(f"played_at has no time zone: {value!r}")
    played_at = parsed.astimezone(UTC).replace(tzinfo=None)
    if not EARLIEST_PLAY <= played_at < latest_play():
        raise ValueError(f"played_at is before {EARLIEST_PLAY:%Y} or in the future: {value!r}")
    return played_at


def to_unix_ms(moment: datetime) -> int:
    """Naive UTC datetime to the Unix milliseconds the `after`/`before` cursors use."""
    return (moment - EPOCH) // timedelta(milliseconds=1)


# --------------------------------------------------------------------------------------------
# Tokens


class TokenFile(CacheHandler):  # type: ignore[misc]
    """One user's token in its own file, created 0600.

    spotipy's CacheFileHandler creates the file with the process umask and only then chmods it;
    this writes a private temporary file and renames it into place, so the token is never
    readable by others, not even for a moment, and a crash never leaves half a file.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def get_cached_token(self) -> dict[str, Any] | None:
        try:
            token = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as error:
            raise AuthError(
                f"cannot read the token file {self.path} ({type(error).__name__}): "
                "run `spotify-elt auth` again"
            ) from None
        # spotipy indexes these keys without checking: a hand-edited file must fail here.
        if not (
            isinstance(token, dict)
            and isinstance(token.get("refresh_token"), str)
            and isinstance(token.get("expires_at"), int | float)
            and isinstance(token.get("scope"), str)
            and isinstance(token.get("access_token"), str)
        ):
            raise AuthError(f"the token file {self.path} is damaged: run `spotify-elt auth` again")
        return token

    def save_token_to_cache(self, token_info: dict[str, Any]) -> None:
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            descriptor, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".token-")
        except OSError as error:
            raise ConfigError(
                f"cannot write the token file {self.path} ({error.strerror or error}): "
                "check SPOTIFY_ELT_TOKEN_DIR"
            ) from None
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                json.dump(token_info, handle)
            Path(temporary).chmod(0o600)  # mkstemp already creates 0600; say it for the reader
            Path(temporary).replace(self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


@dataclass(frozen=True)
class Account:
    """Where one user's token comes from. `label` names it in messages (never the token)."""

    label: str
    cache_handler: CacheHandler = field(repr=False)
    user_id: str | None = None  # known before any call for stored tokens (the file name)


def authorised_accounts(settings: Settings) -> list[Account]:
    """`SPOTIFY_REFRESH_TOKEN` when set (headless, one user), else every stored token."""
    if settings.spotify_refresh_token is not None:
        seeded = {
            "access_token": "",
            "token_type": "Bearer",
            "expires_in": 0,
            "expires_at": 0,  # expired: the first call refreshes it
            "refresh_token": settings.spotify_refresh_token.get_secret_value(),
            "scope": SCOPE,
        }
        return [Account("the SPOTIFY_REFRESH_TOKEN user", MemoryCacheHandler(token_info=seeded))]
    files = sorted(settings.token_dir.glob("*.json")) if settings.token_dir.is_dir() else []
    if not files:
        raise AuthError(
            "no authorised Spotify user: run `spotify-elt auth` "
            "(or set SPOTIFY_REFRESH_TOKEN for a headless run)"
        )
    return [Account(path.stem, TokenFile(path), user_id=path.stem) for path in files]


class _HeadlessOAuth(spotipy.SpotifyOAuth):  # type: ignore[misc]
    """SpotifyOAuth that fails instead of prompting.

    spotipy asks for a pasted URL on stdin whenever it has no usable token, for instance when
    a stored token lacks a scope. A scheduled run has nobody to answer, so it must stop at once.
    """

    def get_auth_response(self, open_browser: bool | None = None) -> str:
        raise AuthError(
            "the stored Spotify token is missing or lacks the scope "
            f"'{SCOPE}': run `spotify-elt auth`"
        )


def require_app_credentials(settings: Settings) -> None:
    """Fail once, before any user, when the Spotify app is not configured."""
    if not settings.spotify_client_id or settings.spotify_client_secret is None:
        raise ConfigError(
            "SPOTIFY_CLIENT_ID and SPOTIFY_CLIENT_SECRET must be set (environment or .env)"
        )


def _build_oauth(settings: Settings, cache_handler: CacheHandler) -> spotipy.SpotifyOAuth:
    require_app_credentials(settings)
    assert settings.spotify_client_secret is not None  # checked just above
    oauth = _HeadlessOAuth(
        client_id=settings.spotify_client_id,
        client_secret=settings.spotify_client_secret.get_secret_value(),
        redirect_uri=settings.spotify_redirect_uri,
        scope=SCOPE,
        cache_handler=cache_handler,
        open_browser=False,
        requests_timeout=settings.request_timeout_seconds,
    )
    oauth.OAUTH_TOKEN_URL = f"{settings.spotify_accounts_url}/api/token"
    oauth.OAUTH_AUTHORIZE_URL = f"{settings.spotify_accounts_url}/authorize"
    return oauth


# --------------------------------------------------------------------------------------------
# Retries and error translation


def _retry_after_seconds(headers: Any) -> float | None:
    raw: str | None = (headers or {}).get("Retry-After")
    if raw is None:
        return None
    try:
        # Capped at a week: a larger value is nonsense, and would overflow date arithmetic.
        return min(max(0.0, float(raw)), MAX_RETRY_AFTER_SECONDS)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)  # the HTTP-date form
    except (TypeError, ValueError):
        return None  # unreadable: fall back to our own backoff
    if when.tzinfo is None:  # "-0000" means UTC with no zone information
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _is_quota_exceeded(error: spotipy.SpotifyException) -> bool:
    return "QUOTA_EXCEEDED" in f"{error.reason} {error.msg}".upper()


def _http_response(error: BaseException) -> requests.Response | None:
    """The HTTP answer behind a spotipy error: spotipy raises its own errors while handling
    requests' HTTPError, and keeps neither the status of token calls nor plain-text bodies."""
    cause = error.__context__
    return cause.response if isinstance(cause, requests.HTTPError) else None


def _http_status(error: BaseException) -> tuple[int | None, Any]:
    """HTTP status and headers of a failed Web API or token call, if it got an answer."""
    if isinstance(error, spotipy.SpotifyException):
        return int(error.http_status), error.headers
    response = _http_response(error)
    return (response.status_code, response.headers) if response is not None else (None, {})


@dataclass
class _RetryPolicy:
    """Which failures are worth another try, and how long to wait before it."""

    max_retry_after: float
    backoff: Callable[[RetryCallState], float] = field(
        default_factory=lambda: wait_exponential_jitter(initial=1, max=30, jitter=1)
    )

    def is_transient(self, error: BaseException) -> bool:
        if isinstance(error, requests.ConnectionError | requests.Timeout):
            return True
        status, headers = _http_status(error)
        if status == 429:
            wait = _retry_after_seconds(headers)
            quota = isinstance(error, spotipy.SpotifyException) and _is_quota_exceeded(error)
            return (wait is None or wait <= self.max_retry_after) and not quota
        return status is not None and status >= 500

    def wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if error is not None:
            status, headers = _http_status(error)
            retry_after = _retry_after_seconds(headers) if status == 429 else None
            if retry_after is not None:
                return retry_after
        return float(self.backoff(state))


def _translate(
    error: BaseException, who: str, settings: Settings, attempts: int
) -> SpotifyEltError:
    """Map a spotipy/requests failure to the one line the user reads."""
    status, headers = _http_status(error)
    code = getattr(error, "error", None) if isinstance(error, spotipy.SpotifyOauthError) else None
    reason = _spotify_reason(error)
    if code == "invalid_grant":
        return AuthError(
            f"Spotify no longer accepts the refresh token of {who} (revoked, or older than "
            "6 months): run `spotify-elt auth`"
        )
    if code == "invalid_client":
        return ConfigError(
            "Spotify rejected the app credentials: "
            "check SPOTIFY_CLIENT_ID and SPOTIFY_CLIENT_SECRET"
        )
    if status == 429:
        wait = _retry_after_seconds(headers)
        retry_at = datetime.now(UTC) + timedelta(seconds=wait or 0)
        quota = isinstance(error, spotipy.SpotifyException) and _is_quota_exceeded(error)
        limit = (
            f" (above SPOTIFY_ELT_MAX_RETRY_AFTER={settings.max_retry_after_seconds:g}s)"
            if wait is not None and wait > settings.max_retry_after_seconds
            else f" after {attempts} attempts"
        )
        return RateLimitedError(
            f"Spotify {'quota exceeded' if quota else 'rate limited'} for {who}{limit}: "
            f"retry after {retry_at:%Y-%m-%d %H:%M:%S} UTC",
            retry_after_seconds=wait or 0.0,
        )
    if status is not None and status >= 500:
        return SpotifyApiError(
            f"Spotify unavailable for {who} (HTTP {status}) after {attempts} attempts: "
            "try again later"
        )
    if isinstance(error, spotipy.SpotifyOauthError):
        return AuthError(f"Spotify token refresh failed for {who}: {reason}")
    if status == 401:
        return AuthError(f"Spotify rejected the access token of {who}: run `spotify-elt auth`")
    if status == 403:
        return SpotifyApiError(f"Spotify refused access for {who} (403): {reason}")
    if status is not None:
        return SpotifyApiError(f"Spotify API error for {who} (HTTP {status}): {reason}")
    if isinstance(error, requests.Timeout):
        return SpotifyApiError(
            f"Spotify did not answer within {settings.request_timeout_seconds:g}s for {who} "
            f"after {attempts} attempts: try again later"
        )
    if isinstance(error, requests.ConnectionError):
        return SpotifyApiError(
            f"cannot reach Spotify for {who} after {attempts} attempts: check the network "
            "(SPOTIFY_API_URL / SPOTIFY_ACCOUNTS_URL)"
        )
    if isinstance(error, SpotifyEltError):
        return error
    return SpotifyApiError(f"unexpected Spotify failure for {who}: {type(error).__name__}")


def _spotify_reason(error: BaseException) -> str:
    """Spotify's own words for a failure, as one short line.

    spotipy prefixes Web API messages with the URL and a newline, and gives a plain-text body
    (how Spotify answers some 403s, how proxies answer 5xx) as the message "error" or not at all.
    """
    words = ""
    if isinstance(error, spotipy.SpotifyException):
        words = str(error.msg or "").split("\n", 1)[-1].strip()
        if words in {"", "error", "None"}:
            words = str(error.reason or "")
    elif isinstance(error, spotipy.SpotifyOauthError):
        words = str(getattr(error, "error_description", None) or getattr(error, "error", ""))
    response = _http_response(error)
    if words in {"", "error", "None"} and response is not None:
        words = response.text
    line = " ".join(words.split())
    return (line[:197] + "...") if len(line) > 200 else (line or "no reason given")


# --------------------------------------------------------------------------------------------
# The client


@dataclass(frozen=True)
class RecentlyPlayed:
    """What one extract saw: play items, oldest first, and whether plays may be missing."""

    items: list[dict[str, Any]]
    requests: int
    gap_suspected: bool


class SpotifyClient:
    """One user's view of the Web API."""

    def __init__(
        self,
        settings: Settings,
        account: Account,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._settings = settings
        self._who = account.label
        self._sleep = sleep
        self._policy = _RetryPolicy(max_retry_after=settings.max_retry_after_seconds)
        self._oauth = _build_oauth(settings, account.cache_handler)
        # A plain session: spotipy's own urllib3 retries would swallow 429s and Retry-After.
        self._api = spotipy.Spotify(
            auth_manager=self._oauth,
            requests_session=requests.Session(),
            requests_timeout=settings.request_timeout_seconds,
        )
        self._api.prefix = f"{settings.spotify_api_url}/"

    def _call(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        attempts = 0

        def attempt() -> T:
            nonlocal attempts
            attempts += 1
            return function(*args, **kwargs)

        retrying = Retrying(
            retry=retry_if_exception(self._policy.is_transient),
            wait=self._policy.wait,
            stop=stop_after_attempt(self._settings.max_retries + 1),
            sleep=self._sleep,
            before_sleep=self._log_retry,
            reraise=True,
        )
        try:
            return retrying(attempt)
        except SpotifyEltError:
            raise
        except Exception as error:
            raise _translate(error, self._who, self._settings, attempts) from None

    def _log_retry(self, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0
        # INFO, not WARNING: a run that recovers is fine, one that does not ends in one error line.
        log.info(
            "Spotify call for %s failed (%s); retry %d in %.1fs",
            self._who,
            _describe(error),
            state.attempt_number,
            wait,
        )

    def me(self) -> dict[str, Any]:
        """The `/me` profile: who this token belongs to."""
        profile = self._call(self._api.me)
        if not isinstance(profile, dict) or not isinstance(profile.get("id"), str):
            raise SpotifyApiError(f"Spotify returned no user profile for {self._who}")
        self._who = profile["id"]  # name the user in later messages
        return profile

    def recently_played_since(self, after: datetime | None) -> RecentlyPlayed:
        """Every play Spotify still reports since `after`; one request when nothing is new."""
        after_ms = None if after is None else to_unix_ms(after)
        first = self._call(self._api.current_user_recently_played, limit=PAGE_LIMIT, after=after_ms)
        return collect_recent_plays(first, self._next_page, after, self._who)

    def _next_page(self, page: Mapping[str, Any]) -> Mapping[str, Any]:
        """The page `page` links to, asked of the configured base: Spotify's `next` links are
        absolute, to api.spotify.com, even when a proxy or a stand-in answered."""
        link = page.get("next")
        if isinstance(link, str) and link.startswith(f"{SPOTIFY_API_URL}/"):
            page = {**page, "next": self._settings.spotify_api_url + link[len(SPOTIFY_API_URL) :]}
        return self._call(self._api.next, page)


def collect_recent_plays(
    first_page: Mapping[str, Any],
    follow_next: Callable[[Mapping[str, Any]], Mapping[str, Any]],
    after: datetime | None,
    who: str,
) -> RecentlyPlayed:
    """Walk recently-played pages from `first_page` and judge whether plays may be missing.

    Pages are followed only while they are full, bring new plays and have not reached `after`.
    Items at or before `after` are kept (the warehouse drops what it already has, and keeps what
    it lacks). Plays may be missing when the last non-empty page was full and never reached
    `after`: Spotify reports only the latest 50 plays, so a full page with nothing older than the
    watermark means more plays happened than it shows (exactly 50 new plays look the same).
    """
    page, requests_made = first_page, 1
    last_full = reached_watermark = False
    by_time: dict[datetime, dict[str, Any]] = {}
    while True:
        items = _page_items(page, who)
        fresh = 0
        for item in items:
            played_at = parse_played_at(item.get("played_at"))
            if after is not None and played_at <= after:
                reached_watermark = True
            if played_at not in by_time:
                by_time[played_at] = item
                fresh += 1
        if items:
            last_full = len(items) >= int(page.get("limit") or PAGE_LIMIT)
        if not (page.get("next") and last_full and fresh and not reached_watermark):
            break
        if requests_made >= MAX_PAGES:
            log.warning("stopped following pages for %s after %d requests", who, MAX_PAGES)
            break
        page = follow_next(page)
        requests_made += 1
    gap = after is not None and last_full and not reached_watermark
    ordered = [by_time[moment] for moment in sorted(by_time)]
    return RecentlyPlayed(items=ordered, requests=requests_made, gap_suspected=gap)


def _page_items(page: object, who: str) -> list[dict[str, Any]]:
    items = page.get("items") if isinstance(page, dict) else None
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise SpotifyApiError(f"Spotify returned a malformed recently-played page for {who}")
    try:
        for item in items:
            parse_played_at(item.get("played_at"))
    except ValueError as error:
        raise SpotifyApiError(
            f"Spotify returned a play with a bad played_at for {who}: {error}"
        ) from None
    return items


def _describe(error: BaseException | None) -> str:
    if isinstance(error, spotipy.SpotifyException):
        return f"HTTP {error.http_status}"
    return type(error).__name__ if error else "unknown"


# --------------------------------------------------------------------------------------------
# Interactive authorisation (`spotify-elt auth`)


@dataclass
class Authorisation:
    """A started Authorization Code flow: show `url`, then `complete()` with the redirect URL."""

    settings: Settings
    url: str
    state: str
    _oauth: spotipy.SpotifyOAuth = field(repr=False)
    _memory: MemoryCacheHandler = field(repr=False)

    def complete(self, redirect_response: str) -> dict[str, Any]:
        """Exchange the code in the pasted redirect URL, store the token, return `/me`."""
        try:
            state, code = spotipy.SpotifyOAuth.parse_auth_response_url(redirect_response.strip())
        except spotipy.SpotifyOauthError as error:
            raise AuthError(f"Spotify did not authorise the app: {error.error}") from None
        if not code:
            raise AuthError("no authorisation code in that URL: paste the whole redirect URL")
        if state != self.state:
            raise AuthError("that redirect URL belongs to another authorisation attempt: retry")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            token = _call_once(
                lambda: self._oauth.get_access_token(code, as_dict=True, check_cache=False),
                self.settings,
            )
        profile = SpotifyClient(self.settings, Account("the new user", self._memory)).me()
        TokenFile(self.settings.token_dir / f"{profile['id']}.json").save_token_to_cache(token)
        return profile


def start_authorisation(settings: Settings) -> Authorisation:
    memory = MemoryCacheHandler()
    oauth = _build_oauth(settings, memory)
    state = secrets.token_urlsafe(16)
    return Authorisation(settings, oauth.get_authorize_url(state=state), state, oauth, memory)


def _call_once(function: Callable[[], T], settings: Settings) -> T:
    try:
        return function()
    except SpotifyEltError:
        raise
    except Exception as error:
        raise _translate(error, "the new user", settings, 1) from None
