"""Benchmark the Airflow DAG: parse time and a whole scheduled run on the demo data (not a test).

Three variants of `dags/spotify_elt_dag.py` run one after the other, each from a dags folder of its
own in a temporary directory: copies of `spotify_elt_dag.py` and `spotify_elt_config.py` (their
`PROJECT_ROOT` line pointed back at this repository, since it resolves from the file's place),
so all three render the same dbt project:

- ``ours``: the files as they are (WATCHER execution: one `dbt build` in a producer task, and a
  task per model and per model's tests that reads its result once the build is over);
- ``ours-local``: the same with `EXECUTION_MODE = ExecutionMode.LOCAL` (dbt run or test once
  per task, one task at a time on DuckDB), the measurement behind choosing WATCHER;
- ``cosmos-defaults``: `cosmos_args()` redefined with Cosmos's defaults where they are about
  speed: no manifest (the automatic load mode then runs `dbt ls` while the DAG is parsed, with
  Cosmos's dbt ls cache in an Airflow Variable), dbt in a subprocess (`InvocationMode.
  SUBPROCESS`, for rendering and running), dbt deps allowed, LOCAL execution. Ours stay where
  they are about what the run does: tests after each model, tests of several models detached,
  the same source rendering, the same profile, and the callback that publishes
  SPOTIFY_ELT_* for dbt (`append_env`, on by default for local operators, passes it on to the
  dbt subprocess; the run succeeding on the benchmark's warehouse shows it arrives).

The script then:

1. runs `dbt parse` once (the project's `parse_dbt_project`, as `spotify-elt airflow` does), so
   the manifest and dbt's partial-parse file are in step with the models;
2. loads the bundled demo data (`load_sample_data`, `load_sample_exports`) into a template
   DuckDB file with the project's own code, without dbt: raw tables only, empty marts;
3. starts the Spotify stand-in (`tests/support/stand_in.py`) in this process with the three demo
   users, authorised by token files in a temporary SPOTIFY_ELT_TOKEN_DIR, and 5 new plays each;
4. for each variant: a fresh AIRFLOW_HOME (`airflow db migrate`, not timed); the parse time of
   the DAG file in ``--parse-repeats`` fresh processes, as the DAG processor parses it (Airflow
   and the file's Airflow modules imported first; the figure is the DagBag's own duration for
   the file), checking there is no import error. The first parse of cosmos-defaults runs
   `dbt ls` and fills Cosmos's cache; the median is what the DAG processor pays from then on.
   Then the template is copied to the run's warehouse, `dbt parse` run in `dbt_project/`
   (dbt's files as a previous run's `docs` task leaves them), `airflow standalone` started with
   the project's `airflow_environment()` (a free port), the DAG unpaused and triggered, and the
   run's duration taken from its `dag_run` row (start to end, as the scheduler recorded it).
   The run must succeed and fill `marts.fct_plays` with the same number of rows in every
   variant, the 15 new plays included. Standalone is stopped (the project's `local_airflow.stop`)
   before the next variant;
5. prints a Markdown table (median and first parse seconds, the DAG processor's own figure for
   its last parse during the run, tasks, run seconds, ratios to ``ours``), the machine, and per
   variant where the time went: the sum of the task instances' durations and the slowest ones
   (from the `task_instance` table), and how many tasks had dbt parse the project from scratch.

Settings that differ from a user's, all to make a single run measurable: the schedule is
29 February at midnight (no scheduled run can start beside the triggered one), task retries
are 0 (a failure fails the run at once), and Cosmos's cache directory is per variant. The DAG's
`docs` task runs dbt in `dbt_project/` itself and so writes its `target/` and `logs/` (git
ignores both), exactly as a user's run does.

Run from the repository root (about ten minutes on two cores; a run that has not finished
after ``--run-timeout`` seconds counts as failed):

    .venv/bin/python -m benchmarks.dag
    .venv/bin/python -m benchmarks.dag --variants ours,ours-local --parse-repeats 3 --keep
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from benchmarks.common import machine_description, positive, problems_section, progress
from ingestion.config import DBT_PROJECT_DIR, PROJECT_ROOT, Settings
from ingestion.spotify import SCOPE, TokenFile
from ingestion.warehouse import Warehouse
from spotify_elt.demo import SAMPLE_TIMEZONES, load_sample_data, load_sample_exports
from spotify_elt.scheduling.local_airflow import (
    DAG_ID,
    DAGS_FOLDER,
    airflow_environment,
    password,
    stop,
    wait_until_ready,
)
from tests.support.stand_in import SpotifyStandIn
from tests.support.web_api import play_item

VARIANTS = ("ours", "ours-local", "cosmos-defaults")
VENV_BIN = Path(sys.executable).parent
DBT = VENV_BIN / "dbt"
AIRFLOW = VENV_BIN / "airflow"

CLIENT_ID = "benchmark-client-id"
CLIENT_SECRET = "benchmark-client-secret-3e8a1f"  # noqa: S105 - the stand-in's, loopback only
NEW_PLAYS_PER_USER = 5
# Never before 2028: no scheduled run starts beside the one the benchmark triggers.
SCHEDULE = "0 0 29 2 *"

NO_PARTIAL_PARSE = "Unable to do partial parsing"

READY_TIMEOUT = 180.0  # standalone's API server answering
REGISTERED_TIMEOUT = 180.0  # the DAG processor having stored the DAG
DEFAULT_RUN_TIMEOUT = 600.0
PARSE_TIMEOUT = 300.0
SLOWEST_TASKS = 5
OUTPUT_TAIL_CHARACTERS = 3000

PARSE_MARKER = "BENCHMARK-PARSE "
# One parse of the DAG file, as the DAG processor does it (airflow/dag_processing/processor.py):
# the file's Airflow imports done beforehand, then a BundleDagBag of the one file.
PARSE_PROGRAM = """
import importlib, json, sys, time
from pathlib import Path

