"""The command line's surface: every contract command is there."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ingestion.warehouse import engine_url
from tests.support.cli import CliResult, settings_from


def test_help_lists_every_command(cli: Callable[..., CliResult]) -> None:
    result = cli("--help")
    assert result.returncode == 0, result.output
    for command in ("auth", "extract", "import", "transform", "run", "demo", "docs"):
        assert f" {command} " in result.stdout


def test_dashboard_is_a_command_with_a_port(cli: Callable[..., CliResult]) -> None:
    # It runs until Ctrl-C: tests/integration/test_dashboard.py serves it and stops it.
    result = cli("dashboard", "--help")
    assert result.returncode == 0, result.output
    assert "--port" in result.stdout and "127.0.0.1" in result.stdout


def test_unreachable_sql_server_is_one_line(cli: Callable[..., CliResult]) -> None:
    result = cli(
        "extract",
        extra_env={
            "SPOTIFY_ELT_TARGET": "sqlserver",
            "SPOTIFY_ELT_SQLSERVER_DRIVER": "FreeTDS",  # Debian's tdsodbc, installed by the setup
            "SPOTIFY_ELT_SQLSERVER_PORT": "9",  # discard port: nothing listens
            "SPOTIFY_ELT_SQLSERVER_USER": "sa",
            "SPOTIFY_ELT_SQLSERVER_PASSWORD": "mssql-secret-4242",
        },
        timeout=180,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "SQL Server 127.0.0.1:9/spotify_elt" in errors[0], result.stderr
    assert "mssql-secret-4242" not in result.output


@pytest.mark.parametrize(
    ("auth", "expected", "unexpected"),
    [
        ("sql", {"UID=sa"}, {"Trusted_Connection", "Authentication"}),
        ("windows", {"Trusted_Connection=yes"}, {"UID=", "PWD="}),
        (
            "serviceprincipal",
            {"Authentication=ActiveDirectoryServicePrincipal", "UID=app-id"},
            set(),
        ),
    ],
)
def test_sql_server_auth_modes_reach_the_odbc_connection_string(
    auth: str, expected: set[str], unexpected: set[str]
) -> None:
    user = "app-id" if auth == "serviceprincipal" else "sa"
    settings = settings_from(
        {
            "SPOTIFY_ELT_TARGET": "sqlserver",
            "SPOTIFY_ELT_SQLSERVER_AUTH": auth,
            "SPOTIFY_ELT_SQLSERVER_USER": user,
            "SPOTIFY_ELT_SQLSERVER_PASSWORD": "pw",
        }
    )
    from sqlalchemy.dialects.mssql.pyodbc import MSDialect_pyodbc

    dialect = MSDialect_pyodbc()  # type: ignore[no-untyped-call]
    arguments, _ = dialect.create_connect_args(engine_url(settings))
    connection_string = arguments[0]
    for fragment in expected:
        assert fragment in connection_string
    for fragment in unexpected:
        assert fragment not in connection_string
