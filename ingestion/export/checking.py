"""Checking every record of an import before it lands, in an in-memory DuckDB of its own: to
name the file and the record (strict), to leave out invalid ones (`--skip-invalid`), and to
count and date the records.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ingestion.errors import ExportError, printable
from ingestion.export.formats import (
    FORMATS,
    MAX_RECORD_BYTES,
    ExportFile,
    RecordFormat,
    summary_sql,
)
from ingestion.export.inspection import (
    _LONE_SURROGATE,
    Walked,
    inspect_damage,
    record_number,
)
from ingestion.warehouse import configure_import_duckdb


@dataclass
class Checked:
    """What the check found: the files to land (damaged ones cut back) and the counts."""

    files: list[ExportFile]
    valid: int = 0
    oldest: datetime | None = None
    newest: datetime | None = None
    skipped: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)
    # Keys that more than one valid record of an export has: `regroup` gives them theirs.
    shared_keys: set[str] = field(default_factory=set)


def _groups(files: Sequence[ExportFile]) -> list[tuple[RecordFormat, list[ExportFile]]]:
    return [
        (FORMATS[name], [f for f in files if f.format == name])
        for name in FORMATS
        if any(f.format == name for f in files)
    ]


def _strict_hint() -> str:
    return "nothing was imported (--skip-invalid loads the valid records)"


def _duckdb_words(error: BaseException, files: Sequence[ExportFile]) -> str:
    """The first line of a DuckDB error, the files named as the user knows them: DuckDB names
    the path it read, which is ours (a link or a copy in the scratch folder)."""
    text = str(error).strip()
    reason = text.splitlines()[0] if text else type(error).__name__
    for export_file in files:
        reason = reason.replace(str(export_file.path), export_file.name)
    return printable(reason)


def _cut_back_damaged(
    reader: Any, files: list[ExportFile], workdir: Path, skip_invalid: bool, checked: Checked
) -> list[ExportFile]:
    """Find the files DuckDB cannot read; strict: fail naming the record, else keep their
    readable records (written anew into `workdir`)."""
    import duckdb

    sound = []
    for number, export_file in enumerate(files):
        error: duckdb.Error | None = None
        if export_file.path.stat().st_size > 0:
            try:
                ((largest,),) = reader.execute(
                    "select coalesce(max(strlen(json)), 0) "
                    "from read_json_objects(?, format = 'array')",
                    [str(export_file.path)],
                ).fetchall()
                if largest <= MAX_RECORD_BYTES:
                    sound.append(export_file)
                    continue
            except duckdb.Error as raised:
                error = raised
        shown = printable(export_file.name)
        target = workdir / f"readable-{number:05d}.json"
        walked = (
            _write_readable(export_file.path, target)
            if skip_invalid
            else inspect_damage(export_file.path)
        )
        damage = walked.damage
        if damage is None and not walked.left_out:
            # DuckDB refused what Python reads: report DuckDB's words
            reason = _duckdb_words(error, files) if error else "cannot be read"
            raise ExportError(f"{shown}: {reason}")
        if damage is not None and not skip_invalid:
            raise ExportError(
                f"{shown}, record {damage.record}: {damage.problem}; {_strict_hint()}"
            )
        if walked.left_out:
            checked.skipped[_LONE_SURROGATE] += walked.left_out
        if damage is not None:
            checked.skipped[f"file {damage.problem}"] += 1
            checked.notes.append(
                f"{shown} {damage.problem} at record {damage.record}: "
                f"kept the {damage.readable} records before it"
            )
        if walked.kept:
            sound.append(dataclasses.replace(export_file, path=target))
    return sound


def _write_readable(source: Path, target: Path) -> Walked:
    """Walk `source` tolerantly, writing the records it keeps to `target` as they are read:
    their text as it was, in a JSON array."""
    with target.open("w", encoding="utf-8") as sink:
        sink.write("[")
        separator = ["\n"]

        def keep(number: int, text: str, value: Any) -> bool:
            sink.write(separator[0])
            sink.write(text)
            separator[0] = ",\n"
            return False

        walked = inspect_damage(source, keep, tolerant=True)
        sink.write("\n]")
    return walked


def check_records(files: list[ExportFile], workdir: Path, *, skip_invalid: bool) -> Checked:
    """Check every record of every file, in an in-memory DuckDB of its own.

    Not in the warehouse's transaction: there, the first unreadable file would abort it.
    """
    import duckdb

    try:
        with duckdb.connect() as reader:
            configure_import_duckdb(reader, workdir)
            return _check_records(reader, files, workdir, skip_invalid=skip_invalid)
    except duckdb.Error as error:  # out of memory or disk for the spill files, interrupted
        raise ExportError(f"reading the export failed: {_duckdb_words(error, files)}") from None


def _check_records(
    reader: Any, files: list[ExportFile], workdir: Path, *, skip_invalid: bool
) -> Checked:
    import duckdb

    checked = Checked(files=list(files))
    summaries: list[tuple[Any, ...]] = []
    try:
        if any(f.path.stat().st_size == 0 for f in files):  # DuckDB reads them as no records
            raise duckdb.InvalidInputException("an empty file")
        for spec, group in _groups(files):
            summaries += reader.execute(summary_sql(spec, group)).fetchall()
    except duckdb.InvalidInputException:  # a damaged file; anything else is not the input's
        checked.files = _cut_back_damaged(reader, list(files), workdir, skip_invalid, checked)
        summaries = []
        for spec, group in _groups(checked.files):
            summaries += reader.execute(summary_sql(spec, group)).fetchall()
    paths = {f.name: f.path for f in checked.files}
    for is_key, problem, key, records, example, oldest, newest in summaries:
        if is_key:
            checked.shared_keys.add(key)
        elif problem is None:
            checked.valid += records
            checked.oldest = min(filter(None, (checked.oldest, oldest)), default=None)
            checked.newest = max(filter(None, (checked.newest, newest)), default=None)
        elif skip_invalid:
            checked.skipped[problem] += records
        else:
            number = record_number(paths[example["file"]], example["record"])
            where = f", record {number}" if number else ""
            shown = printable(example["file"])
            raise ExportError(f"{shown}{where}: {problem}; {_strict_hint()}")
    return checked
