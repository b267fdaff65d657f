"""The privacy export: find its streaming-history files, check every record, and land them.

Spotify's "Download your data" sends a zip of JSON arrays: Extended streaming history
(`Streaming_History_Audio_*.json`, older `endsong_*.json`; video plays in
`Streaming_History_Video_*.json`, older `endvideo.json`) and Account data
(`StreamingHistory_music_*.json`, `StreamingHistory_podcast_*.json`,
`StreamingHistory_audiobook_*.json`, older `StreamingHistory*.json`).

Records are read and checked with DuckDB's JSON reader, in SQL, whatever the target warehouse:
it parses and checks a million records in about two seconds on two cores and streams them,
where `json` plus a Python loop per record needs several times that (measured while writing
this). So this module holds SQL, but only SQL over the export *files* and the records they
land (DESIGN §4.2 keys and privacy); `warehouse.py` runs it against the raw layer.

A user's first import into DuckDB reads the files once: one statement per format checks,
keys and lands every record, and fails at the first damaged file or invalid record. Only then
(and on other warehouses, and for users with records already) does the check read the files
first, in a DuckDB of its own, to name the file and the record or to leave out invalid ones.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import logging
import os
import re
import stat
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any, Literal, Protocol

from ingestion import running
from ingestion.config import Settings
from ingestion.errors import SpotifyEltError, printable
from ingestion.rules import EARLIEST_PLAY, MAX_MS_PLAYED, latest_play
from ingestion.warehouse import (
    Batch,
    ExportLanding,
    Landed,
    Regrouping,
    Warehouse,
    configure_import_duckdb,
    new_batch_id,
    streaming_history,
    utc_now,
)

log = logging.getLogger(__name__)

Format = Literal["extended", "video", "account"]

# Never stored: removed from each record before it lands (README "Privacy"). Older Extended
# records also say where the play was (`city` to `longitude`): as private as the IP address.
PRIVATE_FIELDS = (
    "ip_addr", "ip_addr_decrypted", "user_agent_decrypted", "username",
    "city", "region", "metro_code", "latitude", "longitude",
)  # fmt: skip

_EXTENDED_AUDIO = re.compile(r"(Streaming_History_Audio_.*|endsong_?\d*)\.json", re.IGNORECASE)
_EXTENDED_VIDEO = re.compile(r"(Streaming_History_Video_.*|endvideo_?\d*)\.json", re.IGNORECASE)
_ACCOUNT = re.compile(r"StreamingHistory(_music_|_podcast_|_audiobook_)?\d*\.json", re.IGNORECASE)

EXPECTED_NAMES = (
    "Streaming_History_Audio_*.json, Streaming_History_Video_*.json, endsong_*.json, "
    "StreamingHistory_music_*.json, StreamingHistory_podcast_*.json, "
    "StreamingHistory_audiobook_*.json or StreamingHistory*.json"
)

_READ_CHUNK = 1 << 20


class ExportError(SpotifyEltError):
    """The export cannot be imported as it is: the line names the file (and record)."""


def classify(name: str) -> Format | None:
    """What a file holds, judged by its name as Spotify writes it."""
    base = PurePosixPath(name.replace("\\", "/")).name
    if _EXTENDED_AUDIO.fullmatch(base):
        return "extended"
    if _EXTENDED_VIDEO.fullmatch(base):
        return "video"
    if _ACCOUNT.fullmatch(base):
        return "account"
    return None


# ---- record formats: declared data, turned into SQL below ------------------------------------

FieldKind = Literal["text", "boolean", "integer"]


@dataclass(frozen=True)
class RecordFormat:
    """The fields one format's records may have and which of them identify a play."""

    name: Format
    time_field: str
    time_format: str  # strptime
    time_shape: str  # regular expression of the exact text
    time_example: str
    duration_field: str
    fields: tuple[tuple[str, FieldKind], ...]
    # What makes two records the same play, so that a reimport, or a newer export that
    # overlaps an older one, adds nothing. Metadata names can change between exports; URIs do
    # not, so names count only where a record has no URI (local files, Account data). Names of
    # `optional_name_fields` count only when the record has them: records without them keep
    # the identity earlier versions gave them.
    uri_fields: tuple[str, ...]
    name_fields: tuple[str, ...]
    optional_name_fields: tuple[str, ...] = ()


EXTENDED = RecordFormat(
    name="extended",
    time_field="ts",
    time_format="%Y-%m-%dT%H:%M:%SZ",
    time_shape=r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z",
    time_example="2024-01-31T23:59:59Z",
    duration_field="ms_played",
    fields=(
        ("platform", "text"),
        ("conn_country", "text"),
        ("master_metadata_track_name", "text"),
        ("master_metadata_album_artist_name", "text"),
        ("master_metadata_album_album_name", "text"),
        ("spotify_track_uri", "text"),
        ("episode_name", "text"),
        ("episode_show_name", "text"),
        ("spotify_episode_uri", "text"),
        ("audiobook_title", "text"),
        ("audiobook_uri", "text"),
        ("audiobook_chapter_uri", "text"),
        ("audiobook_chapter_title", "text"),
        ("reason_start", "text"),
        ("reason_end", "text"),
        ("shuffle", "boolean"),
        ("skipped", "boolean"),
        ("offline", "boolean"),
        ("offline_timestamp", "integer"),
        ("incognito_mode", "boolean"),
    ),
    uri_fields=("spotify_track_uri", "spotify_episode_uri", "audiobook_chapter_uri"),
    name_fields=(
        "master_metadata_album_artist_name",
        "master_metadata_album_album_name",
        "master_metadata_track_name",
        "episode_show_name",
        "episode_name",
    ),
)

ACCOUNT = RecordFormat(
    name="account",
    time_field="endTime",
    time_format="%Y-%m-%d %H:%M",
    time_shape=r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}",
    time_example="2024-01-31 23:59",
    duration_field="msPlayed",
    fields=(
        ("artistName", "text"),
        ("trackName", "text"),
        ("podcastName", "text"),
        ("episodeName", "text"),
        ("audiobookName", "text"),
        ("chapterName", "text"),
        ("authorName", "text"),
    ),
    uri_fields=(),
    name_fields=("artistName", "trackName", "podcastName", "episodeName"),
    optional_name_fields=("audiobookName", "chapterName", "authorName"),
)

# Video history has Extended records of plays no audio file has (video podcasts, music videos):
# a format of its own in the key, so that a video play is never taken for an audio one.
VIDEO = dataclasses.replace(EXTENDED, name="video")

FORMATS: dict[Format, RecordFormat] = {"extended": EXTENDED, "video": VIDEO, "account": ACCOUNT}