from airflow.dag_processing.dagbag import BundleDagBag
from airflow.utils.file import iter_airflow_imports

folder = Path(sys.argv[1])
path = folder / sys.argv[2]
for module in iter_airflow_imports(str(path)):
    try:
        importlib.import_module(module)
    except ImportError:
        pass  # a name imported from a module, not a module: the DAG processor skips it too
started = time.perf_counter()
bag = BundleDagBag(dag_folder=str(path), bundle_path=folder, bundle_name="dags-folder",
                   load_op_links=False)
wall = time.perf_counter() - started
stats = bag.dagbag_stats
print(%r + json.dumps({
    "seconds": stats[0].duration.total_seconds() if stats else wall,
    "tasks": sum(stat.task_num for stat in stats),
    "dags": sorted(bag.dags),
    "errors": bag.import_errors,
}), flush=True)
""" % (PARSE_MARKER,)  # noqa: UP031 - the program's own braces stay as they are

# Appended to the copied settings module of the cosmos-defaults variant. The previous
# cosmos_args() supplies the profile and the callback, so they stay ours whatever they become.
COSMOS_DEFAULTS = """

# ---- Appended by benchmarks/dag.py (variant cosmos-defaults) -----------------------------------
# Cosmos's defaults where they are about speed: no manifest (automatic load mode: `dbt ls` while
# the DAG is parsed) and dbt in a subprocess. Ours where they are about correctness.
from cosmos import ExecutionConfig as _ExecutionConfig
from cosmos import ProjectConfig as _ProjectConfig
from cosmos import RenderConfig as _RenderConfig
from cosmos.constants import ExecutionMode as _ExecutionMode
from cosmos.constants import InvocationMode as _InvocationMode
from cosmos.constants import TestBehavior as _TestBehavior

_our_cosmos_args = cosmos_args


def cosmos_args() -> dict[str, Any]:
    ours = _our_cosmos_args()
    dbt = @DBT@
    return {
        "project_config": _ProjectConfig(dbt_project_path=DBT_PROJECT_DIR),
        "profile_config": ours["profile_config"],
        "execution_config": _ExecutionConfig(
            execution_mode=_ExecutionMode.LOCAL,
            invocation_mode=_InvocationMode.SUBPROCESS,
            dbt_executable_path=dbt,
        ),
        "render_config": _RenderConfig(
            test_behavior=_TestBehavior.AFTER_EACH,
            should_detach_multiple_parents_tests=True,
            # The same as ours (sources are not tasks).
            source_rendering_behavior=ours["render_config"].source_rendering_behavior,
            invocation_mode=_InvocationMode.SUBPROCESS,
            dbt_executable_path=dbt,
        ),
        "operator_args": {"on_execute_callback": ours["operator_args"]["on_execute_callback"]},
    }


