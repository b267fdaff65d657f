"""Hostile input and hard stops of `spotify-elt import`, each in a real child process.

Every probe ends in one line within 30 s, under 500 MB, with the warehouse as it was and no
private file left in the temporary folder. The child's peak memory is its own `ru_maxrss`,
read with `wait4` (RUSAGE_CHILDREN would add every child this test process ever had).
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import psutil
import pytest

from tests.support.cli import CliResult, assert_one_line_error, base_environment
from tests.support.exports import IP_ADDRESS, START, extended_history, write_json
from tests.support.raw_tables import batch_rows, history_rows

USER = "listener-1"
SECONDS = 30
PEAK_MB = 500
# A child past this is stopped at once, so that a probe of a broken build cannot take the
# machine's memory (the old walk read /dev/zero until MemoryError).
RUNAWAY_BYTES = 1536 << 20
INTERRUPTED = "error: interrupted; nothing of this run landed"


@dataclass(frozen=True)
class Measured:
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    peak_mb: float

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


@dataclass(frozen=True)
class Child:
    process: subprocess.Popen[bytes]
    stdout: IO[bytes]
    stderr: IO[bytes]

    def poll(self) -> int | None:
        return self.process.poll()


def start(arguments: tuple[str, ...], env: dict[str, str], cwd: Path) -> Child:
    child_env = {**base_environment(), **env, "COLUMNS": "200"}
    # Files, not pipes: `finish` waits with wait4 and reads them after, then closes them.
    stdout = tempfile.TemporaryFile()  # noqa: SIM115
    stderr = tempfile.TemporaryFile()  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", "spotify_elt", *arguments], env=child_env, cwd=cwd,
        stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr,
    )  # fmt: skip
    return Child(process, stdout, stderr)


def finish(child: Child, started: float, timeout: float = 60) -> Measured:
    """Wait for `child` (killed past `timeout` or `RUNAWAY_BYTES`) and read what it did."""
    process = child.process
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        try:
            runaway = psutil.Process(process.pid).memory_info().rss > RUNAWAY_BYTES
        except psutil.Error:
            runaway = False
        if runaway or time.monotonic() - started > timeout:
            process.kill()
            _, status, usage = os.wait4(process.pid, 0)
            break
        time.sleep(0.02)
    process.returncode = os.waitstatus_to_exitcode(status)
    streams = []
    for stream in (child.stdout, child.stderr):
        stream.seek(0)
        streams.append(stream.read().decode("utf-8", errors="replace"))
        stream.close()
    seconds = time.monotonic() - started
    return Measured(process.returncode, streams[0], streams[1], seconds, usage.ru_maxrss / 1024)


def run_measured(*arguments: str, env: dict[str, str], cwd: Path) -> Measured:
    started = time.monotonic()
    return finish(start(arguments, env, cwd), started)


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    """The children's temporary folder (TMPDIR): what an import leaves there is seen."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    return folder


@pytest.fixture
def child_env(env: dict[str, str], scratch: Path) -> dict[str, str]:
    return {**env, "TMPDIR": str(scratch)}


def leftovers(scratch: Path) -> list[Path]:
    return sorted(scratch.glob("spotify-elt-import-*"))


def warehouse_state(env: dict[str, str]) -> tuple[Any, ...]:
    return history_rows(env), batch_rows(env)


def with_earlier_import(env: dict[str, str], tmp_path: Path) -> tuple[Any, ...]:
    """A warehouse that holds an import already: the probes must leave it as it is."""
    earlier = write_json(tmp_path / "earlier" / "Streaming_History_Audio_2023.json",
                         extended_history(5, START.replace(year=2023)))  # fmt: skip
    result = run_measured("import", "--user", USER, str(earlier), env=env, cwd=tmp_path)
    assert result.returncode == 0, result.output
    state = warehouse_state(env)
    assert len(state[0]) == 5
    return state


def assert_one_line(result: Measured | CliResult, *fragments: str) -> None:
    assert_one_line_error(result, *fragments)  # type: ignore[arg-type]  # same fields
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert "\x1b" not in result.stderr, result.stderr


# ---- bounded: whatever the file, one line in seconds and flat memory -------------------------


