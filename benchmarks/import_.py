"""Benchmark `spotify-elt import` on a synthetic privacy export (not a test).

This script:

1. writes a synthetic Extended streaming history of N records (1,000,000 unless ``--records``
   says otherwise) into a temporary folder, as Spotify writes it: pretty-printed JSON arrays
   (``json.dumps(..., indent=2)``) of 15,000 records per file named
   ``Streaming_History_Audio_<years>_<n>.json``. Each record has every Extended field, the
   private ones included (``username``, ``ip_addr``, ``ip_addr_decrypted``,
   ``user_agent_decrypted``); most are tracks from a catalogue of 6,000, some podcast episodes
   and audiobook chapters, a few with no metadata at all; ``ts`` is strictly increasing (whole
   seconds), ``ms_played`` varies from 0 to 400,000 and ``offline_timestamp`` is in seconds.
   The data depend only on ``--seed``. Generating them is not part of any figure;
2. times three loaders of the same files, each a fresh process writing into a fresh DuckDB
   file, started by a small process of its own that reads the loader's wall time and peak
   resident memory with ``wait4`` (a process started by the benchmark itself would inherit the
   benchmark's peak memory as its own, see ``measure``):

   - ours: ``spotify-elt import --user bench <folder>`` exactly as a user runs it, then the
     same import again on the now filled warehouse (it adds nothing);
   - DuckDB alone: ``create table records as select * from read_json_objects('<folder>/*.json',
     format = 'array', filename = true)``, the least any loader built on DuckDB's JSON reader
     can do: no check, no key, no privacy filter;
   - pandas: ``json`` + ``pandas.DataFrame`` + ``DataFrame.to_sql`` through SQLAlchemy and
     duckdb-engine, the way the projects that inspired this one load an export. It is so slow
     that it runs once on the first ``--pandas-records`` records only; its time for N records
     is extrapolated from its rate;

   ours and DuckDB alone run ``--repeat`` times each (interleaved) and count by their median;
3. checks after each import of ours that ``raw.spotify_streaming_history`` holds N rows with N
   distinct keys, that no stored record has a private field, and that none of a sample of
   stored records holds a private value that was generated (an IP address, the login name, a
   user agent): any failure ends the script with exit status 1;
4. prints a Markdown table (wall-clock seconds from process start to exit, so Python's
   start-up and imports are included for every loader; records per second; peak RSS; the ratio
   to DuckDB alone), whether the targets hold (ours at most 1.6 times DuckDB alone
   over a million records, at most 500 MB of memory), the size of the export and machine and
   version information. MB are 10^6 bytes.

Every child process runs in the temporary folder (no developer's ``.env``) with the caller's
``SPOTIFY_*`` and ``DBT_*`` variables removed. The temporary folder is removed at the end
unless ``--keep`` is given (or something failed).

Run from the repository root (a million records take a few minutes on two cores):

    .venv/bin/python -m benchmarks.import_
    .venv/bin/python -m benchmarks.import_ --records 100k --repeat 1 --keep
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import re
import shutil
import statistics
import string
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from benchmarks.common import machine_description, parse_size, positive, progress
from tests.support import exports

PACKAGES = ("duckdb", "pandas", "sqlalchemy", "duckdb-engine")

DEFAULT_RECORDS = 1_000_000
DEFAULT_PANDAS_RECORDS = 20_000
DEFAULT_PANDAS_CHUNKSIZE = 10_000
DEFAULT_REPEAT = 3
DEFAULT_SEED = 20_240_301
RECORDS_PER_FILE = 15_000
USER_ID = "bench"
OUTPUT_TAIL_LINES = 40

# The targets for a million records (docs/figures.md, "Import").
MAX_RATIO_TO_DUCKDB = 1.6
MAX_PEAK_RSS_MB = 500.0

# The first play ends here; each record has a slot of four minutes and ends somewhere in it,
# so `ts` strictly increases (a million records span about 7.6 years).
HISTORY_START = datetime(2016, 1, 1, 7, 0, tzinfo=UTC)
SLOT_SECONDS = 240

CHILD_FLAG = "--child"
BASE62 = string.digits + string.ascii_letters

# ---- the synthetic export ---------------------------------------------------------------

ARTIST_NAMES = (
    "Rosalía",
    "Bad Bunny",
    "宇多田ヒカル",
    "Sigur Rós",
    "AC/DC",
    'The "Quoted" Band',
    "Los Ñandúes",
    "Mötley Crüe",
    "방탄소년단",
    "C:\\Backslash",
)
PLATFORMS = (
    ("android", 40),
    ("iOS 17.1.2 (iPhone14,2)", 20),
    ("windows", 15),
    ("osx", 8),
    ("web_player linux ;chrome 120.0.0.0;desktop", 7),
    ("Partner sonos_ppc Sonos;One;;", 5),
    ("Android-tablet OS 13 API 33 (samsung, SM-X200)", 5),
)
COUNTRIES = (("ES", 80), ("PT", 6), ("FR", 6), ("GB", 4), ("US", 3), ("JP", 1))
REASONS_START = (
    ("trackdone", 55),
    ("fwdbtn", 15),
    ("clickrow", 12),
    ("backbtn", 5),
    ("appload", 5),
    ("playbtn", 4),
    ("remote", 3),
    ("trackerror", 1),
)
REASONS_END = (
    ("trackdone", 55),
    ("fwdbtn", 20),
    ("endplay", 10),
    ("logout", 5),
    ("backbtn", 4),
    ("unexpected-exit-while-paused", 3),
    ("remote", 2),
    ("unknown", 1),
)
PRIVATE_FIELDS = ("username", "ip_addr", "ip_addr_decrypted", "user_agent_decrypted")


@dataclass(frozen=True)
class Catalogue:
    """What the records are made of; the same for a given seed in every process."""

    tracks: tuple[tuple[str, str, str, str], ...]  # name, album artist, album, uri
    episodes: tuple[tuple[str, str, str], ...]  # name, show, uri
    chapters: tuple[tuple[str, str, str, str], ...]  # book title, book uri, chapter uri, title
    ip_addresses: tuple[str, ...]
    user_agents: tuple[str, ...]
    username: str
    platforms: tuple[str, ...]
    platform_weights: tuple[int, ...]

    def private_values(self) -> tuple[str, ...]:
        """The private values no stored record may hold."""
        return (*self.ip_addresses, *self.user_agents, self.username)


def spotify_id(rng: random.Random) -> str:
    return "".join(rng.choices(BASE62, k=22))


@cache
def make_catalogue(seed: int) -> Catalogue:
    rng = random.Random(seed)
    artists = [ARTIST_NAMES[n] if n < len(ARTIST_NAMES) else f"Artist {n}" for n in range(600)]
    albums = [
        (f"Álbum {n}" if n % 13 == 0 else f"Album {n}", artists[rng.randrange(len(artists))])
        for n in range(1_500)
    ]
    tracks = []
    for n in range(6_000):
        album, artist = albums[n * len(albums) // 6_000]
        name = f'Canción "{n}" (Remix)' if n % 29 == 0 else f"Track {n}"
        tracks.append((name, artist, album, f"spotify:track:{spotify_id(rng)}"))
    shows = [f"Show {n}" if n % 7 else f"Pódcast {n}" for n in range(25)]
    episodes = [
        (f"Episode {n}: a talk", shows[n % len(shows)], f"spotify:episode:{spotify_id(rng)}")
        for n in range(400)
    ]
    chapters = []
    for book in range(4):
        book_uri = f"spotify:audiobook:{spotify_id(rng)}"
        for chapter in range(30):
            chapters.append(
                (
                    f"Book {book}",
                    book_uri,
                    f"spotify:chapter:{spotify_id(rng)}",
                    f"Chapter {chapter + 1}",
                )
            )
    # Documentation ranges (RFC 5737, RFC 3849): never a real listener's address.
    ip_addresses = (
        *(f"203.0.113.{n}" for n in range(11, 31)),
        *(f"198.51.100.{n}" for n in range(101, 116)),
        *(f"2001:db8:{n:x}::{n * 7:x}" for n in range(1, 6)),
    )
    user_agents = (
        "Mozilla%2F5.0%20(Windows%20NT%2010.0%3B%20Win64%3B%20x64)%20BenchAgent%2F1.0",
        "Spotify%2F8.8.96%20Android%2F33%20(SM-BENCH)",
        "Spotify%2F1.2.26%20iOS%2F17.1.2%20(iPhone14%2C2)%20BenchAgent",
    )
    return Catalogue(
        tracks=tuple(tracks),
        episodes=tuple(episodes),
        chapters=tuple(chapters),
        ip_addresses=ip_addresses,
        user_agents=user_agents,
        username="bench-login-3f9c2a",
        platforms=tuple(name for name, _ in PLATFORMS),
        platform_weights=tuple(weight for _, weight in PLATFORMS),
    )


def pick(rng: random.Random, choices: Sequence[tuple[str, int]]) -> str:
    return rng.choices([name for name, _ in choices], [weight for _, weight in choices])[0]


def make_record(rng: random.Random, catalogue: Catalogue, number: int) -> dict[str, Any]:
    """Record `number` (0-based over the whole export), in Spotify's field order."""
    ended = HISTORY_START + timedelta(seconds=number * SLOT_SECONDS + rng.randrange(SLOT_SECONDS))
    ms_played = rng.randrange(400_001) if rng.random() < 0.8 else rng.randrange(30_000)
    content = exports.no_content()
    kind = rng.random()
    if kind < 0.9:  # a track; a few are far more played than the rest
        track = catalogue.tracks[int(len(catalogue.tracks) * rng.random() ** 2.5)]
        content = exports.track_content(*track)
    elif kind < 0.97:
        episode = catalogue.episodes[rng.randrange(len(catalogue.episodes))]
        content = exports.episode_content(*episode)
    elif kind < 0.998:
        chapter = catalogue.chapters[rng.randrange(len(catalogue.chapters))]
        content = exports.audiobook_content(*chapter)
    # else: a play Spotify knows nothing about (every content field null), as in real exports
    ip_address = catalogue.ip_addresses[int(len(catalogue.ip_addresses) * rng.random() ** 3)]
    skipped = rng.random()
    # The keywords are drawn in this order: the same seed gives the same export.
    return exports.extended_fields(
        exports.extended_ts(ended),
        username=catalogue.username,
        platform=rng.choices(catalogue.platforms, catalogue.platform_weights)[0],
        ms_played=ms_played,
        conn_country=pick(rng, COUNTRIES),
        addresses={
            "ip_addr": ip_address,
            "ip_addr_decrypted": ip_address,
            "user_agent_decrypted": catalogue.user_agents[
                rng.randrange(len(catalogue.user_agents))
            ],
        },
        content=content,
        reason_start=pick(rng, REASONS_START),
        reason_end=pick(rng, REASONS_END),
        shuffle=rng.random() < 0.4,
        skipped=None if skipped < 0.05 else skipped < 0.2,
        offline=rng.random() < 0.05,
        offline_timestamp=int(ended.timestamp()) - ms_played // 1000,
        incognito_mode=rng.random() < 0.01,
    )