"""

RAW_PLAYS = "select count(*) from raw.spotify_recently_played"
MART_PLAYS = "select count(*) from marts.fct_plays"
NEW_MART_PLAYS = "select count(*) from marts.fct_plays where played_at >= ?"


# ---- results ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Parse:
    seconds: float
    tasks: int
    dags: tuple[str, ...]
    errors: dict[str, str]


@dataclass(frozen=True)
class TaskTiming:
    task_id: str
    map_index: int
    state: str
    seconds: float

    @property
    def name(self) -> str:
        return f"{self.task_id}[{self.map_index}]" if self.map_index >= 0 else self.task_id


@dataclass
class VariantResult:
    name: str
    execution_mode: str
    directory: Path
    parses: list[Parse] = field(default_factory=list)
    migrate_seconds: float = 0.0
    load_average: float = 0.0  # the machine's, over the minute before the run was triggered
    ready_seconds: float = 0.0
    run_state: str = "not run"
    processor_parse_seconds: float | None = None  # the DAG processor's own, during the run
    full_dbt_parses: int = 0  # task logs in which dbt could not use its partial-parse file
    run_seconds: float | None = None
    queued_seconds: float | None = None
    tasks: list[TaskTiming] = field(default_factory=list)
    raw_plays: int | None = None
    mart_plays: int | None = None
    new_mart_plays: int | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def parse_median(self) -> float | None:
        return statistics.median(parse.seconds for parse in self.parses) if self.parses else None

    @property
    def first_parse(self) -> float | None:
        """The first parse of a fresh AIRFLOW_HOME: Cosmos's dbt ls cache still empty."""
        return self.parses[0].seconds if self.parses else None


@dataclass(frozen=True)
class Fixture:
    """What every variant shares: the demo warehouse, the tokens and the stand-in's address."""

    directory: Path
    template: Path
    warehouse: Path
    token_dir: Path
    api_url: str
    accounts_url: str
    raw_plays: int
    first_new_play: datetime  # naive UTC, as the marts store it
    template_seconds: float


# ---- the variants' dags folders -------------------------------------------------------------


def replace_line(text: str, prefix: str, line: str, where: str) -> str:
    """`text` with its one line starting with `prefix` replaced by `line`."""
    pattern = re.compile(rf"^{re.escape(prefix)}.*$", re.MULTILINE)
    replaced, count = pattern.subn(line.replace("\\", "\\\\"), text)
    if count != 1:
        raise SystemExit(f"expected one line starting {prefix!r} in {where}, found {count}")
    return replaced


def execution_mode_of(config: str) -> str:
    match = re.search(r"^EXECUTION_MODE = ExecutionMode\.(\w+)", config, re.MULTILINE)
    return match.group(1) if match else "?"


def write_dags_folder(variant: str, folder: Path) -> str:
    """The variant's copies of the DAG and its settings; returns its execution mode."""
    folder.mkdir(parents=True)
    config_path = DAGS_FOLDER / "spotify_elt_config.py"
    config = config_path.read_text(encoding="utf-8")
    config = replace_line(
        config, "PROJECT_ROOT = ", f"PROJECT_ROOT = Path({str(PROJECT_ROOT)!r})", str(config_path)
    )
    if variant == "ours-local":
        config = replace_line(
            config, "EXECUTION_MODE = ", "EXECUTION_MODE = ExecutionMode.LOCAL", str(config_path)
        )
    elif variant == "cosmos-defaults":
        # LOCAL execution; dag_args() reads the constant (one dbt task at a time on DuckDB).
        config = replace_line(
            config, "EXECUTION_MODE = ", "EXECUTION_MODE = ExecutionMode.LOCAL", str(config_path)
        )
        config += COSMOS_DEFAULTS.replace("@DBT@", repr(str(DBT)))
    (folder / "spotify_elt_config.py").write_text(config, encoding="utf-8")
    shutil.copyfile(DAGS_FOLDER / "spotify_elt_dag.py", folder / "spotify_elt_dag.py")
    ignore = DAGS_FOLDER / ".airflowignore"
    if ignore.exists():  # keeps the settings module from being parsed as a DAG file
        shutil.copyfile(ignore, folder / ".airflowignore")
    return execution_mode_of(config)


# ---- the demo warehouse, the tokens and the stand-in ----------------------------------------