def bomb_zip(tmp_path: Path) -> Path:
    """1 MB of zip whose one history member inflates to 1 GiB of blanks in an array: inside
    the import's 4 GiB limit, and valid JSON."""
    path = tmp_path / "bomb.zip"
    with (
        zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive,
        archive.open("Streaming_History_Audio_2024_0.json", "w", force_zip64=True) as member,
    ):
        member.write(b"[")
        blanks = b" " * (16 << 20)
        for _ in range(64):
            member.write(blanks)
        member.write(b"]")
    assert path.stat().st_size < 16 << 20
    return path


def dev_zero(tmp_path: Path) -> Path:
    link = tmp_path / "zero" / "Streaming_History_Audio_2024.json"
    link.parent.mkdir()
    link.symlink_to("/dev/zero")
    return link


def fifo_in_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "export"
    write_json(folder / "Streaming_History_Audio_2024_0.json", extended_history(5))
    os.mkfifo(folder / "Streaming_History_Audio_2024_1.json")
    return folder


def fifo_zip(tmp_path: Path) -> Path:
    path = tmp_path / "export.zip"
    os.mkfifo(path)
    return path


def huge_string(tmp_path: Path) -> Path:
    records = extended_history(3)
    records[1]["master_metadata_track_name"] = "x" * (15 << 20)
    return write_json(tmp_path / "export" / "Streaming_History_Audio_2024.json", records)


PROBES: dict[str, tuple[Callable[[Path], Path], tuple[str, ...]]] = {
    "1 GiB of blanks in a zip": (
        bomb_zip,
        ("bomb.zip/Streaming_History_Audio_2024_0.json, record 1:", "blank space"),
    ),
    "/dev/zero": (dev_zero, ("Streaming_History_Audio_2024.json", "is a device")),
    "a FIFO in a folder": (
        fifo_in_folder, ("export/Streaming_History_Audio_2024_1.json", "is a named pipe"),
    ),
    "a FIFO for a zip": (fifo_zip, ("export.zip", "is a named pipe")),
    "one 15 MB string": (
        huge_string,
        ("Streaming_History_Audio_2024.json, record 2:", "is larger than 1 MiB"),
    ),
}  # fmt: skip


@pytest.mark.parametrize("probe", list(PROBES))
def test_hostile_input_ends_in_one_line_fast_and_small(
    child_env: dict[str, str], tmp_path: Path, scratch: Path, probe: str
) -> None:
    make, fragments = PROBES[probe]
    before = with_earlier_import(child_env, tmp_path)
    hostile = make(tmp_path)
    # What is no file at all is refused with --skip-invalid too; a file that is damage, as the
    # blanks and the string are, is left out and counted then (see the test below).
    refused_always = probe in {"/dev/zero", "a FIFO in a folder", "a FIFO for a zip"}
    for extra in ((), ("--skip-invalid",)) if refused_always else ((),):
        result = run_measured("import", "--user", USER, *extra, str(hostile),
                              env=child_env, cwd=tmp_path)  # fmt: skip
        assert_one_line(result, *fragments)
        assert result.returncode == 1
        assert result.seconds < SECONDS, result.seconds
        assert result.peak_mb <= PEAK_MB, result.peak_mb
        assert warehouse_state(child_env) == before
        assert leftovers(scratch) == []


