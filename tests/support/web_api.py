"""Spotify Web API objects, built in the shape the API returned in 2026 for development-mode
apps (no ``popularity`` or ``available_markets``), keys in the API's order.

One source for everything that fabricates them: the stand-in server, the tests, the benchmarks
and the sample generator (``scripts/generate_sample_data.py``), whose files
tests/unit/test_sample_data.py compares byte for byte with those committed, so a change of key
order here shows up there.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote_plus

Json = dict[str, Any]

API = "https://api.spotify.com/v1"
OPEN = "https://open.spotify.com"
RECENTLY_PLAYED = f"{API}/me/player/recently-played"
BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
PLAYS_START = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)  # when the plays of `plays` begin


def fake_id(seed: str) -> str:
    """A stable 22-character base62 id: the same seed always names the same entity."""
    number = int.from_bytes(hashlib.sha256(seed.encode("utf-8")).digest(), "big")
    chars: list[str] = []
    for _ in range(22):
        number, digit = divmod(number, 62)
        chars.append(BASE62[digit])
    return "".join(chars)


def random_id(rng: random.Random) -> str:
    """A 22-character base62 id like the ones Spotify uses, drawn from `rng`."""
    return "".join(rng.choices(BASE62, k=22))


def artist_object(artist_id: str | None, name: str) -> Json:
    """A simplified artist; a local file's artists have no id (and so no links)."""
    if artist_id is None:
        return {
            "external_urls": {},
            "href": None,
            "id": None,
            "name": name,
            "type": "artist",
            "uri": None,
        }
    return {
        "external_urls": {"spotify": f"{OPEN}/artist/{artist_id}"},
        "href": f"{API}/artists/{artist_id}",
        "id": artist_id,
        "name": name,
        "type": "artist",
        "uri": f"spotify:artist:{artist_id}",
    }


def album_images(key: str) -> list[Json]:
    """The three cover sizes the API lists; `key` is the image's 24 hex digits."""
    return [
        {"height": size, "url": f"https://i.scdn.co/image/ab67616d0000{prefix}{key}", "width": size}
        for prefix, size in (("b273", 640), ("1e02", 300), ("4851", 64))
    ]


def album_object(
    album_id: str,
    name: str,
    *,
    album_type: str,
    artists: Sequence[Json],
    images: list[Json],
    release_date: str,
    release_date_precision: str,
    total_tracks: int,
) -> Json:
    return {
        "album_type": album_type,
        "artists": list(artists),
        "external_urls": {"spotify": f"{OPEN}/album/{album_id}"},
        "href": f"{API}/albums/{album_id}",
        "id": album_id,
        "images": images,
        "name": name,
        "release_date": release_date,
        "release_date_precision": release_date_precision,
        "total_tracks": total_tracks,
        "type": "album",
        "uri": f"spotify:album:{album_id}",
    }


def local_album_object(name: str, *, total_tracks: int | None) -> Json:
    """A local file's album: no catalogue entry, filled in from the file's tags only.
    `total_tracks=None` leaves the key out (the API has sent it both ways)."""
    album: Json = {
        "album_type": None,
        "artists": [],
        "external_urls": {},
        "href": None,
        "id": None,
        "images": [],
        "name": name,
        "release_date": None,
        "release_date_precision": None,
    }
    if total_tracks is not None:
        album["total_tracks"] = total_tracks
    return album | {"type": "album", "uri": None}


def track_object(
    track_id: str,
    name: str,
    *,
    album: Json,
    artists: Sequence[Json],
    disc_number: int,
    track_number: int,
    duration_ms: int,
    explicit: bool,
    isrc: str,
) -> Json:
    return {
        "album": album,
        "artists": list(artists),
        "disc_number": disc_number,
        "duration_ms": duration_ms,
        "explicit": explicit,
        "external_ids": {"isrc": isrc},
        "external_urls": {"spotify": f"{OPEN}/track/{track_id}"},
        "href": f"{API}/tracks/{track_id}",
        "id": track_id,
        "is_local": False,
        "name": name,
        "preview_url": None,
        "track_number": track_number,
        "type": "track",
        "uri": f"spotify:track:{track_id}",
    }


def local_uri(artist: str, album: str, name: str, seconds: int) -> str:
    """spotify:local:<artist>:<album>:<title>:<seconds>, each part URL-encoded."""
    parts = ":".join(quote_plus(part) for part in (artist, album, name))
    return f"spotify:local:{parts}:{seconds}"


def local_track_object(
    name: str, *, album: Json, artists: Sequence[Json], duration_ms: int, uri: str
) -> Json:
    """A file from the listener's own disk played through Spotify: no ids anywhere."""
    return {
        "album": album,
        "artists": list(artists),
        "disc_number": 0,
        "duration_ms": duration_ms,
        "explicit": False,
        "external_ids": {},
        "external_urls": {},
        "href": None,
        "id": None,
        "is_local": True,
        "name": name,
        "preview_url": None,
        "track_number": 0,
        "type": "track",
        "uri": uri,
    }