def demo_settings(database: Path, token_dir: Path) -> Settings:
    return Settings.model_validate(
        {
            "SPOTIFY_ELT_TARGET": "duckdb",
            "SPOTIFY_ELT_DUCKDB_PATH": str(database),
            "SPOTIFY_ELT_TOKEN_DIR": str(token_dir),
            "SPOTIFY_ELT_USER_TIMEZONES": dict(SAMPLE_TIMEZONES),
        }
    )


def build_template(template: Path, token_dir: Path) -> int:
    """The demo's raw layer, loaded by the demo's own code, and no dbt: empty marts."""
    settings = demo_settings(template, token_dir)
    with Warehouse(settings) as warehouse:
        load_sample_data(warehouse)
        load_sample_exports(settings, warehouse)
    with duckdb.connect(str(template)) as connection:
        connection.execute("checkpoint")
        return scalar(connection, RAW_PLAYS)


def scalar(connection: duckdb.DuckDBPyConnection, query: str, *parameters: Any) -> int:
    row = connection.execute(query, list(parameters)).fetchone()
    assert row is not None
    return int(row[0])


def authorise_demo_users(stand_in: SpotifyStandIn, token_dir: Path) -> datetime:
    """The three demo users, a token file each, and their new plays; returns the first play."""
    first = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    for number, user_id in enumerate(sorted(SAMPLE_TIMEZONES)):
        refresh_token = f"benchmark-refresh-{user_id}-9c41"
        stand_in.add_user(user_id, user_id.removeprefix("demo-").title(), refresh_token)
        TokenFile(token_dir / f"{user_id}.json").save_token_to_cache(
            {"access_token": "", "token_type": "Bearer", "expires_in": 0, "expires_at": 0,
             "refresh_token": refresh_token, "scope": SCOPE}
        )  # fmt: skip
        plays = [
            play_item(
                f"benchmark-{user_id}-track{n}",
                first + timedelta(minutes=4 * n, seconds=number),
                name=f"Benchmark song {n}",
            )
            for n in range(NEW_PLAYS_PER_USER)
        ]
        stand_in.add_plays(user_id, plays)
    return first.replace(tzinfo=None)


def spotify_environment(fixture: Fixture) -> dict[str, str]:
    return {
        "SPOTIFY_CLIENT_ID": CLIENT_ID,
        "SPOTIFY_CLIENT_SECRET": CLIENT_SECRET,
        "SPOTIFY_REFRESH_TOKEN": "",  # the token files, not one headless user
        "SPOTIFY_API_URL": fixture.api_url,
        "SPOTIFY_ACCOUNTS_URL": fixture.accounts_url,
        "SPOTIFY_ELT_TARGET": "duckdb",
        "SPOTIFY_ELT_DUCKDB_PATH": str(fixture.warehouse),
        "SPOTIFY_ELT_TOKEN_DIR": str(fixture.token_dir),
        "SPOTIFY_ELT_TIMEZONE": "UTC",
        "SPOTIFY_ELT_USER_TIMEZONES": ",".join(
            f"{user}={zone}" for user, zone in sorted(SAMPLE_TIMEZONES.items())
        ),
        "SPOTIFY_ELT_SCHEDULE": SCHEDULE,
        "SPOTIFY_ELT_TASK_RETRIES": "0",
    }


def clean_environment() -> dict[str, str]:
    """This process's environment without anything that configures Airflow, dbt or us."""
    prefixes = ("AIRFLOW", "SPOTIFY", "DBT_")
    return {name: value for name, value in os.environ.items() if not name.startswith(prefixes)}


def with_venv_path(environment: dict[str, str]) -> dict[str, str]:
    # standalone starts `airflow scheduler` and the others by name, and Cosmos finds dbt, on PATH.
    environment["PATH"] = os.pathsep.join([str(VENV_BIN), environment.get("PATH", "")])
    return environment


def parse_dbt_project(fixture: Fixture) -> None:
    """`dbt parse` with the runs' settings: the manifest and partial-parse file in step."""
    environment = with_venv_path({**clean_environment(), **spotify_environment(fixture)})
    program = (
        "from ingestion.config import load_settings\n"
        "from spotify_elt.scheduling.local_airflow import parse_dbt_project\n"
        "parse_dbt_project(load_settings())\n"
    )
    run_checked([sys.executable, "-c", program], environment, fixture.directory, "dbt parse")