def test_a_huge_string_is_left_out_with_skip_invalid(
    child_env: dict[str, str], tmp_path: Path
) -> None:
    """With --skip-invalid a record too large is damage: the records before it land."""
    result = run_measured("import", "--user", USER, "--skip-invalid", str(huge_string(tmp_path)),
                          env=child_env, cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.output
    assert "is larger than 1 MiB" in result.stdout and "Imported 1 new play" in result.stdout
    assert result.peak_mb <= PEAK_MB


# ---- lone surrogates: one line, or left out and counted --------------------------------------


def _with_surrogate(tmp_path: Path, escape: str, *, cut: bool = False) -> Path:
    text = json.dumps(extended_history(6), indent=2).replace("Song 1", f"Song {escape}", 1)
    if cut:
        text = text[: len(text) * 3 // 4]
    path = tmp_path / "export" / "Streaming_History_Audio_2024.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("target", ["duckdb", "postgres"])
@pytest.mark.parametrize("escape", ["\\ud800", "\\udc00", "\\ud800\\u0041"])
def test_a_lone_surrogate_is_one_line_or_left_out(
    request: pytest.FixtureRequest, child_env: dict[str, str], tmp_path: Path, target: str,
    escape: str,
) -> None:  # fmt: skip
    env = (
        child_env
        if target == "duckdb"
        else {**child_env, **request.getfixturevalue("postgres_env")}
    )
    path = _with_surrogate(tmp_path, escape)
    strict = run_measured("import", "--user", USER, str(path), env=env, cwd=tmp_path)
    assert_one_line(strict, "Streaming_History_Audio_2024.json, record 2:", "lone UTF-16 surrogate")
    assert history_rows(env) == []

    skipped = run_measured("import", "--user", USER, "--skip-invalid", str(path),
                           env=env, cwd=tmp_path)  # fmt: skip
    assert skipped.returncode == 0, skipped.output
    assert "Imported 5 new plays" in skipped.stdout
    assert "Skipped 1 invalid: holds a lone UTF-16 surrogate" in skipped.stdout
    assert len(history_rows(env)) == 5


def test_a_lone_surrogate_in_a_file_cut_short(child_env: dict[str, str], tmp_path: Path) -> None:
    path = _with_surrogate(tmp_path, "\\ud800", cut=True)
    result = run_measured("import", "--user", USER, "--skip-invalid", str(path),
                          env=child_env, cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.output
    assert "Traceback" not in result.output
    assert "Skipped 1 invalid: holds a lone UTF-16 surrogate" in result.stdout
    assert "Skipped 1 invalid: file is cut short" in result.stdout
    assert len(history_rows(child_env)) == 3  # records 1, 3 and 4 of the four before the cut


# ---- names are printed escaped ---------------------------------------------------------------


def test_names_from_files_and_zips_are_printed_escaped(
    child_env: dict[str, str], tmp_path: Path
) -> None:
    archive = tmp_path / "ex\nport.zip"
    with zipfile.ZipFile(archive, "w") as writer:
        writer.writestr("Streaming_History_Audio_\x1b[31mred.json", '[{"ts": ')
    result = run_measured("import", "--user", USER, str(archive), env=child_env, cwd=tmp_path)
    assert_one_line(result, "ex\\nport.zip/Streaming_History_Audio_\\x1b[31mred.json, record 1")

    folder = tmp_path / "my\x1b]0;title\x07data"
    folder.mkdir()
    os.mkfifo(folder / "Streaming_History_Audio_\u2028.json")
    result = run_measured("import", "--user", USER, str(folder), env=child_env, cwd=tmp_path)
    assert_one_line(result, "my\\x1b]0;title\\x07data/Streaming_History_Audio_\\u2028.json")

    missing = run_measured("import", "--user", USER, str(tmp_path / "gone\r\n.zip"),
                           env=child_env, cwd=tmp_path)  # fmt: skip
    assert_one_line(missing, "gone\\r\\n.zip: no such file or folder")


# ---- links out of a folder -------------------------------------------------------------------


def test_links_out_of_an_import_folder_are_refused(
    child_env: dict[str, str], tmp_path: Path
) -> None:
    outside = write_json(tmp_path / "elsewhere" / "Streaming_History_Audio_2020.json",
                         extended_history(4, START.replace(year=2020)))  # fmt: skip
    folder = tmp_path / "export"
    write_json(folder / "Streaming_History_Audio_2024_0.json", extended_history(5))
    (folder / "notes.txt").symlink_to(tmp_path / "elsewhere" / "anything.txt")  # never read
    (folder / "Streaming_History_Audio_2024_1.json").symlink_to(
        folder / "Streaming_History_Audio_2024_0.json"  # inside: the same file, once
    )
    inside = run_measured("import", "--user", USER, str(folder), env=child_env, cwd=tmp_path)
    assert inside.returncode == 0, inside.output
    assert "Imported 5 new plays" in inside.stdout
    before = warehouse_state(child_env)

    link = folder / "Streaming_History_Audio_2020.json"
    link.symlink_to(outside)
    result = run_measured("import", "--user", USER, str(folder), env=child_env, cwd=tmp_path)
    assert_one_line(result, "export/Streaming_History_Audio_2020.json: a link to", "outside")
    link.unlink()
    (folder / "more").symlink_to(outside.parent, target_is_directory=True)
    result = run_measured("import", "--user", USER, str(folder), env=child_env, cwd=tmp_path)
    assert_one_line(result, "export/more: a link to", "outside")
    assert warehouse_state(child_env) == before


# ---- a DuckDB file cut short -----------------------------------------------------------------


def test_a_duckdb_warehouse_cut_short_is_refused_before_anything_is_written(
    child_env: dict[str, str], tmp_path: Path
) -> None:
    first = write_json(tmp_path / "first" / "Streaming_History_Audio_2024.json",
                       extended_history(30_000))  # fmt: skip
    result = run_measured("import", "--user", USER, str(first), env=child_env, cwd=tmp_path)
    assert result.returncode == 0, result.output
    warehouse = Path(child_env["SPOTIFY_ELT_DUCKDB_PATH"])
    whole = warehouse.stat().st_size
    assert whole > 4 * 262_144  # blocks beyond the ones an import reads
    cut = whole - 262_144
    os.truncate(warehouse, cut)
    other = write_json(tmp_path / "other" / "Streaming_History_Audio_2025.json",
                       extended_history(10, START.replace(year=2025)))  # fmt: skip
    for user in ("listener-2", USER):
        refused = run_measured("import", "--user", user, str(other), env=child_env, cwd=tmp_path)
        assert_one_line(refused, f"DuckDB file {warehouse} is cut short", "nothing was written")
        assert warehouse.stat().st_size == cut
        assert not Path(f"{warehouse}.wal").exists() or Path(f"{warehouse}.wal").stat().st_size == 0


# ---- hard stops: nothing private outlives a run, nothing of it lands -------------------------


@pytest.fixture(scope="module")
def large_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An export big enough to stop halfway: 8 files of 30,000 records (about 200 MB)."""
    path = tmp_path_factory.mktemp("large") / "my_spotify_data.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for number in range(8):
            records = extended_history(30_000, START.replace(year=2010 + number), number * 30_000)
            archive.writestr(
                f"Spotify Extended Streaming History/Streaming_History_Audio_{number}.json",
                json.dumps(records, indent=2),
            )
    return path


def _wait_for(condition: Callable[[], bool], child: Child) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        assert child.poll() is None, "the import ended before the moment to stop it"
        assert time.monotonic() < deadline, "the moment to stop the import never came"
        time.sleep(0.01)


def _members(scratch: Path) -> list[Path]:
    return sorted(scratch.glob("spotify-elt-import-*/member-*.json"))


def _stop_import(
    large_zip: Path, env: dict[str, str], tmp_path: Path, scratch: Path, how: signal.Signals,
    stage: str,
) -> Measured:  # fmt: skip
    started = time.monotonic()
    child = start(("import", "--user", USER, str(large_zip)), env, tmp_path)
    if stage == "extracting":
        # Some of a member written out: private fields on disk.
        _wait_for(lambda: any(m.stat().st_size > 100_000 for m in _members(scratch)), child)
        (folder,) = leftovers(scratch)
        assert folder.stat().st_mode & 0o777 == 0o700
        assert IP_ADDRESS in _members(scratch)[0].read_text(errors="replace")[:10_000]
    else:  # landing: every member copied, the records being read
        _wait_for(lambda: len(_members(scratch)) == 8, child)
        time.sleep(0.5)
    child.process.send_signal(how)
    return finish(child, started)


@pytest.mark.parametrize("stage", ["extracting", "landing"])
@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_stopped_import_ends_in_one_line_and_leaves_nothing(
    large_zip: Path, child_env: dict[str, str], tmp_path: Path, scratch: Path,
    how: signal.Signals, stage: str,
) -> None:  # fmt: skip
    before = with_earlier_import(child_env, tmp_path)
    result = _stop_import(large_zip, child_env, tmp_path, scratch, how, stage)
    assert result.returncode == 1, result.output
    assert result.stderr.strip() == INTERRUPTED, result.stderr
    assert leftovers(scratch) == []
    assert warehouse_state(child_env) == before


def test_an_import_stopped_while_landing_on_postgres(
    large_zip: Path, child_env: dict[str, str], postgres_env: dict[str, str], tmp_path: Path,
    scratch: Path,
) -> None:  # fmt: skip
    env = {**child_env, **postgres_env}
    before = with_earlier_import(env, tmp_path)
    result = _stop_import(large_zip, env, tmp_path, scratch, signal.SIGINT, "landing")
    assert result.returncode == 1, result.output
    assert result.stderr.strip() == INTERRUPTED, result.stderr
    assert leftovers(scratch) == []
    assert warehouse_state(env) == before


def test_a_killed_import_leaves_nothing_after_the_next_command(
    large_zip: Path, child_env: dict[str, str], tmp_path: Path, scratch: Path
) -> None:
    before = with_earlier_import(child_env, tmp_path)
    result = _stop_import(large_zip, child_env, tmp_path, scratch, signal.SIGKILL, "extracting")
    assert result.returncode == -signal.SIGKILL
    assert leftovers(scratch), "kill -9 runs no clean-up: the files are there until swept"
    assert warehouse_state(child_env) == before

    after = run_measured("import", "--user", USER, str(tmp_path / "missing.zip"),
                         env=child_env, cwd=tmp_path)  # fmt: skip
    assert_one_line(after, "no such file or folder")
    assert leftovers(scratch) == []
    assert warehouse_state(child_env) == before


def test_a_killed_import_while_landing_lands_nothing(
    large_zip: Path, child_env: dict[str, str], tmp_path: Path, scratch: Path
) -> None:
    before = with_earlier_import(child_env, tmp_path)
    result = _stop_import(large_zip, child_env, tmp_path, scratch, signal.SIGKILL, "landing")
    assert result.returncode == -signal.SIGKILL
    assert warehouse_state(child_env) == before  # the open transaction died with it
    again = run_measured("import", "--user", USER, str(tmp_path / "earlier"),
                         env=child_env, cwd=tmp_path)  # fmt: skip
    assert again.returncode == 0, again.output
    assert leftovers(scratch) == []


@pytest.fixture
def dead_process() -> Iterator[tuple[int, int]]:
    child = subprocess.Popen(["sleep", "0.2"])
    started = int(psutil.Process(child.pid).create_time())
    child.wait()
    yield child.pid, started


def test_the_sweep_takes_only_folders_of_dead_runs(
    child_env: dict[str, str], tmp_path: Path, scratch: Path, dead_process: tuple[int, int]
) -> None:
    def folder(name: str, age: float = 0) -> Path:
        path = scratch / name
        path.mkdir()
        (path / "member-00000.json").write_text(f'[{{"ip_addr": "{IP_ADDRESS}"}}]')
        if age:
            os.utime(path, (time.time() - age, time.time() - age))
        return path

    me = os.getpid()
    my_start = int(psutil.Process(me).create_time())
    live = folder(f"spotify-elt-import-{me}-{my_start}-abc123")  # a concurrent import
    dead = folder(f"spotify-elt-import-{dead_process[0]}-{dead_process[1]}-def456")
    reused = folder(f"spotify-elt-import-{me}-{my_start - 1000}-ghi789")  # pid taken again
    old_unowned = folder("spotify-elt-import-x1y2z3", age=7200)  # an earlier version's
    new_unowned = folder("spotify-elt-import-q8r9s0")
    # A live run's lock outweighs its name: a wall clock stepped since it started, or another
    # container's process ids, must not get its folder taken.
    locked = folder(f"spotify-elt-import-{dead_process[0]}-{dead_process[1]}-jkl012")
    lock = os.open(locked / ".owner", os.O_CREAT | os.O_RDWR, 0o600)
    fcntl.flock(lock, fcntl.LOCK_EX)
    # A dead run's lock file is free: its folder goes, whatever its name says.
    unlocked = folder(f"spotify-elt-import-{me}-{my_start}-mno345")
    (unlocked / ".owner").touch()
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "keep.txt").write_text("mine")
    (scratch / "spotify-elt-import-link").symlink_to(precious, target_is_directory=True)

    result = run_measured("import", "--user", USER, str(tmp_path / "missing.zip"),
                          env=child_env, cwd=tmp_path)  # fmt: skip
    assert_one_line(result, "no such file or folder")
    os.close(lock)
    assert live.exists() and new_unowned.exists() and locked.exists()
    assert not dead.exists() and not reused.exists() and not old_unowned.exists()
    assert not unlocked.exists()
    assert (precious / "keep.txt").read_text() == "mine"
