"""dbt, in-process: `build` for `transform`, `docs generate --static` for `docs`."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from ingestion.config import DBT_PROJECT_DIR, Settings
from ingestion.errors import SpotifyEltError

log = logging.getLogger(__name__)


class TransformError(SpotifyEltError):
    """dbt failed: the line names the first failing node and its message, and dbt's log."""


def run_dbt(settings: Settings, *arguments: str) -> None:
    """Run one dbt command on the configured target, inside this process."""
    # Imported here: dbt takes a second to import and most commands never need it.
    from dbt.cli.main import dbtRunner

    from ingestion.warehouse import keep_duckdb_files_private

    publish_dbt_environment(settings)
    keep_duckdb_files_private(settings)  # dbt-duckdb creates the file if it is not there
    try:
        result = dbtRunner().invoke(
            [
                *arguments,
                "--project-dir",
                str(DBT_PROJECT_DIR),
                "--profiles-dir",
                str(DBT_PROJECT_DIR),
                "--target",
                settings.target,
                # As the DAG's Cosmos tasks call dbt: a different flag set would make each of
                # them, and each command here, throw away the other's partial parse.
                "--profile",
                "spotify_elt",
            ]
        )
    finally:
        if settings.target == "duckdb":
            _release_duckdb_file()
    if not result.success:
        raise TransformError(
            settings.scrub(f"dbt {arguments[0]} failed on {settings.target}{_why(result)}")
        )


# What dbt calls a node that did not pass.
_FAILED = {"error", "fail", "runtime error"}


def _why(result: Any) -> str:
    """The first failing node and the first line of its message, how many more failed, and
    where dbt's log is: the one line a failed `transform` ends with.

    dbt's exception text (a project that does not compile) runs over several lines ("Compilation
    Error in model x", the reason, the macro stack): the first two are the reason."""
    log_path = Path(os.environ.get("DBT_LOG_PATH") or DBT_PROJECT_DIR / "logs") / "dbt.log"
    if result.exception is not None:
        lines = [line.strip() for line in str(result.exception).splitlines() if line.strip()]
        return f": {': '.join(lines[:2])} (log: {log_path})" if lines else f" (log: {log_path})"
    failed = [
        node for node in getattr(result.result, "results", None) or []
        if str(getattr(node.status, "value", node.status)) in _FAILED
    ]  # fmt: skip
    if not failed:
        return f" (log: {log_path})"
    first = failed[0]
    lines = [line.strip() for line in str(first.message or "").splitlines() if line.strip()]
    more = f"; {len(failed) - 1} more failed" if len(failed) > 1 else ""
    kind = getattr(first.node, "resource_type", "node")
    message = f": {lines[0]}" if lines else ""
    return (
        f": {getattr(kind, 'value', kind)} {first.node.name} failed{message}{more} "
        f"(log: {log_path})"
    )


def publish_dbt_environment(settings: Settings) -> None:
    """Put what dbt's `env_var()` reads into this process's environment: the resolved settings,
    `.env` values and absolute paths included. The DAG's dbt tasks call it in their own
    process, never through an operator's `env` argument: that is a template field, and Airflow
    shows rendered fields in its UI."""
    os.environ.update(settings.dbt_environment())


def _release_duckdb_file() -> None:
    # dbt-duckdb keeps its connection until the process exits, and DuckDB lets one process
    # write a file at a time: the loader (or a summary) that runs next in this process would
    # be refused. There is no public call for this; the class attribute is dbt-duckdb's cache.
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager

        environment = DuckDBConnectionManager._ENV
        if environment is not None:
            environment.close()
            DuckDBConnectionManager.close_all_connections()
    except Exception:  # a newer dbt-duckdb may differ: never hide dbt's own result for this
        log.debug("could not release dbt-duckdb's connection", exc_info=True)


def build(settings: Settings, *, full_refresh: bool = False) -> None:
    """`dbt build`: every model and its data tests. The raw layer is created first if missing,
    so dbt's sources exist even before the first extract.

    dbt's unit tests are left out, as dbt advises for production runs: their inputs are fixed
    in the project, so they prove nothing new about the data, and at a million plays they were
    a tenth of a run. The test suite runs them on every warehouse
    (tests/integration/test_dbt_project.py)."""
    from ingestion.warehouse import Warehouse, run_lock

    # One build at a time on a server warehouse: a second one fails at once, in one line.
    with run_lock(settings):
        with Warehouse(settings) as warehouse:
            warehouse.create_raw_tables()
        run_dbt(
            settings,
            "build",
            "--exclude-resource-type",
            "unit_test",
            *(["--full-refresh"] if full_refresh else []),
        )


def generate_docs(settings: Settings) -> Path:
    """Write the static docs site; return the single HTML file to open."""
    run_dbt(settings, "docs", "generate", "--static")
    return DBT_PROJECT_DIR / "target" / "static_index.html"