def run_checked(
    command: Sequence[str], environment: dict[str, str], cwd: Path, what: str, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    completed = subprocess.run(
        list(command), env=environment, cwd=cwd, capture_output=True, text=True,
        timeout=timeout, check=False,
    )  # fmt: skip
    if completed.returncode != 0:
        output = (completed.stdout + completed.stderr)[-OUTPUT_TAIL_CHARACTERS:]
        raise BenchmarkError(f"{what} failed with exit status {completed.returncode}:\n{output}")
    return completed


class BenchmarkError(Exception):
    """One variant could not be measured; the message says why."""


# ---- Airflow ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def variant_environment(
    fixture: Fixture, directory: Path, home: Path, port: int, dags_folder: Path
) -> dict[str, str]:
    environment = clean_environment()
    environment.update(airflow_environment(home, port))
    environment["AIRFLOW__CORE__DAGS_FOLDER"] = str(dags_folder)
    # Cosmos keeps dbt's partial-parse file here between tasks: each variant starts alike.
    environment["AIRFLOW__COSMOS__CACHE_DIR"] = str(directory / "cosmos-cache")
    environment.update(spotify_environment(fixture))
    return with_venv_path(environment)


def measure_parse(environment: dict[str, str], dags_folder: Path, cwd: Path) -> Parse:
    command = [sys.executable, "-c", PARSE_PROGRAM, str(dags_folder), "spotify_elt_dag.py"]
    completed = run_checked(command, environment, cwd, "parsing the DAG", PARSE_TIMEOUT)
    for line in completed.stdout.splitlines():
        if line.startswith(PARSE_MARKER):
            found: dict[str, Any] = json.loads(line.removeprefix(PARSE_MARKER))
            return Parse(
                seconds=float(found["seconds"]),
                tasks=int(found["tasks"]),
                dags=tuple(str(dag) for dag in found["dags"]),
                errors={str(key): str(value) for key, value in found["errors"].items()},
            )
    raise BenchmarkError(f"the parse printed no result:\n{completed.stdout[-3000:]}")


def query(home: Path, sql: str, *parameters: Any) -> list[tuple[Any, ...]]:
    """Read Airflow's SQLite database while Airflow runs (retrying while it is locked)."""
    deadline = time.monotonic() + 30
    while True:
        try:
            with sqlite3.connect(f"file:{home / 'airflow.db'}?mode=ro", uri=True, timeout=10) as db:
                return list(db.execute(sql, parameters).fetchall())
        except sqlite3.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def utc(value: object) -> datetime | None:
    if value is None:
        return None
    moment = datetime.fromisoformat(str(value))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def wait_for_registration(home: Path, process: subprocess.Popen[bytes]) -> None:
    """Wait until the DAG processor has stored the DAG (or recorded an import error)."""
    deadline = time.monotonic() + REGISTERED_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchmarkError(f"airflow standalone exited with status {process.returncode}")
        if query(home, "select count(*) from serialized_dag where dag_id = ?", DAG_ID)[0][0]:
            return
        errors = query(home, "select filename, stacktrace from import_error")
        if errors:
            raise BenchmarkError(
                f"the DAG processor could not import {errors[0][0]}:\n{errors[0][1]}"
            )
        time.sleep(1)
    raise BenchmarkError(f"the DAG processor did not store {DAG_ID} in {REGISTERED_TIMEOUT:.0f} s")


