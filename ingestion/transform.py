"""dbt, in-process: `build` for `transform`, `docs generate --static` for `docs`."""

from __future__ import annotations

import os
from pathlib import Path

from ingestion.config import DBT_PROJECT_DIR, Settings
from ingestion.errors import SpotifyEltError


class TransformError(SpotifyEltError):
    """dbt failed; its own output above says which model or test."""


def run_dbt(settings: Settings, *arguments: str) -> None:
    """Run one dbt command on the configured target, inside this process."""
    # Imported here: dbt takes a second to import and most commands never need it.
    from dbt.cli.main import dbtRunner

    # dbt reads `env_var()` from the process environment, so publish the resolved settings.
    os.environ.update(settings.dbt_environment())
    result = dbtRunner().invoke(
        [
            *arguments,
            "--project-dir",
            str(DBT_PROJECT_DIR),
            "--profiles-dir",
            str(DBT_PROJECT_DIR),
            "--target",
            settings.target,
        ]
    )
    if not result.success:
        reason = f": {result.exception}" if result.exception else ""
        raise TransformError(f"dbt {arguments[0]} failed on {settings.target}{reason}")


def build(settings: Settings) -> None:
    run_dbt(settings, "build")


def generate_docs(settings: Settings) -> Path:
    """Write the static docs site; return the single HTML file to open."""
    run_dbt(settings, "docs", "generate", "--static")
    return DBT_PROJECT_DIR / "target" / "static_index.html"
