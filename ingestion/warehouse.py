"""The raw layer: table definitions and every SQL statement the loader runs against it (its
contract: docs/design.md, "Raw layer").

The only module that talks SQL. One SQLAlchemy Core model serves DuckDB, PostgreSQL and SQL
Server; each load is one transaction, so a failure or a kill leaves the warehouse as it was.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mssql
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.schema import CreateColumn

from ingestion import running
from ingestion.config import Settings
from ingestion.errors import WarehouseBusyError, WarehouseError
from ingestion.rules import PRIVATE_FIELDS, without_private_fields_sql

log = logging.getLogger(__name__)

RAW_SCHEMA = "raw"
MARTS_SCHEMA = "marts"
# The schemas dbt builds into (dbt_project.yml, `+schema`): everything in them comes from `raw`.
DERIVED_SCHEMAS = ("staging", "intermediate", MARTS_SCHEMA)

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
    sa.Column(
        "repeats",
        sa.Integer,
        nullable=False,
        server_default=sa.text("0"),
        comment="how many more records of its export were identical to this one (left out)",
    ),
    sa.Column("_batch_id", sa.String(36), nullable=False),
    sa.Column("_loaded_at", Timestamp, nullable=False),
    # Unique on (user_id, record_key), but not enforced by an index on DuckDB: its ART index
    # makes a million-record import three times slower (18 s against 6 s, measured). There the
    # import lands only keys not yet present, in its own transaction, and dbt tests uniqueness.
    sa.PrimaryKeyConstraint("user_id", "record_key", name="pk_spotify_streaming_history").ddl_if(
        dialect=("postgresql", "mssql")  # type: ignore[arg-type]  # a tuple is documented
    ),
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
    sa.Column("status", sa.String(16), nullable=False, comment="succeeded, failed or undone"),
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


def keep_duckdb_files_private(settings: Settings) -> None:
    """On DuckDB, make every file this process creates from now on its user's only (0600, 0700).

    The warehouse holds a listening history. DuckDB creates its file, and dbt-duckdb when it
    opens a new one, with the process umask (0644 under the usual 022); so is the `.wal` beside
    it, which DuckDB deletes at each checkpoint and creates again at the next write (DuckDB 2.0;
    tests/unit/test_warehouse.py checks), and so is its spill folder. Creating the file in advance
    cannot cover that: DuckDB refuses an empty file, and makes its WAL itself. The umask does,
    so it is set, and for the rest of the process: a WAL can appear at any write while a
    connection lives (dbt-duckdb keeps its own until the process ends), and a umask belongs to
    the whole process, so one restored afterwards would race with other threads' files. What
    else the process then creates (dbt's target/ and logs, a local Airflow's home) is private
    too. An existing warehouse file (and WAL) of this user loses any access by others.
    """
    if settings.target == "duckdb":
        os.umask(os.umask(0o077) | 0o077)
        # A warehouse an earlier version made readable to others is closed up too.
        for path in (settings.duckdb_path, Path(f"{settings.duckdb_path}.wal")):
            with suppress(OSError):  # missing, or not this user's to change
                status = path.stat()
                if status.st_mode & 0o077 and status.st_uid == os.getuid():
                    path.chmod(status.st_mode & 0o700)


def create_engine(
    settings: Settings, *, statement_timeout: int | None = None, **options: Any
) -> Engine:
    """An engine on the configured target whose every wait on the server is bounded: the
    connection (SPOTIFY_ELT_CONNECT_TIMEOUT), any lock another session holds
    (SPOTIFY_ELT_LOCK_TIMEOUT) and, where asked, each statement (`statement_timeout` seconds).

    No statement timeout by default: a build or an import on a big history may rightly run for
    many minutes, and what hangs for ever is a wait on a lock or on a server that never
    answers, which the other two bound. The dashboard, whose queries take milliseconds, asks
    for one. DuckDB is a file: there is no connection to wait for, a second writer is refused
    at once (`failure_line`), and no other session holds locks.
    """
    connect_args: dict[str, Any] = dict(options.pop("connect_args", {}))
    if settings.target == "postgres":
        # psycopg applies connect_timeout to the whole start-up, so a server that accepts the
        # connection and never answers fails as one that is not there; `options` sets the
        # server's lock_timeout (and statement_timeout) for the session.
        connect_args["connect_timeout"] = settings.connect_timeout
        connect_args["options"] = settings.postgres_options(statement_timeout)
    elif settings.target == "sqlserver":
        # pyodbc.connect's `timeout` is the login timeout (SQL_ATTR_LOGIN_TIMEOUT), whereas
        # the connection's `timeout` attribute is the query timeout; see
        # https://github.com/mkleehammer/pyodbc/wiki/The-pyodbc-Module#connect and
        # https://github.com/mkleehammer/pyodbc/wiki/Connection#timeout. ODBC bounds the whole
        # login request by it (https://learn.microsoft.com/sql/odbc/reference/syntax/
        # sqlsetconnectattr-function). FreeTDS 1.3 (Debian's tdsodbc) does not, once the TCP
        # connection is up: a server that accepts and never answers still holds it (seen here).
        connect_args["timeout"] = settings.connect_timeout
    engine = sa.create_engine(engine_url(settings), connect_args=connect_args, **options)
    if settings.target == "sqlserver":
        lock_milliseconds = settings.lock_timeout * 1000

        @sa.event.listens_for(engine, "connect")
        def bound_waits(dbapi_connection: Any, _: Any) -> None:
            # SET LOCK_TIMEOUT holds for the session: a statement waits at most this long for
            # a lock, then fails with error 1222 (https://learn.microsoft.com/sql/t-sql/
            # statements/set-lock-timeout-transact-sql).
            cursor = dbapi_connection.cursor()
            cursor.execute(f"set lock_timeout {lock_milliseconds}")
            cursor.close()
            if statement_timeout is not None:
                dbapi_connection.timeout = statement_timeout

    return engine


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


# DuckDB during an import: a buffer pool that keeps the process under 500 MB, and no progress
# bar of its own on stdout (the command line draws one on stderr when it is a terminal).
IMPORT_DUCKDB_SETTINGS: Mapping[str, str] = {
    # Landing holds a row group per thread and the JSON buffers, about 370 MB on two cores:
    # with less, DuckDB evicts and returns memory to the system all along, which made a
    # million-record import 5% slower at 350 MB (measured). The process peaks some 70 MB above.
    "memory_limit": "'384MB'",
    "preserve_insertion_order": "false",  # rows of raw tables have no order: less memory
    # Progress is tracked (query_progress() feeds our bar) but never printed by DuckDB.
    "enable_progress_bar": "true",
    "enable_progress_bar_print": "false",
    "progress_bar_time": "0",
}


def configure_import_duckdb(connection: Any, temp_directory: Path | None = None) -> None:
    settings = dict(IMPORT_DUCKDB_SETTINGS)
    if temp_directory is not None:
        settings["temp_directory"] = "'" + str(temp_directory).replace("'", "''") + "'"
    for name, value in settings.items():
        connection.execute(f"set {name} = {value}")


_DUCKDB_HEADER_BYTES = 3 * 4096
_MIGRATION_PAGE_ROWS = 10_000


def _duckdb_errors() -> type[Exception]:
    import duckdb

    return duckdb.Error


def _landing_errors() -> tuple[type[Exception], ...]:
    """What the bulk paths raise outside SQLAlchemy: DuckDB's errors and psycopg's (COPY)."""
    import duckdb
    import psycopg

    return (duckdb.Error, psycopg.Error)


def _unkey_empty_history(connection: Connection) -> None:
    """Warehouses made before the import existed keyed the history table on DuckDB: drop the
    (necessarily empty) table so that it is made again without the slow index."""
    keyed = connection.exec_driver_sql(
        "select count(*) from duckdb_constraints() where schema_name = 'raw' "
        "and table_name = 'spotify_streaming_history' and constraint_type = 'PRIMARY KEY'"
    ).scalar_one()
    rows = sa.select(sa.func.count()).select_from(streaming_history)
    if keyed and connection.execute(rows).scalar_one() == 0:
        streaming_history.drop(connection)


def _add_missing_columns(connection: Connection) -> dict[str, list[str]]:
    """Add the columns a raw table gained since the warehouse was made (each has a server
    default, so the rows already there get it); return them by table."""
    # One query: the inspector's column reflection takes 40 ms a table on DuckDB, every run.
    present = set(
        connection.execute(
            sa.text(
                "select table_name, column_name from information_schema.columns "
                "where table_schema = :schema"
            ),
            {"schema": RAW_SCHEMA},
        ).tuples()
    )
    added: dict[str, list[str]] = {}
    for table in metadata.sorted_tables:
        for column in table.columns:
            if (table.name, column.name) not in present:
                definition = CreateColumn(column).compile(dialect=connection.dialect)
                add = "add" if connection.dialect.name == "mssql" else "add column"
                connection.exec_driver_sql(
                    f"alter table {RAW_SCHEMA}.{table.name} {add} {definition}"
                )
                added.setdefault(table.name, []).append(column.name)
    return added


def _remove_private_fields(connection: Connection) -> None:
    """Remove from the stored export records the fields an import now leaves out: versions
    before `repeats` kept the location fields of older Extended records."""
    table = f"{RAW_SCHEMA}.{streaming_history.name}"
    patterns = {f"field_{number}": f'%"{name}"%' for number, name in enumerate(PRIVATE_FIELDS)}
    named = " or ".join(f"record like :{parameter}" for parameter in patterns)
    if connection.dialect.name == "duckdb":  # as the import removes them
        removed = without_private_fields_sql("record")
        connection.execute(
            sa.text(f"update {table} set record = {removed} where {named}"), patterns
        )
        return
    # Elsewhere in Python, a page at a time: the servers' JSON functions would each need their
    # own SQL, and PostgreSQL's jsonb refuses some text JSON allows (an escaped NUL).
    columns = streaming_history.c
    private = set(PRIVATE_FIELDS)
    last_user, last_key = "", ""
    while True:
        page = connection.execute(
            sa.select(columns.user_id, columns.record_key, columns.record)
            .where(
                sa.or_(*(columns.record.like(pattern) for pattern in patterns.values())),
                sa.or_(
                    columns.user_id > last_user,
                    sa.and_(columns.user_id == last_user, columns.record_key > last_key),
                ),
            )
            .order_by(columns.user_id, columns.record_key)
            .limit(_MIGRATION_PAGE_ROWS)
        ).all()
        if not page:
            return
        updates = []
        for user_id, record_key, record in page:
            value = json.loads(record)
            if isinstance(value, dict) and private & value.keys():
                kept = {name: item for name, item in value.items() if name not in private}
                text = json.dumps(kept, ensure_ascii=False, separators=(",", ":"))
                updates.append({"record": text, "user": user_id, "key": record_key})
        if updates:
            connection.execute(
                streaming_history.update()
                .where(
                    columns.user_id == sa.bindparam("user"),
                    columns.record_key == sa.bindparam("key"),
                )
                .values(record=sa.bindparam("record")),
                updates,
            )
        last_user, last_key = page[-1][0], page[-1][1]


def _drop_derived_tables(connection: Connection) -> None:
    """Drop every table in the schemas dbt builds into. PostgreSQL drops the views on them
    too (dbt makes them anew on every build); DuckDB and SQL Server keep such views, which
    read the new tables once they exist."""
    inspector = sa.inspect(connection)
    quote = connection.dialect.identifier_preparer.quote
    cascade = " cascade" if connection.dialect.name == "postgresql" else ""
    for schema in DERIVED_SCHEMAS:
        if inspector.has_schema(schema):
            for table in inspector.get_table_names(schema=schema):
                connection.exec_driver_sql(f"drop table {quote(schema)}.{quote(table)}{cascade}")


def _driver_error(error: BaseException) -> BaseException:
    return error.orig if isinstance(error, DBAPIError) and error.orig else error


def _first_line(error: BaseException, settings: Settings) -> str:
    original = _driver_error(error)
    text = str(original).strip().splitlines()[0] if str(original).strip() else type(error).__name__
    return settings.scrub(text)


def connect_timed_out(error: BaseException) -> bool:
    """Whether the server did not answer a connection within SPOTIFY_ELT_CONNECT_TIMEOUT."""
    import psycopg

    original = _driver_error(error)
    if isinstance(original, psycopg.errors.ConnectionTimeout):
        return True
    # pyodbc: SQLSTATE HYT00 "Login timeout expired" (a query timeout is HYT00 too, in words
    # of its own).
    return "login timeout expired" in str(original).lower()


def lock_timed_out(error: BaseException) -> bool:
    """Whether a statement gave up waiting for a lock after SPOTIFY_ELT_LOCK_TIMEOUT."""
    import psycopg

    original = _driver_error(error)
    if isinstance(original, psycopg.errors.LockNotAvailable):  # SQLSTATE 55P03
        return True
    return "(1222)" in str(original)  # SQL Server: "Lock request time out period exceeded."


def query_timed_out(error: BaseException) -> bool:
    """Whether a statement ran past the statement timeout its engine was made with."""
    import psycopg

    original = _driver_error(error)
    if isinstance(original, psycopg.errors.QueryCanceled):  # SQLSTATE 57014
        return "statement timeout" in str(original)
    return "query timeout expired" in str(original).lower()  # pyodbc: HYT00


# DuckDB's words when another process has the file (DuckDB 1.x and 2.0).
_DUCKDB_FILE_LOCK = re.compile(
    r"Could not set lock on file .*?Conflicting lock is held in .+? \(PID (?P<pid>\d+)\)"
)


def connect_timeout_line(settings: Settings) -> str:
    """What to do about a server that did not answer in time: its host, port and settings."""
    prefix = "SPOTIFY_ELT_POSTGRES" if settings.target == "postgres" else "SPOTIFY_ELT_SQLSERVER"
    host = f"{prefix}_HOST" if settings.target == "postgres" else f"{prefix}_SERVER"
    return (
        f"{describe_target(settings)} did not answer within {settings.connect_timeout} s: "
        f"check that the server is up and that {host} and {prefix}_PORT point at it "
        "(SPOTIFY_ELT_CONNECT_TIMEOUT sets the wait)"
    )


def failure_line(error: BaseException, settings: Settings) -> str:
    """One line for a failure to use the warehouse: where, what, and what to do about it."""
    where = describe_target(settings)
    if connect_timed_out(error):
        return connect_timeout_line(settings)
    if lock_timed_out(error):
        return (
            f"{where}: another session held a lock this needs for over "
            f"{settings.lock_timeout} s (SPOTIFY_ELT_LOCK_TIMEOUT sets the wait): try again "
            "when it has finished"
        )
    holder = _DUCKDB_FILE_LOCK.search(str(_driver_error(error)))
    if holder:
        return (
            f"another run is in progress on {where} (process {holder['pid']} has the file "
            "open, and DuckDB lets one process write it at a time): try again when it has "
            "finished"
        )
    return f"{where}: {_first_line(error, settings)}"


def _warehouse_error(error: BaseException, settings: Settings) -> WarehouseError:
    line = failure_line(error, settings)
    if lock_timed_out(error) or _DUCKDB_FILE_LOCK.search(str(_driver_error(error))):
        return WarehouseBusyError(line)
    return WarehouseError(line)


def _lock_key(name: str) -> int:
    """A fixed signed 64-bit key for PostgreSQL's advisory locks, from a readable name."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


