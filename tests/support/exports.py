"""Privacy-export records and files as Spotify writes them (no real export is used): the builders
the import tests, the import benchmark and the sample generator share, and the tests' own small
histories."""

from __future__ import annotations

import json
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

START = datetime(2024, 3, 1, 8, 0, tzinfo=UTC)
IP_ADDRESS = "203.0.113.77"
USER_AGENT = "Mozilla%2F5.0%20(SpotifyEltTest)"
EXPORT_USERNAME = "export-login-name"


# The content fields of an Extended record, in Spotify's order: a track's, an episode's, an
# audiobook chapter's; a record with no content has them all null.
CONTENT_FIELDS = (
    "master_metadata_track_name",
    "master_metadata_album_artist_name",
    "master_metadata_album_album_name",
    "spotify_track_uri",
    "episode_name",
    "episode_show_name",
    "spotify_episode_uri",
    "audiobook_title",
    "audiobook_uri",
    "audiobook_chapter_uri",
    "audiobook_chapter_title",
)


def no_content() -> dict[str, Any]:
    return dict.fromkeys(CONTENT_FIELDS)


def track_content(name: str, artist: str, album: str, uri: str | None) -> dict[str, Any]:
    """A track as Extended history names it: by its album's first artist (a local file has no
    URI)."""
    return no_content() | {
        "master_metadata_track_name": name,
        "master_metadata_album_artist_name": artist,
        "master_metadata_album_album_name": album,
        "spotify_track_uri": uri,
    }


def episode_content(name: str, show: str, uri: str) -> dict[str, Any]:
    return no_content() | {
        "episode_name": name,
        "episode_show_name": show,
        "spotify_episode_uri": uri,
    }


def audiobook_content(title: str, uri: str, chapter_uri: str, chapter: str) -> dict[str, Any]:
    return no_content() | {
        "audiobook_title": title,
        "audiobook_uri": uri,
        "audiobook_chapter_uri": chapter_uri,
        "audiobook_chapter_title": chapter,
    }


def extended_ts(ended: datetime) -> str:
    """`ts`, when a play ended, to the second in UTC."""
    return ended.strftime("%Y-%m-%dT%H:%M:%SZ")


def extended_fields(
    ts: str,
    *,
    platform: str,
    ms_played: int,
    conn_country: str,
    content: dict[str, Any],
    offline_timestamp: int,
    username: str | None = None,
    addresses: dict[str, str] | None = None,
    reason_start: str = "trackdone",
    reason_end: str = "trackdone",
    shuffle: bool = False,
    skipped: bool | None = False,
    offline: bool = False,
    incognito_mode: bool = False,
) -> dict[str, Any]:
    """One Extended record in Spotify's field order. `username` (older exports) and
    `addresses` (ip_addr, or ip_addr_decrypted and user_agent_decrypted) are the private
    fields; records without them leave them out."""
    return {
        "ts": ts,
        **({"username": username} if username is not None else {}),
        "platform": platform,
        "ms_played": ms_played,
        "conn_country": conn_country,
        **(addresses or {}),
        **content,
        "reason_start": reason_start,
        "reason_end": reason_end,
        "shuffle": shuffle,
        "skipped": skipped,
        "offline": offline,
        "offline_timestamp": offline_timestamp,
        "incognito_mode": incognito_mode,
    }


def extended_record(
    ended: datetime, kind: str = "track", number: int = 0, ms_played: int = 200_000
) -> dict[str, Any]:
    """One Extended record, private fields included, in Spotify's field order."""
    content = no_content()
    if kind == "track":
        content = track_content(
            f"Song {number}", f"Artist {number % 7}", f"Album {number % 11}",
            f"spotify:track:{number:022d}",
        )  # fmt: skip
    elif kind == "episode":
        content = episode_content(f"Episode {number}", "A Show", f"spotify:episode:{number:022d}")
    elif kind == "audiobook":
        content = audiobook_content(
            "A Book", "spotify:audiobook:0000000000000000000001",
            f"spotify:chapter:{number:022d}", f"Chapter {number}",
        )  # fmt: skip
    return extended_fields(
        extended_ts(ended),
        username=EXPORT_USERNAME,
        platform="android",
        ms_played=ms_played,
        conn_country="ES",
        addresses={
            "ip_addr": IP_ADDRESS,
            "ip_addr_decrypted": IP_ADDRESS,
            "user_agent_decrypted": USER_AGENT,
        },
        content=content,
        offline_timestamp=int(ended.timestamp()),
    )


def extended_history(count: int, start: datetime = START, first: int = 0) -> list[dict[str, Any]]:
    """`count` plays four minutes apart: mostly tracks, some episodes and audiobook chapters."""
    kinds = ["track"] * 8 + ["episode", "audiobook"]
    return [
        extended_record(start + timedelta(minutes=4 * n), kinds[n % 10], first + n)
        for n in range(count)
    ]


def end_time(ended: datetime) -> str:
    """Account data's `endTime`: to the minute, in UTC."""
    return ended.strftime("%Y-%m-%d %H:%M")


def music_record(end: str, artist: str, track: str, ms_played: int) -> dict[str, Any]:
    """One record of Account data's music history."""
    return {"endTime": end, "artistName": artist, "trackName": track, "msPlayed": ms_played}


def podcast_record(end: str, show: str, episode: str, ms_played: int) -> dict[str, Any]:
    """One record of Account data's podcast history."""
    return {"endTime": end, "podcastName": show, "episodeName": episode, "msPlayed": ms_played}


def account_history(count: int, start: datetime = START) -> list[dict[str, Any]]:
    return [
        music_record(
            end_time(start + timedelta(minutes=4 * n)), f"Artist {n % 7}", f"Song {n}", 200_000
        )
        for n in range(count)
    ]


def export_json(records: Any) -> str:
    """Pretty-printed like Spotify's own files: indented by two, names as raw UTF-8."""
    return json.dumps(records, indent=2, ensure_ascii=False)


def write_json(path: Path, records: Any) -> Path:
    """Pretty-printed like Spotify's own files."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(export_json(records), encoding="utf-8")
    return path


def write_zip(path: Path, members: dict[str, bytes | str]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return path
