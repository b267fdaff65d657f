"""The command line as a user or a scheduler runs it: settings from an environment, a real child
process, and what a failed command must look like."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ingestion.config import Settings

CLIENT_ID = "test-client-id"
CLIENT_SECRET = "test-client-secret-5f2d9c"
REFRESH_TOKEN = "test-refresh-token-a91b7e"
LISTENER = "listener-1"  # the user of the `user` fixture, whose refresh token is REFRESH_TOKEN


def settings_from(env: dict[str, str], **overrides: Any) -> Settings:
    """Settings exactly as the command line would read them from `env`."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        return Settings(_env_file=None, **overrides)  # type: ignore[call-arg]


@dataclass(frozen=True)
class CliResult:
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def base_environment() -> dict[str, str]:
    """This process's environment without any Spotify or dbt settings of the developer's."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("SPOTIFY_", "DBT_"))}


def run_cli(
    *arguments: str,
    env: dict[str, str],
    cwd: Path,
    stdin: str | None = "",
    timeout: float = 120,
) -> CliResult:
    """`spotify-elt ...` in a real child process, as a user or a scheduler runs it.

    `stdin=None` gives the child a stdin that stays open and silent, like a terminal nobody
    watches: a command that waits for input hangs until `timeout` instead of reading EOF.
    """
    child_env = {**base_environment(), **env}
    child_env["COLUMNS"] = "200"  # keep rich from wrapping the one line we assert on
    command = [sys.executable, "-m", "spotify_elt", *arguments]
    if stdin is not None:
        child = subprocess.run(
            command, env=child_env, cwd=cwd, input=stdin, capture_output=True, text=True,
            timeout=timeout, check=False,
        )  # fmt: skip
    else:
        silent_read, silent_write = os.pipe()
        try:
            child = subprocess.run(
                command, env=child_env, cwd=cwd, stdin=silent_read, capture_output=True,
                text=True, timeout=timeout, check=False,
            )  # fmt: skip
        finally:
            os.close(silent_read)
            os.close(silent_write)
    # Whatever a test expects of a command, a traceback is never the way it ends.
    assert "Traceback (most recent call last)" not in child.stderr, child.stderr[-4000:]
    return CliResult(child.returncode, child.stdout, child.stderr)


def assert_one_line_error(result: CliResult, *fragments: str) -> None:
    assert result.returncode != 0, result.output
    assert "Traceback" not in result.output, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