RUN_LOCK = "spotify-elt run"


def _extract_lock(user_id: str) -> str:
    return f"spotify-elt extract {user_id}"


def _sp_getapplock(connection: Connection, name: str, owner: str, timeout_ms: int) -> int:
    """SQL Server's application lock `name`, owned by the session or the transaction: 0 or 1
    when granted, -1 when another holds it past `timeout_ms` (https://learn.microsoft.com/sql/
    relational-databases/system-stored-procedures/sp-getapplock-transact-sql)."""
    # NOCOUNT for the batch: pyodbc would otherwise see the procedure's row count first, and
    # no result. Set back after, as the session goes back to the pool.
    result = connection.exec_driver_sql(
        "set nocount on; declare @result int; exec @result = sp_getapplock @Resource = ?, "
        "@LockMode = 'Exclusive', @LockOwner = ?, @LockTimeout = ?; select @result",
        (name, owner, timeout_ms),
    ).scalar_one()
    connection.exec_driver_sql("set nocount off")
    return int(result)


def _take_session_lock(connection: Connection, name: str) -> bool:
    """Take the lock `name` for the session, at once or not at all."""
    if connection.dialect.name == "postgresql":
        query = sa.text("select pg_try_advisory_lock(:key)")
        return bool(connection.execute(query, {"key": _lock_key(name)}).scalar_one())
    return _sp_getapplock(connection, name, "Session", 0) >= 0


