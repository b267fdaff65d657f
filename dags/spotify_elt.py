"""Every 30 minutes: extract each authorised user ▸ every dbt model and its tests ▸ the docs site.

Wiring only (DESIGN §4.4); every setting is in `spotify_elt_config.py` beside this file.
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
        from ingestion.orchestration import authorised_users

        return authorised_users(config.settings())

    # One user at a time: each extract writes the warehouse (DuckDB allows one writer).
    @task(map_index_template="{{ user }}", max_active_tis_per_dag=1)
    def extract(user: str) -> dict[str, Any]:
        from ingestion.orchestration import extract_user

        get_current_context()["user"] = user  # type: ignore[typeddict-unknown-key]
        return extract_user(config.settings(), user)

    @task(trigger_rule="one_failed")
    def fail_run_if_an_extract_failed() -> None:
        """The models still ran on the other users' data; this makes the failure seen."""
        raise AirflowFailException("an extract failed: see its task log; the others were loaded")

    @task
    def docs() -> str:
        from ingestion.transform import generate_docs

        return str(generate_docs(config.settings()))

    extracted = extract.expand(user=authorised_users())
    # One user's failed extract must not keep the others' plays out of the marts.
    loaded = EmptyOperator(task_id="extracted", trigger_rule="all_done")
    models = DbtTaskGroup(group_id="dbt", **config.cosmos_args())
    config.read_results_after_the_build(models)
    extracted >> loaded >> models >> docs()
    extracted >> fail_run_if_an_extract_failed()


spotify_elt()
