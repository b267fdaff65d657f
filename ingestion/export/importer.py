"""The import job: `import_export()` finds the history files, checks their records, and lands
them, all of them or nothing.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ingestion import running
from ingestion.config import Settings
from ingestion.errors import ExportError, SpotifyEltError
from ingestion.export.checking import Checked, _groups, check_records
from ingestion.export.files import collect_files
from ingestion.export.formats import CheckMode, ExportFile, has_content_sql, landing_sql
from ingestion.export.landing import (
    Landed,
    export_landing,
    landed_span_and_plays,
    regrouping,
)
from ingestion.warehouse import Batch, Warehouse, new_batch_id, utc_now

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImportResult:
    batch: Batch  # rows_inserted: new records, rows_duplicate: already there or repeated
    files: int
    plays: int  # new records that are plays; the others have no content
    repeats: int  # records left out as identical to another of their export
    skipped: Counter[str]
    notes: list[str]


class Progress(Protocol):
    """Where the job says what it is doing; `fraction` tells how far the running step is."""

    def step(self, description: str, fraction: Callable[[], float] | None = None) -> None: ...


class _Quiet:
    def step(self, description: str, fraction: Callable[[], float] | None = None) -> None:
        log.info("%s", description)


def _query_fraction(reader: Any) -> Callable[[], float]:
    def fraction() -> float:
        try:
            return max(0.0, float(reader.query_progress()) / 100)
        except Exception:  # a progress bar must never fail an import
            return 0.0

    return fraction


class _CheckNeededError(Exception):
    """Landing in one pass cannot do: the check has to read the files first."""


def _land_in_one_pass(
    warehouse: Warehouse, workdir: Path, files: list[ExportFile], batch: Batch, progress: Progress
) -> tuple[Batch, Landed]:
    """Read, check, key and land every record in one statement per format.

    Only for a user with no records from exports yet, on a DuckDB warehouse: there, nothing
    the statements read is left out as present already, so the rows they landed give the
    count and the time span of the import (an INSERT returns neither). Raises
    `_CheckNeededError` otherwise, and when a file is damaged or a record is invalid: the
    statement stops at it and the transaction is rolled back, nothing landed.
    """
    import duckdb

    if warehouse.settings.target != "duckdb":
        raise _CheckNeededError
    if any(f.path.stat().st_size == 0 for f in files):  # DuckDB reads them as no records
        raise _CheckNeededError
    groups = _groups(files)
    with export_landing(warehouse, workdir) as landing:
        if landing.has_history(batch.user_id or ""):
            raise _CheckNeededError
        progress.step(f"Loading the records of {len(files)} files", _query_fraction(landing.reader))
        selects = [landing_sql(spec, group, check="fail") for spec, group in groups]
        try:
            landed = landing.insert_records(selects, batch, regrouping(files, None))
        except (duckdb.InvalidInputException, duckdb.IOException) as error:
            # A damaged or unreadable file, an invalid record: the check says which.
            log.debug("landing in one pass stopped: %s", error)
            raise _CheckNeededError from None
        selected = landed.selected
        assert selected is not None  # counted on DuckDB
        spans = [
            landed_span_and_plays(
                landing, spec, batch.batch_id, [f.name for f in group] if len(groups) > 1 else None
            )
            for spec, group in groups
        ]
        landed = dataclasses.replace(landed, plays=sum(plays for _, _, plays in spans))
        finished = dataclasses.replace(
            batch,
            rows_seen=selected,
            rows_inserted=landed.inserted,
            rows_duplicate=selected - landed.inserted,
            oldest_played_at=min(filter(None, (first for first, _, _ in spans)), default=None),
            newest_played_at=max(filter(None, (last for _, last, _ in spans)), default=None),
            message=_message(batch.message, landed),
        )
        landing.add_batch(finished)
    return finished, landed


def _land_checked(
    warehouse: Warehouse, workdir: Path, checked: Checked, batch: Batch, progress: Progress
) -> tuple[Batch, Landed]:
    """Land the records the check found valid."""
    check: CheckMode = "skip" if checked.skipped else "none"
    counted = warehouse.settings.target != "duckdb"  # DuckDB counts the plays it landed
    with export_landing(warehouse, workdir) as landing:
        selects = [
            landing_sql(spec, group, check=check, counted=counted)
            for spec, group in _groups(checked.files)
        ]
        progress.step(f"Loading {checked.valid:,} records", _query_fraction(landing.reader))
        keys = regrouping(checked.files, checked.shared_keys)
        landed = landing.insert_records(selects, batch, keys)
        if landed.plays is None:  # DuckDB: counted in what landed
            (plays,) = landing.aggregate_batch(
                batch.batch_id, f"count(*) filter (where {has_content_sql('record')})", None
            )
            landed = dataclasses.replace(landed, plays=int(plays))
        finished = dataclasses.replace(
            batch,
            rows_seen=checked.valid,
            rows_inserted=landed.inserted,
            rows_duplicate=checked.valid - landed.inserted,
            oldest_played_at=checked.oldest,
            newest_played_at=checked.newest,
            message=_message(batch.message, landed),
        )
        landing.add_batch(finished)
    return finished, landed


def _message(message: str | None, landed: Landed) -> str | None:
    if not landed.repeats:
        return message
    return f"{message}; {landed.repeats} identical records left out"


def import_export(
    settings: Settings,
    warehouse: Warehouse,
    paths: Sequence[Path],
    user_id: str,
    *,
    skip_invalid: bool = False,
    progress: Progress | None = None,
) -> ImportResult:
    """Import the history files under `paths` for `user_id`: all of them, or nothing.

    A user's first import into DuckDB reads the files once: one statement checks and lands
    them. Otherwise, or when that statement meets a damaged file or an invalid record, the
    check reads them first: to name the file and the record (strict), to leave out the
    invalid ones (`skip_invalid`), and to count and date the records before landing them.
    """
    progress = progress or _Quiet()
    started, batch_id = utc_now(), new_batch_id()
    # Zip members are copied here, private fields and all: `running` sees that the folder
    # goes, whatever ends the run.
    with running.scratch_folder() as workdir:
        progress.step("Finding the history files")
        collected = collect_files(paths, workdir, settings.import_max_bytes)
        warehouse.create_raw_tables()
        batch = Batch(batch_id, "export", user_id, "succeeded", started)
        try:
            finished, landed = _land_in_one_pass(
                warehouse, workdir, collected.files,
                dataclasses.replace(batch, message=_files(len(collected.files))), progress,
            )  # fmt: skip
            return ImportResult(
                finished, len(collected.files), landed.plays or 0, landed.repeats, Counter(), []
            )
        except _CheckNeededError:
            pass
        progress.step(f"Checking the records of {len(collected.files)} files")
        checked = check_records(collected.files, workdir, skip_invalid=skip_invalid)
        skipped = sum(checked.skipped.values())
        message = _files(len(checked.files)) + (
            f"; skipped {skipped} invalid: " + _describe(checked.skipped) if skipped else ""
        )
        finished, landed = _land_checked(
            warehouse, workdir, checked, dataclasses.replace(batch, message=message), progress
        )
    return ImportResult(
        finished, len(checked.files), landed.plays or 0, landed.repeats, checked.skipped,
        checked.notes,
    )  # fmt: skip


def _files(count: int) -> str:
    return f"{count} file{'' if count == 1 else 's'}"


def _describe(skipped: Counter[str]) -> str:
    return "; ".join(f"{count} {reason}" for reason, count in skipped.most_common())


def import_user(settings: Settings, user_id: str | None) -> str:
    """The user an import belongs to: `--user`, else the one authorised user."""
    if user_id:
        return user_id
    from ingestion.spotify import SpotifyClient, authorised_accounts

    try:
        accounts = authorised_accounts(settings)
    except SpotifyEltError:
        raise ExportError(
            "whose export is it? pass --user SPOTIFY_USER_ID (no user is authorised)"
        ) from None
    if len(accounts) > 1:
        names = ", ".join(account.label for account in accounts)
        raise ExportError(f"whose export is it? pass --user, one of: {names}")
    account = accounts[0]
    if account.user_id is not None:
        return account.user_id
    # SPOTIFY_REFRESH_TOKEN names no user: ask Spotify whose it is (one request).
    return str(SpotifyClient(settings, account).me()["id"])
