"""Every setting of the `spotify_elt` DAG; `spotify_elt_dag.py` beside it only wires tasks together.

Values come from the project's configuration (docs/configuration.md): the environment, then the
`.env` file
at the project root, exactly as the command line reads them.
"""

from __future__ import annotations

import os
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pendulum
from airflow.sdk import BaseOperator, TaskGroup, TriggerRule
from cosmos import ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import (
    ExecutionMode,
    InvocationMode,
    LoadMode,
    SourceRenderingBehavior,
    TestBehavior,
)

from ingestion.config import Settings, load_settings

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
# Written by `dbt parse` (scripts/setup.sh and `spotify-elt airflow` run it): no warehouse and
# no dbt call while the DAG is parsed. tests/integration/test_dag.py checks it matches the models.
MANIFEST_PATH = DBT_PROJECT_DIR / "target" / "dag" / "manifest.json"

DAG_ID = "spotify_elt"
TAGS = ["spotify", "elt", "dbt"]
# WATCHER, by measurement (docs/figures.md, "The DAG"): one `dbt build` in a producer task, and
# per-model tasks that report each model's and its tests' results. LOCAL runs dbt once per task:
# each task process imports dbt and parses the project again (about 3 s), and on DuckDB they run
# one at a time, which made a run on the demo data take over 3 minutes.
EXECUTION_MODE = ExecutionMode.WATCHER
PRODUCER_TASK_ID = "dbt_producer_watcher"  # Cosmos's name for the task that runs `dbt build`


@cache
def settings() -> Settings:
    return load_settings(_env_file=PROJECT_ROOT / ".env")


def default_args() -> dict[str, Any]:
    return {
        "owner": "spotify-elt",
        "retries": settings().task_retries,
        "retry_delay": timedelta(minutes=1),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=15),
    }


def dag_args() -> dict[str, Any]:
    return {
        "dag_id": DAG_ID,
        "schedule": settings().schedule,
        "start_date": pendulum.datetime(2026, 1, 1, tz="UTC"),
        "catchup": False,
        "max_active_runs": 1,
        # DuckDB lets one process write its file at a time. In LOCAL mode every dbt task writes,
        # so one task at a time; in WATCHER mode only the producer does (a model's task runs dbt
        # only when cleared, or after a build that died before reaching it), and the other
        # writers (extract, docs, freshness) follow it in the graph.
        "max_active_tasks": (
            1 if settings().target == "duckdb" and EXECUTION_MODE == ExecutionMode.LOCAL else 16
        ),
        "default_args": default_args(),
        "tags": TAGS,
        "doc_md": __doc__,
    }


def _publish_dbt_environment(context: Any) -> None:
    from ingestion.warehouse import keep_duckdb_files_private
    from spotify_elt.transform import publish_dbt_environment

    publish_dbt_environment(settings())
    # Cosmos runs dbt in this task's process, and dbt-duckdb may create the warehouse's files.
    keep_duckdb_files_private(settings())
    # No dbt unit tests in the DAG's dbt commands (the build, or a model's `dbt test`), for the
    # reason `spotify-elt transform` leaves them out (spotify_elt/transform.py `build`).
    os.environ["DBT_EXCLUDE_RESOURCE_TYPES"] = "unit_test"


def cosmos_args() -> dict[str, Any]:
    """The `DbtTaskGroup`'s configuration."""
    if not MANIFEST_PATH.exists():  # an import error in the UI, saying what to do
        raise FileNotFoundError(
            f"{MANIFEST_PATH} is missing: run `python -m spotify_elt.scheduling.local_airflow` "
            "(dbt parse) in the project, as scripts/setup.sh and `spotify-elt airflow` do"
        )
    return {
        "project_config": ProjectConfig(
            dbt_project_path=DBT_PROJECT_DIR,
            manifest_path=MANIFEST_PATH,
            install_dbt_deps=False,  # no packages: nothing to install, nothing to download
            partial_parse=True,
        ),
        "profile_config": ProfileConfig(
            profile_name="spotify_elt",
            target_name=settings().target,
            profiles_yml_filepath=DBT_PROJECT_DIR / "profiles.yml",
        ),
        "execution_config": ExecutionConfig(
            execution_mode=EXECUTION_MODE,
            invocation_mode=InvocationMode.DBT_RUNNER,
        ),
        "render_config": RenderConfig(
            load_method=LoadMode.DBT_MANIFEST,
            test_behavior=TestBehavior.AFTER_EACH,
            # WATCHER's one build runs a test of two models after both; LOCAL would run it in
            # either model's task, before the other exists, so it needs a task of its own.
            should_detach_multiple_parents_tests=EXECUTION_MODE == ExecutionMode.LOCAL,
            # Sources are not tasks: their tests run in the build, and their freshness in the
            # DAG's own `source_freshness` task. Cosmos's source tasks would skip every model of
            # a source that is merely late (a freshness warning), and those without a freshness
            # rule wait for a result that never comes.
            source_rendering_behavior=SourceRenderingBehavior.NONE,
        ),
        "operator_args": {
            "on_execute_callback": _publish_dbt_environment,
            # No automatic retries of dbt tasks: Cosmos 1.15 lets a retried build task skip
            # itself (the run would end without a failure), and a retried model task runs dbt
            # for its model beside the others, a second writer on DuckDB. A bad model is not
            # fixed by waiting either; clear a model's task to run it again alone.
            "retries": 0,
            # The per-model tasks start once the build is over (read_results_after_the_build),
            # so their first look finds the result and nothing waits or defers.
            "poke_interval": 1,
        },
    }


def the_build(models: TaskGroup) -> TaskGroup | BaseOperator:
    """What has built every model once it is done: in WATCHER mode the one `dbt build`, which
    the per-model tasks only report on; in LOCAL mode the whole group."""
    if EXECUTION_MODE != ExecutionMode.WATCHER:
        return models
    producer = models.children[f"{models.group_id}.{PRODUCER_TASK_ID}"]
    assert isinstance(producer, BaseOperator)
    return producer


def read_results_after_the_build(models: TaskGroup) -> None:
    """Start the per-model tasks when `dbt build` has finished, not beside it.

    Cosmos starts them together with the build (a DbtTaskGroup's first models have no upstream
    task inside the group) and lets them wait for their model's result. On two cores, some fifty
    task processes starting and polling slowed the build itself; and `airflow dags test`, which
    runs ready tasks one at a time in no set order, could pick a waiting task before the build
    and wait for ever. `all_done`: a failed build still lets every model's task report its own
    result (or run its model again), so a failure points at the model.
    """
    if EXECUTION_MODE != ExecutionMode.WATCHER:
        return
    producer = the_build(models)
    for task in models.get_roots():
        if task is not producer and not task.task_id.endswith("_done"):
            producer >> task
            task.trigger_rule = TriggerRule.ALL_DONE