# A record is a play when it names what was played; Spotify also writes records with none of
# these (the app starting, a track that failed): they are kept and counted, not played.
# stg_spotify__streaming_history gives a record a content type from the same fields.
CONTENT_FIELDS = (
    "spotify_track_uri", "master_metadata_track_name", "spotify_episode_uri",
    "episode_show_name", "audiobook_uri", "audiobook_chapter_uri", "audiobook_title",
    "trackName", "podcastName", "audiobookName",
)  # fmt: skip

# What each kind of optional field may hold, tested on the JSON text of its value (null when
# the field is missing), and how a wrong value is described.
_ALLOWED: dict[FieldKind, tuple[str, str]] = {
    "text": ("{v} is null or {v} = 'null' or starts_with({v}, '\"')", "is not text"),
    "boolean": ("{v} is null or {v} in ('null', 'true', 'false')", "is not true, false or null"),
    # At most 18 digits: every warehouse's bigint holds it.
    "integer": (
        "{v} is null or {v} = 'null' or regexp_full_match({v}, '-?[0-9]{{1,18}}')",
        "is not a whole number",
    ),
}


# ---- the record rules (ingestion/rules.py), as DuckDB SQL over a record's text ---------------


def _nul_sql(text: str) -> str:
    """DuckDB SQL: whether the JSON text `text` holds an escaped NUL, which PostgreSQL's text
    cannot store (its JSON functions refuse to read it back)."""
    return f"(contains({text}, '\\u0000') and contains(replace({text}, '\\\\', ''), '\\u0000'))"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _path(name: str) -> str:
    return _literal("$." + json.dumps(name))


def _checked_fields(spec: RecordFormat) -> tuple[str, ...]:
    return (spec.time_field, spec.duration_field, *(name for name, _ in spec.fields))


def _problem_sql(spec: RecordFormat) -> str:
    """A CASE naming the first thing wrong with a record (null when it is valid).

    It reads `fields`, the JSON text of every checked field from one `json_extract` call: one
    parse per record, where a `json_type` per field would parse it again for each.
    """
    whens = [
        ("not starts_with(record, '{')", "is not a JSON object"),
        (_nul_sql("record"), "holds a NUL character (\\u0000), which PostgreSQL cannot store"),
        # Warehouses read a field given twice differently (DuckDB the first, PostgreSQL the
        # last): the check would have passed a value another warehouse never sees.
        ("not keys_unique", "has a field twice"),
        (
            # The exact shape first: strptime alone takes '2024-1-5T1:2:3Z' and year 0000,
            # which other warehouses refuse and which would key the same play differently.
            f"not starts_with(fields[1], '\"') or "
            f"not regexp_full_match(time_text, {_literal(spec.time_shape)}) or "
            f"try_strptime(time_text, {_literal(spec.time_format)}) is null",
            f"`{spec.time_field}` is not a time like {spec.time_example}",
        ),
        (
            # The shape is checked: the time text sorts as the time does.
            f"time_text < {_literal(f'{EARLIEST_PLAY:%Y}')}",
            f"`{spec.time_field}` is before {EARLIEST_PLAY:%Y}, when Spotify began",
        ),
        (
            f"time_text >= {_literal(f'{latest_play():%Y-%m-%d}')}",
            f"`{spec.time_field}` is in the future",
        ),
        (
            # Ten digits at most, then the value: the cast never meets a number it cannot hold.
            "not regexp_full_match(coalesce(fields[2], ''), '[0-9]{1,10}') or "
            f"try_cast(fields[2] as bigint) > {MAX_MS_PLAYED}",
            f"`{spec.duration_field}` is not a whole number of milliseconds up to {MAX_MS_PLAYED}",
        ),
    ]
    whens += [
        (f"not ({_ALLOWED[kind][0].format(v=f'fields[{position}]')})",
         f"`{name}` {_ALLOWED[kind][1]}")
        for position, (name, kind) in enumerate(spec.fields, start=3)
    ]  # fmt: skip
    cases = "\n".join(f"        when {test} then {_literal(what)}" for test, what in whens)
    return f"case\n{cases}\n    end"


def _key_fields(spec: RecordFormat) -> tuple[str, ...]:
    return (
        spec.time_field, spec.duration_field, *spec.uri_fields, *spec.name_fields,
        *spec.optional_name_fields,
    )  # fmt: skip


def _key_sql(spec: RecordFormat, fields: Sequence[str], *, json_text: bool) -> str:
    """md5 of the play's identity, from `time_text` and `fields` of a valid record: the
    fields named in `fields`, in that order, as JSON text (`json_text`) or as text.

    The identity is md5 over the text `json_extract_string` gives of each field, as every
    import has stored it: a reimport must find the plays an earlier version landed. From
    JSON text, each value is read from its own few bytes, not from the record again.
    """
    position = {name: number for number, name in enumerate(fields, start=1)}

    def value(name: str) -> str:
        field = f"fields[{position[name]}]"
        return f"json_extract_string({field}, '$')" if json_text else field

    # concat_ws leaves out nulls: a missing optional name adds nothing.
    names = ", ".join(
        [f"coalesce({value(name)}, '')" for name in spec.name_fields]
        + [value(name) for name in spec.optional_name_fields]
    )
    if spec.uri_fields:
        uris = ", ".join(value(name) for name in spec.uri_fields)
        identity = f"coalesce({uris}, concat_ws(chr(31), {names}))"
    else:
        identity = f"concat_ws(chr(31), {names})"
    # A valid record's duration is a whole number: its JSON text is the text.
    duration = f"fields[{position[spec.duration_field]}]"
    return f"md5(concat_ws(chr(31), {_literal(spec.name)}, time_text, {duration}, {identity}))"


@dataclass(frozen=True)
class ExportFile:
    """One history file to read: where it is now, what to call it in messages and `raw`
    (unique in an import), and the export it belongs to (`scope`, see `regroup`)."""

    name: str
    path: Path
    format: Format
    scope: str


