"""The landing half of an import: the records it selected go into `raw.streaming_history`,
inside the import's one transaction, each with a key of its own (`regroup`).
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ingestion.export.formats import (
    ExportFile,
    RecordFormat,
    _literal,
    _path,
    has_content_sql,
)
from ingestion.warehouse import (
    RAW_SCHEMA,
    Batch,
    Warehouse,
    streaming_history,
    utc_now,
)

_IMPORT_CHUNK_ROWS = 10_000


@dataclass(frozen=True)
class Landed:
    """What `ExportLanding.insert_records` did."""

    inserted: int  # rows inserted: the keys the user did not have, each once
    # Of them, records that are plays (the selects' is_play): counted on servers only, on
    # DuckDB the import counts them in what landed (`aggregate_batch`).
    plays: int | None
    repeats: int  # records left out as identical to one inserted (their `repeats`)
    # Rows the selects gave that were not left out as present (a key twice counted twice);
    # counted on DuckDB only (elsewhere the server leaves out the repeats unseen).
    selected: int | None


@dataclass(frozen=True)
class Regrouping:
    """How an import keys the records that share a key (`regroup`).

    - `regroup`: given (source_file, key, record, ...) rows of keys shared in an export, and
      a lookup of the user's stored records by key, the rows to land instead, as
      (source_file, key, record, repeats, ...);
    - `scope`: DuckDB SQL naming the export of the row whose file is `source_file`;
    - `shared_keys`: the keys the check found shared within an export; None when the import
      was not checked first (a user's first import into DuckDB: nothing of theirs is there).
    """

    regroup: Callable[
        [Iterable[Sequence[Any]], Callable[[Collection[str]], Mapping[str, str]]],
        list[tuple[Any, ...]],
    ]
    scope: str
    shared_keys: Collection[str] | None = None


class ExportLanding:
    """Lands the records an import selected, inside the import's one transaction."""

    def __init__(self, warehouse: Warehouse, connection: Connection, reader: Any) -> None:
        self.warehouse = warehouse
        self.connection = connection
        self.reader = reader  # a DuckDB connection: it runs the SQL of `ingestion.export`

    def has_history(self, user_id: str) -> bool:
        """Whether the user has records from an export already."""
        query = sa.select(streaming_history.c.user_id).where(streaming_history.c.user_id == user_id)
        return self.connection.execute(query.limit(1)).first() is not None

    def insert_records(self, selects: Sequence[str], batch: Batch, keys: Regrouping) -> Landed:
        """Insert the selected records whose key the user does not have yet.

        Each select yields (source_file, record_key, record), and on servers is_play. Records
        that share a key in an export are landed as `keys.regroup` says; a key in two exports
        of one import (two overlapping exports at once) lands once, from the least file name.
        """
        user_id = batch.user_id or ""
        loaded_at = utc_now()
        dialect = self.connection.dialect.name
        if dialect == "duckdb":
            return self._land_in_duckdb(selects, user_id, batch.batch_id, loaded_at, keys)
        assert keys.shared_keys is not None, "a server's import is always checked first"
        self._stage(selects, dialect, keys, user_id)
        return self._insert_staged(user_id, batch.batch_id, loaded_at)

    def aggregate_batch(
        self, batch_id: str, aggregates: str, source_files: Sequence[str] | None
    ) -> tuple[Any, ...]:
        """The row of `aggregates` (SQL over `record`) over the batch's landed records (DuckDB),
        those of `source_files` only unless it is None."""
        table = f"{RAW_SCHEMA}.{streaming_history.name}"
        where = "_batch_id = ?"
        parameters: list[Any] = [batch_id]
        if source_files is not None:
            where += " and list_contains(?, source_file)"
            parameters.append(list(source_files))
        (row,) = self.reader.execute(
            f"select {aggregates} from {table} where {where}", parameters
        ).fetchall()
        return tuple(row)

    def add_batch(self, batch: Batch) -> None:
        """The import's `raw.load_batches` row, in its transaction."""
        self.warehouse._insert_batch(self.connection, batch)

    def _land_in_duckdb(
        self, selects: Sequence[str], user_id: str, batch_id: str, loaded_at: datetime,
        keys: Regrouping,
    ) -> Landed:  # fmt: skip
        table = f"{RAW_SCHEMA}.{streaming_history.name}"
        columns = "source_file, record_key, record, user_id, _batch_id, _loaded_at"
        present = f"select record_key from {table} where user_id = ?"
        if keys.shared_keys:
            # Shared keys land whatever is present: the rows regroup gives them are checked.
            self._temporary_keys("import_shared_keys", keys.shared_keys)
            present += " and record_key not in (select record_key from import_shared_keys)"
        for select in selects:
            self.reader.execute(
                f"""
                insert into {table} ({columns})
                select source_file, record_key, record, ?, ?, ?
                from ({select}) as new_records
                where record_key not in ({present})
                """,
                [user_id, batch_id, loaded_at, user_id],
            )
        ((selected,),) = self.reader.execute(
            f"select count(*) from {table} where _batch_id = ?", [batch_id]
        ).fetchall()
        # Keys landed more than once: shared within an export (regrouped), or by two exports.
        twice = self.reader.execute(
            f"select record_key from {table} where _batch_id = ? "
            "group by record_key having count(*) > 1",
            [batch_id],
        ).fetchall()
        if not (twice or keys.shared_keys):  # every selected row landed as it was
            return Landed(int(selected), None, 0, int(selected))
        if twice:
            self._temporary_keys("import_keys_twice", [key for (key,) in twice])
            self._regroup_in_duckdb(table, user_id, batch_id, loaded_at, keys)
        # A key in two exports of the import lands once; one the user had, not again.
        self.reader.execute(
            f"""
                delete from {table} as landed
                where landed._batch_id = ? and (
                    landed.rowid not in (
                        select first(rowid order by source_file, record) from {table}
                        where _batch_id = ? group by record_key
                    )
                    or landed.record_key in (
                        select record_key from {table} where user_id = ? and _batch_id <> ?
                    )
                )
                """,
            [batch_id, batch_id, user_id, batch_id],
        )
        ((inserted, repeats),) = self.reader.execute(
            f"select count(*), coalesce(sum(repeats), 0) from {table} where _batch_id = ?",
            [batch_id],
        ).fetchall()
        return Landed(int(inserted), None, int(repeats), int(selected))

    def _regroup_in_duckdb(
        self, table: str, user_id: str, batch_id: str, loaded_at: datetime, keys: Regrouping
    ) -> None:
        """Land again, as `keys.regroup` says, the batch's records of keys that an export
        shares (among `import_keys_twice`)."""
        shared = self.reader.execute(
            f"""
            select record_key from {table}
            where _batch_id = ? and record_key in (select record_key from import_keys_twice)
            group by {keys.scope}, record_key having count(*) > 1
            """,
            [batch_id],
        ).fetchall()
        if not shared:
            return
        self._temporary_keys("import_regrouped_keys", [key for (key,) in shared])
        in_shared = "record_key in (select record_key from import_regrouped_keys)"
        rows = self.reader.execute(
            f"select source_file, record_key, record from {table} "
            f"where _batch_id = ? and {in_shared}",
            [batch_id],
        ).fetchall()
        self.reader.execute(f"delete from {table} where _batch_id = ? and {in_shared}", [batch_id])

        def stored(wanted: Collection[str]) -> dict[str, str]:
            self._temporary_keys("import_wanted_keys", wanted)
            return dict(
                self.reader.execute(
                    f"select record_key, record from {table} where user_id = ? "
                    "and _batch_id <> ? and record_key in (select * from import_wanted_keys)",
                    [user_id, batch_id],
                ).fetchall()
            )

        columns = "source_file, record_key, record, repeats, user_id, _batch_id, _loaded_at"
        self.reader.executemany(
            f"insert into {table} ({columns}) values (?, ?, ?, ?, ?, ?, ?)",
            [[*row[:4], user_id, batch_id, loaded_at] for row in keys.regroup(rows, stored)],
        )

    def _temporary_keys(self, name: str, keys: Iterable[str]) -> None:
        self.reader.execute(
            f"create or replace temporary table {name} as "
            "select unnest(cast(? as varchar[])) as record_key",
            [list(keys)],
        )

    def _rows(
        self, selects: Sequence[str], keys: Regrouping, held: list[tuple[Any, ...]]
    ) -> Iterator[list[tuple[Any, ...]]]:
        """The selected rows as (source_file, record_key, record, repeats, is_play), but for
        those of shared keys: they go to `held`, for `keys.regroup` once all are read."""
        shared_keys = keys.shared_keys or ()
        for select in selects:
            result = self.reader.execute(select)
            while rows := result.fetchmany(_IMPORT_CHUNK_ROWS):
                if shared_keys:
                    held += [row for row in rows if row[1] in shared_keys]
                    rows = [row for row in rows if row[1] not in shared_keys]
                yield [(*row[:3], 0, *row[3:]) for row in rows]

    def _stored_records(self, user_id: str, keys: Collection[str]) -> dict[str, str]:
        """The user's stored records of `keys`, by key (in chunks: SQL Server takes at most
        2,100 parameters a statement)."""
        found: dict[str, str] = {}
        ordered = sorted(keys)
        for start in range(0, len(ordered), 1000):
            query = sa.select(streaming_history.c.record_key, streaming_history.c.record).where(
                streaming_history.c.user_id == user_id,
                streaming_history.c.record_key.in_(ordered[start : start + 1000]),
            )
            found.update((key, record) for key, record in self.connection.execute(query))
        return found

    def _stage(self, selects: Sequence[str], dialect: str, keys: Regrouping, user_id: str) -> None:
        """Send the records to a temporary table on the server, in bulk: first those of keys
        no other record of their export has, then, regrouped, the others (regrouping reads
        the user's stored records, which it cannot while a COPY runs)."""
        held: list[tuple[Any, ...]] = []
        chunks = self._rows(selects, keys, held)
        if dialect == "postgresql":
            self.connection.exec_driver_sql(
                "create temporary table import_records (source_file text, record_key text, "
                "record text, repeats integer, is_play boolean) on commit drop"
            )
        else:
            # SQL Server. database_default: a temp table takes tempdb's collation, which may
            # not compare with the database's (Azure SQL).
            self.connection.exec_driver_sql(
                "create table #import_records (source_file nvarchar(400) collate database_default, "
                "record_key varchar(64) collate database_default, "
                "record nvarchar(max) collate database_default, repeats int, is_play bit)"
            )
        self._send(dialect, chunks)
        if held:
            lookup = functools.partial(self._stored_records, user_id)
            self._send(dialect, iter([keys.regroup(held, lookup)]))

    def _send(self, dialect: str, chunks: Iterator[list[tuple[Any, ...]]]) -> None:
        columns = "source_file, record_key, record, repeats, is_play"
        if dialect == "postgresql":
            psycopg_connection: Any = self.connection.connection.driver_connection
            with (
                psycopg_connection.cursor() as cursor,
                cursor.copy(f"copy import_records ({columns}) from stdin") as copy,
            ):
                for rows in chunks:
                    for row in rows:
                        copy.write_row(row)
            return
        # The engine has fast_executemany, so each chunk is one round trip.
        for rows in chunks:
            if rows:
                self.connection.exec_driver_sql(
                    f"insert into #import_records ({columns}) values (?, ?, ?, ?, ?)", rows
                )

    def _insert_staged(self, user_id: str, batch_id: str, loaded_at: datetime) -> Landed:
        mssql = self.connection.dialect.name == "mssql"
        staged = "#import_records" if mssql else "import_records"
        table = f"{RAW_SCHEMA}.{streaming_history.name}"
        # The rows to insert: one of each key (the least file's), none the user has.
        new_rows = f"""
                select *
                from (
                    select
                        source_file, record_key, record, repeats, is_play,
                        row_number() over (
                            partition by record_key order by source_file, record
                        ) as copy
                    from {staged}
                ) as staged
                where copy = 1 and not exists (
                    select 1 from {table} as present
                    where present.user_id = :owner and present.record_key = staged.record_key
                )"""
        is_play = "is_play = 1" if mssql else "is_play"
        inserted, plays, repeats = self.connection.execute(
            sa.text(
                f"select count(*), sum(case when {is_play} then 1 else 0 end), sum(repeats) "
                f"from ({new_rows}) as new_rows"
            ),
            {"owner": user_id},
        ).one()
        self.connection.execute(
            sa.text(
                f"""
                insert into {table}
                    (source_file, record_key, record, repeats, user_id, _batch_id, _loaded_at)
                select source_file, record_key, record, repeats, :user_id, :batch_id, :loaded_at
                from ({new_rows}) as new_rows
                """
            ),
            # Two names for one value: PostgreSQL types each placeholder from one use.
            {"user_id": user_id, "owner": user_id, "batch_id": batch_id, "loaded_at": loaded_at},
        )
        if mssql:  # no ON COMMIT DROP: the pool keeps it
            self.connection.exec_driver_sql("drop table #import_records")
        return Landed(int(inserted), int(plays or 0), int(repeats or 0), None)


@contextmanager
def export_landing(warehouse: Warehouse, workdir: Path) -> Iterator[ExportLanding]:
    """One import's transaction and the DuckDB connection that reads the export files
    (`Warehouse.export_reader`), as an `ExportLanding`."""
    with warehouse.export_reader(workdir) as (connection, reader):
        yield ExportLanding(warehouse, connection, reader)


def _md5(text: str) -> str:
    """As DuckDB's md5() of the same text."""
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


# How far past an export's own records `regroup` looks for numbered keys the user has already.
_NUMBERS_BEYOND = 16


def regroup(
    rows: Iterable[Sequence[Any]],
    scopes: Mapping[str, str],
    stored: Callable[[Collection[str]], Mapping[str, str]],
) -> list[tuple[Any, ...]]:
    """The rows to land for records that share a key, each with a key of its own.

    A key (`_key_sql`) is a play's identity: format, end time, `ms_played` and what was played.
    Real exports have records of one identity that are yet two plays (two offline plays of a
    track, synced in one second, differ only in `offline_timestamp`), and records identical in
    every field (one record, written twice). Within one export (`scopes` of each source file),
    an identity's n distinct records take the numbers 1 to n: number 1 keeps the key, number k
    gets md5(key, k); identical records are one, `repeats` counting the others. A record the
    user has already (`stored`: record text by key, of the keys asked) keeps its number; the
    others take the free numbers in the order of their text.

    Numbered within each export, not the whole import: an old-format and a new-format export of
    one period write the same plays with other fields (`offline_timestamp` in milliseconds, or
    none), so an identity has as many records as the export with most of them, whichever comes
    first. A reimport numbers alike, and a record alone with its identity keeps the key every
    version gave it.

    `rows` are (source_file, key, record, *more); returns (source_file, key, record, repeats,
    *more), one per export and key (two exports of one import may still share a key: the
    landing keeps one row of a key, as it does for any record in two exports).
    """
    groups: dict[tuple[str, str], dict[str, list[Sequence[Any]]]] = {}
    for row in rows:
        group = groups.setdefault((scopes[row[0]], row[1]), {})
        group.setdefault(row[2], []).append(row)
    numbered = {
        key: [
            key,
            *(_md5(f"{key}\x1f{number}") for number in range(2, len(records) + _NUMBERS_BEYOND)),
        ]
        for (_, key), records in groups.items()
    }
    present = stored({own for keys in numbered.values() for own in keys})
    kept = []
    for (_, key), records in groups.items():
        # Compared as JSON values: a record's text may have been written by another version.
        had = {
            number: json.loads(present[own])
            for number, own in enumerate(numbered[key], start=1)
            if own in present
        }
        numbers: dict[str, int] = {}
        for record in sorted(records):
            value = json.loads(record)
            number = next((n for n, kept_value in had.items() if kept_value == value), None)
            if number is not None and number not in numbers.values():
                numbers[record] = number
        free = (n for n in itertools.count(1) if n not in numbers.values())
        for record in sorted(records):
            if record not in numbers:
                numbers[record] = next(free)
        for record, copies in records.items():
            first = min(copies, key=lambda row: str(row[0]))
            own_key = numbered[key][numbers[record] - 1]
            kept.append((first[0], own_key, record, len(copies) - 1, *first[3:]))
    return kept


def landed_span_and_plays(
    landing: ExportLanding, spec: RecordFormat, batch_id: str, files: Sequence[str] | None
) -> tuple[datetime | None, datetime | None, int]:
    """The first and the last time among the records a batch landed (valid, compact JSON),
    and how many of them are plays: one scan.

    Spotify writes the time first: when every landed record begins with it, records sort as
    their times do, and the least and the greatest record tell the span without a parse.
    """
    start = "{" + json.dumps(spec.time_field) + ':"'
    chars = slice(len(start), len(start) + len(spec.time_example))
    every, least, most, plays = landing.aggregate_batch(
        batch_id,
        f"bool_and(starts_with(record, {_literal(start)})), min(record), max(record), "
        f"count(*) filter (where {has_content_sql('record')})",
        files,
    )
    if every:
        first, last = least[chars], most[chars]
    else:
        value = f"json_extract_string(record, {_path(spec.time_field)})"
        first, last = landing.aggregate_batch(batch_id, f"min({value}), max({value})", files)
    if first is None or last is None:  # no records
        return None, None, 0
    return (
        datetime.strptime(first, spec.time_format),
        datetime.strptime(last, spec.time_format),
        int(plays),
    )


def regrouping(files: Sequence[ExportFile], shared_keys: set[str] | None) -> Regrouping:
    """How the landing keys the records of `files` that share a key: `regroup`, within the
    export each file belongs to."""
    scopes = {export_file.name: export_file.scope for export_file in files}
    labels = ", ".join(f"{_literal(name)}: {_literal(scope)}" for name, scope in scopes.items())
    return Regrouping(
        regroup=lambda rows, stored: regroup(rows, scopes, stored),
        scope=f"map {{{labels}}}[source_file]",
        shared_keys=shared_keys,
    )
