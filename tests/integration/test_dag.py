"""The Airflow DAG: its shape, its manifest, and whole runs with `airflow dags test`.

Airflow keeps global state (configuration, its database, logging) per process, so everything
Airflow runs in a child process with its own `AIRFLOW_HOME`, as a scheduler would run it.
"""

from __future__ import annotations

import json
import signal
import socket
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import psutil
import pytest

from ingestion.config import DBT_PROJECT_DIR
from ingestion.spotify import SCOPE, TokenFile
from spotify_elt.scheduling.local_airflow import (
    DAG_ID,
    DAGS_FOLDER,
    DOCS_PROJECT,
    MANIFEST_PATH,
    airflow_environment,
)
from tests.support.cli import CLIENT_ID, CLIENT_SECRET, base_environment
from tests.support.processes import LOOPBACK, kill_all, outliving, process_tree, tcp_listeners
from tests.support.stand_in import SpotifyStandIn
from tests.support.web_api import play_item

VENV_BIN = Path(sys.executable).parent
RECENTLY_PLAYED = "/v1/me/player/recently-played"
POSTGRES_PASSWORD = "pg-secret-never-logged"
USERS = {"listener-a": "refresh-a-5c1e9f", "listener-b": "refresh-b-77d0a3"}


def airflow_env(home: Path, **extra: str) -> dict[str, str]:
    environment = {**base_environment(), **airflow_environment(home), **extra}
    environment["PATH"] = f"{VENV_BIN}:{environment.get('PATH', '')}"
    return environment


def airflow(
    *arguments: str, env: dict[str, str], timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(VENV_BIN / "airflow"), *arguments], env=env, capture_output=True, text=True,
        timeout=timeout, check=False, cwd=env["AIRFLOW_HOME"],
    )  # fmt: skip


# --------------------------------------------------------------------------------------------
# The DAG as the DAG processor sees it.

INSPECT = textwrap.dedent(
    """
    import json, sys
    sys.path.insert(0, sys.argv[1])  # Airflow puts the DAG bundle's folder on sys.path too
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(sys.argv[1])
    dag = bag.dags.get(sys.argv[2])
    import spotify_elt_config
    print(json.dumps({
        "import_errors": bag.import_errors,
        "files": {stat.file: stat.duration.total_seconds() for stat in bag.dagbag_stats},
        "manifest": str(spotify_elt_config.MANIFEST_PATH),
        "dag": None if dag is None else {
            "tags": sorted(dag.tags), "catchup": dag.catchup,
            "max_active_runs": dag.max_active_runs, "max_active_tasks": dag.max_active_tasks,
            "schedule": str(dag.schedule),
            "tasks": {
                task.task_id: {
                    "upstream": sorted(task.upstream_task_ids), "retries": task.retries,
                    "backoff": task.retry_exponential_backoff,
                    "max_active_tis_per_dag": task.max_active_tis_per_dag,
                    "trigger_rule": getattr(task.trigger_rule, "value", task.trigger_rule),
                }
                for task in dag.tasks
            },
        },
    }))
    """
)


def inspect_dag(home: Path, **extra: str) -> dict[str, Any]:
    completed = subprocess.run(
        [sys.executable, "-c", INSPECT, str(DAGS_FOLDER), DAG_ID],
        env=airflow_env(home, **extra), capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-3000:]
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def ancestors(tasks: dict[str, Any], task_id: str) -> set[str]:
    found: set[str] = set()
    pending = list(tasks[task_id]["upstream"])
    while pending:
        upstream = pending.pop()
        if upstream not in found:
            found.add(upstream)
            pending.extend(tasks[upstream]["upstream"])
    return found