def records_sql(
    spec: RecordFormat, files: Sequence[ExportFile], *, checked: bool, landing: bool = False
) -> str:
    """DuckDB SQL over the files: source_file, scope (`ExportFile.scope`, null when
    `landing`: the landing has no use for it), record (its raw text) and

    - if `landing`: landed, the record without its private fields (compact JSON);
    - if `checked`: fields (the JSON text of each of `_checked_fields`), time_text and
      problem (null for a valid record).

    With `landing`, fields are read from `landed`: the same values (its checked fields are
    the record's, written alike), and compact JSON parses faster than Spotify's indented
    text. The file list is inlined as literals: a table function takes no parameter for it.
    """
    paths = ", ".join(_literal(str(f.path)) for f in files)
    names = ", ".join(f"{_literal(str(f.path))}: {_literal(f.name)}" for f in files)
    scopes = ", ".join(f"{_literal(str(f.path))}: {_literal(f.scope)}" for f in files)
    # Maps, not a join: a join may make DuckDB hold every record in a hash table.
    records = f"""
    select
        map {{{names}}}[filename] as source_file,
        {f"map {{{scopes}}}[filename]" if not landing else "null"} as scope,
        -- Refused here, not in the warehouse: there, one huge string exhausts its memory.
        case when strlen(json) <= {MAX_RECORD_BYTES} then json
            else error({_literal(_TOO_LARGE)}) end as record
    from read_json_objects([{paths}], format = 'array', filename = true)"""
    if landing:
        records = f"""
    select *, {without_private_fields_sql("record")} as landed
    from ({records}) as records"""
    if not checked:
        return records
    text = "landed" if landing else "record"
    # Records as Spotify writes them have only the fields checked (and, before landing, the
    # private ones): one count of the fields found tells their names apart. Any other record
    # compares its names. The private fields come after the checked ones, in the same parse.
    read = _checked_fields(spec) + (() if landing else PRIVATE_FIELDS)
    paths = ", ".join(_path(name) for name in read)
    private = ", ".join(_literal(name) for name in PRIVATE_FIELDS)
    own_keys = f"list_filter(json_keys({text}), lambda name: not list_contains([{private}], name))"
    keys_unique = f"""case
            when len(json_keys({text})) = list_count(fields) then true
            else len(list_distinct({own_keys})) = len({own_keys})
        end"""
    return f"""
    select *, {_problem_sql(spec)} as problem
    from (
        select *, trim(fields[1], '"') as time_text, {keys_unique} as keys_unique
        from (
            select *, json_extract({text}, [{paths}]) as fields
            from ({records}) as records
        ) as extracted
    ) as typed"""


def summary_sql(spec: RecordFormat, files: Sequence[ExportFile]) -> str:
    """One row per problem (null: the valid records): count, an example, the valid time span;
    and one row per key that more than one valid record of an export has (see `regroup`).

    One pass: grouping sets count the problems and the keys in the same scan."""
    time = f"try_strptime(time_text, {_literal(spec.time_format)})"
    key = _key_sql(spec, _checked_fields(spec), json_text=True)
    return f"""
select
    grouping(record_key) = 0 as is_key,
    problem,
    record_key,
    count(*) as records,
    -- One aggregate, so that the file and the record come from the same row; none for valid
    -- records, which would make each key's group hold a copy of its record.
    any_value(case when problem is not null then {{'file': source_file, 'record': record}} end)
        as example,
    min(case when problem is null then {time} end) as oldest,
    max(case when problem is null then {time} end) as newest
from (
    select *, case when problem is null then {key} end as record_key
    from ({records_sql(spec, files, checked=True)}) as checked
) as keyed
group by grouping sets ((problem), (scope, record_key))
having grouping(record_key) = 1 or (record_key is not null and count(*) > 1)"""


CheckMode = Literal["fail", "skip", "none"]


def landing_sql(
    spec: RecordFormat, files: Sequence[ExportFile], *, check: CheckMode, counted: bool = False
) -> str:
    """The rows to land: source_file, record_key, record without its private fields, and with
    `counted` is_play (whether the record is a play, `has_content_sql`).

    `check="fail"` checks every record on the way and makes the statement fail at the first
    invalid one (DuckDB's `error()`), so that one pass reads, checks and lands a valid export.
    `"skip"` leaves invalid records out (`--skip-invalid`, after the check); `"none"` checks
    nothing, for files the check found valid.
    """
    if check == "none":  # only the fields of the key, as text: one parse of each record
        paths = ", ".join(_path(name) for name in _key_fields(spec))
        key = _key_sql(spec, _key_fields(spec), json_text=False)
        source = f"""(
    select *, fields[1] as time_text
    from (
        select *, json_extract_string(record, [{paths}]) as fields
        from ({records_sql(spec, files, checked=False, landing=True)}) as records
    ) as extracted
) as candidates"""
    else:
        key = _key_sql(spec, _checked_fields(spec), json_text=True)
        source = f"({records_sql(spec, files, checked=True, landing=True)}) as candidates"
        if check == "fail":
            key = f"case when problem is null then {key} else error(problem) end"
        else:
            source += "\nwhere problem is null"
    is_play = f", {has_content_sql('landed')} as is_play" if counted else ""
    return f"""
select source_file, {key} as record_key, landed as record{is_play}
from {source}"""


def without_private_fields_sql(record: str) -> str:
    """DuckDB SQL: the JSON text `record` without `PRIVATE_FIELDS`, compact. json_merge_patch
    with null values removes those keys (RFC 7396) and keeps the others."""
    return f"json_merge_patch({record}, {_literal(json.dumps(dict.fromkeys(PRIVATE_FIELDS)))})"


def _md5(text: str) -> str:
    """As DuckDB's md5() of the same text."""
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def has_content_sql(record: str) -> str:
    """DuckDB SQL: whether the compact JSON text `record` names what was played
    (`CONTENT_FIELDS`). Most records are tracks, whose URI in the text spares them the parse:
    0.1 s for a million records, against 0.4 s (measured). Inside a JSON string a quote is
    escaped, so the text matches only the field itself."""
    paths = ", ".join(_path(name) for name in CONTENT_FIELDS)
    parsed = f"list_aggregate(json_extract_string({record}, [{paths}]), 'count') > 0"
    track = _literal('"spotify_track_uri":"spotify:')
    return f"case when contains({record}, {track}) then true else {parsed} end"


# How far past an export's own records `regroup` looks for numbered keys the user has already.
_NUMBERS_BEYOND = 16