@dataclass(frozen=True)
class FileTask:
    folder: Path
    seed: int
    number: int  # the file's number, 0-based
    first: int  # the number of its first record
    count: int


@dataclass(frozen=True)
class GeneratedFile:
    path: Path
    records: int
    size: int


def write_export_file(task: FileTask) -> GeneratedFile:
    """One file of the export, pretty-printed like Spotify's; deterministic for its task."""
    catalogue = make_catalogue(task.seed)
    rng = random.Random(task.seed * 1_000_003 + task.number)
    records = [make_record(rng, catalogue, task.first + n) for n in range(task.count)]
    first_year, last_year = records[0]["ts"][:4], records[-1]["ts"][:4]
    years = first_year if first_year == last_year else f"{first_year}-{last_year}"
    path = task.folder / f"Streaming_History_Audio_{years}_{task.number}.json"
    path.write_text(exports.export_json(records), encoding="utf-8")
    return GeneratedFile(path, len(records), path.stat().st_size)


def generate_export(folder: Path, records: int, seed: int) -> list[GeneratedFile]:
    """The export's files in order, written by one process per core."""
    folder.mkdir(parents=True)
    tasks = [
        FileTask(folder, seed, number, first, min(RECORDS_PER_FILE, records - first))
        for number, first in enumerate(range(0, records, RECORDS_PER_FILE))
    ]
    processes = max(1, min(os.cpu_count() or 1, len(tasks)))
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        return list(pool.imap(write_export_file, tasks))


