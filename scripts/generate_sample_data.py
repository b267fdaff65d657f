"""Generate the bundled, fictional sample data that ``spotify-elt demo`` loads.

The demo loads several weeks of listening history for three made-up users through the very
same code path that loads real Spotify Web API responses, without any network access. This
script produces that input: one ``<user_id>.json.gz`` per user in ``OUT_DIR``, holding

    {"profile": <GET /v1/me>, "responses": [<GET /v1/me/player/recently-played>, ...]}

where ``responses`` are what a poller calling ``recently-played?after=<watermark>&limit=50``
every 2-4 hours would have received between 2026-10-05 and 2026-11-08 (UTC). The catalogue
(artists, albums, tracks) is invented and deliberately full of edge cases that the dbt
models must survive; see the README.md in ``OUT_DIR`` for the list.

The catalogue's artists and the listeners are data, in ``scripts/sample_personas.toml``; the JSON
is built by ``tests.support`` (``web_api`` and ``exports``), which the tests and the stand-in
share. Everything else is derived from ``SEED`` with ``random.Random`` and written as compact
JSON in gzip with ``mtime=0``, so a rerun is byte-identical. No network. After changing this
script or the personas, regenerate the files from the repository root with

    .venv/bin/python scripts/generate_sample_data.py
"""

from __future__ import annotations

import gzip
import itertools
import json
import random
import sys
import tomllib
import zipfile
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from tests.support import exports
from tests.support.web_api import (
    BASE62,
    RECENTLY_PLAYED,
    album_images,
    album_object,
    artist_object,
    collection_context,
    context_object,
    format_played_at,
    local_album_object,
    local_track_object,
    local_uri,
    play_object,
    random_id,
    recently_played_page,
    track_object,
    user_profile,
)

# Where the generated files go: the demo loads them from there.
OUT_DIR = Path(__file__).resolve().parent.parent / "spotify_elt" / "sample_data"
PERSONAS = tomllib.loads(
    Path(__file__).with_name("sample_personas.toml").read_text(encoding="utf-8")
)
SEED = 20261005

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
PERIOD_START = datetime(2026, 10, 5, tzinfo=UTC)
PERIOD_END = datetime(2026, 11, 9, tzinfo=UTC)  # exclusive: the last day is 2026-11-08
EU_DST_END = datetime(2026, 10, 25, 1, 0, tzinfo=UTC)  # 03:00 CEST -> 02:00 CET
US_DST_END = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)  # 02:00 EDT -> 01:00 EST

PAGE_LIMIT = 50  # the API only ever returns the latest 50 plays
SPLIT_ABOVE = 46  # the simulated poller never lets more than this pile up, except once
MINUTE_MS = 60_000

Json = dict[str, Any]


def ms_of(dt: datetime) -> int:
    return (dt - EPOCH) // timedelta(milliseconds=1)


def iso_ms(ms: int) -> str:
    """``played_at`` as the API writes it: milliseconds, left out when they are zero."""
    return format_played_at(EPOCH + timedelta(milliseconds=ms), with_millis=ms % 1000 != 0)


def weighted_sample(
    rng: random.Random, items: Sequence[Any], weights: Sequence[float], k: int
) -> list[Any]:
    """Sample ``k`` distinct items, heavier ones first more often (Efraimidis-Spirakis)."""
    keyed = sorted(
        ((rng.random() ** (1.0 / w), i) for i, w in enumerate(weights) if w > 0), reverse=True
    )
    return [items[i] for _, i in keyed[:k]]


# --------------------------------------------------------------------------------------------
# Catalogue
# --------------------------------------------------------------------------------------------

LONG_TITLE: str = PERSONAS["long_title"]  # 400 characters exactly (asserted below)
# (name, scene, titles that must exist on this artist's own releases)
ARTIST_SPECS: list[tuple[str, str, list[str]]] = [
    (a["name"], a["scene"], [LONG_TITLE] if a.get("long_title") else a.get("titles", []))
    for a in PERSONAS["catalogue"]["artists"]
]
RELEASE_KINDS: dict[str, int] = PERSONAS["catalogue"]["release_kinds"]
RELEASES: dict[str, str] = {
    a["name"]: a["releases"] for a in PERSONAS["catalogue"]["artists"] if "releases" in a
}
VARIOUS_ARTISTS: str = PERSONAS["catalogue"]["various_artists"]
ISRC_COUNTRIES: dict[str, list[str]] = PERSONAS["catalogue"]["isrc_countries"]

# Title vocabulary per scene.
WORDS: dict[str, list[str]] = PERSONAS["catalogue"]["words"]
EN_ADJ, EN_NOUN, EN_VERB = WORDS["en_adj"], WORDS["en_noun"], WORDS["en_verb"]
ES_A, ES_B, EU_TITLES = WORDS["es_a"], WORDS["es_b"], WORDS["eu_titles"]
JP_A, JP_B, JP_EXTRA = WORDS["jp_a"], WORDS["jp_b"], WORDS["jp_extra"]
KR_A, KR_B, RU_TITLES, AR_TITLES = (
    WORDS["kr_a"],
    WORDS["kr_b"],
    WORDS["ru_titles"],
    WORDS["ar_titles"],
)


@dataclass(eq=False)
class Artist:
    id: str
    name: str
    scene: str
    country: str
    registrant: str
    next_designation: int

    def simplified(self) -> Json:
        return artist_object(self.id, self.name)

    def new_isrc(self, year: int) -> str:
        self.next_designation += 1
        return f"{self.country}{self.registrant}{year % 100:02d}{self.next_designation:05d}"


@dataclass(eq=False)
class Album:
    id: str
    name: str
    album_type: str
    artists: list[Artist]
    release: date
    precision: str  # "day" | "month" | "year"
    total_tracks: int
    image_key: str
    tracks: list[Track] = field(default_factory=list)

    def release_date(self) -> str:
        if self.precision == "year":
            return f"{self.release.year:04d}"
        if self.precision == "month":
            return f"{self.release.year:04d}-{self.release.month:02d}"
        return self.release.isoformat()

    def to_json(self) -> Json:
        return album_object(
            self.id,
            self.name,
            album_type=self.album_type,
            artists=[a.simplified() for a in self.artists],
            images=album_images(self.image_key),
            release_date=self.release_date(),
            release_date_precision=self.precision,
            total_tracks=self.total_tracks,
        )

    def context(self) -> Json:
        return context_object("album", self.id)