def regroup(
    rows: Iterable[Sequence[Any]],
    scopes: Mapping[str, str],
    stored: Callable[[Collection[str]], Mapping[str, str]],
) -> list[tuple[Any, ...]]:
    """The rows to land for records that share a key, each with a key of its own.

    A key (`_key_sql`) is a play's identity: format, end time, `ms_played` and what was played.
    Real exports have records of one identity that are yet two plays (two offline plays of a
    track, synced in one second, differ only in `offline_timestamp`), and records identical in
    every field (one record, written twice). Within one export (`scopes` of each source file),
    an identity's n distinct records take the numbers 1 to n: number 1 keeps the key, number k
    gets md5(key, k); identical records are one, `repeats` counting the others. A record the
    user has already (`stored`: record text by key, of the keys asked) keeps its number; the
    others take the free numbers in the order of their text.

    Numbered within each export, not the whole import: an old-format and a new-format export of
    one period write the same plays with other fields (`offline_timestamp` in milliseconds, or
    none), so an identity has as many records as the export with most of them, whichever comes
    first. A reimport numbers alike, and a record alone with its identity keeps the key every
    version gave it.

    `rows` are (source_file, key, record, *more); returns (source_file, key, record, repeats,
    *more), one per export and key (two exports of one import may still share a key: the
    landing keeps one row of a key, as it does for any record in two exports).
    """
    groups: dict[tuple[str, str], dict[str, list[Sequence[Any]]]] = {}
    for row in rows:
        group = groups.setdefault((scopes[row[0]], row[1]), {})
        group.setdefault(row[2], []).append(row)
    numbered = {
        key: [
            key,
            *(_md5(f"{key}\x1f{number}") for number in range(2, len(records) + _NUMBERS_BEYOND)),
        ]
        for (_, key), records in groups.items()
    }
    present = stored({own for keys in numbered.values() for own in keys})
    kept = []
    for (_, key), records in groups.items():
        # Compared as JSON values: a record's text may have been written by another version.
        had = {
            number: json.loads(present[own])
            for number, own in enumerate(numbered[key], start=1)
            if own in present
        }
        numbers: dict[str, int] = {}
        for record in sorted(records):
            value = json.loads(record)
            number = next((n for n, kept_value in had.items() if kept_value == value), None)
            if number is not None and number not in numbers.values():
                numbers[record] = number
        free = (n for n in itertools.count(1) if n not in numbers.values())
        for record in sorted(records):
            if record not in numbers:
                numbers[record] = next(free)
        for record, copies in records.items():
            first = min(copies, key=lambda row: str(row[0]))
            own_key = numbered[key][numbers[record] - 1]
            kept.append((first[0], own_key, record, len(copies) - 1, *first[3:]))
    return kept


def landed_span_and_plays(
    landing: ExportLanding, spec: RecordFormat, batch_id: str, files: Sequence[str] | None
) -> tuple[datetime | None, datetime | None, int]:
    """The first and the last time among the records a batch landed (valid, compact JSON),
    and how many of them are plays: one scan.

    Spotify writes the time first: when every landed record begins with it, records sort as
    their times do, and the least and the greatest record tell the span without a parse.
    """
    start = "{" + json.dumps(spec.time_field) + ':"'
    chars = slice(len(start), len(start) + len(spec.time_example))
    every, least, most, plays = landing.aggregate_batch(
        batch_id,
        f"bool_and(starts_with(record, {_literal(start)})), min(record), max(record), "
        f"count(*) filter (where {has_content_sql('record')})",
        files,
    )
    if every:
        first, last = least[chars], most[chars]
    else:
        value = f"json_extract_string(record, {_path(spec.time_field)})"
        first, last = landing.aggregate_batch(batch_id, f"min({value}), max({value})", files)
    if first is None or last is None:  # no records
        return None, None, 0
    return (
        datetime.strptime(first, spec.time_format),
        datetime.strptime(last, spec.time_format),
        int(plays),
    )


# ---- finding the files -------------------------------------------------------------------


_SOURCE_FILE_LENGTH: int = streaming_history.c.source_file.type.length  # type: ignore[attr-defined]


@dataclass
class Collected:
    """The history files of an import."""

    files: list[ExportFile] = field(default_factory=list)
    labels: set[str] = field(default_factory=set)

    def label(self, name: str) -> str:
        """`name`, or `name (2)` and so on when another file of the import has that name (two
        exports unzipped into folders of the same name, a zip holding a name twice): labels
        tell the files apart. A name longer than `raw` keeps (a deep folder) keeps its end,
        where the file name is."""
        room = _SOURCE_FILE_LENGTH - 10  # for the " (n)" of a copy
        if len(name) > room:
            name = "…" + name[-(room - 1) :]
        label, copy = name, 1
        while label in self.labels:
            copy += 1
            label = f"{name} ({copy})"
        self.labels.add(label)
        return label


def _scope(folder: str, file_name: str) -> str:
    """The export a file belongs to: its folder and its name with the numbers left out. Old
    exports are `endsong_<n>` files, out of time order, which must be one export; two exports
    unzipped into one folder differ in how they number their files (`..._2019-2021_0.json`
    against `..._2021.json`), and are two. (One export that numbers its files both ways is two
    as well; that loses a play only where a file ends between two offline plays of a track
    synced in one second.)"""
    pattern = re.sub(r"\d+", "#", PurePosixPath(file_name).stem).lower()
    return f"{folder}/{pattern}"


def _unsafe_member(name: str) -> bool:
    normalised = name.replace("\\", "/")
    parts = PurePosixPath(normalised).parts
    return (
        normalised.startswith("/")
        or re.match(r"[A-Za-z]:", normalised) is not None
        or ".." in parts
    )


def _copy_member(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, label: str, budget: list[int]
) -> None:
    """Copy one member, counting the bytes really inflated, not the ones the header claims."""
    written = 0
    with archive.open(info) as source, target.open("wb") as sink:
        while chunk := source.read(_READ_CHUNK):
            written += len(chunk)
            budget[0] -= len(chunk)
            if budget[0] < 0 or written > info.file_size:
                raise ExportError(
                    f"{printable(label)}: inflates past the import size limit "
                    "(SPOTIFY_ELT_IMPORT_MAX_BYTES); refusing it"
                )
            sink.write(chunk)


def _from_zip(path: Path, workdir: Path, budget: list[int], collected: Collected) -> None:
    shown = printable(path.name)
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            for info in members:
                if _unsafe_member(info.filename):
                    raise ExportError(
                        f"{shown}: member {printable(info.filename)} points outside the archive; "
                        "refusing the whole zip"
                    )
            wanted = []
            for info in members:
                kind = None if info.is_dir() else classify(info.filename)
                if kind is not None:
                    wanted.append((info, collected.label(f"{path.name}/{info.filename}"), kind))
            declared = sum(info.file_size for info, _, _ in wanted)
            if declared > budget[0]:
                raise ExportError(
                    f"{shown}: its history files inflate to {declared:,} bytes, more than "
                    "the import size limit (SPOTIFY_ELT_IMPORT_MAX_BYTES); refusing it"
                )
            for info, label, kind in wanted:
                # Our own name on disk: nothing from the archive chooses where a file goes.
                target = workdir / f"member-{len(collected.files):05d}.json"
                _copy_member(archive, info, target, label, budget)
                member = PurePosixPath(info.filename.replace("\\", "/"))
                scope = _scope(f"{path.resolve()}/{member.parent}", member.name)
                collected.files.append(ExportFile(label, target, kind, scope))
    except (zipfile.BadZipFile, zlib.error, EOFError) as error:
        raise ExportError(f"{shown}: not a readable zip ({printable(str(error))})") from None
    except OSError as error:  # the temporary folder: disk full, no permission
        raise ExportError(
            f"{shown}: cannot copy its history files ({printable(str(error))})"
        ) from None
    except (RuntimeError, NotImplementedError) as error:  # encrypted, unknown compression
        raise ExportError(f"{shown}: cannot be read ({printable(str(error))})") from None