# ---- the loaders' children (this script run again with --child) ----------------------------


def child_read_json_objects(database: Path, folder: Path) -> dict[str, Any]:
    """DuckDB alone: every record of every file into one table, nothing else."""
    import duckdb

    with duckdb.connect(str(database)) as connection:
        started = time.perf_counter()
        connection.execute(
            "create table records as select * from "
            "read_json_objects(?, format = 'array', filename = true)",
            [str(folder / "*.json")],
        )
        seconds = time.perf_counter() - started
        row = connection.execute("select count(*) from records").fetchone()
    return {"seconds": seconds, "rows": int(row[0]) if row else 0}


def child_pandas(
    database: Path, files: Sequence[Path], records: int, chunksize: int
) -> dict[str, Any]:
    """json + DataFrame + to_sql through SQLAlchemy, the private fields dropped first."""
    import pandas as pd  # type: ignore[import-untyped]
    import sqlalchemy as sa

    started = time.perf_counter()
    loaded: list[dict[str, Any]] = []
    for path in files:
        loaded.extend(json.loads(path.read_text(encoding="utf-8")))
    frame = pd.DataFrame.from_records(loaded[:records]).drop(columns=list(PRIVATE_FIELDS))
    engine = sa.create_engine(f"duckdb:///{database}")
    frame.to_sql(
        "spotify_streaming_history",
        engine,
        if_exists="append",
        index=False,
        chunksize=chunksize,
    )
    engine.dispose()
    seconds = time.perf_counter() - started
    with sa.create_engine(f"duckdb:///{database}").connect() as connection:
        rows = connection.exec_driver_sql("select count(*) from spotify_streaming_history")
        count = int(rows.scalar_one())
    return {"seconds": seconds, "rows": count}


