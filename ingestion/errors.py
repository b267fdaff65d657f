"""Failures a user can cause or meet, each carrying the one line the command line prints."""

from __future__ import annotations


class SpotifyEltError(Exception):
    """An expected failure: its message is one line saying what failed and what to do."""


class ConfigError(SpotifyEltError):
    """A missing or invalid setting."""


class AuthError(SpotifyEltError):
    """No usable token: the user has to run `spotify-elt auth` (again)."""


class SpotifyApiError(SpotifyEltError):
    """Spotify refused or failed a request after our retries."""


class RateLimitedError(SpotifyApiError):
    """Spotify asked us to wait longer than we are willing to block a run."""

    def __init__(self, message: str, retry_after_seconds: float) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class WarehouseError(SpotifyEltError):
    """The warehouse could not be reached or written."""


class WarehouseBusyError(WarehouseError):
    """Another session or process holds what this needs: another run, a lock held too long."""