def _add_file(path: Path, label: str, workdir: Path, collected: Collected, *, named: bool) -> None:
    kind = classify(path.name)
    if kind is not None:
        _refuse_unless_regular(path, label)
        # A link under our own name: DuckDB would read '*' or '?' in a file name as a pattern.
        link = workdir / f"file-{len(collected.files):05d}.json"
        link.symlink_to(path.resolve())
        scope = _scope(str(path.resolve().parent), path.name)
        collected.files.append(ExportFile(collected.label(label), link, kind, scope))
    elif named:
        raise ExportError(
            f"{printable(label)}: not a streaming history file by its name "
            f"(expected {EXPECTED_NAMES})"
        )


_NOT_REGULAR = {
    stat.S_IFIFO: "a named pipe (FIFO)",
    stat.S_IFCHR: "a device",
    stat.S_IFBLK: "a device",
    stat.S_IFSOCK: "a socket",
}


def _refuse_unless_regular(path: Path, label: str) -> None:
    """Only regular files are read. A pipe or a socket blocks the first read until someone
    writes, for ever if nobody does; a device such as /dev/zero never ends. So they are
    refused by what `stat` says, before anything opens them."""
    try:
        mode = path.stat().st_mode  # through links: what would be read
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise ExportError(f"{printable(label)}: cannot be read ({reason})") from None
    if not stat.S_ISREG(mode):
        what = _NOT_REGULAR.get(stat.S_IFMT(mode), "not a regular file")
        raise ExportError(f"{printable(label)}: is {what}, not a file; refusing it")


def _folder_entries(folder: Path) -> list[Path]:
    """Every file under `folder` and every link in it, links not followed, in name order."""
    found = []
    for parent, folders, files in os.walk(folder, followlinks=False):
        found += [Path(parent, name) for name in files]
        found += [Path(parent, name) for name in folders if Path(parent, name).is_symlink()]
    return sorted(found)


def _from_folder(given: Path, workdir: Path, collected: Collected, seen: set[Path]) -> None:
    """The history files under a folder. A link that leads out of the folder is refused when
    it has a history file's name or leads to a folder: it would make the import read what the
    user did not give it (pass the file itself to import it). Other links out are passed over
    unread, as is any file whose name is not a history file's."""
    root = given.resolve()
    for path in _folder_entries(given):
        relative = path.relative_to(given).as_posix()
        label = f"{given.name}/{relative}"
        if path.is_symlink():
            target = path.resolve()
            if not target.is_relative_to(root):
                if classify(path.name) is not None or target.is_dir():
                    raise ExportError(
                        f"{printable(label)}: a link to {printable(str(target))}, outside "
                        f"{printable(str(given))}; refusing it (pass what it leads to instead)"
                    )
                continue
            if target.is_dir():  # walked as itself
                continue
        if classify(path.name) is None:
            continue
        resolved = path.resolve()
        if resolved in seen:
            continue
        seen.add(resolved)
        _add_file(path, label, workdir, collected, named=False)


def collect_files(paths: Sequence[Path], workdir: Path, max_bytes: int) -> Collected:
    """The history files under `paths`; zip members are copied into `workdir` (bounded).

    Only regular files are opened (`_refuse_unless_regular`), and nothing out of a given
    folder through a link (`_from_folder`).
    """
    collected = Collected()
    budget = [max_bytes]
    seen: set[Path] = set()
    for given in paths:
        if not given.exists():
            raise ExportError(f"{printable(str(given))}: no such file or folder")
        resolved = given.resolve()
        if resolved in seen:
            continue
        seen.add(resolved)
        if given.is_dir():
            _from_folder(given, workdir, collected, seen)
            continue
        _refuse_unless_regular(given, str(given))
        if zipfile.is_zipfile(given) or given.suffix.lower() == ".zip":
            _from_zip(given, workdir, budget, collected)
        else:
            _add_file(given, given.name, workdir, collected, named=True)
    if not collected.files:
        where = ", ".join(printable(str(p)) for p in paths)
        raise ExportError(f"no streaming history in {where} (looked for {EXPECTED_NAMES})")
    return collected


# ---- files DuckDB cannot read: say where, keep what comes before -------------------------

# No Spotify record comes near this: each is a few hundred bytes of names, URIs, flags and
# numbers. A bigger one is refused, by the landing SQL (`records_sql`) and by the file walk
# (`_walk`), which so never holds more than about twice this much of a file. Landing a record
# with a 15 MB string ran DuckDB out of the import's 384 MB of memory (measured).
MAX_RECORD_BYTES = 1 << 20
_TOO_LARGE = "is larger than 1 MiB, which no Spotify record is"
_LONE_SURROGATE = "holds a lone UTF-16 surrogate (like \\ud800): not text"
_SPACE = re.compile(r"[ \t\r\n]*")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89abcdefABCDEF]")
_DECODER = json.JSONDecoder()


@dataclass(frozen=True)
class Damage:
    """Why a file cannot be read whole: the first damaged record and how many were kept."""

    problem: str
    record: int  # 1-based number of the damaged record
    readable: int = 0  # the records before it, written to the sink


@dataclass(frozen=True)
class Walked:
    """What `inspect_damage` found: the damage that ends the file (None: it ends well), and
    the records left out before it (`tolerant` only)."""

    damage: Damage | None
    kept: int
    left_out: int


class _DamagedError(Exception):
    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


