"""One configuration: loader, dbt profiles and docs/configuration.md name the same variables."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from ingestion.config import DBT_PROJECT_DIR, PROJECT_ROOT, Settings, load_settings
from ingestion.errors import ConfigError
from tests.support.cli import settings_from

PROFILES = DBT_PROJECT_DIR / "profiles.yml"
EXAMPLE = PROJECT_ROOT / "profiles.yml.example"


def settings_variables() -> set[str]:
    return set(Settings.variables().values())


def test_defaults_match_the_design() -> None:
    settings = settings_from({})
    assert settings.target == "duckdb"
    assert settings.spotify_redirect_uri == "http://127.0.0.1:8888/callback"
    assert settings.spotify_api_url == "https://api.spotify.com/v1"
    assert settings.spotify_accounts_url == "https://accounts.spotify.com"
    assert settings.duckdb_path == PROJECT_ROOT / "warehouse" / "spotify.duckdb"


def test_dotenv_is_read_and_the_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".env").write_text(
        "SPOTIFY_CLIENT_ID=from-dotenv\nSPOTIFY_ELT_TARGET=postgres\n"
        "SPOTIFY_ELT_DUCKDB_PATH=relative/file.duckdb\n"
    )
    monkeypatch.setenv("SPOTIFY_ELT_TARGET", "sqlserver")
    settings = load_settings()
    assert settings.spotify_client_id == "from-dotenv"
    assert settings.target == "sqlserver"
    assert settings.duckdb_path == tmp_path / "relative" / "file.duckdb"  # made absolute


def test_bad_value_is_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPOTIFY_ELT_TARGET", "oracle")
    with pytest.raises(ConfigError, match=r"^invalid SPOTIFY_ELT_TARGET: "):
        load_settings()


def test_secrets_do_not_print() -> None:
    settings = settings_from(
        {"SPOTIFY_CLIENT_SECRET": "s3cr3t", "SPOTIFY_REFRESH_TOKEN": "r3fr3sh"}
    )
    assert "s3cr3t" not in repr(settings) and "r3fr3sh" not in str(settings)
    assert set(settings.secrets) == {"s3cr3t", "r3fr3sh"}


def test_profiles_read_only_variables_the_loader_knows() -> None:
    used = set(re.findall(r"env_var\('([A-Z_]+)'", PROFILES.read_text()))
    assert used, "profiles.yml reads no environment variable"
    assert used <= settings_variables()
    # Every warehouse setting of the loader reaches dbt too.
    warehouse = {
        name
        for name in settings_variables()
        if name.startswith(("SPOTIFY_ELT_POSTGRES", "SPOTIFY_ELT_SQLSERVER"))
    }
    assert warehouse <= used


def test_profiles_example_is_the_project_profile() -> None:
    assert yaml.safe_load(EXAMPLE.read_text()) == yaml.safe_load(PROFILES.read_text())
    assert set(yaml.safe_load(PROFILES.read_text())["spotify_elt"]["outputs"]) == {
        "duckdb", "postgres", "sqlserver",
    }  # fmt: skip


def test_docs_document_every_variable() -> None:
    page = (PROJECT_ROOT / "docs" / "configuration.md").read_text()
    table = {row.split("`")[1] for row in page.splitlines() if row.startswith("| `")}
    missing = settings_variables() - table
    assert not missing, f"docs/configuration.md's table does not list {sorted(missing)}"
    unknown = {name for name in table - settings_variables() if name.startswith("SPOTIFY")}
    assert not unknown, f"docs/configuration.md lists variables nothing reads: {sorted(unknown)}"


def test_dotenv_warehouse_settings_reach_dbt(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "SPOTIFY_ELT_POSTGRES_HOST=db.example.internal\nSPOTIFY_ELT_POSTGRES_PASSWORD=pg-pass-123\n"
        "SPOTIFY_ELT_SQLSERVER_TRUST_CERT=true\n"
    )
    environment = load_settings().dbt_environment()
    assert environment["SPOTIFY_ELT_POSTGRES_HOST"] == "db.example.internal"
    assert environment["SPOTIFY_ELT_POSTGRES_PASSWORD"] == "pg-pass-123"
    assert environment["SPOTIFY_ELT_SQLSERVER_TRUST_CERT"] == "true"  # what profiles.yml compares
    assert environment["SPOTIFY_ELT_DUCKDB_PATH"] == str(PROJECT_ROOT / "warehouse/spotify.duckdb")
    assert set(environment) >= set(re.findall(r"env_var\('([A-Z_]+)'", PROFILES.read_text()))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"SPOTIFY_CLIENT_ID=\xff\xfe\n", "cannot read .env"),
        (b"SPOTIFY_API_URL=api.spotify.com/v1\n", "invalid SPOTIFY_API_URL: "),
        (b"SPOTIFY_ELT_DUCKDB_PATH=~no-such-user-here/x.duckdb\n", "invalid path"),
        (b"SPOTIFY_ELT_MAX_RETRIES=-1\n", "invalid SPOTIFY_ELT_MAX_RETRIES: "),
    ],
)
def test_bad_configuration_is_one_clear_error(tmp_path: Path, content: bytes, message: str) -> None:
    (tmp_path / ".env").write_bytes(content)
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_settings()