def run_as_child(argv: Sequence[str]) -> int:
    """`--child measure RESULT COMMAND...`, `--child read_json_objects DATABASE FOLDER` or
    `--child pandas DATABASE RECORDS CHUNKSIZE FILE...`."""
    role, first, *rest = argv
    if role == "measure":
        return measure(Path(first), rest)
    if role == "read_json_objects":
        result = child_read_json_objects(Path(first), Path(rest[0]))
    elif role == "pandas":
        records, chunksize, *files = rest
        result = child_pandas(Path(first), [Path(f) for f in files], int(records), int(chunksize))
    else:
        raise SystemExit(f"unknown child {role!r}")
    print(json.dumps(result))
    return 0


# ---- running and measuring one process -----------------------------------------------------


@dataclass(frozen=True)
class ChildRun:
    wall_seconds: float
    cpu_seconds: float  # user + system
    peak_rss_mb: float
    floor_mb: float  # what `measure` itself held: a peak RSS at this level means nothing
    output: str


class BenchmarkError(Exception):
    """A loader failed or landed the wrong thing: the figures are not to be trusted."""


def child_environment() -> dict[str, str]:
    """The caller's environment without any configuration of the project or of dbt."""
    return {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("SPOTIFY_", "DBT_"))
    }


def own_peak_kib() -> int:
    """This process's own high-water RSS (VmHWM), not the one inherited from its parent."""
    for line in Path("/proc/self/status").read_text(encoding="utf-8").splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def measure(result: Path, command: Sequence[str]) -> int:
    """Start `command`, wait for it and write its wall time and resource usage to `result`.

    A process inherits its parent's peak RSS when it starts (Linux keeps the high-water mark
    of the memory it replaces at exec), so `wait4` in the benchmark itself would report the
    benchmark's own peak whenever it is larger than the loader's. This small process starts
    the loader instead: the loader's figure is then its own, or at worst this process's.
    """
    floor = own_peak_kib()
    started = time.perf_counter()
    pid = os.posix_spawn(command[0], list(command), os.environ)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - started
    measured = {
        "wall_seconds": wall,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "peak_rss_kib": usage.ru_maxrss,  # KiB on Linux
        "floor_kib": floor,
    }
    result.write_text(json.dumps(measured), encoding="utf-8")
    return os.waitstatus_to_exitcode(status)


