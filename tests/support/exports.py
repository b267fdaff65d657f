"""Privacy-export files as Spotify writes them, for the import tests (no real export is used)."""

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


def extended_record(
    ended: datetime, kind: str = "track", number: int = 0, ms_played: int = 200_000
) -> dict[str, Any]:
    """One Extended record, private fields included, in Spotify's field order."""
    content: dict[str, Any] = {
        "master_metadata_track_name": None,
        "master_metadata_album_artist_name": None,
        "master_metadata_album_album_name": None,
        "spotify_track_uri": None,
        "episode_name": None,
        "episode_show_name": None,
        "spotify_episode_uri": None,
        "audiobook_title": None,
        "audiobook_uri": None,
        "audiobook_chapter_uri": None,
        "audiobook_chapter_title": None,
    }
    if kind == "track":
        content |= {
            "master_metadata_track_name": f"Song {number}",
            "master_metadata_album_artist_name": f"Artist {number % 7}",
            "master_metadata_album_album_name": f"Album {number % 11}",
            "spotify_track_uri": f"spotify:track:{number:022d}",
        }
    elif kind == "episode":
        content |= {
            "episode_name": f"Episode {number}",
            "episode_show_name": "A Show",
            "spotify_episode_uri": f"spotify:episode:{number:022d}",
        }
    elif kind == "audiobook":
        content |= {
            "audiobook_title": "A Book",
            "audiobook_uri": "spotify:audiobook:0000000000000000000001",
            "audiobook_chapter_uri": f"spotify:chapter:{number:022d}",
            "audiobook_chapter_title": f"Chapter {number}",
        }
    return {
        "ts": ended.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "username": EXPORT_USERNAME,
        "platform": "android",
        "ms_played": ms_played,
        "conn_country": "ES",
        "ip_addr": IP_ADDRESS,
        "ip_addr_decrypted": IP_ADDRESS,
        "user_agent_decrypted": USER_AGENT,
        **content,
        "reason_start": "trackdone",
        "reason_end": "trackdone",
        "shuffle": False,
        "skipped": False,
        "offline": False,
        "offline_timestamp": int(ended.timestamp()),
        "incognito_mode": False,
    }


def extended_history(count: int, start: datetime = START, first: int = 0) -> list[dict[str, Any]]:
    """`count` plays four minutes apart: mostly tracks, some episodes and audiobook chapters."""
    kinds = ["track"] * 8 + ["episode", "audiobook"]
    return [
        extended_record(start + timedelta(minutes=4 * n), kinds[n % 10], first + n)
        for n in range(count)
    ]


def account_history(count: int, start: datetime = START) -> list[dict[str, Any]]:
    return [
        {
            "endTime": (start + timedelta(minutes=4 * n)).strftime("%Y-%m-%d %H:%M"),
            "artistName": f"Artist {n % 7}",
            "trackName": f"Song {n}",
            "msPlayed": 200_000,
        }
        for n in range(count)
    ]


def write_json(path: Path, records: Any) -> Path:
    """Pretty-printed like Spotify's own files."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(records, indent=2, ensure_ascii=False), encoding="utf-8")
    return path


def write_zip(path: Path, members: dict[str, bytes | str]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return path
