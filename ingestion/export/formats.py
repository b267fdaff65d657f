"""Record formats and eras of the privacy export, and the DuckDB SQL that reads, checks and keys
their records.

The formats are declared data (`RecordFormat`: the fields a record may have, which identify a
play); the SQL is generated from them and runs over the export *files* only, in a DuckDB of
the import's own or the warehouse's (`landing` runs it against the raw layer). Keys and the
privacy of what lands: docs/loading.md, "Merging" and "Privacy".
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal

from ingestion.rules import (
    EARLIEST_PLAY,
    MAX_MS_PLAYED,
    PRIVATE_FIELDS,
    latest_play,
    without_private_fields_sql,
)

Format = Literal["extended", "video", "account"]


_EXTENDED_AUDIO = re.compile(r"(Streaming_History_Audio_.*|endsong_?\d*)\.json", re.IGNORECASE)
_EXTENDED_VIDEO = re.compile(r"(Streaming_History_Video_.*|endvideo_?\d*)\.json", re.IGNORECASE)
_ACCOUNT = re.compile(r"StreamingHistory(_music_|_podcast_|_audiobook_)?\d*\.json", re.IGNORECASE)

EXPECTED_NAMES = (
    "Streaming_History_Audio_*.json, Streaming_History_Video_*.json, endsong_*.json, "
    "StreamingHistory_music_*.json, StreamingHistory_podcast_*.json, "
    "StreamingHistory_audiobook_*.json or StreamingHistory*.json"
)


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


# No Spotify record comes near this: each is a few hundred bytes of names, URIs, flags and
# numbers. A bigger one is refused, by the landing SQL (`records_sql`) and by the file walk
# (`inspection.inspect_damage`), which so never holds more than about twice this much of a
# file. Landing a record with a 15 MB string ran DuckDB out of the import's 384 MB of memory
# (measured).
MAX_RECORD_BYTES = 1 << 20
_TOO_LARGE = "is larger than 1 MiB, which no Spotify record is"


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


def has_content_sql(record: str) -> str:
    """DuckDB SQL: whether the compact JSON text `record` names what was played
    (`CONTENT_FIELDS`). Most records are tracks, whose URI in the text spares them the parse:
    0.1 s for a million records, against 0.4 s (measured). Inside a JSON string a quote is
    escaped, so the text matches only the field itself."""
    paths = ", ".join(_path(name) for name in CONTENT_FIELDS)
    parsed = f"list_aggregate(json_extract_string({record}, [{paths}]), 'count') > 0"
    track = _literal('"spotify_track_uri":"spotify:')
    return f"case when contains({record}, {track}) then true else {parsed} end"
