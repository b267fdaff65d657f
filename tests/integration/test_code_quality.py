"""The house style is part of the suite: ruff (lint and format), mypy --strict, sqlfluff."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ingestion.config import PROJECT_ROOT

BIN = Path(sys.executable).parent


@pytest.mark.parametrize(
    "command",
    [
        ["ruff", "check", "."],
        ["ruff", "format", "--check", "."],
        ["mypy"],
    ],
    ids=["ruff-lint", "ruff-format", "mypy"],
)
def test_tool_is_clean(command: list[str]) -> None:
    result = subprocess.run(
        [str(BIN / command[0]), *command[1:]],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_sql_follows_the_house_style(tmp_path: Path) -> None:
    """sqlfluff over every model and data test, as compiled by dbt (dbt_project/.sqlfluff)."""
    project = PROJECT_ROOT / "dbt_project"
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SPOTIFY_", "DBT_"))},
        # The dbt templater compiles against a DuckDB file of its own.
        "SPOTIFY_ELT_DUCKDB_PATH": str(tmp_path / "lint.duckdb"),
        "DBT_LOG_PATH": str(tmp_path / "logs"),
    }
    result = subprocess.run(
        [str(BIN / "sqlfluff"), "lint", ".", "--format", "json", "--disable-progress-bar"],
        cwd=project,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    linted = {Path(entry["filepath"]).as_posix() for entry in json.loads(result.stdout)}
    models = {p.relative_to(project).as_posix() for p in project.glob("models/**/*.sql")}
    assert models and models <= linted  # every model was linted (and none had a violation)