def test_the_dag_loads_with_one_task_per_model_after_every_extract(
    tmp_path: Path, record_property: Any
) -> None:
    inspected = inspect_dag(tmp_path)
    assert inspected["import_errors"] == {}
    # The settings module beside the DAG is skipped (.airflowignore), not parsed as a DAG file.
    assert list(inspected["files"]) == ["spotify_elt_dag.py"]
    record_property("dag_parse_seconds", inspected["files"]["spotify_elt_dag.py"])
    assert Path(inspected["manifest"]) == MANIFEST_PATH

    dag = inspected["dag"]
    tasks = dag["tasks"]
    manifest = json.loads(MANIFEST_PATH.read_text())
    run_task = {}  # model -> its task
    for node in manifest["nodes"].values():
        if node["resource_type"] == "model":
            runs = {f"dbt.{node['name']}.run", f"dbt.{node['name']}_run"} & set(tasks)
            assert len(runs) == 1, f"model {node['name']} has no task"
            run_task[node["unique_id"]] = runs.pop()
    for node in manifest["nodes"].values():
        models = [parent for parent in node["depends_on"]["nodes"] if parent in run_task]
        if node["resource_type"] == "test" and models:  # (a source's tests fail the build task)
            test_tasks = {run_task[model].rsplit(".", 1)[0] + ".test" for model in models}
            assert test_tasks & set(tasks), f"test {node['name']} reports to no task"
    assert tasks["dbt.dbt_producer_watcher"]["upstream"] == ["extracted"]
    assert "docs" in ancestors(tasks, "source_freshness")
    assert tasks["source_freshness"]["trigger_rule"] == "all_done"

    dbt_tasks = [task for task in tasks if task.startswith("dbt.")]
    for task in dbt_tasks:
        assert "extract" in ancestors(tasks, task), f"{task} does not wait for the extract"
    # The docs follow the build (not the tasks that report on it), and freshness the docs.
    assert tasks["docs"]["upstream"] == ["dbt.dbt_producer_watcher"]
    assert tasks["extracted"]["trigger_rule"] == "all_done"  # a failed user still transforms
    assert set(tasks["fail_run_if_a_task_failed"]["upstream"]) == set(tasks) - {
        "fail_run_if_a_task_failed"
    }

    # The dbt tasks and the freshness check are not retried (spotify_elt_config.py says why).
    retried = {name for name, task in tasks.items() if task["retries"]} - {
        "dbt.dbt_producer_watcher_done"  # an empty marker task
    }
    assert retried == {"authorised_users", "extract", "extracted", "docs",
                       "fail_run_if_a_task_failed"}  # fmt: skip
    assert all(tasks[name]["retries"] == 2 and tasks[name]["backoff"] for name in retried)
    # Watcher mode: every model's task reads the build's result after the build, whatever it was.
    producer = "dbt.dbt_producer_watcher"
    for name in dbt_tasks:
        if name == producer or name.endswith("_done"):  # (Cosmos's marker after the build)
            continue
        assert producer in ancestors(tasks, name), name
        if producer in tasks[name]["upstream"]:
            assert tasks[name]["trigger_rule"] == "all_done", name
    assert dag["tags"] and not dag["catchup"] and dag["max_active_runs"] == 1
    # DuckDB allows one writer: only the build task writes the marts, the extracts run one at a
    # time, and docs and freshness follow the build.
    assert tasks["extract"]["max_active_tis_per_dag"] == 1
    assert dag["schedule"] == "*/30 * * * *"


def test_schedule_and_retries_come_from_the_configuration(tmp_path: Path) -> None:
    dag = inspect_dag(tmp_path, SPOTIFY_ELT_SCHEDULE="@hourly", SPOTIFY_ELT_TASK_RETRIES="5")["dag"]
    assert dag["schedule"] == "@hourly"
    assert dag["tasks"]["extract"]["retries"] == 5