def context_object(kind: str, item_id: str, uri: str | None = None) -> Json:
    """The album, artist or playlist a play came from."""
    return {
        "type": kind,
        "href": f"{API}/{kind}s/{item_id}",
        "external_urls": {"spotify": f"{OPEN}/{kind}/{item_id}"},
        "uri": uri or f"spotify:{kind}:{item_id}",
    }


def collection_context(user_id: str) -> Json:
    """A play from the listener's liked songs."""
    return {
        "type": "collection",
        "href": f"{API}/me/tracks",
        "external_urls": {"spotify": f"{OPEN}/collection/tracks"},
        "uri": f"spotify:user:{user_id}:collection",
    }


def format_played_at(played_at: datetime, with_millis: bool) -> str:
    """`played_at` as the API writes it, in UTC (a naive time is taken as UTC)."""
    moment = (
        played_at.replace(tzinfo=UTC) if played_at.tzinfo is None else played_at.astimezone(UTC)
    )
    stamp = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if with_millis:
        stamp += f".{moment.microsecond // 1000:03d}"
    return stamp + "Z"


def play_object(track: Json, played_at: str, context: Json | None) -> Json:
    """One item of GET /v1/me/player/recently-played."""
    return {"track": track, "played_at": played_at, "context": context}


def recently_played_page(
    href: str, items: list[Json], limit: int, next_url: str | None, cursors: Json | None
) -> Json:
    """One response of GET /v1/me/player/recently-played."""
    return {"href": href, "items": items, "limit": limit, "next": next_url, "cursors": cursors}


def user_profile(user_id: str, display_name: str) -> Json:
    """GET /v1/me."""
    return {
        "display_name": display_name,
        "external_urls": {"spotify": f"{OPEN}/user/{user_id}"},
        "href": f"{API}/users/{user_id}",
        "id": user_id,
        "images": [],
        "type": "user",
        "uri": f"spotify:user:{user_id}",
    }


def _context(context_uri: str | None) -> Json | None:
    if context_uri is None:
        return None
    parts = context_uri.split(":")
    kind = parts[1] if len(parts) > 2 else "playlist"
    return context_object(kind, parts[-1], uri=context_uri)


def play_item(
    track_id: str | None,
    played_at: datetime,
    *,
    name: str = "Song",
    artists: list[tuple[str | None, str]] | None = None,
    album: tuple[str | None, str] | None = None,
    duration_ms: int = 200_000,
    is_local: bool = False,
    context_uri: str | None = None,
    with_millis: bool = True,
) -> Json:
    """Build one recently-played item exactly as the Web API returns it.

    Naive ``played_at`` values are taken as UTC. Artist and album ids default to stable
    fake base62 ids derived from their names; local files always carry null ids.
    """
    if track_id is None and not is_local:
        raise ValueError("track_id is required unless is_local=True")
    if artists is None:
        artists = [(fake_id("artist:Artist"), "Artist")]
    if album is None:
        album = (fake_id(f"album:Album:{artists[0][1] if artists else ''}"), "Album")
    album_id, album_name = album
    artist_objects = [
        artist_object(None if is_local else artist_id, artist_name)
        for artist_id, artist_name in artists
    ]
    track: Json
    if is_local:
        track = local_track_object(
            name,
            album=local_album_object(album_name, total_tracks=0),
            artists=artist_objects,
            duration_ms=duration_ms,
            uri=local_uri(artists[0][1] if artists else "", album_name, name, duration_ms // 1000),
        )
    else:
        assert track_id is not None
        resolved_album_id = album_id or fake_id(f"album:{album_name}")
        isrc_digits = int(hashlib.sha256(track_id.encode("utf-8")).hexdigest(), 16) % 10**7
        track = track_object(
            track_id,
            name,
            album=album_object(
                resolved_album_id,
                album_name,
                album_type="album",
                artists=artist_objects,
                images=album_images(hashlib.sha256(resolved_album_id.encode()).hexdigest()[:24]),
                release_date="2024-03-15",
                release_date_precision="day",
                total_tracks=12,
            ),
            artists=artist_objects,
            disc_number=1,
            track_number=1,
            duration_ms=duration_ms,
            explicit=False,
            isrc=f"USRC1{isrc_digits:07d}",
        )
    return play_object(track, format_played_at(played_at, with_millis), _context(context_uri))


def plays(count: int, start: datetime = PLAYS_START, minutes: int = 4) -> list[Json]:
    """`count` back-to-back plays; some with whole seconds only, one local file."""
    return [
        play_item(
            None if n % 17 == 16 else f"track{n:04d}",
            start + timedelta(minutes=minutes * n, milliseconds=137 * n),
            name=f"Song {n}",
            is_local=n % 17 == 16,
            with_millis=n % 5 != 0,
        )
        for n in range(count)
    ]
