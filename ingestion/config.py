"""One source of configuration for the loader, dbt and the DAG: environment variables and `.env`.

docs/configuration.md lists the variables; `dbt_project/profiles.yml` reads the same names with
`env_var()`.
"""

from __future__ import annotations

from functools import cache, cached_property
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import available_timezones

import platformdirs
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from ingestion.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"

Target = Literal["duckdb", "postgres", "sqlserver"]
SqlServerAuth = Literal["sql", "windows", "serviceprincipal"]


# Spotify's own Web API base. Its answers link to it (`next`) whatever base was asked.
SPOTIFY_API_URL = "https://api.spotify.com/v1"


class Settings(BaseSettings):
    """Every knob of the project. Secrets are `SecretStr` so they never print by accident."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    spotify_client_id: str | None = None
    spotify_client_secret: SecretStr | None = None
    spotify_redirect_uri: str = "http://127.0.0.1:8888/callback"
    spotify_refresh_token: SecretStr | None = None
    spotify_api_url: str = SPOTIFY_API_URL
    spotify_accounts_url: str = "https://accounts.spotify.com"

    target: Target = Field("duckdb", alias="SPOTIFY_ELT_TARGET")
    duckdb_path: Path = Field(
        PROJECT_ROOT / "warehouse" / "spotify.duckdb", alias="SPOTIFY_ELT_DUCKDB_PATH"
    )
    token_dir: Path = Field(
        Path(platformdirs.user_config_dir("spotify-elt")) / "tokens",
        alias="SPOTIFY_ELT_TOKEN_DIR",
    )
    # A 429 asking us to wait longer than this fails the run instead: the scheduler retries later.
    max_retry_after_seconds: float = Field(120.0, alias="SPOTIFY_ELT_MAX_RETRY_AFTER", ge=0)
    # 5xx, timeouts and (short) 429s are retried this many times per request.
    max_retries: int = Field(4, alias="SPOTIFY_ELT_MAX_RETRIES", ge=0)
    request_timeout_seconds: float = Field(20.0, alias="SPOTIFY_ELT_REQUEST_TIMEOUT", gt=0)
    # A zip's history files may inflate to at most this many bytes in all (zip bombs). A heavy
    # listener's 15-year Extended history is about 300 MB; a million records about 800 MB.
    import_max_bytes: int = Field(4 * 1024**3, alias="SPOTIFY_ELT_IMPORT_MAX_BYTES", gt=0)

    # The Airflow DAG (dags/spotify_elt_dag.py): a cron expression or preset such as "@hourly".
    # Spotify keeps only the latest 50 plays, so keep polls under two hours apart.
    schedule: str = Field("*/30 * * * *", alias="SPOTIFY_ELT_SCHEDULE")
    # Retries of the DAG's own tasks (extract, docs), waiting 1 min, then 2, 4, ... (exponential
    # backoff). Its dbt tasks are never retried (dags/spotify_elt_config.py says why).
    task_retries: int = Field(2, alias="SPOTIFY_ELT_TASK_RETRIES", ge=0)

    # Every warehouse connection (loader, dbt, dashboard) gives up after this many seconds
    # without an answer: a firewalled host or a server that accepts and never answers would
    # otherwise hold a run for minutes (psycopg's own default is 130 s). libpq waits at least
    # 2 s whatever is asked, hence the floor.
    connect_timeout: int = Field(10, alias="SPOTIFY_ELT_CONNECT_TIMEOUT", ge=2)
    # The longest a statement waits for a lock another session holds (PostgreSQL lock_timeout,
    # SQL Server LOCK_TIMEOUT), and so how long an extract waits for another one of the same
    # user. Only lock waits are bounded: a long build on a big history is never cut short.
    lock_timeout: int = Field(60, alias="SPOTIFY_ELT_LOCK_TIMEOUT", ge=1)

    postgres_host: str = Field("127.0.0.1", alias="SPOTIFY_ELT_POSTGRES_HOST")
    postgres_port: int = Field(5432, alias="SPOTIFY_ELT_POSTGRES_PORT")
    postgres_user: str = Field("spotify_elt", alias="SPOTIFY_ELT_POSTGRES_USER")
    postgres_password: SecretStr = Field(SecretStr(""), alias="SPOTIFY_ELT_POSTGRES_PASSWORD")
    postgres_database: str = Field("spotify_elt", alias="SPOTIFY_ELT_POSTGRES_DATABASE")

    # Local time (played_at_local, dim_dates) is per user: everyone's default, then exceptions
    # written "user_id=Zone,user_id=Zone". IANA names, e.g. Europe/Madrid.
    timezone: str = Field("UTC", alias="SPOTIFY_ELT_TIMEZONE")
    user_timezones: Annotated[dict[str, str], NoDecode] = Field(
        default_factory=dict, alias="SPOTIFY_ELT_USER_TIMEZONES"
    )

    sqlserver_server: str = Field("127.0.0.1", alias="SPOTIFY_ELT_SQLSERVER_SERVER")
    sqlserver_port: int = Field(1433, alias="SPOTIFY_ELT_SQLSERVER_PORT")
    sqlserver_database: str = Field("spotify_elt", alias="SPOTIFY_ELT_SQLSERVER_DATABASE")
    sqlserver_driver: str = Field(
        "ODBC Driver 18 for SQL Server", alias="SPOTIFY_ELT_SQLSERVER_DRIVER"
    )
    sqlserver_auth: SqlServerAuth = Field("sql", alias="SPOTIFY_ELT_SQLSERVER_AUTH")
    sqlserver_user: str = Field("", alias="SPOTIFY_ELT_SQLSERVER_USER")
    sqlserver_password: SecretStr = Field(SecretStr(""), alias="SPOTIFY_ELT_SQLSERVER_PASSWORD")
    sqlserver_tenant_id: str = Field("", alias="SPOTIFY_ELT_SQLSERVER_TENANT_ID")
    sqlserver_encrypt: bool = Field(True, alias="SPOTIFY_ELT_SQLSERVER_ENCRYPT")
    sqlserver_trust_cert: bool = Field(False, alias="SPOTIFY_ELT_SQLSERVER_TRUST_CERT")

    @field_validator("spotify_api_url", "spotify_accounts_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("duckdb_path", "token_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        # dbt and the loader run from different working directories: pin paths down once.
        return value.expanduser().resolve()

    @field_validator(
        "spotify_client_id", "spotify_client_secret", "spotify_refresh_token", mode="before"
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("user_timezones", mode="before")
    @classmethod
    def _user_zone_list(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        zones = {}
        for entry in filter(None, (part.strip() for part in value.split(","))):
            user_id, equals, zone = entry.partition("=")
            if not equals or not user_id.strip() or not zone.strip():
                raise ValueError(f"expected user_id=Zone[,user_id=Zone...], got {entry!r}")
            zones[user_id.strip()] = zone.strip()
        return zones

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return _checked_zone(value.strip() or "UTC")

    @field_validator("user_timezones")
    @classmethod
    def _known_zones(cls, value: dict[str, str]) -> dict[str, str]:
        for user_id, zone in value.items():
            if "," in user_id or "'" in user_id:
                raise ValueError(f"user id {user_id!r} cannot contain ',' or quotes")
            _checked_zone(zone)
        return value

    def postgres_options(self, statement_timeout: int | None = None) -> str:
        """libpq's `options` for every PostgreSQL session: the lock timeout, and a statement
        timeout (seconds) where one is asked for."""
        options = f"-c lock_timeout={self.lock_timeout * 1000}"
        if statement_timeout is not None:
            options += f" -c statement_timeout={statement_timeout * 1000}"
        return options

    @classmethod
    def variables(cls) -> dict[str, str]:
        """Field name -> the environment variable that sets it."""
        return {name: (field.alias or name).upper() for name, field in cls.model_fields.items()}

    @cached_property
    def secrets(self) -> tuple[str, ...]:
        """Secret values to scrub from anything we print, log or store as a message."""
        values = [
            self.spotify_client_secret,
            self.spotify_refresh_token,
            self.postgres_password,
            self.sqlserver_password,
        ]
        # A two-letter "secret" (a typo, a test value) would mask letters in every line.
        return tuple(v.get_secret_value() for v in values if v and len(v.get_secret_value()) >= 6)

    def scrub(self, text: str) -> str:
        """`text` with every configured secret replaced by ***."""
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text

    def dbt_environment(self) -> dict[str, str]:
        """What dbt's `env_var()` reads, as resolved here: `.env` values and absolute paths too.

        pydantic reads `.env` without putting it into the process environment, and dbt runs in
        another working directory: without this, dbt would fall back to its defaults.
        """
        environment = {}
        for name, variable in self.variables().items():
            if not variable.startswith(("SPOTIFY_ELT_POSTGRES", "SPOTIFY_ELT_SQLSERVER")):
                continue
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            environment[variable] = str(value).lower() if isinstance(value, bool) else str(value)
        environment["SPOTIFY_ELT_TIMEZONE"] = self.timezone
        environment["SPOTIFY_ELT_USER_TIMEZONES"] = ",".join(
            f"{user_id}={zone}" for user_id, zone in sorted(self.user_timezones.items())
        )
        environment["SPOTIFY_ELT_CONNECT_TIMEOUT"] = str(self.connect_timeout)
        # dbt-postgres has no profile field for server settings, but libpq reads PGOPTIONS for
        # every connection that passes no `options` of its own (dbt-postgres passes one only for
        # `search_path`, which the profile leaves unset). Set from the settings each time, so a
        # value published earlier in this process never outlives a change of them.
        environment["PGOPTIONS"] = self.postgres_options()
        environment["SPOTIFY_ELT_TARGET"] = self.target
        environment["SPOTIFY_ELT_DUCKDB_PATH"] = str(self.duckdb_path)
        return environment


@cache
def _time_zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


def _checked_zone(zone: str) -> str:
    if zone not in _time_zone_names():
        raise ValueError(f"unknown time zone {zone!r} (use an IANA name such as Europe/Madrid)")
    return zone


def load_settings(**overrides: object) -> Settings:
    """Read the environment (and `.env` in the working directory) into `Settings`."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        first = error.errors()[0]
        name = str(first["loc"][0]).upper() if first["loc"] else "configuration"
        if not name.startswith("SPOTIFY"):
            name = f"SPOTIFY_{name}"
        message = str(first["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"invalid {name}: {message}") from None
    except (OSError, UnicodeError) as error:  # an unreadable or non-UTF-8 .env
        raise ConfigError(f"cannot read .env: {error}") from None
    except RuntimeError as error:  # Path.expanduser() of an unknown ~user
        raise ConfigError(f"invalid path in the configuration: {error}") from None