def test_the_manifest_is_in_step_with_the_models(tmp_path: Path) -> None:
    """The DAG renders from a manifest the setup writes; an edited model needs a new one."""
    completed = subprocess.run(
        [str(VENV_BIN / "dbt"), "parse", "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir",
         str(DBT_PROJECT_DIR), "--target-path", str(tmp_path / "target")],
        env={**base_environment(), "SPOTIFY_ELT_DUCKDB_PATH": str(tmp_path / "unused.duckdb")},
        capture_output=True, text=True, timeout=300, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stdout[-3000:]

    def fingerprint(path: Path) -> dict[str, str]:
        """Every node, source and unit test; sources have no checksum, so their definition
        (less what depends on the machine: the DuckDB file's name is the database's)."""
        manifest = json.loads(path.read_text())
        nodes = {**manifest["nodes"], **manifest["sources"], **manifest["unit_tests"]}
        volatile = {"created_at", "database", "relation_name"}
        return {
            key: json.dumps(
                # The SQL's checksum, and what YAML and dbt_project.yml say about the node.
                [node.get("checksum"), node.get("config"), node.get("depends_on")]
                if node.get("checksum")
                else {k: v for k, v in node.items() if k not in volatile},
                sort_keys=True,
            )
            for key, node in nodes.items()
        }

    fresh = fingerprint(tmp_path / "target" / "manifest.json")
    assert fresh, "dbt parse found no nodes"
    assert fingerprint(MANIFEST_PATH) == fresh, (
        "dags/ renders from a stale manifest: run `python -m spotify_elt.scheduling.local_airflow` "
        "(scripts/setup.sh does) to parse the dbt project again"
    )


# --------------------------------------------------------------------------------------------
# Whole runs: `airflow dags test` against the Spotify stand-in, on DuckDB.


class ConnectionRecorder:
    """A 'proxy' on loopback that records whoever connects: outbound calls must not happen."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.seen: list[str] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            with connection:
                connection.settimeout(2)
                try:
                    self.seen.append(connection.recv(200).decode("latin-1").split("\r\n")[0])
                except OSError:
                    self.seen.append("(a connection)")

    def environment(self) -> dict[str, str]:
        proxy = f"http://127.0.0.1:{self.port}"
        names = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")
        return {
            **{name: proxy for name in names},
            **{name.lower(): proxy for name in names},
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        }

    def close(self) -> None:
        self.listener.close()


@dataclass
class Run:
    completed: subprocess.CompletedProcess[str]
    states: dict[tuple[str, int], str]
    xcoms: list[str]
    rendered: list[str]
    logs: str

    @property
    def output(self) -> str:
        return self.completed.stdout + self.completed.stderr


class AirflowProject:
    """A migrated AIRFLOW_HOME, the stand-in with two users, and a DuckDB warehouse."""

    def __init__(self, root: Path, stand_in: SpotifyStandIn, recorder: ConnectionRecorder) -> None:
        self.home = root / "airflow"
        self.home.mkdir()
        self.started = 0.0  # when the last run began (time.time())
        self.warehouse = root / "warehouse.duckdb"
        self.stand_in = stand_in
        tokens = root / "tokens"
        for user_id, refresh_token in USERS.items():
            stand_in.add_user(user_id, user_id.title(), refresh_token)
            TokenFile(tokens / f"{user_id}.json").save_token_to_cache(
                {"access_token": "", "token_type": "Bearer", "expires_in": 0, "expires_at": 0,
                 "refresh_token": refresh_token, "scope": SCOPE}
            )  # fmt: skip
        self.env = airflow_env(
            self.home,
            SPOTIFY_CLIENT_ID=CLIENT_ID,
            SPOTIFY_CLIENT_SECRET=CLIENT_SECRET,
            SPOTIFY_API_URL=stand_in.api_url,
            SPOTIFY_ACCOUNTS_URL=stand_in.accounts_url,
            SPOTIFY_ELT_TOKEN_DIR=str(tokens),
            SPOTIFY_ELT_DUCKDB_PATH=str(self.warehouse),
            SPOTIFY_ELT_POSTGRES_PASSWORD=POSTGRES_PASSWORD,
            SPOTIFY_ELT_REQUEST_TIMEOUT="5",
            SPOTIFY_ELT_MAX_RETRIES="0",
            # `dags test` waits out a retry's delay; the retries themselves are checked above.
            SPOTIFY_ELT_TASK_RETRIES="0",
            **recorder.environment(),
        )
        self.recorder = recorder
        for command in (("db", "migrate"), ("dags", "reserialize")):
            completed = airflow(*command, env=self.env)
            assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr[-2000:]

    def run(self) -> Run:
        self.started = time.time()
        completed = airflow("dags", "test", DAG_ID, env=self.env, timeout=600)
        with sqlite3.connect(self.home / "airflow.db") as database:
            run_id = database.execute(
                "select run_id from dag_run where dag_id = ? order by id desc limit 1", (DAG_ID,)
            ).fetchone()[0]
            states = {
                (task_id, map_index): state
                for task_id, map_index, state in database.execute(
                    "select task_id, map_index, state from task_instance where run_id = ?",
                    (run_id,),
                )
            }
            xcoms = [str(value) for (value,) in database.execute("select value from xcom")]
            rendered = [
                str(fields) for (fields,) in database.execute(
                    "select rendered_fields from rendered_task_instance_fields"
                )
            ]  # fmt: skip
        logs = "\n".join(
            path.read_text(errors="replace") for path in (self.home / "logs").rglob("*")
            if path.is_file()
        )  # fmt: skip
        return Run(completed, states, xcoms, rendered, logs)

    def plays_per_user(self) -> dict[str, int]:
        with duckdb.connect(str(self.warehouse), read_only=True) as connection:
            rows = connection.execute(
                "select user_id, count(*) from marts.fct_plays group by user_id"
            ).fetchall()
        return {str(user_id): int(count) for user_id, count in rows}


def new_plays(user_id: str, count: int, start: datetime) -> list[dict[str, Any]]:
    return [
        play_item(f"{user_id}-track{n}", start + timedelta(minutes=4 * n), name=f"Song {n}")
        for n in range(count)
    ]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AirflowProject]:
    recorder = ConnectionRecorder()
    with SpotifyStandIn(client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as stand_in:
        yield AirflowProject(tmp_path_factory.mktemp("dag"), stand_in, recorder)
    recorder.close()


@pytest.fixture(scope="module")
def first_run(project: AirflowProject) -> Run:
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    project.stand_in.add_plays("listener-a", new_plays("listener-a", 12, start))
    project.stand_in.add_plays("listener-b", new_plays("listener-b", 7, start))
    return project.run()


def secrets_seen(project: AirflowProject) -> set[str]:
    access_tokens = {
        request.headers.get("Authorization", "").removeprefix("Bearer ")
        for request in project.stand_in.requests
    } - {""}
    assert access_tokens, "the stand-in issued no access token: the check proves nothing"
    return {CLIENT_SECRET, POSTGRES_PASSWORD, *USERS.values(), *access_tokens}


def assert_nothing_leaked(project: AirflowProject, run: Run) -> None:
    # `dags test` prints the task logs (dbt's among them) instead of writing log files.
    assert run.xcoms and run.rendered and "Running with dbt=" in run.output, "nothing to search"
    for secret in secrets_seen(project):
        for where, text in [("output", run.output), ("task logs", run.logs),
                            ("XComs", "\n".join(run.xcoms)),
                            ("rendered fields", "\n".join(run.rendered))]:  # fmt: skip
            assert secret not in text, f"a secret is in the {where}"
    # Cosmos telemetry and dbt's usage stats are off: nothing tried to leave the machine.
    assert project.recorder.seen == []
    assert "Unable to emit usage metrics" not in run.output + run.logs


def test_a_whole_run_fills_the_marts(project: AirflowProject, first_run: Run) -> None:
    assert first_run.completed.returncode == 0, first_run.output[-5000:]
    assert project.plays_per_user() == {"listener-a": 12, "listener-b": 7}
    assert {state for state in first_run.states.values()} == {"success", "skipped"}
    assert first_run.states[("fail_run_if_a_task_failed", -1)] == "skipped"
    assert first_run.states[("extract", 0)] == first_run.states[("extract", 1)] == "success"
    assert (DBT_PROJECT_DIR / "target" / "index.html").stat().st_mtime >= project.started
    assert any('"new_plays": 12' in xcom for xcom in first_run.xcoms)
    # The build ran the data tests and no unit test (the suite runs those).
    assert "START test " in first_run.output and "START unit_test" not in first_run.output
    assert_nothing_leaked(project, first_run)


def test_one_failing_user_still_transforms_the_others_and_fails_the_run(
    project: AirflowProject, first_run: Run
) -> None:
    assert first_run.completed.returncode == 0
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=50)
    more = {"listener-a": 5, "listener-b": 3}
    for user_id, count in more.items():
        project.stand_in.add_plays(user_id, new_plays(f"{user_id}-more", count, start))
    # The users are extracted one at a time, in an order Airflow picks (under load it is not
    # the map order): whichever polls first meets a 503.
    project.stand_in.fail_next(RECENTLY_PLAYED, 503)

    run = project.run()
    assert run.completed.returncode != 0, "the run must end failed when an extract failed"
    users = sorted(USERS)  # the map order: the token files, sorted
    extracts = {user_id: run.states[("extract", index)] for index, user_id in enumerate(users)}
    assert sorted(extracts.values()) == ["failed", "success"]
    (loaded,) = [user_id for user_id, state in extracts.items() if state == "success"]
    assert run.states[("fail_run_if_a_task_failed", -1)] == "failed"
    dbt_states = {state for (task, _), state in run.states.items() if task.startswith("dbt.")}
    assert dbt_states == {"success"}
    assert run.states[("docs", -1)] == "success"
    before = {"listener-a": 12, "listener-b": 7}
    assert project.plays_per_user() == {**before, loaded: before[loaded] + more[loaded]}
    assert "503" in run.output
    assert_nothing_leaked(project, run)


def test_a_failing_dbt_test_fails_its_models_task(project: AirflowProject, first_run: Run) -> None:
    assert first_run.completed.returncode == 0
    # A load with a status the staging model's accepted_values test does not know.
    with duckdb.connect(str(project.warehouse)) as connection:
        connection.execute(
            "insert into raw.load_batches (batch_id, source, user_id, status, started_at, "
            "finished_at, rows_seen, rows_inserted, rows_duplicate, gap_suspected, api_requests) "
            "values ('odd-batch', 'api', 'listener-a', 'paused', now(), now(), 0, 0, 0, false, 0)"
        )
    run = project.run()
    assert run.completed.returncode != 0
    assert run.states[("dbt.stg_spotify__load_batches.run", -1)] == "success"
    assert run.states[("dbt.stg_spotify__load_batches.test", -1)] == "failed"
    assert "accepted_values_stg_spotify__load_batches_status" in run.output
    # Models that read the failed one do not run on data that failed its tests.
    assert run.states[("dbt.dq_polling_gaps.run", -1)] == "upstream_failed"
    assert run.states[("dbt.fct_plays.run", -1)] == "success"


# --------------------------------------------------------------------------------------------
# `spotify-elt airflow`: a local Airflow with the DAG and the dbt docs.


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def request_json(url: str, token: str | None = None, body: Any = None) -> Any:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers=headers)  # noqa: S310 - loopback
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
        return json.loads(response.read())


@dataclass
class LocalAirflow:
    """`spotify-elt airflow --port N`, as a user starts it, up to its login line."""

    child: subprocess.Popen[str]
    url: str
    lines: list[str]

    @property
    def login(self) -> tuple[str, str]:
        login, password = self.lines[-1].removeprefix("Log in as").strip().split(" / ")
        return login, password


@contextmanager
def local_airflow(tmp_path: Path) -> Iterator[LocalAirflow]:
    """Started and up; after the block, whatever is left of it is killed (a failed test's)."""
    port = free_port()
    env = {
        **base_environment(),
        "AIRFLOW_HOME": str(tmp_path / "airflow-home"),
        "SPOTIFY_ELT_DUCKDB_PATH": str(tmp_path / "warehouse.duckdb"),
        "COLUMNS": "200",
    }
    child = subprocess.Popen(
        [sys.executable, "-m", "spotify_elt", "airflow", "--port", str(port)], env=env,
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    tree: list[psutil.Process] = []
    try:
        assert child.stdout is not None
        lines: list[str] = []
        for line in child.stdout:
            lines.append(line)
            if line.startswith("Log in as"):
                break
        url = f"http://127.0.0.1:{port}"
        assert any(line.startswith(f"Airflow is up at {url}") for line in lines), "".join(lines)
        tree = process_tree(child.pid)
        yield LocalAirflow(child, url, lines)
    finally:
        if child.poll() is None:
            tree = [*tree, *process_tree(child.pid)]
            child.kill()
            child.wait()
        kill_all(tree)


def assert_listening_on_loopback_only(airflow: LocalAirflow) -> None:
    """Every TCP socket that the command and every process under it listen on is loopback's."""
    listening = tcp_listeners(process_tree(airflow.child.pid))
    port = int(airflow.url.rsplit(":", 1)[1])
    assert ("127.0.0.1", port) in [(address, number) for address, number, _ in listening]
    assert [entry for entry in listening if entry[0] not in LOOPBACK] == []


def test_spotify_elt_airflow_serves_the_dag_and_the_dbt_docs(tmp_path: Path) -> None:
    with local_airflow(tmp_path) as airflow:
        url, child = airflow.url, airflow.child
        login, password = airflow.login
        token = request_json(f"{url}/auth/token", body={"username": login, "password": password})[
            "access_token"
        ]
        deadline = time.monotonic() + 120
        while True:  # the DAG processor parses the folder a few seconds after start-up
            try:
                tasks = request_json(f"{url}/api/v2/dags/{DAG_ID}/tasks", token)
                break
            except urllib.error.HTTPError as error:
                if error.code != 404 or time.monotonic() > deadline:
                    raise
                time.sleep(2)
        task_ids = {task["task_id"] for task in tasks["tasks"]}
        assert {"extract", "docs", "dbt.fct_plays.run", "dbt.fct_plays.test"} <= task_ids
        with urllib.request.urlopen(f"{url}/cosmos/{DOCS_PROJECT}/dbt_docs_index.html") as page:  # noqa: S310
            assert 'ng-app="dbt"' in page.read().decode()
        manifest = request_json(f"{url}/cosmos/{DOCS_PROJECT}/manifest.json")
        assert "model.spotify_elt.fct_plays" in manifest["nodes"]
        plugins = request_json(f"{url}/api/v2/plugins", token)["plugins"]
        views = [view for plugin in plugins for view in plugin["external_views"]]
        assert any(view["href"].endswith("/dbt_docs_index.html") for view in views)
        # Every component is up by now (the DAG processor has parsed the DAG, the scheduler
        # serialised it), log servers included if they were started.
        assert_listening_on_loopback_only(airflow)

        tree = process_tree(child.pid)
        child.send_signal(signal.SIGINT)  # Ctrl-C
        child.wait(timeout=60)
        assert child.returncode == 0
        assert outliving(tree, timeout=30) == []  # Airflow stopped with it
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", int(url.rsplit(":", 1)[1]))) != 0


def test_spotify_elt_airflow_stops_with_its_command_even_on_kill_9(tmp_path: Path) -> None:
    """No handler of the command runs: standalone, its components and their workers (its
    children and grandchildren, not the command's) must still be gone within seconds."""
    with local_airflow(tmp_path) as airflow:
        tree = process_tree(airflow.child.pid)
        names = " ".join(" ".join(process.cmdline()) for process in tree)
        for component in ("standalone", "scheduler", "triggerer", "dag-processor", "api_server"):
            assert component in names, f"no {component} under the command: nothing to check"
        assert "LocalExecutor" in names, "no executor worker (a grandchild): nothing to check"
        airflow.child.kill()  # kill -9
        airflow.child.wait(timeout=10)
        assert outliving(tree, timeout=30) == []
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", int(airflow.url.rsplit(":", 1)[1]))) != 0
