"""Privacy exports written the way Spotify has really written them, era by era.

No real export is used: one made-up listening history (`listening_history`) is written out as
each era's files, with what real exports hold and tidy fixtures do not (see `Play` and
`listening_history`). The shapes, per era:

- `endsong` (Extended history sent in 2020-2022): `MyData/endsong_<n>.json` and
  `MyData/endvideo.json`; one line of JSON, records not in time order; `username`,
  `ip_addr_decrypted`, `user_agent_decrypted`, and the location fields `city`, `region`,
  `metro_code`, `longitude`, `latitude`; no audiobook fields; the device's own platform
  string ("Android OS 11 API 30 (...)"); `offline_timestamp` in milliseconds (0 before
  2017); `skipped` true or null.
- `transition` (2023): `Spotify Extended Streaming History/Streaming_History_Audio_<years>_<n>
  .json`, still one line and the endsong fields without the location ones; platforms such as
  "android" from 2023 on; `offline_timestamp` in seconds; `skipped` true or false.
- `current` (2024 on): one `Streaming_History_Audio_<year>.json` per year, indented by two
  spaces; `ip_addr` instead of the three private fields; the four audiobook fields;
  `offline_timestamp` in seconds, null for plays before 2023 (whose platform is still the
  device's string); video history in `Streaming_History_Video_<years>.json` without the
  audiobook fields; some files begin with a UTF-8 byte order mark.
- Account data, old (`MyData/StreamingHistory<n>.json`: music and podcasts in one file, the show
  as `artistName` and the episode as `trackName`) and new (`Spotify Account Data/
  StreamingHistory_music_<n>.json`, `_podcast_`, `_audiobook_`): `endTime` to the minute, UTC;
  indented by two spaces with " : " between key and value.

Names are raw UTF-8 (never \\u escapes), as Spotify writes them.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.support.exports import (
    end_time,
    extended_ts,
    music_record,
    podcast_record,
    write_zip,
)

# Private values an export holds: none may reach the warehouse.
LOGIN = "real-shape-login"
IP_V4 = "198.51.100.23"
IP_V6 = "2001:db8:4d:8b84:8000::"
USER_AGENTS = (
    "unknown",
    "Mozilla%2F5.0%20(X11;%20Linux%20armv7l)%20CrKey%2F1.37.148642",
    "Mozilla/5.0 (X11; Linux armv7l) AppleWebKit/537.36 CrKey/1.56.500000",
)
CITY, REGION, LATITUDE, LONGITUDE = "Porto", "13", 41.1496, -8.611
PRIVATE_VALUES = (LOGIN, IP_V4, IP_V6, *USER_AGENTS[1:], CITY)
PRIVATE_FIELDS = (
    "username",
    "ip_addr",
    "ip_addr_decrypted",
    "user_agent_decrypted",
    "city",
    "region",
    "metro_code",
    "longitude",
    "latitude",
)

# From 2023 Spotify names platforms ("android"); before, the device wrote its own string, and a
# current export still has those for old plays.
NEW_PLATFORMS = 2023
OLD_PLATFORMS = (
    "Android OS 11 API 30 (Xiaomi, 21061119BI)",
    "iOS 14.7.1 (iPhone10,3)",
    "Windows 10 (10.0.18363; x64; AppX)",
    "Partner google cast_tv;Chromecast;;2.0.0-671-be56159--1.37.148642",
    "web_player windows 10;firefox 100.0;desktop",
)
PLATFORMS = ("android", "ios", "windows", "cast")

TRACKS = [
    ("たぶん", "YOASOBI", "THE BOOK"),
    ("L'Indécis", "Les Gens d'Ici", "Vol. 1"),
    ('Say "When"', "Quoted Band", "Quotes"),
    ("C:\\Users\\Me", "Back Slash", "Paths"),
    ("Ca\u2019ren", "Apostrophe", "Curly"),
    ("Static Dawn", "Static Orchard", "Orchard"),
    ("Night Drive", "Static Orchard", "Orchard"),
    ("Warriors", "Imagine Nations", "Origins"),
    ("Low Tide", "Lo-Fi Lighthouse", "Beams"),
    ("Pixel Heart 🍑", "Pixel Peach 🍑", "8 bit"),
    ("Одна", "Кино Сон", "Ночь"),
    ("Hana", "하늘", "봄"),
]
SHOWS = [
    ("Let's Talk About Myths, Baby!", "Eatin' Kids & Killin' Dads"),
    ("Let's Talk About Myths, Baby!", "The Trojan War, part 1"),
    ("GAG", "GAG151: Manjirō, der erste Japaner in Amerika"),
    ("gothamchessvideos", "The Opera Game, move by move"),
]
# A show of the old Account data that no other record names: its episodes stay tracks.
UNKNOWN_SHOW = ("A Show Nobody Else Names", "Pilot")
BOOK = ("The Age of Magical Overthinking", "Amanda Montell")
CHAPTERS = ["Track 1", "Track 2", "Introduction", "The Age of Magical Overthinking"]


def spotify_uri(kind: str, number: int) -> str:
    """A made-up URI, the same for the same item (base62 ids of 22 characters)."""
    alphabet = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    value = int.from_bytes(hashlib.sha256(f"{kind}:{number}".encode()).digest(), "big")
    digits = []
    for _ in range(22):
        value, digit = divmod(value, 62)
        digits.append(alphabet[digit])
    return f"spotify:{kind}:{''.join(digits)}"


@dataclass(frozen=True)
class Play:
    """One play as it happened, before any era's file writes it.

    `kind` is track, episode, audiobook or none (a record with no content: the app starting, a
    track that failed). `item` indexes TRACKS, SHOWS (UNKNOWN_SHOW when -1) or CHAPTERS.
    `offline_at` is when a play made offline happened on the device; its `ended` is when it was
    synced, so offline plays of one sync end in the same second. `copies` is how many times
    Spotify wrote the record (identical in every field).
    """

    ended: datetime
    ms_played: int
    kind: str
    item: int
    device: int = 0
    reason_start: str = "trackdone"
    reason_end: str = "trackdone"
    shuffle: bool = False
    skipped: bool = False
    offline_at: datetime | None = None
    incognito: bool = False
    video: bool = False
    copies: int = 1

    @property
    def uri(self) -> str | None:
        if self.kind == "track":
            return spotify_uri("track", self.item)
        if self.kind == "episode" and self.item >= 0:
            return spotify_uri("episode", self.item)
        if self.kind == "audiobook":
            return spotify_uri("chapter", self.item)
        return None


def listening_history(start: datetime, days: int, seed: int) -> list[Play]:
    """Sessions of plays over `days` days from `start`, with every awkward case real exports
    have, in time order: several records ending in one second (a skip and the next track, a
    burst of 0 ms plays, one track twice with other durations, a record with no content), the
    same track played offline twice and synced in one second (the records differ only in
    `offline_timestamp`), a record written twice, skips under a second, podcasts, audiobook
    chapters, music videos in bursts of 0 ms and video podcasts."""
    rng = random.Random(seed)
    plays: list[Play] = []
    for day in range(days):
        moment = start + timedelta(days=day, hours=7 + rng.randrange(3), seconds=rng.randrange(60))
        for session in range(3):
            for _ in range(rng.randrange(6, 12)):
                length = rng.randrange(120_000, 330_000)
                skipped = rng.random() < 0.2
                ms_played = rng.randrange(300, 25_000) if skipped else length
                moment += timedelta(milliseconds=ms_played)
                plays.append(
                    Play(
                        moment.replace(microsecond=0),
                        ms_played,
                        "track",
                        rng.randrange(len(TRACKS)),
                        device=rng.randrange(len(PLATFORMS)),
                        reason_start=rng.choice(["trackdone", "clickrow", "fwdbtn", "playbtn"]),
                        reason_end="fwdbtn" if skipped else "trackdone",
                        shuffle=rng.random() < 0.4,
                        skipped=skipped,
                    )
                )
            moment += timedelta(hours=2 + rng.randrange(4), minutes=rng.randrange(60))
            if session == 1:  # a podcast episode, or an audiobook chapter at weekends
                audiobook = (start + timedelta(days=day)).weekday() >= 5
                moment += timedelta(minutes=25)
                plays.append(
                    Play(
                        moment.replace(microsecond=0),
                        rng.randrange(600_000, 1_500_000),
                        "audiobook" if audiobook else "episode",
                        rng.randrange(len(CHAPTERS)) if audiobook else day % len(SHOWS),
                        device=rng.randrange(len(PLATFORMS)),
                    )
                )
        plays += _awkward_moments(start + timedelta(days=day, hours=22), day, rng)
    return sorted(plays, key=lambda play: play.ended)


def _awkward_moments(at: datetime, day: int, rng: random.Random) -> list[Play]:
    tie = at.replace(microsecond=0)
    moments = [
        # A skip and the next track, which was skipped at once: one second.
        Play(tie, 1_480, "track", day % len(TRACKS), reason_end="fwdbtn", skipped=True),
        Play(
            tie,
            0,
            "track",
            (day + 1) % len(TRACKS),
            reason_start="fwdbtn",
            reason_end="fwdbtn",
            skipped=True,
        ),
    ]
    if day % 2 == 0:  # a burst of 0 ms plays, and a record with no content among them
        burst = tie + timedelta(minutes=3)
        moments += _burst(burst, day, range(2, 6), reason_start="clickrow", reason_end="endplay")
        moments.append(
            Play(burst, 215_589, "none", 0, reason_start="appload", reason_end="unexpected-exit")
        )
    if day % 3 == 0:  # one track twice in one second, for other lengths
        twice = tie + timedelta(minutes=7)
        moments += [Play(twice, 0, "track", 3), Play(twice, 812, "track", 3, skipped=True)]
    if day % 3 == 1:  # two offline plays of a track, synced in one second
        synced = tie + timedelta(minutes=11)
        moments += [
            Play(synced, 203_000, "track", 6, offline_at=synced - timedelta(hours=hours))
            for hours in (9, 5)
        ]
    if day % 4 == 0:  # a record Spotify wrote twice
        moments.append(Play(tie + timedelta(minutes=13), 187_000, "track", 7, copies=2))
    if day % 2 == 1:  # music videos, mostly in bursts of 0 ms, and a video podcast
        clip = tie + timedelta(minutes=17)
        moments += _burst(clip, day, range(3), reason_start="unknown", reason_end="endplay",
                          skipped=True, video=True)  # fmt: skip
        moments.append(Play(clip + timedelta(minutes=9), 545_000, "episode", 3, video=True))
        moments.append(Play(clip + timedelta(minutes=15), 32_000, "track", 7, video=True))
    if day % 5 == 2:  # a private session
        moments.append(Play(tie + timedelta(minutes=19), 201_000, "track", 9, incognito=True))
    return moments


def _burst(at: datetime, day: int, numbers: range, **details: Any) -> list[Play]:
    """Plays of 0 ms of several tracks, all ending in the second `at`."""
    return [Play(at, 0, "track", (day + n) % len(TRACKS), **details) for n in numbers]


# ---- Extended streaming history -----------------------------------------------------------

ERAS = ("endsong", "transition", "current")


def _platform(play: Play) -> str:
    if play.ended.year >= NEW_PLATFORMS:
        return PLATFORMS[play.device]
    return OLD_PLATFORMS[play.device % len(OLD_PLATFORMS)]


def _offline_timestamp(play: Play, era: str) -> int | None:
    moment = play.offline_at or play.ended - timedelta(milliseconds=play.ms_played)
    if era == "endsong":
        return 0 if play.ended.year < 2017 else int(moment.timestamp() * 1000)
    if play.video and play.offline_at is None:
        return None
    if era == "current" and play.ended.year < NEW_PLATFORMS:
        return None
    return int(moment.timestamp())


def extended_record(play: Play, era: str) -> dict[str, Any]:
    """`play` as the Extended history of `era` writes it, private fields included."""
    track = TRACKS[play.item] if play.kind == "track" else None
    show = (
        (SHOWS[play.item] if play.item >= 0 else UNKNOWN_SHOW) if play.kind == "episode" else None
    )
    chapter = CHAPTERS[play.item] if play.kind == "audiobook" else None
    record: dict[str, Any] = {"ts": extended_ts(play.ended)}
    if era != "current":
        record["username"] = LOGIN
    record |= {"platform": _platform(play), "ms_played": play.ms_played, "conn_country": "PT"}
    if era == "current":
        record["ip_addr"] = IP_V6 if play.device % 2 else IP_V4
    else:
        record |= {"ip_addr_decrypted": IP_V4, "user_agent_decrypted": USER_AGENTS[play.device % 3]}
    record |= {
        "master_metadata_track_name": track[0] if track else None,
        "master_metadata_album_artist_name": track[1] if track else None,
        "master_metadata_album_album_name": track[2] if track else None,
        "spotify_track_uri": play.uri if track else None,
        "episode_name": show[1] if show else None,
        "episode_show_name": show[0] if show else None,
        "spotify_episode_uri": play.uri if show else None,
    }
    if era == "current" and not play.video:
        record |= {
            "audiobook_title": BOOK[0] if chapter else None,
            "audiobook_uri": "spotify:audiobook:7iHfbu1YPACw6oZPAFJtqe" if chapter else None,
            "audiobook_chapter_uri": play.uri if chapter else None,
            "audiobook_chapter_title": chapter,
        }
    record |= {
        "reason_start": play.reason_start,
        "reason_end": play.reason_end,
        "shuffle": play.shuffle,
        "skipped": (True if play.skipped else None) if era == "endsong" else play.skipped,
        "offline": None if play.video else play.offline_at is not None,
        "offline_timestamp": _offline_timestamp(play, era),
        "incognito_mode": play.incognito,
    }
    if era == "endsong":  # the oldest exports say where: nothing here may be stored
        located = play.device % 2 == 0
        record |= {
            "city": CITY if located else None,
            "region": REGION if located else None,
            "metro_code": 0 if located else None,
            "longitude": LONGITUDE if located else None,
            "latitude": LATITUDE if located else None,
        }
    return record


def era_plays(plays: Iterable[Play], era: str) -> list[Play]:
    """The plays an export of `era` has: audiobooks only from 2024, as Spotify's files."""
    return [play for play in plays if play.kind != "audiobook" or era == "current"]


