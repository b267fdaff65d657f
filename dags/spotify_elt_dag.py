"""Every 30 minutes: extract each authorised user ▸ every dbt model and its tests ▸ the docs site.

Wiring only (what a run does: docs/scheduling.md); every setting is in `spotify_elt_config.py`
beside this file.
"""

from __future__ import annotations

from typing import Any

import spotify_elt_config as config
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import dag, get_current_context, task
from airflow.sdk.exceptions import AirflowFailException
from cosmos import DbtTaskGroup


@dag(**config.dag_args())
def spotify_elt() -> None:
    @task
    def authorised_users() -> list[str]:
        from spotify_elt.scheduling.tasks import authorised_users

        return authorised_users(config.settings())

    # One user at a time: each extract writes the warehouse (DuckDB allows one writer).
    @task(map_index_template="{{ user }}", max_active_tis_per_dag=1)
    def extract(user: str) -> dict[str, Any]:
        from spotify_elt.scheduling.tasks import extract_user

        get_current_context()["user"] = user  # type: ignore[typeddict-unknown-key]
        return extract_user(config.settings(), user)

    @task(trigger_rule="all_done", retries=0)  # a retry would only find the same loads
    def source_freshness() -> None:
        """Fails the run when the last successful load is older than the sources allow."""
        from spotify_elt.transform import run_dbt

        run_dbt(config.settings(), "source", "freshness")

    @task(trigger_rule="one_failed")
    def fail_run_if_a_task_failed() -> None:
        """Downstream of every task. Airflow judges a run by its last tasks, and the ones that run
        whatever happened before them (`extracted`, `source_freshness`) would hide a failure."""
        raise AirflowFailException(
            "a task failed (see its log); the others ran as far as they could"
        )

    @task
    def docs() -> str:
        from spotify_elt.transform import generate_docs

        return str(generate_docs(config.settings()))

    extracted = extract.expand(user=authorised_users())
    # One user's failed extract must not keep the others' plays out of the marts.
    loaded = EmptyOperator(task_id="extracted", trigger_rule="all_done")
    models = DbtTaskGroup(group_id="dbt", **config.cosmos_args())
    config.read_results_after_the_build(models)
    extracted >> loaded >> models
    # The docs read the built tables, so they follow the build itself, beside the per-model
    # tasks that only read its results. Freshness after the build and whatever became of it:
    # it only reports, and on DuckDB it must not open the file while the build writes it.
    config.the_build(models) >> docs() >> source_freshness()
    failed = fail_run_if_a_task_failed()
    for upstream in models.dag.tasks:
        if upstream.task_id != "fail_run_if_a_task_failed":
            upstream >> failed


spotify_elt()