def _release_session_lock(connection: Connection, name: str) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text("select pg_advisory_unlock(:key)"), {"key": _lock_key(name)})
    else:
        connection.exec_driver_sql(
            "exec sp_releaseapplock @Resource = ?, @LockOwner = 'Session'", (name,)
        )


def check_reachable(settings: Settings) -> None:
    """Fail in one line, within SPOTIFY_ELT_CONNECT_TIMEOUT, when the server does not answer.

    For the commands that go straight to dbt (`docs`): dbt-postgres tries each of its
    connections twice and prints a page of its own before it gives up.
    """
    if settings.target == "duckdb":
        return
    with Warehouse(settings) as warehouse, warehouse.transaction() as connection:
        connection.execute(sa.text("select 1"))


@contextmanager
def run_lock(settings: Settings) -> Iterator[None]:
    """Hold the warehouse's run lock while the block runs (a dbt build); when another run
    holds it, fail at once with one line.

    Two builds at once on one server database fail each other with errors that point nowhere
    ("relation ... does not exist", "... already exists"): both drop, create and rename the
    same relations. The lock belongs to a session of its own, kept open while dbt works on its
    own connections, so it covers the whole build; the server releases it when that session
    ends, even if this process is killed. DuckDB needs none: its file lock refuses a second
    writer already, and `failure_line` words that refusal the same way.
    """
    if settings.target == "duckdb":
        yield
        return
    with Warehouse(settings) as warehouse:
        try:
            # Autocommit: the lock outlives any transaction, and a session left idle in one
            # for a whole build would hold back vacuum on PostgreSQL.
            connection = warehouse.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        except SQLAlchemyError as error:
            raise _warehouse_error(error, settings) from None
        with connection:
            try:
                held = _take_session_lock(connection, RUN_LOCK)
            except SQLAlchemyError as error:
                raise _warehouse_error(error, settings) from None
            if not held:
                raise WarehouseBusyError(
                    f"another run is in progress on {warehouse.where} (a `spotify-elt "
                    f"transform` or `run` holds its lock {RUN_LOCK!r}): try again when it has "
                    "finished"
                )
            try:
                yield
            finally:
                # Closing the session would release it too; the pool keeps sessions open.
                with suppress(SQLAlchemyError):
                    _release_session_lock(connection, RUN_LOCK)