@dataclass(eq=False)
class Track:
    id: str
    name: str
    album: Album
    artists: list[Artist]
    disc_number: int
    track_number: int
    duration_ms: int
    explicit: bool
    isrc: str
    _json: Json | None = None

    @property
    def available_from(self) -> date:
        return self.album.release

    def to_json(self) -> Json:
        if self._json is None:
            self._json = track_object(
                self.id,
                self.name,
                album=self.album.to_json(),
                artists=[a.simplified() for a in self.artists],
                disc_number=self.disc_number,
                track_number=self.track_number,
                duration_ms=self.duration_ms,
                explicit=self.explicit,
                isrc=self.isrc,
            )
        return self._json


@dataclass(eq=False)
class LocalTrack:
    """A file from the user's own disk, played through Spotify: it has no Spotify ids."""

    artist: str
    album: str
    name: str
    seconds: int
    available_from: date = date(2000, 1, 1)

    @property
    def duration_ms(self) -> int:
        return self.seconds * 1000

    def to_json(self) -> Json:
        # As the API sends it: no ids anywhere, no album artists and no album total_tracks key.
        return local_track_object(
            self.name,
            album=local_album_object(self.album, total_tracks=None),
            artists=[artist_object(None, self.artist)],
            duration_ms=self.duration_ms,
            uri=local_uri(self.artist, self.album, self.name, self.seconds),
        )


Playable = Track | LocalTrack


@dataclass
class Catalogue:
    artists: list[Artist]
    albums: list[Album]
    tracks: list[Track]
    by_name: dict[str, Artist]
    edge_tracks: dict[str, Track]  # label -> a track that carries that edge case


def _title(rng: random.Random, scene: str, used: set[str]) -> str:
    for _ in range(200):
        roll = rng.random()
        if scene == "es":
            title = f"{rng.choice(ES_A)} {rng.choice(ES_B)}"
        elif scene == "eu":
            title = rng.choice(EU_TITLES)
        elif scene == "jp":
            title = (
                rng.choice(JP_EXTRA) if roll < 0.2 else f"{rng.choice(JP_A)}の{rng.choice(JP_B)}"
            )
        elif scene == "kr":
            title = f"{rng.choice(KR_A)} {rng.choice(KR_B)}"
            if roll < 0.3:
                title = f"{rng.choice(EN_ADJ)} {rng.choice(EN_NOUN)}".upper()
        elif scene == "ru":
            title = rng.choice(RU_TITLES)
        elif scene == "ar":
            title = rng.choice(AR_TITLES)
        elif roll < 0.55:
            title = f"{rng.choice(EN_ADJ)} {rng.choice(EN_NOUN)}"
        elif roll < 0.7:
            title = f"The {rng.choice(EN_ADJ)} {rng.choice(EN_NOUN)}"
        elif roll < 0.88:
            title = f"{rng.choice(EN_VERB)} the {rng.choice(EN_NOUN)}"
        elif roll < 0.92:
            title = f"{rng.choice(EN_ADJ)} {rng.choice(EN_NOUN)}, Pt. 2"
        elif roll < 0.96:
            title = f"{rng.choice(EN_ADJ)} {rng.choice(EN_NOUN)} - Acoustic"
        else:
            title = f"{rng.choice(EN_ADJ)} {rng.choice(EN_NOUN)} - Live in Lisbon"
        if title not in used:
            used.add(title)
            return title
    raise RuntimeError(f"ran out of {scene} titles")


def _release(rng: random.Random) -> tuple[date, str]:
    roll = rng.random()
    if roll < 0.16:
        year = rng.randint(1968, 1994)
    elif roll < 0.4:
        year = rng.randint(1995, 2014)
    else:
        year = rng.randint(2015, 2026)
    day = date(year, 1, 1) + timedelta(days=rng.randrange(365))
    if year == 2026:
        day = date(2026, 1, 9) + timedelta(days=rng.randrange(260))  # before October
    if year < 1995:
        precision = rng.choices(["year", "month", "day"], [5, 2, 3])[0]
    else:
        precision = rng.choices(["month", "day"], [1, 24])[0]
    if precision == "year":
        day = date(year, 1, 1)
    elif precision == "month":
        day = day.replace(day=1)
    return day, precision


def _duration(rng: random.Random) -> int:
    return int(min(max(rng.gauss(214_000, 46_000), 98_000), 428_000))


def _explicit(rng: random.Random, artist: Artist) -> bool:
    if artist.name == "MC Paperclip":
        return rng.random() < 0.8
    return rng.random() < {"en": 0.18, "es": 0.1, "kr": 0.08}.get(artist.scene, 0.03)