class _Window:
    """A file's text, read a chunk at a time, with only the part still to read kept.

    Hand-written over `json.JSONDecoder.raw_decode` rather than a streaming parser (ijson)
    added as a dependency: the standard library parses each record in C, and the window keeps
    the text of a record as it was, which the walk writes back unchanged for --skip-invalid.
    The window, not the parser, bounds memory: it stops at `MAX_RECORD_BYTES` of one record,
    where a parser would build any one string whole, however long.
    """

    def __init__(self, handle: Any) -> None:
        self.handle = handle
        self.text = ""
        self.pos = 0
        self.eof = False
        self.problem: str | None = None  # why the text ends before the file does
        self.pending = b""  # the start of a character the next chunk ends
        self.bytes_read = 0
        self.started = False
        self.line = 1  # of text[0]
        self.column = 0  # of text[0], 0-based

    def more(self, at_least: int = _READ_CHUNK) -> bool:
        """Read on; False at the end of the file (or of its text, at bytes that are not UTF-8)."""
        if self.eof:
            return False
        data = self.handle.read(max(at_least, _READ_CHUNK))
        if not data:
            self.eof = True
            if self.pending:
                self.problem = f"is not UTF-8 (byte {self.bytes_read - len(self.pending)})"
            return False
        first_byte = self.bytes_read - len(self.pending)
        self.bytes_read += len(data)
        raw, self.pending = self.pending + data, b""
        if not self.started:
            self.started = True
            if raw.startswith(b"\xef\xbb\xbf"):
                raw, first_byte = raw[3:], first_byte + 3
        try:
            decoded = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            decoded = raw[: error.start].decode("utf-8")
            if error.reason == "unexpected end of data" and error.end == len(raw):
                self.pending = raw[error.start :]
            else:
                self.problem = f"is not UTF-8 (byte {first_byte + error.start})"
                self.eof = True
        self._drop()
        self.text += decoded
        return True

    def _drop(self) -> None:
        if self.pos == 0:
            return
        gone = self.text[: self.pos]
        newlines = gone.count("\n")
        if newlines:
            self.line += newlines
            self.column = len(gone) - gone.rfind("\n") - 1
        else:
            self.column += len(gone)
        self.text, self.pos = self.text[self.pos :], 0

    def where(self, position: int) -> str:
        before = self.text[:position]
        newlines = before.count("\n")
        if newlines:
            return f"line {self.line + newlines} column {len(before) - before.rfind(chr(10))}"
        return f"line {self.line} column {self.column + len(before) + 1}"

    def skip_space(self, limit: int | None = MAX_RECORD_BYTES) -> bool:
        """Move past blanks; False at the end. More than `limit` of them is damage."""
        run = 0
        while True:
            end = _SPACE.match(self.text, self.pos).end()  # type: ignore[union-attr]
            run += end - self.pos
            self.pos = end
            if end < len(self.text):
                return True
            if limit is not None and run > limit:
                raise _DamagedError("has over 1 MiB of blank space in a row, which no export has")
            if not self.more():
                return False

    def value(self) -> tuple[str, Any]:
        """The next JSON value: its text and what it is."""
        while True:
            try:
                value, end = _DECODER.raw_decode(self.text, self.pos)
            except RecursionError:
                raise _DamagedError("nests too deeply to read") from None
            except json.JSONDecodeError as error:
                # Where the text runs out, the value may go on in the next chunk.
                short = error.pos >= len(self.text) - 8 or error.msg.startswith("Unterminated")
                if short and not self.eof:
                    if len(self.text) - self.pos > MAX_RECORD_BYTES:
                        raise _DamagedError(_TOO_LARGE) from None
                    # As much again as is held: each retry reads past twice the last.
                    self.more(len(self.text) - self.pos)
                    continue
                if self.eof and short and not self.text.rstrip().endswith("]"):
                    raise _DamagedError("is cut short (truncated)") from None
                where = self.where(error.pos)
                raise _DamagedError(f"is not valid JSON ({error.msg}, {where})") from None
            if end == len(self.text) and self.more():  # a number may go on, too
                continue
            text = self.text[self.pos : end]
            self.pos = end
            size = len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))
            if size > MAX_RECORD_BYTES:
                raise _DamagedError(_TOO_LARGE)
            return text, value


def _has_lone_surrogate(text: str, value: Any) -> bool:
    # Escaped surrogates in pairs are characters (emoji are written so); one alone is not, and
    # DuckDB refuses it ("no low surrogate in string"). Only records that escape one are
    # written out again to tell.
    if "\\u" not in text or not _SURROGATE_ESCAPE.search(text):
        return False
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def inspect_damage(
    path: Path,
    visit: Callable[[int, str, Any], bool] | None = None,
    *,
    tolerant: bool = False,
) -> Walked:
    """Walk a file record by record, a chunk at a time, calling `visit(number, text, value)`
    for each sound record until it returns True.

    Only called for files DuckDB refused, to name the record and, with `--skip-invalid`, to
    keep the records before it (a download cut short still holds good plays). `tolerant`
    leaves out records that are JSON but not text (a lone surrogate) and goes on; otherwise
    such a record is the damage. Memory stays flat whatever the file: the walk holds one
    record at a time, and at most `MAX_RECORD_BYTES` of one.
    """
    kept = left_out = read = 0  # damage is always in record `read + 1`

    def damaged(problem: str) -> Walked:
        return Walked(Damage(window.problem or problem, read + 1, kept), kept, left_out)

    with path.open("rb") as handle:
        window = _Window(handle)
        try:
            if not window.skip_space():
                return damaged("is empty")
            if window.text[window.pos] != "[":
                return damaged("is not a JSON array of records")
            window.pos += 1
            if not window.skip_space():
                return damaged("is cut short (truncated)")
            while window.text[window.pos] != "]":
                if read:  # after a record: a comma, then the next
                    if window.text[window.pos] != ",":
                        where = window.where(window.pos)
                        return damaged(f"is not valid JSON (expecting ',' or ']', {where})")
                    window.pos += 1
                    if not window.skip_space():
                        return damaged("is cut short (truncated)")
                text, value = window.value()
                if _has_lone_surrogate(text, value):
                    if not tolerant:
                        return damaged(_LONE_SURROGATE)
                    left_out += 1
                elif visit is not None:
                    if visit(read + 1, text, value):
                        return Walked(None, kept + 1, left_out)
                    kept += 1
                read += 1
                if not window.skip_space():
                    return damaged("is cut short (truncated)")
            window.pos += 1
            if window.skip_space(limit=None) or window.problem:
                return damaged("has text after the array")
        except _DamagedError as error:
            return damaged(error.problem)
    return Walked(None, kept, left_out)


def record_number(path: Path, record_text: str) -> int | None:
    """The 1-based position of a record in its file, to name it in a message."""
    try:
        wanted = json.loads(record_text)
    except (ValueError, RecursionError):
        return None
    found: list[int] = []

    def visit(number: int, text: str, value: Any) -> bool:
        if text == record_text or value == wanted:
            found.append(number)
            return True
        return False

    try:
        inspect_damage(path, visit, tolerant=True)
    except OSError:
        return None
    return found[0] if found else None


# ---- checking every record -----------------------------------------------------------------


@dataclass
class Checked:
    """What the check found: the files to land (damaged ones cut back) and the counts."""

    files: list[ExportFile]
    valid: int = 0
    oldest: datetime | None = None
    newest: datetime | None = None
    skipped: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)
    # Keys that more than one valid record of an export has: `regroup` gives them theirs.
    shared_keys: set[str] = field(default_factory=set)