class Warehouse:
    """The raw layer of one warehouse. Use as a context manager; it disposes its engine."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.where = describe_target(settings)
        options: dict[str, Any] = {}
        if settings.target == "sqlserver":
            options["fast_executemany"] = True
        try:
            if settings.target == "duckdb":
                keep_duckdb_files_private(settings)
                settings.duckdb_path.parent.mkdir(parents=True, exist_ok=True)
            self.engine: Engine = create_engine(settings, **options)
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
            with self.engine.connect() as connection:
                # `info` lives as long as the pooled connection: forget an earlier transaction's.
                connection.info.pop("batch", None)
                transaction = connection.begin()
                try:
                    yield connection
                except BaseException:
                    transaction.rollback()
                    raise
                # A signal during the commit waits for its end: then the run knows whether
                # its load landed, and says so (`running.has_landed`).
                with running.shielded():
                    transaction.commit()
                    if connection.info.pop("batch", False):
                        running.note_landed()
        except SQLAlchemyError as error:
            raise _warehouse_error(error, self.settings) from None

    def create_raw_tables(self) -> None:
        """Create schema `raw` and its tables if missing. Safe to run every time."""
        with self.transaction() as connection:
            if connection.dialect.name == "duckdb":
                self._refuse_a_cut_short_file(connection)
            if not sa.inspect(connection).has_schema(RAW_SCHEMA):
                connection.execute(sa.schema.CreateSchema(RAW_SCHEMA))
            if connection.dialect.name == "duckdb":
                _unkey_empty_history(connection)
            metadata.create_all(connection, checkfirst=True)
            if "repeats" in _add_missing_columns(connection).get(streaming_history.name, []):
                _remove_private_fields(connection)

    def _refuse_a_cut_short_file(self, connection: Connection) -> None:
        """Refuse a DuckDB file that ends before blocks its tables use (a copy or a disk cut
        short).

        DuckDB opens such a file and reads only the blocks a query needs: an import that never
        reads the lost ones lands its records and commits into a broken file (seen: a 93 MiB
        warehouse cut by 2.5 MiB took two imports without a word). Its own block count cannot
        tell: a file whose last blocks were freed is cut back while the count stays (seen after
        deletes), so the check is on the blocks the tables use.
        """
        (block_size,) = connection.exec_driver_sql(
            "select block_size from pragma_database_size() where database_name = current_database()"
        ).one()
        tables = connection.exec_driver_sql(
            "select schema_name, table_name from duckdb_tables() "
            "where database_name = current_database()"
        ).all()
        last = -1
        for schema, table in tables:
            name = ".".join('"' + part.replace('"', '""') + '"' for part in (schema, table))
            (furthest,) = connection.exec_driver_sql(
                "select coalesce(max(block_id), -1) from pragma_storage_info(?)", (name,)
            ).one()
            last = max(last, int(furthest))
        if last < 0:
            return
        # Three 4 KiB headers, then the blocks: a whole file is exactly this long when its last
        # block is in use (tests/integration/test_inputs.py checks it on the files DuckDB writes).
        needed = _DUCKDB_HEADER_BYTES + (last + 1) * int(block_size)
        try:
            size = self.settings.duckdb_path.stat().st_size
        except OSError:
            return
        if size < needed:
            raise WarehouseError(
                f"{self.where} is cut short ({size:,} bytes, its tables use {needed:,}); "
                "nothing was written: restore it from a copy, or move it away to start anew"
            )

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
            if batch.user_id is not None:
                self._lock_user(connection, batch.user_id)
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

    def _lock_user(self, connection: Connection, user_id: str) -> None:
        """Wait, at most SPOTIFY_ELT_LOCK_TIMEOUT, until no other extract is landing this
        user's plays, and keep others out until this transaction ends.

        Two extracts of one user at once (a cron run beside a DAG run, a run started by hand)
        would otherwise both find the same plays missing and both insert them: the second
        waits on the first's uncommitted rows, then fails on the primary key. Taking turns,
        the second finds the first's plays present and lands only what is new. DuckDB needs no
        lock: one process at a time writes its file.
        """
        name = _extract_lock(user_id)
        busy = WarehouseBusyError(
            f"another extract for {user_id} is in progress on {self.where} (it held its lock "
            f"for over {self.settings.lock_timeout} s; SPOTIFY_ELT_LOCK_TIMEOUT sets the "
            "wait): try again when it has finished"
        )
        if connection.dialect.name == "postgresql":
            # Waits as long as the session's lock_timeout, then fails with SQLSTATE 55P03.
            try:
                connection.execute(
                    sa.text("select pg_advisory_xact_lock(:key)"), {"key": _lock_key(name)}
                )
            except SQLAlchemyError as error:
                if lock_timed_out(error):
                    raise busy from None
                raise
        elif connection.dialect.name == "mssql":
            # A lock owned by the transaction needs one open, and in ODBC's manual-commit mode
            # (implicit transactions) EXEC opens none: a SELECT from a table does (https://
            # learn.microsoft.com/sql/t-sql/statements/set-implicit-transactions-transact-sql).
            connection.execute(sa.select(load_batches.c.batch_id).limit(0)).all()
            timeout = self.settings.lock_timeout * 1000
            if _sp_getapplock(connection, name, "Transaction", timeout) < 0:
                raise busy

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
        if batch.status == "succeeded":
            connection.info["batch"] = True  # a load: see `transaction`
        connection.execute(load_batches.insert().values(**values, finished_at=utc_now()))

    def undo_import(self, batch_id: str) -> Batch:
        """Remove the records one import landed and mark its batch `undone`, atomically.

        Records it found already there belong to the imports that landed them, and stay. The
        tables dbt built go too: its incremental models only add and replace rows, so they
        would keep the removed plays, and the next build (a `transform`, a DAG run) makes
        them anew from `raw`, as a full refresh does."""
        with self.transaction() as connection:
            row = connection.execute(
                sa.select(load_batches).where(load_batches.c.batch_id == batch_id)
            ).one_or_none()
            if row is None or row.source != "export":
                what = "no import" if row is None else f"a load from the {row.source}"
                raise WarehouseError(
                    f"{batch_id!r} is {what}; `spotify-elt import --list` lists the imports"
                )
            batch = Batch(**{f.name: getattr(row, f.name) for f in dataclasses.fields(Batch)})
            if row.status != "succeeded":
                raise WarehouseError(f"import {batch_id} is {row.status}: nothing of it to undo")
            # A play lands once, with the first import that has it: a later import of the same
            # time found those plays there and landed nothing of them. Undoing the earlier one
            # first would lose them; the later ones go first (and can be imported again).
            later = (
                connection.execute(
                    sa.select(load_batches.c.batch_id).where(
                        load_batches.c.source == "export",
                        load_batches.c.status == "succeeded",
                        load_batches.c.user_id == row.user_id,
                        load_batches.c.started_at > row.started_at,
                        load_batches.c.oldest_played_at <= row.newest_played_at,
                        load_batches.c.newest_played_at >= row.oldest_played_at,
                    )
                )
                .scalars()
                .all()
            )
            if later:
                raise WarehouseError(
                    f"import {batch_id} of {row.user_id} has plays that the later import "
                    f"{', '.join(later)} found there and did not land again: undo that first "
                    "(then import it again if you want it)"
                )
            of_batch = streaming_history.c._batch_id == batch_id
            removed = connection.execute(
                sa.select(sa.func.count()).select_from(streaming_history).where(of_batch)
            ).scalar_one()
            connection.execute(streaming_history.delete().where(of_batch))
            message = f"{row.message or 'import'}; undone at {utc_now():%Y-%m-%d %H:%M:%S} UTC"
            connection.execute(
                load_batches.update()
                .where(load_batches.c.batch_id == batch_id)
                .values(status="undone", message=message)
            )
            _drop_derived_tables(connection)
        return dataclasses.replace(batch, status="undone", rows_inserted=int(removed))

    @contextmanager
    def export_reader(self, workdir: Path) -> Iterator[tuple[Connection, Any]]:
        """One import's transaction and the DuckDB connection that reads the export files
        (`ingestion.export.landing` lands through them).

        On DuckDB that is the warehouse's own connection, so records go from the files into
        `raw` in one statement; elsewhere an in-memory DuckDB streams them to the server.
        Either way DuckDB keeps to `IMPORT_DUCKDB_SETTINGS`.
        """
        with self.transaction() as connection:
            local = None
            reader: Any
            if connection.dialect.name == "duckdb":
                # No temp_directory here: changing it while a transaction has spilled blocks
                # there loses them at commit, silently (DuckDB 2.0, seen here). The default is
                # a folder next to the warehouse file.
                reader = connection.connection.driver_connection
                configure_import_duckdb(reader)
            else:
                import duckdb

                reader = local = duckdb.connect()
                configure_import_duckdb(reader, workdir)
            try:
                yield connection, reader
            except _landing_errors() as error:
                raise _warehouse_error(error, self.settings) from None
            finally:
                if local is not None:
                    local.close()
                else:
                    with suppress(_duckdb_errors()):  # fails in an aborted transaction
                        for name in IMPORT_DUCKDB_SETTINGS:
                            reader.execute(f"reset {name}")

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
