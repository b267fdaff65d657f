"""The raw layer: table definitions and every SQL statement the loader runs (DESIGN §4.2).

The only module that talks SQL. One SQLAlchemy Core model serves DuckDB, PostgreSQL and SQL
Server; each load is one transaction, so a failure or a kill leaves the warehouse as it was.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mssql
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from ingestion.config import Settings
from ingestion.errors import WarehouseError

log = logging.getLogger(__name__)

RAW_SCHEMA = "raw"
MARTS_SCHEMA = "marts"

# SQLAlchemy's DateTime is DATETIME on SQL Server (3.33 ms steps): Spotify's played_at has
# whole milliseconds, so use DATETIME2 there. Naive values, always UTC.
Timestamp = sa.DateTime().with_variant(
    mssql.DATETIME2(precision=6),  # type: ignore[no-untyped-call]
    "mssql",
)
# Long text: nvarchar(max) on SQL Server (UnicodeText alone would give the deprecated NTEXT).
LongText = sa.UnicodeText().with_variant(mssql.NVARCHAR(), "mssql")
# Verbatim JSON is kept as text: jsonb would reorder keys, and so not be verbatim.
JsonText = LongText
UserId = sa.Unicode(128)

metadata = sa.MetaData(schema=RAW_SCHEMA)

recently_played = sa.Table(
    "spotify_recently_played",
    metadata,
    sa.Column("user_id", UserId, nullable=False),
    sa.Column("played_at", Timestamp, nullable=False, comment="UTC, from the item"),
    sa.Column("item", JsonText, nullable=False, comment="the play item exactly as returned"),
    sa.Column("_batch_id", sa.String(36), nullable=False),
    sa.Column("_loaded_at", Timestamp, nullable=False),
    sa.PrimaryKeyConstraint("user_id", "played_at", name="pk_spotify_recently_played"),
    # dbt's incremental staging reads only rows loaded since its last run. DuckDB skips old
    # row groups by their min/max already, and an index there would slow bulk loads.
    sa.Index("ix_spotify_recently_played_loaded_at", "_loaded_at").ddl_if(
        dialect=("postgresql", "mssql")  # type: ignore[arg-type]  # a tuple is documented
    ),
)

streaming_history = sa.Table(
    "spotify_streaming_history",
    metadata,
    sa.Column("user_id", UserId, nullable=False),
    sa.Column("record_key", sa.String(64), nullable=False, comment="hash of the record identity"),
    sa.Column("record", JsonText, nullable=False, comment="export record, privacy fields removed"),
    sa.Column("source_file", sa.Unicode(400), nullable=False),
    sa.Column("_batch_id", sa.String(36), nullable=False),
    sa.Column("_loaded_at", Timestamp, nullable=False),
    sa.PrimaryKeyConstraint("user_id", "record_key", name="pk_spotify_streaming_history"),
    sa.Index("ix_spotify_streaming_history_loaded_at", "_loaded_at").ddl_if(
        dialect=("postgresql", "mssql")  # type: ignore[arg-type]  # a tuple is documented
    ),
)

users = sa.Table(
    "spotify_users",
    metadata,
    sa.Column("user_id", UserId, nullable=False),
    sa.Column("profile", JsonText, nullable=False, comment="latest GET /me response"),
    sa.Column("_batch_id", sa.String(36), nullable=False),
    sa.Column("_loaded_at", Timestamp, nullable=False),
    sa.PrimaryKeyConstraint("user_id", name="pk_spotify_users"),
)

load_batches = sa.Table(
    "load_batches",
    metadata,
    sa.Column("batch_id", sa.String(36), nullable=False),
    sa.Column("source", sa.String(16), nullable=False, comment="api, export or demo"),
    sa.Column("user_id", UserId, nullable=True),
    sa.Column("status", sa.String(16), nullable=False, comment="succeeded or failed"),
    sa.Column("started_at", Timestamp, nullable=False),
    sa.Column("finished_at", Timestamp, nullable=False),
    sa.Column("rows_seen", sa.Integer, nullable=False),
    sa.Column("rows_inserted", sa.Integer, nullable=False),
    sa.Column("rows_duplicate", sa.Integer, nullable=False),
    sa.Column("gap_suspected", sa.Boolean, nullable=False),
    sa.Column("api_requests", sa.Integer, nullable=False),
    sa.Column("watermark_before", Timestamp, nullable=True),
    sa.Column("oldest_played_at", Timestamp, nullable=True),
    sa.Column("newest_played_at", Timestamp, nullable=True),
    sa.Column("message", LongText, nullable=True),
    sa.PrimaryKeyConstraint("batch_id", name="pk_load_batches"),
)


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class Play:
    """One recently-played item ready to land: its key and its verbatim JSON."""

    user_id: str
    played_at: datetime
    item_json: str


@dataclass(frozen=True)
class Batch:
    """The `raw.load_batches` row of one load."""

    batch_id: str
    source: str
    user_id: str | None
    status: str
    started_at: datetime
    rows_seen: int = 0
    rows_inserted: int = 0
    rows_duplicate: int = 0
    gap_suspected: bool = False
    api_requests: int = 0
    watermark_before: datetime | None = None
    oldest_played_at: datetime | None = None
    newest_played_at: datetime | None = None
    message: str | None = None


@dataclass(frozen=True)
class MartsSummary:
    plays: int
    first: datetime | None
    last: datetime | None
    top_artists: list[tuple[str, int]]


def new_batch_id() -> str:
    return str(uuid.uuid4())


def engine_url(settings: Settings) -> URL:
    """The SQLAlchemy URL of the configured target (the password stays out of `str(url)`)."""
    if settings.target == "duckdb":
        return URL.create("duckdb", database=str(settings.duckdb_path))
    if settings.target == "postgres":
        return URL.create(
            "postgresql+psycopg",
            username=settings.postgres_user,
            password=settings.postgres_password.get_secret_value() or None,
            host=settings.postgres_host,
            port=settings.postgres_port,
            database=settings.postgres_database,
        )
    query: dict[str, str] = {
        "driver": settings.sqlserver_driver,
        "Encrypt": "yes" if settings.sqlserver_encrypt else "no",
        "TrustServerCertificate": "yes" if settings.sqlserver_trust_cert else "no",
    }
    username: str | None = settings.sqlserver_user or None
    password: str | None = settings.sqlserver_password.get_secret_value() or None
    if settings.sqlserver_auth == "windows":
        query["Trusted_Connection"] = "yes"
        username = password = None
    elif settings.sqlserver_auth == "serviceprincipal":
        # user = the service principal's client id, password = its secret
        query["Authentication"] = "ActiveDirectoryServicePrincipal"
    return URL.create(
        "mssql+pyodbc",
        username=username,
        password=password,
        host=settings.sqlserver_server,
        port=settings.sqlserver_port,
        database=settings.sqlserver_database,
        query=query,
    )


def describe_target(settings: Settings) -> str:
    """Where the warehouse is, for messages (no credentials)."""
    if settings.target == "duckdb":
        return f"DuckDB file {settings.duckdb_path}"
    if settings.target == "postgres":
        return (
            f"PostgreSQL {settings.postgres_host}:{settings.postgres_port}/"
            f"{settings.postgres_database}"
        )
    return (
        f"SQL Server {settings.sqlserver_server}:{settings.sqlserver_port}/"
        f"{settings.sqlserver_database}"
    )


def _first_line(error: BaseException, settings: Settings) -> str:
    original = error.orig if isinstance(error, DBAPIError) and error.orig else error
    text = str(original).strip().splitlines()[0] if str(original).strip() else type(error).__name__
    return settings.scrub(text)


class Warehouse:
    """The raw layer of one warehouse. Use as a context manager; it disposes its engine."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.where = describe_target(settings)
        options: dict[str, Any] = {}
        if settings.target == "sqlserver":
            options["fast_executemany"] = True
        if settings.target == "postgres":
            # A firewalled host would otherwise hang a scheduled run for minutes.
            options["connect_args"] = {"connect_timeout": 15}
        try:
            if settings.target == "duckdb":
                settings.duckdb_path.parent.mkdir(parents=True, exist_ok=True)
            self.engine: Engine = sa.create_engine(engine_url(settings), **options)
        except (SQLAlchemyError, ImportError, OSError) as error:
            raise WarehouseError(
                f"cannot use the {self.where}: {_first_line(error, settings)}"
            ) from None

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        # DuckDB allows one writing process per file: release it before dbt opens the file.
        self.engine.dispose()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One transaction; any database failure becomes one line, after the rollback."""
        try:
            with self.engine.begin() as connection:
                yield connection
        except SQLAlchemyError as error:
            raise WarehouseError(f"{self.where}: {_first_line(error, self.settings)}") from None

    def create_raw_tables(self) -> None:
        """Create schema `raw` and its tables if missing. Safe to run every time."""
        with self.transaction() as connection:
            if not sa.inspect(connection).has_schema(RAW_SCHEMA):
                connection.execute(sa.schema.CreateSchema(RAW_SCHEMA))
            metadata.create_all(connection, checkfirst=True)

    def watermark(self, user_id: str) -> datetime | None:
        """The latest `played_at` landed for the user: the cursor of the next API call."""
        query = sa.select(sa.func.max(recently_played.c.played_at)).where(
            recently_played.c.user_id == user_id
        )
        with self.transaction() as connection:
            value = connection.execute(query).scalar_one_or_none()
        return value if isinstance(value, datetime) else None

    def land_plays(
        self,
        batch: Batch,
        plays: Sequence[Play],
        profile: Mapping[str, Any] | None = None,
    ) -> Batch:
        """Insert the plays not yet present, the user's profile and the batch row, atomically."""
        unique = {(play.user_id, play.played_at): play for play in plays}
        loaded_at = utc_now()
        with self.transaction() as connection:
            present = self._present_keys(connection, list(unique))
            rows = [
                {
                    "user_id": play.user_id,
                    "played_at": play.played_at,
                    "item": play.item_json,
                    "_batch_id": batch.batch_id,
                    "_loaded_at": loaded_at,
                }
                for key, play in unique.items()
                if key not in present
            ]
            if rows:
                connection.execute(recently_played.insert(), rows)
            if profile is not None and batch.user_id is not None:
                self._replace_profile(connection, batch.user_id, profile, batch.batch_id)
            times = [play.played_at for play in unique.values()]
            finished = dataclasses.replace(
                batch,
                rows_seen=len(plays),
                rows_inserted=len(rows),
                rows_duplicate=len(plays) - len(rows),
                oldest_played_at=min(times, default=None),
                newest_played_at=max(times, default=None),
            )
            self._insert_batch(connection, finished)
        return finished

    def record_failure(self, batch: Batch) -> None:
        """Best effort: note a failed load in its own transaction. Never raises."""
        try:
            with self.transaction() as connection:
                self._insert_batch(connection, batch)
        except WarehouseError as error:
            # The error that made the load fail is reported already; this one is its echo.
            log.info("could not record the failed load: %s", error)

    def _present_keys(
        self, connection: Connection, keys: Sequence[tuple[str, datetime]]
    ) -> set[tuple[str, datetime]]:
        if not keys:
            return set()
        present: set[tuple[str, datetime]] = set()
        for user_id in {user for user, _ in keys}:
            moments = [moment for user, moment in keys if user == user_id]
            query = sa.select(recently_played.c.user_id, recently_played.c.played_at).where(
                recently_played.c.user_id == user_id,
                recently_played.c.played_at.between(min(moments), max(moments)),
            )
            present.update((row.user_id, row.played_at) for row in connection.execute(query))
        return present

    def _replace_profile(
        self, connection: Connection, user_id: str, profile: Mapping[str, Any], batch_id: str
    ) -> None:
        connection.execute(users.delete().where(users.c.user_id == user_id))
        connection.execute(
            users.insert().values(
                user_id=user_id,
                profile=json.dumps(profile, ensure_ascii=False),
                _batch_id=batch_id,
                _loaded_at=utc_now(),
            )
        )

    def _insert_batch(self, connection: Connection, batch: Batch) -> None:
        values = dataclasses.asdict(batch)
        connection.execute(load_batches.insert().values(**values, finished_at=utc_now()))

    # ---- read-outs for people (demo summary, tests) ---------------------------------------

    def count_plays(self, user_id: str | None = None) -> int:
        query = sa.select(sa.func.count()).select_from(recently_played)
        if user_id is not None:
            query = query.where(recently_played.c.user_id == user_id)
        with self.transaction() as connection:
            return int(connection.execute(query).scalar_one())

    def play_items(self) -> list[str]:
        """Every landed item's JSON, for summaries computed in Python."""
        with self.transaction() as connection:
            return list(connection.execute(sa.select(recently_played.c.item)).scalars())

    def marts_summary(self, top: int = 5) -> MartsSummary:
        """Plays, their span and the most played artists, read from the marts dbt built."""
        plays = sa.table("fct_plays", sa.column("play_sk"), sa.column("played_at"),
                         sa.column("track_sk"), schema=MARTS_SCHEMA)  # fmt: skip
        bridge = sa.table("bridge_track_artists", sa.column("track_sk"), sa.column("artist_sk"),
                          schema=MARTS_SCHEMA)  # fmt: skip
        artists = sa.table("dim_artists", sa.column("artist_sk"), sa.column("artist_name"),
                           schema=MARTS_SCHEMA)  # fmt: skip
        play_count = sa.func.count(plays.c.play_sk)
        top_artists = (
            sa.select(artists.c.artist_name, play_count)
            .select_from(
                plays.join(bridge, plays.c.track_sk == bridge.c.track_sk).join(
                    artists, bridge.c.artist_sk == artists.c.artist_sk
                )
            )
            .group_by(artists.c.artist_name)
            .order_by(play_count.desc(), artists.c.artist_name)
            .limit(top)
        )
        span = sa.select(play_count, sa.func.min(plays.c.played_at), sa.func.max(plays.c.played_at))
        with self.transaction() as connection:
            count, first, last = connection.execute(span).one()
            ranked = [(str(name), int(n)) for name, n in connection.execute(top_artists)]
        return MartsSummary(int(count), first, last, ranked)

    def batches(self) -> list[dict[str, Any]]:
        query = sa.select(load_batches).order_by(load_batches.c.started_at)
        with self.transaction() as connection:
            return [dict(row._mapping) for row in connection.execute(query)]