def run_measured(
    command: Sequence[str], environment: dict[str, str], directory: Path, label: str
) -> ChildRun:
    """Run a process to its end, through `measure`: wall clock from its start to its exit
    and its own peak RSS."""
    log = directory / f"{label}.log"
    result = directory / f"{label}.measured.json"
    with log.open("w", encoding="utf-8") as sink:
        status = subprocess.run(
            this_script("measure", str(result), *command),
            env=environment,
            cwd=directory,
            stdout=sink,
            stderr=subprocess.STDOUT,
            check=False,
        ).returncode
    output = log.read_text(encoding="utf-8", errors="replace")
    if status != 0 or not result.exists():
        tail = "\n".join(output.splitlines()[-OUTPUT_TAIL_LINES:])
        raise BenchmarkError(
            f"{label} failed with exit status {status}; the last lines of its output"
            f" ({log}):\n{tail}"
        )
    measured: dict[str, float] = json.loads(result.read_text(encoding="utf-8"))
    return ChildRun(
        wall_seconds=measured["wall_seconds"],
        cpu_seconds=measured["cpu_seconds"],
        peak_rss_mb=measured["peak_rss_kib"] * 1024 / 1e6,
        floor_mb=measured["floor_kib"] * 1024 / 1e6,
        output=output,
    )


def child_result(run: ChildRun) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(run.output.strip().splitlines()[-1])
    return result


def this_script(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "benchmarks.import_", CHILD_FLAG, *arguments]


def import_command(folder: Path) -> list[str]:
    return [sys.executable, "-m", "spotify_elt", "import", "--user", USER_ID, str(folder)]


def import_environment(database: Path) -> dict[str, str]:
    environment = child_environment()
    environment["SPOTIFY_ELT_TARGET"] = "duckdb"
    environment["SPOTIFY_ELT_DUCKDB_PATH"] = str(database)
    return environment


IMPORTED = re.compile(r"Imported ([\d,]+) new (?:plays?|records?) .*; ([\d,]+) already there")


def imported_counts(output: str) -> tuple[int, int]:
    """(new, already there) from the import's summary line."""
    found = IMPORTED.search(output)
    if found is None:
        raise BenchmarkError(f"no summary line in the import's output:\n{output}")
    new, present = found.groups()
    return int(new.replace(",", "")), int(present.replace(",", ""))


# ---- checking what ours landed -------------------------------------------------------------


def check_landed(database: Path, records: int, catalogue: Catalogue) -> None:
    """N rows with N distinct keys, no private field anywhere, no private value in a sample."""
    import duckdb

    from ingestion.export import PRIVATE_FIELDS as STRIPPED

    missing = set(PRIVATE_FIELDS) - set(STRIPPED)
    if missing:
        raise BenchmarkError(f"the import no longer removes {sorted(missing)}")
    with duckdb.connect(str(database), read_only=True) as connection:
        row = connection.execute(
            """
            select
                count(*),
                count(distinct record_key),
                count(*) filter (where list_has_any(json_keys(record), ?))
            from raw.spotify_streaming_history
            where user_id = ?
            """,
            [list(PRIVATE_FIELDS), USER_ID],
        ).fetchone()
        sample = [
            str(record)
            for (record,) in connection.execute(
                "select record from raw.spotify_streaming_history "
                "using sample reservoir(20000 rows) repeatable (7)"
            ).fetchall()
        ]
    assert row is not None
    rows, keys, with_private_fields = (int(value) for value in row)
    if rows != records or keys != records:
        raise BenchmarkError(
            f"raw.spotify_streaming_history has {rows:,} rows and {keys:,} distinct keys; "
            f"expected {records:,} of each"
        )
    if with_private_fields:
        raise BenchmarkError(f"{with_private_fields:,} stored records have a private field")
    if not sample or not all('"ts"' in record for record in sample):
        raise BenchmarkError("the sampled records have no `ts`: are they records at all?")
    values = catalogue.private_values()
    leaks = [record for record in sample if any(value in record for value in values)]
    if leaks:
        raise BenchmarkError(
            f"{len(leaks):,} of {len(sample):,} sampled records hold a private value, "
            f"e.g. {leaks[0]}"
        )


