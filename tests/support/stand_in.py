"""A loopback stand-in for the Spotify accounts service and the parts of the Web API we use.

The real ``spotipy`` client is pointed at it (``Spotify.prefix`` and the ``SpotifyOAuth``
token/authorize URLs are overridden), so tests exercise the genuine HTTP, OAuth and paging
code paths without touching the network. Only the standard library is used so the stand-in
cannot drift with, or be masked by, the very client libraries it is meant to test.

What it models, deliberately:

* ``POST /api/token`` with the ``refresh_token`` and ``authorization_code`` grants, client
  authentication by HTTP Basic or form fields, revocation and one-time codes.
* ``GET /authorize`` as a trivial HTML page (no browser is ever driven).
* ``GET /v1/me`` and ``GET /v1/me/player/recently-played`` with Spotify's cursor paging,
  including the fact that the API only remembers a user's last ``window`` plays.
* Injected failures (``fail_next``) and slow answers (``delay_next``) for retry/timeout tests.

Play items are built by :func:`tests.support.web_api.play_item`, and the profile by
:func:`tests.support.web_api.user_profile`, in the shape the Web API returned in 2026.
"""

from __future__ import annotations

import base64
import binascii
import html
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, TypeVar, cast
from urllib.parse import parse_qsl, urlsplit

from tests.support.web_api import recently_played_page, user_profile