def extended_files(plays: Sequence[Play], era: str, seed: int = 0) -> dict[str, str]:
    """Member name -> text of an Extended history export of `era` holding `plays`."""
    rng = random.Random(seed)
    plays = era_plays(plays, era)
    audio = [p for p in plays if not p.video]
    video = [p for p in plays if p.video]

    def records(chosen: Sequence[Play]) -> list[dict[str, Any]]:
        return [extended_record(p, era) for p in chosen for _ in range(p.copies)]

    if era == "endsong":
        shuffled = records(audio)
        rng.shuffle(shuffled)  # old files are not in time order
        half = len(shuffled) // 2
        return {
            "MyData/endsong_0.json": _one_line(shuffled[:half]),
            "MyData/endsong_1.json": _one_line(shuffled[half:]),
            "MyData/endvideo.json": _one_line(records(video)),
            "MyData/Read Me First.pdf": "%PDF-1.4",
        }
    folder = "Spotify Extended Streaming History"
    years = sorted({p.ended.year for p in plays})
    span = f"{years[0]}-{years[-1]}" if len(years) > 1 else str(years[0])
    if era == "transition":
        half = len(audio) // 2
        return {
            f"{folder}/Streaming_History_Audio_{span}_0.json": _one_line(records(audio[:half])),
            f"{folder}/Streaming_History_Audio_{span}_1.json": _one_line(records(audio[half:])),
            f"{folder}/Streaming_History_Video_{span}.json": _one_line(records(video)),
        }
    members = {
        f"{folder}/Streaming_History_Audio_{year}.json": _indented(
            records([p for p in audio if p.ended.year == year]), bom=year % 2 == 0
        )
        for year in years
    }
    members[f"{folder}/Streaming_History_Video_{span}.json"] = _indented(records(video), bom=True)
    members[f"{folder}/ReadMeFirst_ExtendedStreamingHistory.pdf"] = "%PDF-1.4"
    return members