# ---- the benchmark -------------------------------------------------------------------------


@dataclass
class Results:
    records: int
    files: int
    export_bytes: int
    generation_seconds: float
    pandas_records: int
    pandas_chunksize: int
    ours: list[ChildRun] = field(default_factory=list)
    reimport: list[ChildRun] = field(default_factory=list)
    duckdb: list[ChildRun] = field(default_factory=list)
    duckdb_query_seconds: list[float] = field(default_factory=list)
    pandas: ChildRun | None = None
    pandas_load_seconds: float = 0.0
    startup: list[float] = field(default_factory=list)
    ours_database_bytes: int = 0
    duckdb_database_bytes: int = 0


def benchmark(arguments: argparse.Namespace, directory: Path) -> Results:
    records: int = arguments.records
    folder = directory / "export"
    progress(f"writing {records:,} records into {folder}")
    started = time.perf_counter()
    files = generate_export(folder, records, arguments.seed)
    results = Results(
        records=records,
        files=len(files),
        export_bytes=sum(f.size for f in files),
        generation_seconds=time.perf_counter() - started,
        pandas_records=min(arguments.pandas_records, records),
        pandas_chunksize=arguments.pandas_chunksize,
    )
    progress(
        f"wrote {len(files)} files, {results.export_bytes / 1e6:,.0f} MB, "
        f"in {results.generation_seconds:.1f} s"
    )
    catalogue = make_catalogue(arguments.seed)
    first = files[0].path.read_text(encoding="utf-8")
    if catalogue.username not in first or '"ip_addr": "' not in first:
        raise BenchmarkError("the generated export has no private fields to remove")

    for run in range(1, arguments.repeat + 1):
        results.startup.append(
            run_measured(
                [sys.executable, "-m", "spotify_elt", "--help"],
                child_environment(),
                directory,
                f"startup_{run}",
            ).wall_seconds
        )
        database = directory / f"ours_{run}.duckdb"
        environment = import_environment(database)
        ours = run_measured(import_command(folder), environment, directory, f"ours_{run}")
        if imported_counts(ours.output) != (records, 0):
            raise BenchmarkError(f"ours run {run}: {ours.output.strip()}")
        results.ours.append(ours)
        progress(f"run {run}: ours {ours.wall_seconds:.2f} s, {ours.peak_rss_mb:.0f} MB")
        check_landed(database, records, catalogue)
        again = run_measured(import_command(folder), environment, directory, f"reimport_{run}")
        if imported_counts(again.output) != (0, records):
            raise BenchmarkError(f"reimport run {run}: {again.output.strip()}")
        results.reimport.append(again)
        progress(f"run {run}: reimport {again.wall_seconds:.2f} s, {again.peak_rss_mb:.0f} MB")
        check_landed(database, records, catalogue)
        results.ours_database_bytes = database.stat().st_size

        database = directory / f"read_json_objects_{run}.duckdb"
        plain = run_measured(
            this_script("read_json_objects", str(database), str(folder)),
            child_environment(),
            directory,
            f"read_json_objects_{run}",
        )
        outcome = child_result(plain)
        if outcome["rows"] != records:
            raise BenchmarkError(f"read_json_objects loaded {outcome['rows']:,} records")
        results.duckdb.append(plain)
        results.duckdb_query_seconds.append(float(outcome["seconds"]))
        results.duckdb_database_bytes = database.stat().st_size
        progress(
            f"run {run}: read_json_objects {plain.wall_seconds:.2f} s "
            f"(query {outcome['seconds']:.2f} s), {plain.peak_rss_mb:.0f} MB"
        )
        if not arguments.keep:
            for name in (f"ours_{run}", f"read_json_objects_{run}"):
                for path in directory.glob(f"{name}.duckdb*"):
                    if path.is_dir():
                        shutil.rmtree(path)
                    else:
                        path.unlink()

    subset, covered = [], 0
    for generated in files:
        if covered >= results.pandas_records:
            break
        subset.append(str(generated.path))
        covered += generated.records
    database = directory / "pandas.duckdb"
    progress(f"pandas to_sql of {results.pandas_records:,} records")
    slow = run_measured(
        this_script(
            "pandas",
            str(database),
            str(results.pandas_records),
            str(arguments.pandas_chunksize),
            *subset,
        ),
        child_environment(),
        directory,
        "pandas",
    )
    outcome = child_result(slow)
    if outcome["rows"] != results.pandas_records:
        raise BenchmarkError(f"pandas loaded {outcome['rows']:,} records")
    results.pandas = slow
    results.pandas_load_seconds = float(outcome["seconds"])
    progress(f"pandas: {slow.wall_seconds:.2f} s (loading {outcome['seconds']:.2f} s)")
    return results