def wait_for_run(
    home: Path, process: subprocess.Popen[bytes], run_id: str, timeout: float
) -> tuple[str, datetime | None, datetime | None, datetime | None]:
    """(state, queued_at, start_date, end_date) of the run once it has finished."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchmarkError(f"airflow standalone exited with status {process.returncode}")
        rows = query(
            home,
            "select state, queued_at, start_date, end_date from dag_run"
            " where dag_id = ? and run_id = ?",
            DAG_ID,
            run_id,
        )
        if rows and rows[0][0] in ("success", "failed") and rows[0][3] is not None:
            state, queued, started, ended = rows[0]
            return str(state), utc(queued), utc(started), utc(ended)
        time.sleep(1)
    raise BenchmarkError(f"the run did not finish within {timeout:.0f} s")


def task_timings(home: Path, run_id: str) -> list[TaskTiming]:
    rows = query(
        home,
        "select task_id, map_index, state, start_date, end_date from task_instance"
        " where dag_id = ? and run_id = ?",
        DAG_ID,
        run_id,
    )
    timings = []
    for task_id, map_index, state, start_date, end_date in rows:
        started, ended = utc(start_date), utc(end_date)
        if started and not ended and state == "running":
            ended = datetime.now(UTC)  # still running when the benchmark gave up on the run
        seconds = (ended - started).total_seconds() if started and ended else 0.0
        timings.append(TaskTiming(str(task_id), int(map_index), str(state), seconds))
    return sorted(timings, key=lambda timing: timing.seconds, reverse=True)


def leave_dbt_state_as_a_run_does(environment: dict[str, str], directory: Path) -> None:
    """`dbt parse` into `dbt_project/target/`, as the `docs` task of a previous run leaves it.

    In steady state the last dbt call before a run is the previous run's `docs` task: its
    partial-parse file is the newest, and so the one the first Cosmos task copies (Cosmos passes
    `--profile`, which dbt hashes, so that task parses from scratch) and the one `docs` reuses.
    Without this the variants would start from whatever the one before them left.
    """
    program = (
        "from ingestion.config import load_settings\n"
        "from spotify_elt.transform import run_dbt\n"
        "run_dbt(load_settings(), 'parse')\n"
    )
    run_checked([sys.executable, "-c", program], environment, directory, "dbt parse")


def logs_containing(folder: Path, text: str) -> int:
    needle = text.encode()
    return sum(
        1 for path in folder.rglob("*.log") if path.is_file() and needle in path.read_bytes()
    )


def run_variant(
    variant: str, fixture: Fixture, parse_repeats: int, run_timeout: float
) -> VariantResult:
    directory = fixture.directory / variant
    dags_folder = directory / "dags"
    home = directory / "airflow-home"
    mode = write_dags_folder(variant, dags_folder)
    result = VariantResult(variant, mode, directory)
    port = free_port()
    environment = variant_environment(fixture, directory, home, port, dags_folder)

    progress(f"{variant}: airflow db migrate")
    started = time.perf_counter()
    run_checked([str(AIRFLOW), "db", "migrate"], environment, directory, "airflow db migrate")
    result.migrate_seconds = time.perf_counter() - started

    for number in range(parse_repeats):
        parse = measure_parse(environment, dags_folder, directory)
        result.parses.append(parse)
        progress(f"{variant}: parse {number + 1}/{parse_repeats}: {parse.seconds:.2f} s")
        if parse.errors or parse.dags != (DAG_ID,):
            raise BenchmarkError(f"the DAG did not load: {parse.dags}, errors {parse.errors}")

    shutil.copyfile(fixture.template, fixture.warehouse)
    leave_dbt_state_as_a_run_does(environment, directory)
    password(home)
    log_path = directory / "standalone.log"
    progress(f"{variant}: airflow standalone on port {port} (log {log_path})")
    with log_path.open("ab") as log:
        started = time.perf_counter()
        process = subprocess.Popen(
            [str(AIRFLOW), "standalone"], env=environment, cwd=directory, stdout=log,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        run_id = f"benchmark__{variant}"
        try:
            wait_until_ready(environment["AIRFLOW__API__BASE_URL"], process, READY_TIMEOUT)
            wait_for_registration(home, process)
            result.ready_seconds = time.perf_counter() - started
            result.load_average = os.getloadavg()[0]
            run_checked(
                [str(AIRFLOW), "dags", "unpause", DAG_ID], environment, directory, "unpause"
            )
            run_checked(
                [str(AIRFLOW), "dags", "trigger", DAG_ID, "--run-id", run_id],
                environment, directory, "trigger",
            )  # fmt: skip
            progress(f"{variant}: triggered {run_id}; waiting for it to finish")
            state, queued, run_start, run_end = wait_for_run(home, process, run_id, run_timeout)
            result.run_state = state
            if run_start and run_end:
                result.run_seconds = (run_end - run_start).total_seconds()
            if queued and run_start:
                result.queued_seconds = (run_start - queued).total_seconds()
        except BenchmarkError as error:
            result.run_state = "error"
            result.problems.append(f"{variant}: {error}")
        finally:
            try:  # what the tasks got to, before stopping Airflow, even in a failed run
                result.tasks = task_timings(home, run_id)
                rows = query(home, "select last_parse_duration from dag where dag_id = ?", DAG_ID)
                if rows and rows[0][0] is not None:
                    result.processor_parse_seconds = float(rows[0][0])
            except sqlite3.Error as error:
                result.problems.append(f"{variant}: cannot read Airflow's database: {error}")
            finally:
                stop(process)
    result.full_dbt_parses = logs_containing(home / "logs" / f"dag_id={DAG_ID}", NO_PARTIAL_PARSE)
    seconds = f"{result.run_seconds:.1f} s" if result.run_seconds is not None else "?"
    progress(f"{variant}: run {result.run_state} in {seconds}")
    if result.run_state != "success":
        failed = [f"{task.name} ({task.state})" for task in result.tasks if task.state != "success"]
        result.problems.append(
            f"{variant}: the run ended {result.run_state}; tasks not successful: "
            f"{', '.join(failed) or 'none'} (logs in {home / 'logs'})"
        )
    check_warehouse(result, fixture)
    return result


def check_warehouse(result: VariantResult, fixture: Fixture) -> None:
    """The extract landed the new plays and the marts hold them: the run did its work."""
    try:
        with duckdb.connect(str(fixture.warehouse), read_only=True) as connection:
            result.raw_plays = scalar(connection, RAW_PLAYS)
            result.mart_plays = scalar(connection, MART_PLAYS)
            result.new_mart_plays = scalar(connection, NEW_MART_PLAYS, fixture.first_new_play)
    except duckdb.Error as error:
        result.problems.append(f"{result.name}: cannot read the marts: {error}")
        return
    expected_new = NEW_PLAYS_PER_USER * len(SAMPLE_TIMEZONES)
    if result.raw_plays != fixture.raw_plays + expected_new:
        result.problems.append(
            f"{result.name}: raw.spotify_recently_played has {result.raw_plays} rows,"
            f" expected {fixture.raw_plays} + {expected_new}"
        )
    if result.new_mart_plays != expected_new:
        result.problems.append(
            f"{result.name}: marts.fct_plays has {result.new_mart_plays} of the"
            f" {expected_new} new plays"
        )


# ---- the report --------------------------------------------------------------------------


def seconds(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def ratio(numerator: float | None, denominator: float | None) -> str:
    if numerator is None or not denominator:
        return "n/a"
    return f"{numerator / denominator:.2f}\N{MULTIPLICATION SIGN}"


def all_problems(results: Sequence[VariantResult]) -> list[str]:
    problems = [problem for result in results for problem in result.problems]
    counts = {result.name: result.mart_plays for result in results if result.mart_plays is not None}
    if len(set(counts.values())) > 1:
        problems.append(f"the variants disagree on marts.fct_plays rows: {counts}")
    return problems


def report(results: Sequence[VariantResult], fixture: Fixture, parse_repeats: int) -> str:
    lines = [
        "| variant | execution | parse, median (s) | first parse (s) | DAG processor's parse (s)"
        " | tasks | run (s) | run |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for result in results:
        tasks = str(result.parses[0].tasks) if result.parses else "n/a"
        lines.append(
            f"| {result.name} | {result.execution_mode} | {seconds(result.parse_median)}"
            f" | {seconds(result.first_parse)} | {seconds(result.processor_parse_seconds)}"
            f" | {tasks} | {seconds(result.run_seconds, 1)} | {result.run_state} |"
        )
    lines.append("")
    by_name = {result.name: result for result in results}
    ours = by_name.get("ours")
    others = [by_name[name] for name in ("cosmos-defaults", "ours-local") if name in by_name]
    if ours is not None and others:
        for them in others:
            lines.append(
                f"- {them.name} / ours: parse {ratio(them.parse_median, ours.parse_median)}"
                f" (first parse {ratio(them.first_parse, ours.first_parse)}),"
                f" run {ratio(them.run_seconds, ours.run_seconds)}"
            )
        lines.append("")
    lines.append(
        f"Parse: the DagBag's duration for `spotify_elt_dag.py`, median of {parse_repeats} fresh"
        " processes (Airflow and the file's Airflow modules imported first, as in the DAG"
        " processor); tasks: the parsed DAG's. Run: one triggered run of `airflow standalone`"
        " (LocalExecutor, SQLite), `dag_run` start to end, on the demo data (raw layer loaded,"
        f" marts empty) plus {NEW_PLAYS_PER_USER} new plays for each of the"
        f" {len(SAMPLE_TIMEZONES)} demo users from the Spotify stand-in."
    )
    lines.append(
        "Machine: "
        + machine_description(
            ("apache-airflow", "astronomer-cosmos", "dbt-core", "dbt-duckdb", "duckdb")
        )
        + "."
    )
    lines.append(
        f"Not in the figures: loading the demo raw layer {fixture.template_seconds:.1f} s; "
        + "; ".join(
            f"{result.name}: db migrate {result.migrate_seconds:.1f} s, standalone up with the"
            f" DAG stored {result.ready_seconds:.1f} s, run queued"
            f" {seconds(result.queued_seconds, 1)} s, load average before it"
            f" {result.load_average:.2f}"
            for result in results
        )
        + "."
    )
    lines.append("")
    lines.append("Where the time went (task instances, slowest first):")
    lines.append("")
    for result in results:
        total = sum(task.seconds for task in result.tasks)
        slowest = ", ".join(
            f"{task.name} {task.seconds:.1f}" for task in result.tasks[:SLOWEST_TASKS]
        )
        parses = ", ".join(f"{parse.seconds:.2f}" for parse in result.parses)
        lines.append(
            f"- {result.name}: {len(result.tasks)} task instances, sum of their durations"
            f" {total:.1f} s in a run of {seconds(result.run_seconds, 1)} s; slowest: {slowest}."
            f" Tasks where dbt parsed the project from scratch: {result.full_dbt_parses}."
            f" marts.fct_plays {result.mart_plays} rows ({result.new_mart_plays} new)."
            f" Parses: {parses} s."
        )
    lines.extend(problems_section(all_problems(results)))
    return "\n".join(lines)


# ---- main ------------------------------------------------------------------------------------


def parse_variants(text: str) -> list[str]:
    names = [part.strip() for part in text.split(",") if part.strip()]
    unknown = sorted(set(names) - set(VARIANTS))
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown variant(s) {', '.join(unknown)}; choose from {', '.join(VARIANTS)}"
        )
    return list(dict.fromkeys(names))


def prepare(directory: Path, stand_in: SpotifyStandIn) -> Fixture:
    token_dir = directory / "tokens"
    template = directory / "demo-raw.duckdb"
    progress(f"loading the demo raw layer into {template}")
    first_new_play = authorise_demo_users(stand_in, token_dir)
    started = time.perf_counter()
    raw_plays = build_template(template, token_dir)
    fixture = Fixture(
        directory=directory,
        template=template,
        warehouse=directory / "warehouse.duckdb",
        token_dir=token_dir,
        api_url=stand_in.api_url,
        accounts_url=stand_in.accounts_url,
        raw_plays=raw_plays,
        first_new_play=first_new_play,
        template_seconds=time.perf_counter() - started,
    )
    progress(f"dbt parse of {DBT_PROJECT_DIR}")
    parse_dbt_project(fixture)
    return fixture


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--variants",
        type=parse_variants,
        default=list(VARIANTS),
        help=f"comma-separated, in the order to run them; default: {','.join(VARIANTS)}",
    )
    parser.add_argument(
        "--parse-repeats", type=positive, default=5, help="parses per variant (default 5)"
    )
    parser.add_argument(
        "--run-timeout",
        type=positive,
        default=int(DEFAULT_RUN_TIMEOUT),
        help=f"seconds to wait for a run to finish (default {DEFAULT_RUN_TIMEOUT:.0f})",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    arguments = parser.parse_args(argv)
    variants: list[str] = arguments.variants
    if not variants:
        parser.error("no variants given")

    directory = Path(tempfile.mkdtemp(prefix="spotify-elt-benchmark-dag-"))
    results: list[VariantResult] = []
    with SpotifyStandIn(client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as stand_in:
        fixture = prepare(directory, stand_in)
        for variant in variants:
            try:
                results.append(
                    run_variant(variant, fixture, arguments.parse_repeats, arguments.run_timeout)
                )
            except BenchmarkError as error:
                failed = VariantResult(variant, "?", directory / variant, run_state="error")
                failed.problems.append(f"{variant}: {error}")
                progress(f"{variant}: {error}")
                results.append(failed)
    print(report(results, fixture, arguments.parse_repeats))
    problems = all_problems(results)
    if arguments.keep or problems:
        progress(f"kept {directory}")
    else:
        shutil.rmtree(directory)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