def _groups(files: Sequence[ExportFile]) -> list[tuple[RecordFormat, list[ExportFile]]]:
    return [
        (FORMATS[name], [f for f in files if f.format == name])
        for name in FORMATS
        if any(f.format == name for f in files)
    ]


def _strict_hint() -> str:
    return "nothing was imported (--skip-invalid loads the valid records)"


def _duckdb_words(error: BaseException, files: Sequence[ExportFile]) -> str:
    """The first line of a DuckDB error, the files named as the user knows them: DuckDB names
    the path it read, which is ours (a link or a copy in the scratch folder)."""
    text = str(error).strip()
    reason = text.splitlines()[0] if text else type(error).__name__
    for export_file in files:
        reason = reason.replace(str(export_file.path), export_file.name)
    return printable(reason)


def _cut_back_damaged(
    reader: Any, files: list[ExportFile], workdir: Path, skip_invalid: bool, checked: Checked
) -> list[ExportFile]:
    """Find the files DuckDB cannot read; strict: fail naming the record, else keep their
    readable records (written anew into `workdir`)."""
    import duckdb

    sound = []
    for number, export_file in enumerate(files):
        error: duckdb.Error | None = None
        if export_file.path.stat().st_size > 0:
            try:
                ((largest,),) = reader.execute(
                    "select coalesce(max(strlen(json)), 0) "
                    "from read_json_objects(?, format = 'array')",
                    [str(export_file.path)],
                ).fetchall()
                if largest <= MAX_RECORD_BYTES:
                    sound.append(export_file)
                    continue
            except duckdb.Error as raised:
                error = raised
        shown = printable(export_file.name)
        target = workdir / f"readable-{number:05d}.json"
        walked = (
            _write_readable(export_file.path, target)
            if skip_invalid
            else inspect_damage(export_file.path)
        )
        damage = walked.damage
        if damage is None and not walked.left_out:
            # DuckDB refused what Python reads: report DuckDB's words
            reason = _duckdb_words(error, files) if error else "cannot be read"
            raise ExportError(f"{shown}: {reason}")
        if damage is not None and not skip_invalid:
            raise ExportError(
                f"{shown}, record {damage.record}: {damage.problem}; {_strict_hint()}"
            )
        if walked.left_out:
            checked.skipped[_LONE_SURROGATE] += walked.left_out
        if damage is not None:
            checked.skipped[f"file {damage.problem}"] += 1
            checked.notes.append(
                f"{shown} {damage.problem} at record {damage.record}: "
                f"kept the {damage.readable} records before it"
            )
        if walked.kept:
            sound.append(dataclasses.replace(export_file, path=target))
    return sound


def _write_readable(source: Path, target: Path) -> Walked:
    """Walk `source` tolerantly, writing the records it keeps to `target` as they are read:
    their text as it was, in a JSON array."""
    with target.open("w", encoding="utf-8") as sink:
        sink.write("[")
        separator = ["\n"]

        def keep(number: int, text: str, value: Any) -> bool:
            sink.write(separator[0])
            sink.write(text)
            separator[0] = ",\n"
            return False

        walked = inspect_damage(source, keep, tolerant=True)
        sink.write("\n]")
    return walked


def check_records(files: list[ExportFile], workdir: Path, *, skip_invalid: bool) -> Checked:
    """Check every record of every file, in an in-memory DuckDB of its own.

    Not in the warehouse's transaction: there, the first unreadable file would abort it.
    """
    import duckdb

    try:
        with duckdb.connect() as reader:
            configure_import_duckdb(reader, workdir)
            return _check_records(reader, files, workdir, skip_invalid=skip_invalid)
    except duckdb.Error as error:  # out of memory or disk for the spill files, interrupted
        raise ExportError(f"reading the export failed: {_duckdb_words(error, files)}") from None


def _check_records(
    reader: Any, files: list[ExportFile], workdir: Path, *, skip_invalid: bool
) -> Checked:
    import duckdb

    checked = Checked(files=list(files))
    summaries: list[tuple[Any, ...]] = []
    try:
        if any(f.path.stat().st_size == 0 for f in files):  # DuckDB reads them as no records
            raise duckdb.InvalidInputException("an empty file")
        for spec, group in _groups(files):
            summaries += reader.execute(summary_sql(spec, group)).fetchall()
    except duckdb.InvalidInputException:  # a damaged file; anything else is not the input's
        checked.files = _cut_back_damaged(reader, list(files), workdir, skip_invalid, checked)
        summaries = []
        for spec, group in _groups(checked.files):
            summaries += reader.execute(summary_sql(spec, group)).fetchall()
    paths = {f.name: f.path for f in checked.files}
    for is_key, problem, key, records, example, oldest, newest in summaries:
        if is_key:
            checked.shared_keys.add(key)
        elif problem is None:
            checked.valid += records
            checked.oldest = min(filter(None, (checked.oldest, oldest)), default=None)
            checked.newest = max(filter(None, (checked.newest, newest)), default=None)
        elif skip_invalid:
            checked.skipped[problem] += records
        else:
            number = record_number(paths[example["file"]], example["record"])
            where = f", record {number}" if number else ""
            shown = printable(example["file"])
            raise ExportError(f"{shown}{where}: {problem}; {_strict_hint()}")
    return checked


# ---- the import job --------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportResult:
    batch: Batch  # rows_inserted: new records, rows_duplicate: already there or repeated
    files: int
    plays: int  # new records that are plays; the others have no content
    repeats: int  # records left out as identical to another of their export
    skipped: Counter[str]
    notes: list[str]


class Progress(Protocol):
    """Where the job says what it is doing; `fraction` tells how far the running step is."""

    def step(self, description: str, fraction: Callable[[], float] | None = None) -> None: ...


class _Quiet:
    def step(self, description: str, fraction: Callable[[], float] | None = None) -> None:
        log.info("%s", description)


def _query_fraction(reader: Any) -> Callable[[], float]:
    def fraction() -> float:
        try:
            return max(0.0, float(reader.query_progress()) / 100)
        except Exception:  # a progress bar must never fail an import
            return 0.0

    return fraction


class _CheckNeededError(Exception):
    """Landing in one pass cannot do: the check has to read the files first."""