# ---- Account data -------------------------------------------------------------------------


def account_files(plays: Sequence[Play], *, old: bool) -> dict[str, str]:
    """Member name -> text of an Account data export holding `plays` (audio only: Account
    data has no video). Old: one mixed file; new: music, podcast and audiobook files."""
    music: list[dict[str, Any]] = []
    podcasts: list[dict[str, Any]] = []
    books: list[dict[str, Any]] = []
    for play in plays:
        if play.video or play.kind == "none" or (old and play.kind == "audiobook"):
            continue
        end = end_time(play.ended)
        if play.kind == "track":
            artist, title = TRACKS[play.item][1], TRACKS[play.item][0]
            music += [music_record(end, artist, title, play.ms_played)] * play.copies
        elif play.kind == "episode":
            show, episode = SHOWS[play.item] if play.item >= 0 else UNKNOWN_SHOW
            if old:  # no podcast fields: the show is the artist, the episode the title
                music.append(music_record(end, show, episode, play.ms_played))
            else:
                podcasts.append(podcast_record(end, show, episode, play.ms_played))
        else:
            books.append(
                {
                    "endTime": end,
                    "audiobookName": BOOK[0],
                    "chapterName": CHAPTERS[play.item],
                    "authorName": BOOK[1],
                    "msPlayed": play.ms_played,
                }
            )
    if old:
        return {"MyData/StreamingHistory0.json": _account_text(music),
                "MyData/Userdata.json": json.dumps({"username": LOGIN})}  # fmt: skip
    folder = "Spotify Account Data"
    return {
        f"{folder}/StreamingHistory_music_0.json": _account_text(music),
        f"{folder}/StreamingHistory_podcast_0.json": _account_text(podcasts),
        f"{folder}/StreamingHistory_audiobook_0.json": _account_text(books),
        f"{folder}/Userdata.json": json.dumps({"username": LOGIN}),
        f"{folder}/Read_Me_First.pdf": "%PDF-1.4",
    }


# ---- files ------------------------------------------------------------------------------


def _one_line(records: list[dict[str, Any]]) -> str:
    return json.dumps(records, ensure_ascii=False, separators=(",", ":"))


def _indented(records: list[dict[str, Any]], *, bom: bool = False) -> str:
    return ("\ufeff" if bom else "") + json.dumps(records, ensure_ascii=False, indent=2)


def _account_text(records: list[dict[str, Any]]) -> str:
    return json.dumps(records, ensure_ascii=False, indent=2, separators=(",", " : "))


def write_export(path: Path, members: dict[str, str]) -> Path:
    """A zip of `members`, as Spotify mails it."""
    return write_zip(path, {name: text.encode("utf-8") for name, text in members.items()})


HISTORY_FILES = ("endsong", "endvideo", "Streaming_History_", "StreamingHistory")


def member_records(members: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
    """The records of each history member, read back with the byte order mark left out."""
    return {
        name: json.loads(text.removeprefix("\ufeff"))
        for name, text in members.items()
        if name.endswith(".json") and name.rpartition("/")[2].startswith(HISTORY_FILES)
    }


def utc(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, tzinfo=UTC)