def build_catalogue() -> Catalogue:
    rng = random.Random(f"{SEED}:catalogue")
    artists: list[Artist] = []
    for name, scene, _ in [*ARTIST_SPECS, (VARIOUS_ARTISTS, "en", [])]:
        registrant = "".join(rng.choices("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", k=3))
        artists.append(
            Artist(
                id=random_id(rng),
                name=name,
                scene=scene,
                country=rng.choice(ISRC_COUNTRIES[scene]),
                registrant=registrant,
                next_designation=rng.randint(100, 80_000),
            )
        )
    by_name = {a.name: a for a in artists}
    fixed_titles = {name: list(titles) for name, _, titles in ARTIST_SPECS}
    albums: list[Album] = []
    tracks: list[Track] = []
    edge: dict[str, Track] = {}

    def new_album(
        name: str,
        album_type: str,
        album_artists: list[Artist],
        release: date,
        precision: str,
        total: int,
    ) -> Album:
        album = Album(
            id=random_id(rng),
            name=name,
            album_type=album_type,
            artists=album_artists,
            release=release,
            precision=precision,
            total_tracks=total,
            image_key=f"{rng.getrandbits(96):024x}",
        )
        albums.append(album)
        return album

    def add_track(
        album: Album,
        name: str,
        track_artists: list[Artist],
        disc: int,
        number: int,
        duration: int | None = None,
        explicit: bool | None = None,
        isrc: str | None = None,
    ) -> Track:
        main = track_artists[0]
        track = Track(
            id=random_id(rng),
            name=name,
            album=album,
            artists=list(track_artists),
            disc_number=disc,
            track_number=number,
            duration_ms=_duration(rng) if duration is None else duration,
            explicit=_explicit(rng, main) if explicit is None else explicit,
            isrc=main.new_isrc(album.release.year) if isrc is None else isrc,
        )
        album.tracks.append(track)
        tracks.append(track)
        return track

    def fill_album(album: Album, owner: Artist, count: int, used: set[str], discs: int = 1) -> None:
        numbers: list[tuple[int, int]] = []
        per_disc = max(album.total_tracks // discs, count)
        for disc in range(1, discs + 1):
            picks = rng.sample(range(1, per_disc + 1), min(count, per_disc))
            if disc == 1 and rng.random() < 0.6 and 1 not in picks:
                picks[0] = 1
            numbers.extend((disc, n) for n in sorted(picks))
        for disc, number in sorted(numbers):
            fixed = fixed_titles.get(owner.name, [])
            name = fixed.pop(0) if fixed else _title(rng, owner.scene, used)
            used.add(name)
            duration = None
            if name == LONG_TITLE:
                duration = 754_321
            elif name == "Intro":
                duration = 48_213
            track = add_track(
                album,
                name,
                album.artists if album.artists[0] is owner else [owner],
                disc,
                number,
                duration,
            )
            if name == LONG_TITLE:
                edge["400-character title"] = track
            elif name == "Intro":
                edge["48-second track"] = track

    lead_singles: list[Track] = []
    kinds = RELEASE_KINDS
    for artist in artists[:-1]:
        kind = RELEASES.get(artist.name) or rng.choices(list(kinds), list(kinds.values()))[0]
        used: set[str] = set()
        album_names: set[str] = set()
        n_fixed = len(fixed_titles[artist.name])
        album_artists = [artist]
        if artist.name == "Juniper Vance":  # a two-artist album
            album_artists = [artist, by_name["Aurelio Banks"]]
        release, precision = _release(rng)
        if kind == "album+single":
            precision = "day"
            release = max(release, date(1999, 1, 1))
        if kind == "ep":
            count = max(n_fixed, rng.randint(2, 3))
            album = new_album(
                _title(rng, artist.scene, album_names),
                "single",
                album_artists,
                release,
                precision,
                max(count, rng.randint(3, 5)),
            )
            fill_album(album, artist, count, used)
            continue
        count = max(n_fixed, rng.randint(3, 4))
        if kind == "album+album":
            older_release, older_precision = _release(rng)
            if older_release > release:
                release, precision, older_release, older_precision = (
                    older_release,
                    older_precision,
                    release,
                    precision,
                )
            older = new_album(
                _title(rng, artist.scene, album_names),
                "album",
                album_artists,
                older_release,
                older_precision,
                rng.randint(9, 14),
            )
            fill_album(older, artist, rng.randint(2, 3), used)
        deluxe = kind == "album+album" and artist.name == "Static Orchard"
        name = _title(rng, artist.scene, album_names)
        if deluxe:
            name = f"{name} (Deluxe Edition)"
        album = new_album(
            name,
            "album",
            album_artists,
            release,
            precision,
            rng.randint(max(count, 9), 15) * (2 if deluxe else 1),
        )
        fill_album(album, artist, count, used, discs=2 if deluxe else 1)
        if kind == "album+single":
            lead_singles.append(album.tracks[0])

    # The two-artist album: member order differs per track, one track with a third artist.
    jv, ab = by_name["Juniper Vance"], by_name["Aurelio Banks"]
    jv_album = next(a for a in albums if a.artists == [jv, ab])
    for i, track in enumerate(jv_album.tracks):
        track.artists = [jv, ab] if i % 2 == 0 else [ab, jv]
    jv_album.tracks[-1].artists.append(by_name["Cassidy Thorne"])
    edge["album with two artists"] = jv_album.tracks[0]

    # Featured artists: 2-4 artists per track, order as credited.
    pool = [a for a in artists[:-1] if a.name not in ("Juniper Vance", "Aurelio Banks")]
    candidates = [
        t
        for t in tracks
        if len(t.artists) == 1 and t.album.album_type == "album" and t.name != LONG_TITLE
    ]
    for i, track in enumerate(rng.sample(candidates, 30)):
        n_feat = 3 if i == 0 else rng.choices([1, 2, 3], [70, 22, 8])[0]
        main = track.artists[0]
        same = [a for a in pool if a.scene == main.scene and a is not main]
        others = [a for a in pool if a is not main]
        feats: list[Artist] = []
        while len(feats) < n_feat:
            a = rng.choice(same if rng.random() < 0.6 and same else others)
            if a not in feats:
                feats.append(a)
        track.artists = [main, *feats]
        if n_feat == 1 and main.scene in ("en", "es") and rng.random() < 0.7:
            track.name = f"{track.name} (feat. {feats[0].name})"
        if n_feat == 3:
            edge["track with 4 artists"] = track

    # Lead singles: the same recording (same ISRC) on a single and on the album.
    for track in lead_singles:
        album = track.album
        single = new_album(
            track.name,
            "single",
            album.artists,
            album.release - timedelta(days=rng.randint(28, 90)),
            "day",
            1,
        )
        copy = add_track(
            single, track.name, track.artists, 1, 1, track.duration_ms, track.explicit, track.isrc
        )
        edge.setdefault("same recording on a single and an album", copy)

    # A single released during the sample period: no plays of it before its release day.
    luna = by_name["Luna Calavera"]
    new_single = new_album("Fuego lento", "single", [luna], date(2026, 10, 23), "day", 1)
    edge["released during the period (2026-10-23)"] = add_track(
        new_single, "Fuego lento", [luna], 1, 1
    )

    # Compilations: album artist differs from the tracks' first artists; some recordings reused.
    various = by_name[VARIOUS_ARTISTS]
    comp_specs = [
        ("Verano Eterno: Éxitos Latinos 2026", [various], date(2026, 6, 12), ["es"]),
        ("Tokyo Night Drive Vol. 3 🚗", [various], date(2025, 11, 28), ["jp", "kr"]),
        ("Kid Lagoon Presents: Beach Sounds", [by_name["Kid Lagoon"]], date(2024, 7, 5), ["en"]),
    ]
    for name, comp_artists, release, scenes in comp_specs:
        source = [
            t
            for t in tracks
            if t.artists[0].scene in scenes
            and t.album.album_type == "album"
            and t.album.release < release
            and t.artists[0] is not comp_artists[0]
            and t.name != LONG_TITLE
        ]
        picks = rng.sample(source, 5)
        comp = new_album(name, "compilation", comp_artists, release, "day", rng.randint(16, 24))
        for number, original in enumerate(picks, start=1):
            if comp_artists[0].name == "Kid Lagoon" and number > 1:
                add_track(
                    comp,
                    f"{original.name} - Kid Lagoon Remix",
                    [*original.artists[:3], comp_artists[0]],  # at most 4 artists
                    1,
                    number,
                )
            else:
                copy = add_track(
                    comp,
                    original.name,
                    original.artists,
                    1,
                    number,
                    original.duration_ms,
                    original.explicit,
                    original.isrc,
                )
                edge.setdefault("same recording on an album and a compilation", copy)
        edge.setdefault("compilation (album artist is not the track's artist)", comp.tracks[0])

    for label, titles in [
        ("Japanese", ["ハイパー☆ドライブ"]),
        ("emoji", ["Peach Fuzz 🍑"]),
        ("emoji ZWJ sequence", ["Heart on Fire ❤️\u200d🔥"]),
        ("single quotes", ["Don't Stop 'Til Tuesday"]),
        ("double quotes", ['She Said "Maybe"']),
        ("backslashes", ["C:\\Users\\Me\\Feelings"]),
        ("SQL injection", ["Bobby'); DROP TABLE tracks;--"]),
        ("LIKE wildcards", ["100% _Pure_ Static"]),
        ("NFD combining accent", ["Cafe\u0301 Noir"]),
    ]:
        edge[f"title with {label}"] = next(t for t in tracks if t.name.startswith(titles[0]))
    for label, scene in [("Korean", "kr"), ("Arabic", "ar"), ("Cyrillic", "ru")]:
        edge[f"title with {label}"] = next(
            t for t in tracks if t.artists[0].scene == scene and not t.name.isascii()
        )
    edge["explicit track"] = next(t for t in tracks if t.explicit)
    edge["release_date_precision year"] = next(t for t in tracks if t.album.precision == "year")
    edge["release_date_precision month"] = next(t for t in tracks if t.album.precision == "month")
    edge["second disc of a deluxe album"] = next(t for t in tracks if t.disc_number == 2)
    assert len(LONG_TITLE) == 400, len(LONG_TITLE)
    return Catalogue(artists, albums, tracks, by_name, edge)


# --------------------------------------------------------------------------------------------
# Users and their listening
# --------------------------------------------------------------------------------------------

# (first local start hour, last local start hour, weight, weekdays with Monday = 0)
Window = tuple[float, float, float, str]


@dataclass
class Forced:
    """A session that must happen: the DST nights and the night the poller was down."""

    start: datetime
    plays: int


@dataclass
class User:
    id: str
    display_name: str
    tz: ZoneInfo
    scenes: dict[str, float]
    favourites: list[str]
    windows: list[Window]
    weekday_plays: tuple[int, int]
    weekend_plays: tuple[int, int]
    contexts: dict[str, float]
    liked_extra: list[str]  # edge-case labels this user has among their liked songs
    local_files: list[LocalTrack] = field(default_factory=list)
    forced: list[Forced] = field(default_factory=list)
    poller_wakes: float = 9.0  # local hour at which the poller's quiet hours end
    outage: tuple[datetime, datetime] | None = None
    overlap_repeats: int = 3

    def profile(self) -> Json:
        return user_profile(self.id, self.display_name)


def listener(persona: dict[str, Any]) -> User:
    """One listener of sample_personas.toml."""
    outage = persona.get("outage")
    return User(
        id=persona["id"],
        display_name=persona["display_name"],
        tz=ZoneInfo(persona["time_zone"]),
        scenes=persona["scenes"],
        favourites=persona["favourites"],
        windows=[(lo, hi, weight, weekdays) for lo, hi, weight, weekdays in persona["windows"]],
        weekday_plays=(persona["weekday_plays"][0], persona["weekday_plays"][1]),
        weekend_plays=(persona["weekend_plays"][0], persona["weekend_plays"][1]),
        contexts=persona["contexts"],
        liked_extra=persona["liked_extra"],
        local_files=[LocalTrack(**track) for track in persona.get("local_files", [])],
        forced=[Forced(**session) for session in persona.get("forced", [])],
        poller_wakes=persona["poller_wakes"],
        outage=(outage[0], outage[1]) if outage else None,
        overlap_repeats=persona["overlap_repeats"],
    )


USERS = [listener(persona) for persona in PERSONAS["listeners"]]


@dataclass(eq=False)
class Playlist:
    context: Json
    tracks: list[Playable]


@dataclass(eq=False)
class Play:
    ms: int
    track: Playable
    context: Json | None
    ms_played: int = 0  # how long it really played: what only the privacy export tells

    def to_json(self) -> Json:
        return play_object(self.track.to_json(), iso_ms(self.ms), self.context)


class Listener:
    """Turns one user's taste and habits into a sequence of plays."""

    def __init__(self, cat: Catalogue, user: User, editorial: Playlist) -> None:
        self.cat = cat
        self.user = user
        self.rng = random.Random(f"{SEED}:{user.id}:listening")
        self.weights = [self.track_weight(t) for t in cat.tracks]
        self.collection_context = collection_context(user.id)
        in_library = [t for t in cat.tracks if t.available_from < PERIOD_START.date()]
        lib_weights = [self.track_weight(t) for t in in_library]
        liked: list[Playable] = weighted_sample(self.rng, in_library, lib_weights, 70)
        liked.extend(t for t in (cat.edge_tracks[x] for x in user.liked_extra) if t not in liked)
        self.liked = liked
        self.playlists = [editorial]
        for i in range(3):
            tracks: list[Playable] = weighted_sample(
                self.rng, in_library, lib_weights, self.rng.randint(22, 40)
            )
            if i == 0:
                tracks.extend(user.local_files)
            self.playlists.append(Playlist(context_object("playlist", random_id(self.rng)), tracks))

    def track_weight(self, track: Track) -> float:
        weight = self.user.scenes.get(track.artists[0].scene, 0.2)
        if any(a.name in self.user.favourites for a in track.artists):
            weight *= 5
        if track.album.album_type == "compilation":
            weight *= 0.6
        return weight

    def segment(self, kind: str, day: date) -> tuple[list[Playable], Json | None]:
        rng = self.rng
        avail = [t.available_from <= day for t in self.cat.tracks]
        weights = [w if ok else 0.0 for w, ok in zip(self.weights, avail, strict=True)]
        if kind == "album":
            first = rng.choices(self.cat.tracks, weights)[0]
            album = first.album
            tracks: list[Playable] = [
                *sorted(album.tracks, key=lambda t: (t.disc_number, t.track_number))
            ]
            start = 0 if rng.random() < 0.7 else rng.randrange(len(tracks))
            return tracks[start:], album.context()
        if kind == "artist":
            first = rng.choices(self.cat.tracks, weights)[0]
            artist = first.artists[0]
            tracks = [t for t in self.cat.tracks if artist in t.artists and t.available_from <= day]
            rng.shuffle(tracks)
            return tracks, context_object("artist", artist.id)
        if kind in ("playlist", "collection"):
            playlist = (
                Playlist(self.collection_context, self.liked)
                if kind == "collection"
                else rng.choice(self.playlists)
            )
            tracks = [t for t in playlist.tracks if t.available_from <= day]
            rng.shuffle(tracks)
            return tracks, playlist.context
        picks: list[Playable] = rng.choices(self.cat.tracks, weights, k=30)
        return [t for i, t in enumerate(picks) if i == 0 or t is not picks[i - 1]], None

    def session(self, count: int, day: date, repeat: bool) -> list[tuple[Playable, Json | None]]:
        rng = self.rng
        out: list[tuple[Playable, Json | None]] = []
        while len(out) < count:
            kind = rng.choices(list(self.user.contexts), list(self.user.contexts.values()))[0]
            tracks, context = self.segment(kind, day)
            take = len(tracks) if kind == "album" else rng.randint(5, 25)
            for track in tracks[: min(take, count - len(out))]:
                if out and out[-1][0] is track:
                    continue
                out.append((track, context))
                if rng.random() < 0.0015:  # repeat-one
                    out.append((track, context))
        if repeat and len(out) > 4:
            out.insert(3, out[2])
        return out[:count]

    def plan(self) -> list[tuple[datetime, int, bool, bool]]:
        """Sessions as (UTC start, plays, fixed, with a forced repeat)."""
        rng, user = self.rng, self.user
        first = PERIOD_START.astimezone(user.tz).date() - timedelta(days=1)
        last = PERIOD_END.astimezone(user.tz).date()
        days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
        forced_days = {f.start.astimezone(user.tz).date(): f for f in user.forced}
        eligible = [d for d in days[3:-3] if d not in forced_days]
        idle = set(rng.sample(eligible, 2))
        repeat_day = rng.choice([d for d in eligible if d not in idle])
        plans: list[tuple[datetime, int, bool, bool]] = [
            (f.start, f.plays, True, False) for f in user.forced
        ]
        for day in days:
            if day in idle:
                continue
            weekend = day.weekday() >= 5
            lo, hi = user.weekend_plays if weekend else user.weekday_plays
            target = rng.randint(lo, hi)
            if day in forced_days:
                target = max(
                    8,
                    target
                    - sum(
                        f.plays for f in user.forced if f.start.astimezone(user.tz).date() == day
                    ),
                )
            windows = [w for w in user.windows if str(day.weekday()) in w[3]]
            counts = [0] * len(windows)
            for i in rng.choices(range(len(windows)), [w[2] for w in windows], k=target):
                counts[i] += 1
            for (lo_h, hi_h, _, _), n in zip(windows, counts, strict=True):
                if n == 0:
                    continue
                offset = timedelta(hours=lo_h) + timedelta(
                    seconds=rng.uniform(0, (hi_h - lo_h) * 3600)
                )
                local = datetime.combine(day, time()) + offset
                start = local.replace(tzinfo=user.tz).astimezone(UTC)
                start += timedelta(microseconds=rng.randrange(1_000_000) - start.microsecond)
                repeat = day == repeat_day and not any(p[3] for p in plans)
                plans.append((start, n, False, repeat))
        plans.sort(key=lambda p: p[0])
        return plans

    def plays(self) -> list[Play]:
        rng = self.rng
        plans = self.plan()
        plays: list[Play] = []
        cursor = 0
        for index, (start, count, fixed, repeat) in enumerate(plans):
            start_ms = ms_of(start)
            later_fixed = [ms_of(p[0]) for p in plans[index + 1 :] if p[2]]
            limit = min(later_fixed, default=ms_of(PERIOD_END) + 86_400_000) - 5 * MINUTE_MS
            if not fixed:
                start_ms = max(start_ms, cursor + rng.randint(6 * MINUTE_MS, 25 * MINUTE_MS))
                if start_ms >= limit:
                    continue
            assert start_ms > cursor, "sessions overlap"
            now = start_ms
            day = (EPOCH + timedelta(milliseconds=start_ms)).date()
            for track, context in self.session(count, day, repeat):
                if rng.random() < 0.08:  # skipped after a while; it still counts as played
                    elapsed = rng.randint(31_000, max(32_000, int(track.duration_ms * 0.7)))
                else:
                    elapsed = track.duration_ms + rng.randint(150, 2_500)
                if now + elapsed > limit:
                    break
                now += elapsed
                plays.append(Play(now, track, context, min(elapsed, track.duration_ms)))
            cursor = now
        start_ms, end_ms = ms_of(PERIOD_START), ms_of(PERIOD_END)
        plays = [p for p in plays if start_ms <= p.ms < end_ms]
        for play in plays:  # whole seconds are written without milliseconds: keep those rare
            if play.ms % 1000 == 0:
                play.ms += 1
        for i in rng.sample(range(len(plays)), 5):  # ... but have a few
            plays[i].ms -= plays[i].ms % 1000
        assert all(a.ms < b.ms for a, b in itertools.pairwise(plays))
        return plays


# --------------------------------------------------------------------------------------------
# The poller
# --------------------------------------------------------------------------------------------


@dataclass
class UserData:
    user: User
    plays: list[Play]
    responses: list[Json]
    notes: list[str]


def poll_times(user: User, play_ms: list[int]) -> list[int]:
    """When the simulated poller called the API (epoch ms).

    Every 2-4 hours; asleep from 01:30 local time until the user's usual wake-up; down once if
    the user has an outage; and more often whenever plays pile up, so that only the outage
    ever loses plays. To keep the sample small and the responses meaningful, most calls that
    found nothing new are then left out (that changes no other response, as the watermark only
    moves on new plays): four empty responses per user are kept, plus the last call, made
    after the period ended.
    """
    rng = random.Random(f"{SEED}:{user.id}:poller")
    polls: list[int] = []
    t = PERIOD_START + timedelta(seconds=rng.randint(3600, 9000))
    while True:
        local = t.astimezone(user.tz)
        hour = local.hour + local.minute / 60
        if 1.5 <= hour < user.poller_wakes:
            wake = local.replace(hour=0, minute=0, second=0) + timedelta(
                hours=user.poller_wakes, seconds=rng.randint(0, 2400)
            )
            t = wake.astimezone(UTC)
        if user.outage and user.outage[0] < t < user.outage[1]:
            t = user.outage[1]
        polls.append(ms_of(t))
        if t >= PERIOD_END:
            break
        t += timedelta(seconds=rng.randint(2 * 3600, 4 * 3600), microseconds=rng.randrange(10**6))
    outage_end = ms_of(user.outage[1]) if user.outage else -1
    while True:  # poll more often while the user is binge-listening
        bounds = [ms_of(PERIOD_START), *polls]
        for lo, hi in itertools.pairwise(bounds):
            inside = play_ms[bisect_right(play_ms, lo) : bisect_right(play_ms, hi)]
            if len(inside) > SPLIT_ABOVE and hi != outage_end:
                mid = len(inside) // 2
                polls.append(rng.randint(inside[mid - 1] + 1, inside[mid] - 1))
                polls.sort()
                break
        else:
            break
    bounds = [ms_of(PERIOD_START), *polls]
    empty = [
        hi
        for lo, hi in itertools.pairwise(bounds)
        if bisect_right(play_ms, hi) == bisect_right(play_ms, lo) and hi < ms_of(PERIOD_END)
    ]
    keep = set(rng.sample(empty, 4))
    return [p for p in polls if p in keep or p not in empty]


def simulate(cat: Catalogue, user: User, editorial: Playlist) -> UserData:
    plays = Listener(cat, user, editorial).plays()
    play_ms = [p.ms for p in plays]
    polls = poll_times(user, play_ms)
    rng = random.Random(f"{SEED}:{user.id}:overlap")
    bounds = [ms_of(PERIOD_START), *polls]
    counts = [
        bisect_right(play_ms, hi) - bisect_right(play_ms, lo)
        for lo, hi in itertools.pairwise(bounds)
    ]
    r = user.overlap_repeats
    candidates = [
        i
        for i in range(20, len(polls) - 1)
        if counts[i - 1] >= r + 3
        and 0 < counts[i] <= PAGE_LIMIT - r - 4
        and max(counts[i - 2 : i + 2]) <= PAGE_LIMIT
    ]
    overlap_at = rng.choice(candidates)
    notes: list[str] = []
    responses: list[Json] = []
    watermark = ms_of(PERIOD_START)
    previous: list[Play] = []
    for index, poll in enumerate(polls):
        after = watermark
        if index == overlap_at:  # stale watermark: repeats the newest r plays of the last response
            after = previous[r].ms
            notes.append(
                f"overlap: response #{index} (after={after}) repeats {r} plays "
                f"{iso_ms(previous[r - 1].ms)} .. {iso_ms(previous[0].ms)}"
            )
        visible = plays[bisect_right(play_ms, after) : bisect_right(play_ms, poll)]
        page = visible[-PAGE_LIMIT:][::-1]
        if len(visible) > PAGE_LIMIT:
            lost = visible[: len(visible) - PAGE_LIMIT]
            notes.append(
                f"gap: response #{index} (after={after}) had {len(visible)} plays to return; "
                f"the {len(lost)} oldest, {iso_ms(lost[0].ms)} .. {iso_ms(lost[-1].ms)}, are lost"
            )
        newest, oldest = (page[0].ms, page[-1].ms) if page else (0, 0)
        responses.append(
            recently_played_page(
                f"{RECENTLY_PLAYED}?after={after}&limit={PAGE_LIMIT}",
                [p.to_json() for p in page],
                PAGE_LIMIT,
                (
                    f"{RECENTLY_PLAYED}?before={oldest}&limit={PAGE_LIMIT}"
                    if len(page) == PAGE_LIMIT
                    else None
                ),
                {"after": str(newest), "before": str(oldest)} if page else None,
            )
        )
        if page:
            watermark = max(watermark, newest)
            previous = page
    return UserData(user, plays, responses, notes)


def editorial_playlist(cat: Catalogue) -> Playlist:
    """One public editorial playlist that all three users play from."""
    rng = random.Random(f"{SEED}:editorial")
    playlist_id = "37i9dQZF1DX" + "".join(rng.choices(BASE62, k=11))
    tracks: list[Playable] = [
        t for t in rng.sample(cat.tracks, 45) if t.available_from < PERIOD_START.date()
    ]
    return Playlist(context_object("playlist", playlist_id), tracks)


# --------------------------------------------------------------------------------------------
# The privacy export ("Download your data")
# --------------------------------------------------------------------------------------------

EXPORT_ZIP_TIME = (2026, 11, 10, 9, 0, 0)
EXTENDED_UNTIL = datetime(2026, 11, 3, tzinfo=UTC)  # the end of demo-sam's Extended history
ACCOUNT_FROM = datetime(2026, 10, 26, tzinfo=UTC)  # the start of the Account-data files
EARLIER_WEEKS = 4  # demo-sam's first week, replayed this much earlier: history before polling
PODCASTS: list[str] = PERSONAS["spoken"]["podcasts"]
AUDIOBOOK: str = PERSONAS["spoken"]["audiobook"]


def track_content(track: Playable) -> Json:
    """Extended history names a track by its first artist; a local file has no URI."""
    if isinstance(track, LocalTrack):
        return exports.track_content(track.name, track.artist, track.album, None)
    uri = f"spotify:track:{track.id}"
    return exports.track_content(track.name, track.artists[0].name, track.album.name, uri)


class ExportWriter:
    """One user's export records: Extended (per second, with URIs) and Account data (per minute)."""

    def __init__(self, user: User) -> None:
        self.user = user
        self.rng = random.Random(f"{SEED}:{user.id}:export")
        self.extended: list[Json] = []
        self.music: list[Json] = []
        self.podcasts: list[Json] = []

    def extended_record(self, end_ms: int, content: Json, ms_played: int, **playback: Any) -> None:
        rng = self.rng
        # Spotify's clock is not the API's: a second or two apart, then cut to the second.
        ts = (end_ms + rng.randint(-2500, 2500)) // 1000
        record = exports.extended_fields(
            exports.extended_ts(datetime.fromtimestamp(ts, UTC)),
            platform=rng.choice(["android", "ios", "windows", "web_player"]),
            ms_played=ms_played,
            conn_country="US",
            addresses={"ip_addr": f"192.0.2.{rng.randint(1, 254)}"},  # documentation range
            content=content,
            shuffle=rng.random() < 0.3,
            offline_timestamp=ts - ms_played // 1000,
        )
        self.extended.append(record | playback)

    def account_record(self, end_ms: int, artist: str, title: str, ms_played: int) -> None:
        minute = exports.end_time(datetime.fromtimestamp(end_ms // 1000, UTC))
        self.music.append(exports.music_record(minute, artist, title, ms_played))

    def play(self, end_ms: int, play: Play, extended: bool) -> None:
        """A play, and now and then a false start before it that the API never lists."""
        rng = self.rng
        start_ms = end_ms - play.ms_played
        false_start = rng.randint(1_500, 9_000) if rng.random() < 0.06 else 0
        full = play.ms_played >= play.track.duration_ms
        artist = (
            play.track.artist if isinstance(play.track, LocalTrack) else play.track.artists[0].name
        )
        if extended:
            content = track_content(play.track)
            if false_start:
                self.extended_record(
                    start_ms - rng.randint(200, 900), content, false_start,
                    reason_start="clickrow", reason_end="backbtn",
                )  # fmt: skip
            self.extended_record(
                end_ms, content, play.ms_played,
                reason_end="trackdone" if full else "fwdbtn", skipped=not full,
            )  # fmt: skip
        else:
            if false_start:
                self.account_record(start_ms - 500, artist, play.track.name, false_start)
            self.account_record(end_ms, artist, play.track.name, play.ms_played)

    def spoken(self, days: list[date], hour: float, extended: bool, audiobook: bool) -> None:
        """Podcast episodes (or audiobook chapters) at `hour` local time on `days`."""
        rng = self.rng
        for number, day in enumerate(days, start=1):
            local = datetime.combine(day, time()) + timedelta(
                hours=hour, seconds=rng.randint(0, 900)
            )
            start = local.replace(tzinfo=self.user.tz).astimezone(UTC)
            ms_played = rng.randint(12, 38) * MINUTE_MS + rng.randint(0, 59_999)
            end_ms = ms_of(start) + ms_played
            show = AUDIOBOOK if audiobook else PODCASTS[number % len(PODCASTS)]
            title = f"Chapter {number}" if audiobook else f"{show} #{100 + number}"
            if not extended:
                minute = exports.end_time(datetime.fromtimestamp(end_ms // 1000, UTC))
                self.podcasts.append(exports.podcast_record(minute, show, title, ms_played))
                continue
            uri_id = "".join(random.Random(f"{SEED}:{show}:{title}").choices(BASE62, k=22))
            if audiobook:
                book_id = "".join(random.Random(show).choices(BASE62, k=22))
                content = exports.audiobook_content(
                    show, f"spotify:audiobook:{book_id}", f"spotify:chapter:{uri_id}", title
                )
            else:
                content = exports.episode_content(title, show, f"spotify:episode:{uri_id}")
            self.extended_record(end_ms, content, ms_played, shuffle=False)


def days_between(first: datetime, last: datetime, weekdays: str) -> list[date]:
    days = [first.date() + timedelta(days=n) for n in range((last - first).days)]
    return [d for d in days if str(d.weekday()) in weekdays]


def export_zips(data: list[UserData]) -> dict[str, dict[str, Any]]:
    """Zip name -> {member name -> JSON}: what demo-sam and demo-ana asked Spotify for.

    demo-sam: Extended history from four weeks before polling began until 2026-11-03 (the 16
    plays his poller lost included), with false starts, podcast episodes, audiobook chapters,
    local files and two records with no content; and Account data from 2026-10-26, which
    overlaps the Extended history. demo-ana: Account data from 2026-10-26, music and podcasts.
    """
    by_id = {d.user.id: d for d in data}
    sam, ana = by_id["demo-sam"], by_id["demo-ana"]
    shift = EARLIER_WEEKS * 7 * 86_400_000
    first_week = ms_of(PERIOD_START + timedelta(days=7))

    sam_export = ExportWriter(sam.user)
    earlier = [(p.ms - shift, p) for p in sam.plays if p.ms < first_week]
    for end_ms, play in earlier + [(p.ms, p) for p in sam.plays if p.ms < ms_of(EXTENDED_UNTIL)]:
        sam_export.play(end_ms, play, extended=True)
    since = PERIOD_START - timedelta(weeks=EARLIER_WEEKS)
    sam_export.spoken(days_between(since, EXTENDED_UNTIL, "0123"), 7.2, True, audiobook=False)
    sam_export.spoken(days_between(since, EXTENDED_UNTIL, "56")[::2], 19.0, True, audiobook=True)
    for end in (
        datetime(2026, 10, 9, 11, 0, 3, tzinfo=UTC),
        datetime(2026, 10, 30, 2, 14, 51, tzinfo=UTC),
    ):
        sam_export.extended_record(
            ms_of(end), exports.no_content(), 0, reason_end="unexpected-exit"
        )
    sam_account = ExportWriter(sam.user)
    for play in sam.plays:
        if play.ms >= ms_of(ACCOUNT_FROM):
            sam_account.play(play.ms, play, extended=False)

    ana_account = ExportWriter(ana.user)
    for play in ana.plays:
        if play.ms >= ms_of(ACCOUNT_FROM):
            ana_account.play(play.ms, play, extended=False)
    ana_account.spoken(days_between(ACCOUNT_FROM, PERIOD_END, "01234"), 8.6, False, audiobook=False)

    records = sorted(sam_export.extended, key=lambda r: r["ts"])
    half = len(records) // 2
    folder = "Spotify Extended Streaming History"
    return {
        "demo-sam_extended.zip": {
            f"{folder}/Streaming_History_Audio_2026_0.json": records[:half],
            f"{folder}/Streaming_History_Audio_2026_1.json": records[half:],
            f"{folder}/Streaming_History_Video_2026.json": [],
        },
        "demo-sam_account.zip": {
            "Spotify Account Data/StreamingHistory_music_0.json": sam_account.music,
            "Spotify Account Data/Userdata.json": {"username": "demo-sam", "country": "US"},
        },
        "demo-ana_account.zip": {
            "Spotify Account Data/StreamingHistory_music_0.json": ana_account.music,
            "Spotify Account Data/StreamingHistory_podcast_0.json": ana_account.podcasts,
            "Spotify Account Data/Userdata.json": {"username": "demo-ana", "country": "ES"},
        },
    }


def write_export(path: Path, members: dict[str, Any]) -> None:
    """A zip like Spotify's, pretty-printed JSON members, with fixed times: reruns are identical."""
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in members.items():
            info = zipfile.ZipInfo(name, EXPORT_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, exports.export_json(content), compresslevel=9)


def verify(cat: Catalogue, data: list[UserData]) -> None:
    """Fail loudly if a regeneration lost one of the edge cases the data exists to carry."""
    returned_items = [item for d in data for r in d.responses for item in r["items"]]
    returned = {json.dumps(i["track"], sort_keys=True) for i in returned_items}
    for label, track in cat.edge_tracks.items():
        assert json.dumps(track.to_json(), sort_keys=True) in returned, f"never played: {label}"
    assert any(i["track"]["is_local"] for i in returned_items)
    assert any(i["context"] is None for i in returned_items)
    assert any("." not in i["played_at"] for i in returned_items)
    for d in data:
        assert sum("gap:" in n for n in d.notes) == (1 if d.user.outage else 0)
        assert sum("overlap:" in n for n in d.notes) == 1
        assert any(r["items"] == [] for r in d.responses)
        hour = 3_600_000
        for switch in (EU_DST_END, US_DST_END):
            before, after = switch - timedelta(hours=1), switch + timedelta(hours=1)
            if d.user.tz.utcoffset(before) != d.user.tz.utcoffset(after):
                # the repeated local hour: plays in both of its occurrences
                at = ms_of(switch)
                assert any(at - hour <= p.ms < at for p in d.plays), d.user.id
                assert any(at <= p.ms < at + hour for p in d.plays), d.user.id
        assert any(
            a.track is b.track and isinstance(a.track, Track)
            for a, b in itertools.pairwise(d.plays)
        ), f"{d.user.id}: no repeat"


def main(out_dir: Path = OUT_DIR) -> None:
    cat = build_catalogue()
    editorial = editorial_playlist(cat)
    data = [simulate(cat, user, editorial) for user in USERS]
    verify(cat, data)
    out_dir.mkdir(parents=True, exist_ok=True)
    print(
        f"catalogue: {len(cat.artists)} artists, {len(cat.albums)} albums, {len(cat.tracks)} tracks"
    )
    for d in data:
        doc = {"profile": d.user.profile(), "responses": d.responses}
        raw = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        path = out_dir / f"{d.user.id}.json.gz"
        path.write_bytes(gzip.compress(raw, compresslevel=9, mtime=0))
        in_responses = {item["played_at"] for r in d.responses for item in r["items"]}
        empty = sum(1 for r in d.responses if not r["items"])
        print(
            f"{path.name}: {path.stat().st_size:,} bytes; {len(d.plays)} plays, "
            f"{len(in_responses)} of them returned; {len(d.responses)} responses ({empty} empty)"
        )
        for note in d.notes:
            print(f"  {note}")
    export_dir = out_dir / "exports"
    export_dir.mkdir(exist_ok=True)
    for name, members in export_zips(data).items():
        write_export(export_dir / name, members)
        records = sum(len(m) for m in members.values() if isinstance(m, list))
        print(f"exports/{name}: {(export_dir / name).stat().st_size:,} bytes; {records} records")


if __name__ == "__main__":
    # One optional argument: another folder to write to (the suite regenerates into a temporary
    # one and compares the files with those committed).
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT_DIR)
