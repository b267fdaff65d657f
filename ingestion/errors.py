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


_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def printable(text: str) -> str:
    """`text` (a file or zip member name) with what a terminal would act on escaped: a newline
    would make a second line of a one-line error, and ESC starts terminal control sequences.
    Letters of every script stay as they are; `\\n`, `\\x1b`, `\\u2028` and so on stand for the
    others."""
    if text.isprintable():
        return text
    return "".join(
        character if character.isprintable() else _escape(character) for character in text
    )


def _escape(character: str) -> str:
    if character in _NAMED_ESCAPES:
        return _NAMED_ESCAPES[character]
    code = ord(character)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


class WarehouseBusyError(WarehouseError):
    """Another session or process holds what this needs: another run, a lock held too long."""


class ExportError(SpotifyEltError):
    """The export cannot be imported as it is: the line names the file (and record)."""