def _land_in_one_pass(
    warehouse: Warehouse, workdir: Path, files: list[ExportFile], batch: Batch, progress: Progress
) -> tuple[Batch, Landed]:
    """Read, check, key and land every record in one statement per format.

    Only for a user with no records from exports yet, on a DuckDB warehouse: there, nothing
    the statements read is left out as present already, so the rows they landed give the
    count and the time span of the import (an INSERT returns neither). Raises
    `_CheckNeededError` otherwise, and when a file is damaged or a record is invalid: the
    statement stops at it and the transaction is rolled back, nothing landed.
    """
    import duckdb

    if warehouse.settings.target != "duckdb":
        raise _CheckNeededError
    if any(f.path.stat().st_size == 0 for f in files):  # DuckDB reads them as no records
        raise _CheckNeededError
    groups = _groups(files)
    with warehouse.export_landing(workdir) as landing:
        if landing.has_history(batch.user_id or ""):
            raise _CheckNeededError
        progress.step(f"Loading the records of {len(files)} files", _query_fraction(landing.reader))
        selects = [landing_sql(spec, group, check="fail") for spec, group in groups]
        try:
            landed = landing.insert_records(selects, batch, _regrouping(files, None))
        except (duckdb.InvalidInputException, duckdb.IOException) as error:
            # A damaged or unreadable file, an invalid record: the check says which.
            log.debug("landing in one pass stopped: %s", error)
            raise _CheckNeededError from None
        selected = landed.selected
        assert selected is not None  # counted on DuckDB
        spans = [
            landed_span_and_plays(
                landing, spec, batch.batch_id, [f.name for f in group] if len(groups) > 1 else None
            )
            for spec, group in groups
        ]
        landed = dataclasses.replace(landed, plays=sum(plays for _, _, plays in spans))
        finished = dataclasses.replace(
            batch,
            rows_seen=selected,
            rows_inserted=landed.inserted,
            rows_duplicate=selected - landed.inserted,
            oldest_played_at=min(filter(None, (first for first, _, _ in spans)), default=None),
            newest_played_at=max(filter(None, (last for _, last, _ in spans)), default=None),
            message=_message(batch.message, landed),
        )
        landing.add_batch(finished)
    return finished, landed


def _land_checked(
    warehouse: Warehouse, workdir: Path, checked: Checked, batch: Batch, progress: Progress
) -> tuple[Batch, Landed]:
    """Land the records the check found valid."""
    check: CheckMode = "skip" if checked.skipped else "none"
    counted = warehouse.settings.target != "duckdb"  # DuckDB counts the plays it landed
    with warehouse.export_landing(workdir) as landing:
        selects = [
            landing_sql(spec, group, check=check, counted=counted)
            for spec, group in _groups(checked.files)
        ]
        progress.step(f"Loading {checked.valid:,} records", _query_fraction(landing.reader))
        keys = _regrouping(checked.files, checked.shared_keys)
        landed = landing.insert_records(selects, batch, keys)
        if landed.plays is None:  # DuckDB: counted in what landed
            (plays,) = landing.aggregate_batch(
                batch.batch_id, f"count(*) filter (where {has_content_sql('record')})", None
            )
            landed = dataclasses.replace(landed, plays=int(plays))
        finished = dataclasses.replace(
            batch,
            rows_seen=checked.valid,
            rows_inserted=landed.inserted,
            rows_duplicate=checked.valid - landed.inserted,
            oldest_played_at=checked.oldest,
            newest_played_at=checked.newest,
            message=_message(batch.message, landed),
        )
        landing.add_batch(finished)
    return finished, landed


def _regrouping(files: Sequence[ExportFile], shared_keys: set[str] | None) -> Regrouping:
    scopes = {export_file.name: export_file.scope for export_file in files}
    labels = ", ".join(f"{_literal(name)}: {_literal(scope)}" for name, scope in scopes.items())
    return Regrouping(
        regroup=lambda rows, stored: regroup(rows, scopes, stored),
        scope=f"map {{{labels}}}[source_file]",
        shared_keys=shared_keys,
    )


def _message(message: str | None, landed: Landed) -> str | None:
    if not landed.repeats:
        return message
    return f"{message}; {landed.repeats} identical records left out"


def import_export(
    settings: Settings,
    warehouse: Warehouse,
    paths: Sequence[Path],
    user_id: str,
    *,
    skip_invalid: bool = False,
    progress: Progress | None = None,
) -> ImportResult:
    """Import the history files under `paths` for `user_id`: all of them, or nothing.

    A user's first import into DuckDB reads the files once: one statement checks and lands
    them. Otherwise, or when that statement meets a damaged file or an invalid record, the
    check reads them first: to name the file and the record (strict), to leave out the
    invalid ones (`skip_invalid`), and to count and date the records before landing them.
    """
    progress = progress or _Quiet()
    started, batch_id = utc_now(), new_batch_id()
    # Zip members are copied here, private fields and all: `running` sees that the folder
    # goes, whatever ends the run.
    with running.scratch_folder() as workdir:
        progress.step("Finding the history files")
        collected = collect_files(paths, workdir, settings.import_max_bytes)
        warehouse.create_raw_tables()
        batch = Batch(batch_id, "export", user_id, "succeeded", started)
        try:
            finished, landed = _land_in_one_pass(
                warehouse, workdir, collected.files,
                dataclasses.replace(batch, message=_files(len(collected.files))), progress,
            )  # fmt: skip
            return ImportResult(
                finished, len(collected.files), landed.plays or 0, landed.repeats, Counter(), []
            )
        except _CheckNeededError:
            pass
        progress.step(f"Checking the records of {len(collected.files)} files")
        checked = check_records(collected.files, workdir, skip_invalid=skip_invalid)
        skipped = sum(checked.skipped.values())
        message = _files(len(checked.files)) + (
            f"; skipped {skipped} invalid: " + _describe(checked.skipped) if skipped else ""
        )
        finished, landed = _land_checked(
            warehouse, workdir, checked, dataclasses.replace(batch, message=message), progress
        )
    return ImportResult(
        finished, len(checked.files), landed.plays or 0, landed.repeats, checked.skipped,
        checked.notes,
    )  # fmt: skip


def _files(count: int) -> str:
    return f"{count} file{'' if count == 1 else 's'}"


def _describe(skipped: Counter[str]) -> str:
    return "; ".join(f"{count} {reason}" for reason, count in skipped.most_common())


def import_user(settings: Settings, user_id: str | None) -> str:
    """The user an import belongs to: `--user`, else the one authorised user."""
    if user_id:
        return user_id
    from ingestion.spotify import SpotifyClient, authorised_accounts

    try:
        accounts = authorised_accounts(settings)
    except SpotifyEltError:
        raise ExportError(
            "whose export is it? pass --user SPOTIFY_USER_ID (no user is authorised)"
        ) from None
    if len(accounts) > 1:
        names = ", ".join(account.label for account in accounts)
        raise ExportError(f"whose export is it? pass --user, one of: {names}")
    account = accounts[0]
    if account.user_id is not None:
        return account.user_id
    # SPOTIFY_REFRESH_TOKEN names no user: ask Spotify whose it is (one request).
    return str(SpotifyClient(settings, account).me()["id"])
