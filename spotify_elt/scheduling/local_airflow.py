"""A project-local Airflow (`spotify-elt airflow`): its environment, the manifest, `standalone`."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ingestion.config import DBT_PROJECT_DIR, PROJECT_ROOT, Settings
from ingestion.errors import SpotifyEltError
from spotify_elt.servers import started, stop_session, wait_for_health

DAGS_FOLDER = PROJECT_ROOT / "dags"
DAG_ID = "spotify_elt"
DOCS_PROJECT = "spotify_elt"
DOCS_PATH = f"/cosmos/{DOCS_PROJECT}/dbt_docs_index.html"
LOGIN = "admin"
# dags/spotify_elt_config.py reads it from the same place (tests/integration/test_dag.py checks).
MANIFEST_PATH = DBT_PROJECT_DIR / "target" / "dag" / "manifest.json"
# Where standalone finds the `airflow` it starts its components with: ours, which adds
# `--skip-serve-logs` to the scheduler and the triggerer. Each would otherwise start a log server
# (ports 8793 and 8794) on every interface, and Airflow has no setting for its address:
# airflow/utils/serve_logs/core.py (3.3) hands uvicorn host="", all of them. The flag is
# Airflow's own way to go without; standalone has no way to pass it, and names its components'
# command `airflow`, found on PATH. Nothing is lost: a log server lets an API server read the
# logs of tasks that ran on another machine, and here the API server reads them from this
# AIRFLOW_HOME's `logs/` itself. For a task still running it asks the log server as well
# (airflow/utils/log/file_task_handler.py, `_read`), finds none, and notes that among the log's
# "source details" and in standalone.log; the log itself still shows.
COMPONENTS_PATH = Path(__file__).with_name("airflow_components")


class AirflowError(SpotifyEltError):
    """The local Airflow could not start or stopped."""


@dataclass(frozen=True)
class Standalone:
    url: str
    process: subprocess.Popen[bytes]


def airflow_home() -> Path:
    """`AIRFLOW_HOME` when set, else `.airflow/` in the project (git ignores it)."""
    return Path(os.environ.get("AIRFLOW_HOME") or PROJECT_ROOT / ".airflow").resolve()


def airflow_environment(home: Path, port: int = 8080) -> dict[str, str]:
    """What every Airflow process of this project needs, on top of the caller's environment."""
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        # Nothing about the user leaves the machine, and a closed network makes every such call
        # a slow failure in each task's log (dbt's own stats are off in dbt_project.yml).
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
        # Cosmos otherwise rewrites one Variable holding every result so far on each of the
        # build's ~1,000 XCom writes: 28 s instead of 20 s for the demo's `dbt build`
        # (benchmarks/dag.py). What it buys, a producer retry that can replay results
        # even after a crash, the DAG does not use: its dbt tasks are not retried.
        "AIRFLOW__COSMOS__ENABLE_WATCHER_RELIABLE_RETRY": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{LOGIN}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
        "AIRFLOW__API__HOST": "127.0.0.1",
        # Off unless an airflow.cfg turns it on, and then on every interface by default.
        "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        # The dbt docs site, from the DAG's `docs` task, in the UI (Cosmos's plugin).
        "AIRFLOW__COSMOS__DBT_DOCS_PROJECTS": json.dumps(
            {
                DOCS_PROJECT: {
                    "dir": str(DBT_PROJECT_DIR / "target"),
                    "index": "index.html",
                    "name": "spotify-elt dbt docs",
                }
            }
        ),
    }


def parse_dbt_project(settings: Settings) -> Path:
    """`dbt parse` (no warehouse needed): the manifest the DAG renders its tasks from.

    It has a folder of its own: every other dbt command rewrites `target/manifest.json`, and
    the DAG processor could read it half-written.
    """
    from spotify_elt.transform import run_dbt

    run_dbt(settings, "parse", "--target-path", str(MANIFEST_PATH.parent))
    return MANIFEST_PATH


def docs_exist() -> bool:
    target = DBT_PROJECT_DIR / "target"
    return all((target / name).exists() for name in ("index.html", "catalog.json"))


def password(home: Path) -> str:
    """The local login's password: made once, kept in AIRFLOW_HOME, mode 0600."""
    path = home / "passwords.json"
    if path.exists():
        try:
            return str(json.loads(path.read_text())[LOGIN])
        except (ValueError, KeyError, TypeError):
            path.unlink()  # unreadable: make a new one rather than lock the user out
    home.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(12)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        json.dump({LOGIN: value}, file)
    return value


def wait_until_ready(url: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    """Wait for the API server's health check; fail if Airflow exits or takes too long."""
    try:
        status = wait_for_health(f"{url}/api/v2/monitor/health", process, timeout, poll_seconds=1)
    except TimeoutError:
        raise AirflowError(f"Airflow did not answer at {url} within {timeout:.0f} s") from None
    if status is not None:
        raise AirflowError(f"airflow standalone exited with status {status}")


@contextmanager
def standalone(home: Path, port: int, timeout: float = 180) -> Iterator[Standalone]:
    """`airflow standalone`, ready to use; stopped (with everything it started) on exit.

    Its output goes to `standalone.log` in `home`: it is a screenful a second.
    """
    with socket.socket() as probe:  # else the health check below would find the other server
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            raise AirflowError(f"port {port} on 127.0.0.1 is in use: choose another with --port")
    environment = {**os.environ, **airflow_environment(home, port)}
    # standalone starts `airflow scheduler` and the others by name, from PATH: through ours
    # (COMPONENTS_PATH), which runs this environment's.
    bin_dir = Path(sys.executable).parent
    environment["PATH"] = os.pathsep.join(
        [str(COMPONENTS_PATH), str(bin_dir), environment.get("PATH", "")]
    )
    environment["SPOTIFY_ELT_AIRFLOW"] = str(bin_dir / "airflow")
    url = environment["AIRFLOW__API__BASE_URL"]
    with (
        (home / "standalone.log").open("ab") as log,
        started([str(bin_dir / "airflow"), "standalone"], env=environment, stdout=log,
                stderr=subprocess.STDOUT) as process,
    ):  # fmt: skip
        try:
            wait_until_ready(url, process, timeout)
            yield Standalone(url, process)
        finally:
            stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop standalone and everything it started, also what outlived it.

    SIGINT first: standalone shuts its components down on Ctrl-C, and SIGTERM would kill it
    alone. Task processes get process groups of their own, so the sweep goes by session:
    standalone was started in a new one, which all its descendants keep.
    """
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    stop_session(process.pid, grace=10)


if __name__ == "__main__":  # scripts/setup.sh: keep the DAG's manifest in step with the models
    from ingestion.config import load_settings

    parse_dbt_project(load_settings(target="duckdb"))