__all__ = ["RecordedRequest", "SpotifyStandIn"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_RECENTLY_PLAYED = "/v1/me/player/recently-played"
_RECENTLY_PLAYED_SCOPE = "user-read-recently-played"
_MAX_LIMIT = 50
_DEFAULT_LIMIT = 20
_TOKEN_LIFETIME_S = 3600

# Messages as the real Web API words them, so assertions on error text stay meaningful.
_WEB_API_MESSAGES: dict[int, str] = {
    400: "Bad request",
    401: "The access token expired",
    403: "Check settings on developer.spotify.com/dashboard, the user may not be registered.",
    404: "Service not found",
    405: "Method not allowed",
    429: "API rate limit exceeded",
    500: "Server error.",
    502: "Bad gateway.",
    503: "Service unavailable",
}


@dataclass
class RecordedRequest:
    """One request as the stand-in saw it, for assertions about what the client sent."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    form: dict[str, str]
    received_at: float = field(default_factory=time.monotonic)  # for waits between requests


@dataclass
class _User:
    user_id: str
    display_name: str
    refresh_token: str
    scope: str
    # (played_at in ms, insertion sequence, item); the sequence keeps equal timestamps stable.
    plays: list[tuple[int, int, dict[str, Any]]] = field(default_factory=list)


@dataclass
class _Failure:
    suffix: str
    status: int
    remaining: int
    headers: dict[str, str]
    body: dict[str, Any] | str | None


@dataclass
class _Delay:
    suffix: str
    seconds: float
    remaining: int


_Pending = TypeVar("_Pending", _Failure, _Delay)


@dataclass
class _Response:
    status: int
    body: bytes
    content_type: str = "application/json; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


def _json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> _Response:
    return _Response(status, json.dumps(payload).encode("utf-8"), headers=dict(headers or {}))


def _web_api_error(status: int, message: str | None = None) -> _Response:
    text = message or _WEB_API_MESSAGES.get(status) or _phrase(status)
    headers: dict[str, str] = {}
    if status == HTTPStatus.UNAUTHORIZED:
        # The real API names the failure here too; some clients inspect it.
        headers["WWW-Authenticate"] = (
            f'Bearer realm="spotify", error="invalid_token", error_description="{text}"'
        )
    return _json_response(status, {"error": {"status": status, "message": text}}, headers)


def _oauth_error(error: str, description: str, status: int = 400) -> _Response:
    return _json_response(status, {"error": error, "error_description": description})


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"HTTP {status}"


def _played_at_ms(played_at: str) -> int:
    parsed = datetime.fromisoformat(played_at)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    # Integer arithmetic: float timestamps can land one millisecond off.
    return (parsed - _EPOCH) // timedelta(milliseconds=1)


class _Server(ThreadingHTTPServer):
    # Handler threads must never keep the test process alive (e.g. one still in delay_next).
    daemon_threads = True

    def __init__(self, stand_in: SpotifyStandIn) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.stand_in = stand_in

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out and hung up is expected in timeout tests; stay quiet.
        # Anything else is already turned into a 500 by the handler.
        return


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.0 closes each connection after its response, so stop() never leaves handler
    # threads parked on idle keep-alive sockets.
    protocol_version = "HTTP/1.0"
    server_version = "SpotifyStandIn/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        # The access log would spam stderr with request lines, which can carry one-time codes.
        return

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        stand_in = cast(_Server, self.server).stand_in
        try:
            length = int(self.headers.get("Content-Length") or 0)
            raw_body = self.rfile.read(length) if length > 0 else b""
            split = urlsplit(self.path)
            form: dict[str, str] = {}
            content_type = self.headers.get("Content-Type") or ""
            if self.command == "POST" and "application/x-www-form-urlencoded" in content_type:
                form = dict(parse_qsl(raw_body.decode("utf-8"), keep_blank_values=True))
            recorded = RecordedRequest(
                method=self.command,
                # spotipy asks for "me/" while other calls have no trailing slash; the real
                # API treats both alike, and count()/fail_next() suffixes should too.
                path=split.path.rstrip("/") or "/",
                query=dict(parse_qsl(split.query, keep_blank_values=True)),
                headers=dict(self.headers.items()),
                form=form,
            )
            response = stand_in._handle(recorded, self.path)
        except Exception:
            response = _web_api_error(500)
        try:
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            # The client gave up (e.g. its read timeout fired during delay_next).
            pass


class SpotifyStandIn:
    """Local HTTP server standing in for accounts.spotify.com and api.spotify.com/v1."""

    def __init__(
        self,
        client_id: str = "test-client-id",
        client_secret: str = "test-client-secret",  # noqa: S107 - a fake, loopback-only secret
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.window: int = 50
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._users: dict[str, _User] = {}
        self._refresh_tokens: dict[str, str] = {}
        self._revoked: set[str] = set()
        self._access_tokens: dict[str, str] = {}
        self._codes: dict[str, tuple[str, str]] = {}
        self._failures: list[_Failure] = []
        self._delays: list[_Delay] = []
        self._sequence = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> None:
        if self._server is not None:
            return
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="spotify-stand-in",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> SpotifyStandIn:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def accounts_url(self) -> str:
        return f"http://127.0.0.1:{self._port()}"

    @property
    def api_url(self) -> str:
        return f"{self.accounts_url}/v1"

    def _port(self) -> int:
        if self._server is None:
            raise RuntimeError("SpotifyStandIn is not running; call start() first")
        return int(self._server.server_address[1])

    # ----------------------------------------------------------------- test set-up

    def count(self, path: str) -> int:
        with self._lock:
            return sum(1 for request in self.requests if request.path.endswith(path))

    def add_user(
        self,
        user_id: str,
        display_name: str,
        refresh_token: str,
        scope: str = _RECENTLY_PLAYED_SCOPE,
    ) -> None:
        with self._lock:
            self._users[user_id] = _User(user_id, display_name, refresh_token, scope)
            self._refresh_tokens[refresh_token] = user_id
            self._revoked.discard(refresh_token)

    def add_plays(self, user_id: str, items: list[dict[str, Any]]) -> None:
        # Parse before taking the lock so a malformed item fails the test, not a request.
        parsed = [(_played_at_ms(str(item["played_at"])), item) for item in items]
        with self._lock:
            user = self._user(user_id)
            for played_ms, item in parsed:
                self._sequence += 1
                user.plays.append((played_ms, self._sequence, item))
            user.plays.sort(key=lambda play: (play[0], play[1]))

    def revoke(self, refresh_token: str) -> None:
        with self._lock:
            self._revoked.add(refresh_token)

    def fail_next(
        self,
        path: str,
        status: int,
        count: int = 1,
        headers: dict[str, str] | None = None,
        body: dict[str, Any] | str | None = None,
    ) -> None:
        """Answer the next `count` requests to `path` with `status`; a str body goes as text."""
        with self._lock:
            self._failures.append(_Failure(path, status, count, dict(headers or {}), body))

    def delay_next(self, path: str, seconds: float, count: int = 1) -> None:
        with self._lock:
            self._delays.append(_Delay(path, seconds, count))

    def issue_code(self, user_id: str, redirect_uri: str) -> str:
        with self._lock:
            self._user(user_id)
            code = secrets.token_urlsafe(24)
            self._codes[code] = (user_id, redirect_uri)
            return code

    def _user(self, user_id: str) -> _User:
        try:
            return self._users[user_id]
        except KeyError:
            raise KeyError(f"unknown user {user_id!r}; call add_user() first") from None

    # ----------------------------------------------------------------- request handling

    def _handle(self, request: RecordedRequest, raw_path: str) -> _Response:
        with self._lock:
            self.requests.append(request)
            delay = self._take(self._delays, request.path)
        if delay is not None:
            # Sleep outside the lock so other requests (and the test thread) carry on.
            time.sleep(delay.seconds)
        with self._lock:
            failure = self._take(self._failures, request.path)
        if failure is not None:
            return self._failure_response(failure, request.path)

        if request.path == "/api/token":
            if request.method != "POST":
                return _web_api_error(405)
            return self._token(request)
        if request.path == "/authorize":
            return self._authorize(request)
        if request.path == "/v1/me":
            return self._guarded(request, raw_path, self._me)
        if request.path == _RECENTLY_PLAYED:
            return self._guarded(request, raw_path, self._recently_played)
        return _web_api_error(404)

    @staticmethod
    def _take(queue: list[_Pending], path: str) -> _Pending | None:
        # FIFO across entries: the oldest matching instruction is consumed first.
        for entry in queue:
            if path.endswith(entry.suffix) and entry.remaining > 0:
                entry.remaining -= 1
                if entry.remaining <= 0:
                    queue.remove(entry)
                return entry
        return None

    @staticmethod
    def _failure_response(failure: _Failure, path: str) -> _Response:
        body: dict[str, Any]
        if isinstance(failure.body, str):
            # Spotify answers some 403s in plain text; proxies answer 5xx in HTML.
            return _Response(
                failure.status, failure.body.encode(), "text/plain; charset=utf-8",
                dict(failure.headers),
            )  # fmt: skip
        if failure.body is not None:
            body = failure.body
        elif path.startswith("/v1"):
            message = _WEB_API_MESSAGES.get(failure.status) or _phrase(failure.status)
            body = {"error": {"status": failure.status, "message": message}}
        else:
            # Accounts endpoints speak RFC 6749 error bodies, not the Web API shape.
            phrase = _phrase(failure.status)
            body = {"error": phrase.lower().replace(" ", "_"), "error_description": phrase}
        return _json_response(failure.status, body, failure.headers)

    # accounts service -----------------------------------------------------------

    def _client_ok(self, request: RecordedRequest) -> bool:
        authorization = request.headers.get("Authorization") or request.headers.get(
            "authorization", ""
        )
        if authorization.startswith("Basic "):
            try:
                decoded = base64.b64decode(authorization[6:], validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                return False
            client_id, _, client_secret = decoded.partition(":")
        else:
            client_id = request.form.get("client_id", "")
            client_secret = request.form.get("client_secret", "")
        return secrets.compare_digest(client_id, self.client_id) and secrets.compare_digest(
            client_secret, self.client_secret
        )

    def _issue_access_token(self, user_id: str) -> str:
        token = secrets.token_urlsafe(32)
        self._access_tokens[token] = user_id
        return token

    def _token(self, request: RecordedRequest) -> _Response:
        if not self._client_ok(request):
            return _oauth_error("invalid_client", "Invalid client")
        grant_type = request.form.get("grant_type", "")
        with self._lock:
            if grant_type == "refresh_token":
                refresh_token = request.form.get("refresh_token", "")
                user_id = self._refresh_tokens.get(refresh_token)
                if user_id is None or refresh_token in self._revoked:
                    return _oauth_error("invalid_grant", "Refresh token revoked")
                user = self._users[user_id]
                # Spotify normally keeps the refresh token, so none is returned here; clients
                # must carry the old one forward.
                return _json_response(
                    200,
                    {
                        "access_token": self._issue_access_token(user_id),
                        "token_type": "Bearer",
                        "expires_in": _TOKEN_LIFETIME_S,
                        "scope": user.scope,
                    },
                )
            if grant_type == "authorization_code":
                # A presented code is spent even if the exchange fails, as on the real service.
                issued = self._codes.pop(request.form.get("code", ""), None)
                if issued is None:
                    return _oauth_error("invalid_grant", "Invalid authorization code")
                user_id, redirect_uri = issued
                if request.form.get("redirect_uri") != redirect_uri:
                    return _oauth_error("invalid_grant", "Invalid redirect URI")
                user = self._users[user_id]
                return _json_response(
                    200,
                    {
                        "access_token": self._issue_access_token(user_id),
                        "token_type": "Bearer",
                        "expires_in": _TOKEN_LIFETIME_S,
                        "refresh_token": user.refresh_token,
                        "scope": user.scope,
                    },
                )
        if not grant_type:
            return _oauth_error("invalid_request", "grant_type parameter is missing")
        return _oauth_error("unsupported_grant_type", f"grant_type {grant_type} not supported")

    def _authorize(self, request: RecordedRequest) -> _Response:
        if request.query.get("client_id") != self.client_id:
            page = "<html><body><p>INVALID_CLIENT: Invalid client</p></body></html>"
            return _Response(400, page.encode("utf-8"), content_type="text/html; charset=utf-8")
        scope = html.escape(request.query.get("scope", ""))
        page = (
            "<!doctype html><html><head><title>Spotify stand-in</title></head><body>"
            f"<p>Authorize test app for scopes: {scope}</p></body></html>"
        )
        return _Response(200, page.encode("utf-8"), content_type="text/html; charset=utf-8")

    # Web API ----------------------------------------------------------------------

    def _guarded(
        self,
        request: RecordedRequest,
        raw_path: str,
        endpoint: Callable[[RecordedRequest, str, _User], _Response],
    ) -> _Response:
        if request.method != "GET":
            return _web_api_error(405)
        authorization = request.headers.get("Authorization") or request.headers.get(
            "authorization", ""
        )
        scheme, _, token = authorization.partition(" ")
        with self._lock:
            user_id = self._access_tokens.get(token) if scheme.lower() == "bearer" else None
            user = self._users.get(user_id) if user_id is not None else None
            if user is None:
                return _web_api_error(401, "Invalid access token")
            return endpoint(request, raw_path, user)

    def _me(self, request: RecordedRequest, raw_path: str, user: _User) -> _Response:
        return _json_response(200, user_profile(user.user_id, user.display_name))

    def _recently_played(self, request: RecordedRequest, raw_path: str, user: _User) -> _Response:
        if _RECENTLY_PLAYED_SCOPE not in user.scope.split():
            return _web_api_error(403, "Insufficient client scope")
        query = request.query
        try:
            limit = int(query.get("limit", _DEFAULT_LIMIT))
        except ValueError:
            return _web_api_error(400, "Invalid limit")
        if not 1 <= limit <= _MAX_LIMIT:
            return _web_api_error(400, "Invalid limit")
        if "after" in query and "before" in query:
            return _web_api_error(400, "Only one of after or before may be specified")
        bounds: dict[str, int] = {}
        for name in ("after", "before"):
            if name in query:
                try:
                    bounds[name] = int(query[name])
                except ValueError:
                    return _web_api_error(400, f"Invalid {name} cursor")

        visible = user.plays[-self.window :] if self.window > 0 else []
        candidates = [
            play
            for play in visible
            if ("after" not in bounds or play[0] > bounds["after"])
            and ("before" not in bounds or play[0] < bounds["before"])
        ]
        candidates.reverse()
        page = candidates[:limit]
        # Spotify's links are absolute and name Spotify itself, whoever was asked.
        base = "https://api.spotify.com"
        next_url: str | None = None
        cursors: dict[str, str] | None = None
        if page:
            cursors = {"after": str(page[0][0]), "before": str(page[-1][0])}
            if len(candidates) > limit:
                next_url = f"{base}{_RECENTLY_PLAYED}?before={page[-1][0]}&limit={limit}"
        items = [play[2] for play in page]
        return _json_response(
            200, recently_played_page(f"{base}{raw_path}", items, limit, next_url, cursors)
        )