# ---- the report ------------------------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def seconds_list(runs: Sequence[ChildRun]) -> str:
    return ", ".join(f"{run.wall_seconds:.2f}" for run in runs)


def holds(condition: bool) -> str:
    return "holds" if condition else "MISSED"


def report(results: Results) -> str:
    records = results.records
    base = median([run.wall_seconds for run in results.duckdb])
    lines = [
        "| loader | records | wall s (median) | records/s | CPU s | peak RSS MB "
        "| \N{MULTIPLICATION SIGN} read_json_objects |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]

    def row(name: str, count: int, runs: Sequence[ChildRun], shown: int | None = None) -> None:
        wall = median([run.wall_seconds for run in runs])
        cpu = median([run.cpu_seconds for run in runs])
        peak = max(run.peak_rss_mb for run in runs)
        lines.append(
            f"| {name} | {shown if shown is not None else count:,} | {wall:.2f} "
            f"| {count / wall:,.0f} | {cpu:.1f} | {peak:,.0f} "
            f"| {wall / base:.2f}\N{MULTIPLICATION SIGN} |"
        )

    row("`spotify-elt import` (ours)", records, results.ours)
    row("`spotify-elt import` again, nothing new", records, results.reimport)
    row("DuckDB `read_json_objects` alone", records, results.duckdb)
    pandas = results.pandas
    extrapolated = 0.0
    if pandas is not None:
        row(f"pandas `to_sql`, first {results.pandas_records:,} records", results.pandas_records,
            [pandas])  # fmt: skip
        rate = results.pandas_records / results.pandas_load_seconds
        extrapolated = pandas.wall_seconds - results.pandas_load_seconds + records / rate
        lines.append(
            f"| pandas `to_sql`, EXTRAPOLATED to {records:,} | {records:,} "
            f"| {extrapolated:,.0f} (extrapolated) | {rate:,.0f} | \N{EN DASH} | \N{EN DASH} "
            f"| {extrapolated / base:,.0f}\N{MULTIPLICATION SIGN} |"
        )
    ours = median([run.wall_seconds for run in results.ours])
    ratio = ours / base
    peak = max(run.peak_rss_mb for run in (*results.ours, *results.reimport))
    query = median(results.duckdb_query_seconds)
    measured = [*results.ours, *results.reimport, *results.duckdb]
    floor = max(run.floor_mb for run in (*measured, *([pandas] if pandas else [])))
    lines += [
        "",
        f"Wall-clock seconds from process start to exit, median of {len(results.ours)} runs"
        " (ours and read_json_objects interleaved), each a fresh process writing a fresh DuckDB"
        " file; Python's start-up and imports are included for every loader"
        f" (`python -m spotify_elt --help` alone: {median(results.startup):.2f} s)."
        " Records/s is records over that wall time; CPU s is the process's user + system time;"
        " peak RSS is the process's own maximum resident set (wait4), the largest of its runs,"
        f" in 10^6 bytes (the process measuring it held {floor:.0f} MB, the least it can show).",
        f"- ours: {seconds_list(results.ours)} s; again, nothing new:"
        f" {seconds_list(results.reimport)} s.",
        f"- read_json_objects: {seconds_list(results.duckdb)} s; the `create table` query alone"
        f" (in-process) {median(results.duckdb_query_seconds):.2f} s median"
        f" ({', '.join(f'{s:.2f}' for s in results.duckdb_query_seconds)}),"
        f" {records / query:,.0f} records/s; DuckDB's default settings.",
    ]
    if pandas is not None:
        lines.append(
            f"- pandas: one run over the first {results.pandas_records:,} records"
            f" (json.loads, DataFrame, private columns dropped, to_sql through SQLAlchemy and"
            f" duckdb-engine, chunksize {results.pandas_chunksize:,}):"
            f" {pandas.wall_seconds:.2f} s wall, loading {results.pandas_load_seconds:.2f} s;"
            f" the {records:,}-record time is EXTRAPOLATED as start-up plus {records:,} records"
            f" at the measured loading rate: {extrapolated:,.0f} s"
            f" ({extrapolated / 60:,.1f} min). Its peak RSS is at the subset only."
        )
    lines += [
        "",
        "The targets at 1,000,000 records"
        + ("" if records == 1_000_000 else f" (this run: {records:,}, so indicative only)")
        + ":",
        f"- ours \N{LESS-THAN OR EQUAL TO} {MAX_RATIO_TO_DUCKDB}\N{MULTIPLICATION SIGN} the time"
        f" of read_json_objects: {ratio:.2f}\N{MULTIPLICATION SIGN}"
        f" ({ours:.2f} s against {base:.2f} s): {holds(ratio <= MAX_RATIO_TO_DUCKDB)}",
        f"- ours peak memory \N{LESS-THAN OR EQUAL TO} {MAX_PEAK_RSS_MB:.0f} MB:"
        f" {peak:.0f} MB (largest of import and reimport runs): {holds(peak <= MAX_PEAK_RSS_MB)}",
        "",
        f"Export: {records:,} Extended records in {results.files} files of"
        f" {RECORDS_PER_FILE:,}, {results.export_bytes / 1e6:,.0f} MB on disk"
        f" ({results.export_bytes / records:,.0f} bytes per record, pretty-printed);"
        f" generated in {results.generation_seconds:.1f} s (not part of the figures).",
        f"DuckDB files: ours {results.ours_database_bytes / 1e6:,.0f} MB,"
        f" read_json_objects {results.duckdb_database_bytes / 1e6:,.0f} MB.",
        "Machine: " + machine_description(PACKAGES) + ".",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    given = list(sys.argv[1:] if argv is None else argv)
    if given[:1] == [CHILD_FLAG]:
        return run_as_child(given[1:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--records",
        type=parse_size,
        default=DEFAULT_RECORDS,
        help="records in the export (1000000, 1m, 100k); default: 1m",
    )
    parser.add_argument(
        "--pandas-records",
        type=parse_size,
        default=DEFAULT_PANDAS_RECORDS,
        help="records pandas loads (its time for all is extrapolated); default: 20k",
    )
    parser.add_argument(
        "--pandas-chunksize",
        type=positive,
        default=DEFAULT_PANDAS_CHUNKSIZE,
        help=f"to_sql's chunksize; default: {DEFAULT_PANDAS_CHUNKSIZE}",
    )
    parser.add_argument(
        "--repeat",
        type=positive,
        default=DEFAULT_REPEAT,
        help="runs of ours and of read_json_objects; the median counts; default: 3",
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="of the synthetic export")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    arguments = parser.parse_args(given)
    directory = Path(tempfile.mkdtemp(prefix="spotify-elt-import-benchmark-"))
    try:
        results = benchmark(arguments, directory)
    except BenchmarkError as failure:
        print(f"FAILED: {failure}", file=sys.stderr)
        print(f"kept {directory}", file=sys.stderr)
        return 1
    print(report(results))
    if arguments.keep:
        progress(f"kept {directory}")
    else:
        shutil.rmtree(directory)
    return 0


if __name__ == "__main__":
    sys.exit(main())
