"""Finding and reading the history files of an import: zips (members checked and copied into
the scratch folder, bounded), folders (no link leads out), only regular files; and a file's
text read a chunk at a time (a byte order mark left out, UTF-8 checked) for the damage walk.
"""

from __future__ import annotations

import json
import os
import re
import stat
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from ingestion.errors import ExportError, printable
from ingestion.export.formats import (
    _TOO_LARGE,
    EXPECTED_NAMES,
    MAX_RECORD_BYTES,
    ExportFile,
    classify,
)
from ingestion.warehouse import streaming_history

_READ_CHUNK = 1 << 20


_SOURCE_FILE_LENGTH: int = streaming_history.c.source_file.type.length  # type: ignore[attr-defined]


@dataclass
class Collected:
    """The history files of an import."""

    files: list[ExportFile] = field(default_factory=list)
    labels: set[str] = field(default_factory=set)

    def label(self, name: str) -> str:
        """`name`, or `name (2)` and so on when another file of the import has that name (two
        exports unzipped into folders of the same name, a zip holding a name twice): labels
        tell the files apart. A name longer than `raw` keeps (a deep folder) keeps its end,
        where the file name is."""
        room = _SOURCE_FILE_LENGTH - 10  # for the " (n)" of a copy
        if len(name) > room:
            name = "…" + name[-(room - 1) :]
        label, copy = name, 1
        while label in self.labels:
            copy += 1
            label = f"{name} ({copy})"
        self.labels.add(label)
        return label


def _scope(folder: str, file_name: str) -> str:
    """The export a file belongs to: its folder and its name with the numbers left out. Old
    exports are `endsong_<n>` files, out of time order, which must be one export; two exports
    unzipped into one folder differ in how they number their files (`..._2019-2021_0.json`
    against `..._2021.json`), and are two. (One export that numbers its files both ways is two
    as well; that loses a play only where a file ends between two offline plays of a track
    synced in one second.)"""
    pattern = re.sub(r"\d+", "#", PurePosixPath(file_name).stem).lower()
    return f"{folder}/{pattern}"


def _unsafe_member(name: str) -> bool:
    normalised = name.replace("\\", "/")
    parts = PurePosixPath(normalised).parts
    return (
        normalised.startswith("/")
        or re.match(r"[A-Za-z]:", normalised) is not None
        or ".." in parts
    )


def _copy_member(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, label: str, budget: list[int]
) -> None:
    """Copy one member, counting the bytes really inflated, not the ones the header claims."""
    written = 0
    with archive.open(info) as source, target.open("wb") as sink:
        while chunk := source.read(_READ_CHUNK):
            written += len(chunk)
            budget[0] -= len(chunk)
            if budget[0] < 0 or written > info.file_size:
                raise ExportError(
                    f"{printable(label)}: inflates past the import size limit "
                    "(SPOTIFY_ELT_IMPORT_MAX_BYTES); refusing it"
                )
            sink.write(chunk)


def _from_zip(path: Path, workdir: Path, budget: list[int], collected: Collected) -> None:
    shown = printable(path.name)
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            for info in members:
                if _unsafe_member(info.filename):
                    raise ExportError(
                        f"{shown}: member {printable(info.filename)} points outside the archive; "
                        "refusing the whole zip"
                    )
            wanted = []
            for info in members:
                kind = None if info.is_dir() else classify(info.filename)
                if kind is not None:
                    wanted.append((info, collected.label(f"{path.name}/{info.filename}"), kind))
            declared = sum(info.file_size for info, _, _ in wanted)
            if declared > budget[0]:
                raise ExportError(
                    f"{shown}: its history files inflate to {declared:,} bytes, more than "
                    "the import size limit (SPOTIFY_ELT_IMPORT_MAX_BYTES); refusing it"
                )
            for info, label, kind in wanted:
                # Our own name on disk: nothing from the archive chooses where a file goes.
                target = workdir / f"member-{len(collected.files):05d}.json"
                _copy_member(archive, info, target, label, budget)
                member = PurePosixPath(info.filename.replace("\\", "/"))
                scope = _scope(f"{path.resolve()}/{member.parent}", member.name)
                collected.files.append(ExportFile(label, target, kind, scope))
    except (zipfile.BadZipFile, zlib.error, EOFError) as error:
        raise ExportError(f"{shown}: not a readable zip ({printable(str(error))})") from None
    except OSError as error:  # the temporary folder: disk full, no permission
        raise ExportError(
            f"{shown}: cannot copy its history files ({printable(str(error))})"
        ) from None
    except (RuntimeError, NotImplementedError) as error:  # encrypted, unknown compression
        raise ExportError(f"{shown}: cannot be read ({printable(str(error))})") from None


def _add_file(path: Path, label: str, workdir: Path, collected: Collected, *, named: bool) -> None:
    kind = classify(path.name)
    if kind is not None:
        _refuse_unless_regular(path, label)
        # A link under our own name: DuckDB would read '*' or '?' in a file name as a pattern.
        link = workdir / f"file-{len(collected.files):05d}.json"
        link.symlink_to(path.resolve())
        scope = _scope(str(path.resolve().parent), path.name)
        collected.files.append(ExportFile(collected.label(label), link, kind, scope))
    elif named:
        raise ExportError(
            f"{printable(label)}: not a streaming history file by its name "
            f"(expected {EXPECTED_NAMES})"
        )


_NOT_REGULAR = {
    stat.S_IFIFO: "a named pipe (FIFO)",
    stat.S_IFCHR: "a device",
    stat.S_IFBLK: "a device",
    stat.S_IFSOCK: "a socket",
}


def _refuse_unless_regular(path: Path, label: str) -> None:
    """Only regular files are read. A pipe or a socket blocks the first read until someone
    writes, for ever if nobody does; a device such as /dev/zero never ends. So they are
    refused by what `stat` says, before anything opens them."""
    try:
        mode = path.stat().st_mode  # through links: what would be read
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise ExportError(f"{printable(label)}: cannot be read ({reason})") from None
    if not stat.S_ISREG(mode):
        what = _NOT_REGULAR.get(stat.S_IFMT(mode), "not a regular file")
        raise ExportError(f"{printable(label)}: is {what}, not a file; refusing it")


def _folder_entries(folder: Path) -> list[Path]:
    """Every file under `folder` and every link in it, links not followed, in name order."""
    found = []
    for parent, folders, files in os.walk(folder, followlinks=False):
        found += [Path(parent, name) for name in files]
        found += [Path(parent, name) for name in folders if Path(parent, name).is_symlink()]
    return sorted(found)


def _from_folder(given: Path, workdir: Path, collected: Collected, seen: set[Path]) -> None:
    """The history files under a folder. A link that leads out of the folder is refused when
    it has a history file's name or leads to a folder: it would make the import read what the
    user did not give it (pass the file itself to import it). Other links out are passed over
    unread, as is any file whose name is not a history file's."""
    root = given.resolve()
    for path in _folder_entries(given):
        relative = path.relative_to(given).as_posix()
        label = f"{given.name}/{relative}"
        if path.is_symlink():
            target = path.resolve()
            if not target.is_relative_to(root):
                if classify(path.name) is not None or target.is_dir():
                    raise ExportError(
                        f"{printable(label)}: a link to {printable(str(target))}, outside "
                        f"{printable(str(given))}; refusing it (pass what it leads to instead)"
                    )
                continue
            if target.is_dir():  # walked as itself
                continue
        if classify(path.name) is None:
            continue
        resolved = path.resolve()
        if resolved in seen:
            continue
        seen.add(resolved)
        _add_file(path, label, workdir, collected, named=False)


def collect_files(paths: Sequence[Path], workdir: Path, max_bytes: int) -> Collected:
    """The history files under `paths`; zip members are copied into `workdir` (bounded).

    Only regular files are opened (`_refuse_unless_regular`), and nothing out of a given
    folder through a link (`_from_folder`).
    """
    collected = Collected()
    budget = [max_bytes]
    seen: set[Path] = set()
    for given in paths:
        if not given.exists():
            raise ExportError(f"{printable(str(given))}: no such file or folder")
        resolved = given.resolve()
        if resolved in seen:
            continue
        seen.add(resolved)
        if given.is_dir():
            _from_folder(given, workdir, collected, seen)
            continue
        _refuse_unless_regular(given, str(given))
        if zipfile.is_zipfile(given) or given.suffix.lower() == ".zip":
            _from_zip(given, workdir, budget, collected)
        else:
            _add_file(given, given.name, workdir, collected, named=True)
    if not collected.files:
        where = ", ".join(printable(str(p)) for p in paths)
        raise ExportError(f"no streaming history in {where} (looked for {EXPECTED_NAMES})")
    return collected


_SPACE = re.compile(r"[ \t\r\n]*")
_DECODER = json.JSONDecoder()


class _DamagedError(Exception):
    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


class _Window:
    """A file's text, read a chunk at a time, with only the part still to read kept.

    Hand-written over `json.JSONDecoder.raw_decode` rather than a streaming parser (ijson)
    added as a dependency: the standard library parses each record in C, and the window keeps
    the text of a record as it was, which the walk writes back unchanged for --skip-invalid.
    The window, not the parser, bounds memory: it stops at `MAX_RECORD_BYTES` of one record,
    where a parser would build any one string whole, however long.
    """

    def __init__(self, handle: Any) -> None:
        self.handle = handle
        self.text = ""
        self.pos = 0
        self.eof = False
        self.problem: str | None = None  # why the text ends before the file does
        self.pending = b""  # the start of a character the next chunk ends
        self.bytes_read = 0
        self.started = False
        self.line = 1  # of text[0]
        self.column = 0  # of text[0], 0-based

    def more(self, at_least: int = _READ_CHUNK) -> bool:
        """Read on; False at the end of the file (or of its text, at bytes that are not UTF-8)."""
        if self.eof:
            return False
        data = self.handle.read(max(at_least, _READ_CHUNK))
        if not data:
            self.eof = True
            if self.pending:
                self.problem = f"is not UTF-8 (byte {self.bytes_read - len(self.pending)})"
            return False
        first_byte = self.bytes_read - len(self.pending)
        self.bytes_read += len(data)
        raw, self.pending = self.pending + data, b""
        if not self.started:
            self.started = True
            if raw.startswith(b"\xef\xbb\xbf"):
                raw, first_byte = raw[3:], first_byte + 3
        try:
            decoded = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            decoded = raw[: error.start].decode("utf-8")
            if error.reason == "unexpected end of data" and error.end == len(raw):
                self.pending = raw[error.start :]
            else:
                self.problem = f"is not UTF-8 (byte {first_byte + error.start})"
                self.eof = True
        self._drop()
        self.text += decoded
        return True

    def _drop(self) -> None:
        if self.pos == 0:
            return
        gone = self.text[: self.pos]
        newlines = gone.count("\n")
        if newlines:
            self.line += newlines
            self.column = len(gone) - gone.rfind("\n") - 1
        else:
            self.column += len(gone)
        self.text, self.pos = self.text[self.pos :], 0

    def where(self, position: int) -> str:
        before = self.text[:position]
        newlines = before.count("\n")
        if newlines:
            return f"line {self.line + newlines} column {len(before) - before.rfind(chr(10))}"
        return f"line {self.line} column {self.column + len(before) + 1}"

    def skip_space(self, limit: int | None = MAX_RECORD_BYTES) -> bool:
        """Move past blanks; False at the end. More than `limit` of them is damage."""
        run = 0
        while True:
            end = _SPACE.match(self.text, self.pos).end()  # type: ignore[union-attr]
            run += end - self.pos
            self.pos = end
            if end < len(self.text):
                return True
            if limit is not None and run > limit:
                raise _DamagedError("has over 1 MiB of blank space in a row, which no export has")
            if not self.more():
                return False

    def value(self) -> tuple[str, Any]:
        """The next JSON value: its text and what it is."""
        while True:
            try:
                value, end = _DECODER.raw_decode(self.text, self.pos)
            except RecursionError:
                raise _DamagedError("nests too deeply to read") from None
            except json.JSONDecodeError as error:
                # Where the text runs out, the value may go on in the next chunk.
                short = error.pos >= len(self.text) - 8 or error.msg.startswith("Unterminated")
                if short and not self.eof:
                    if len(self.text) - self.pos > MAX_RECORD_BYTES:
                        raise _DamagedError(_TOO_LARGE) from None
                    # As much again as is held: each retry reads past twice the last.
                    self.more(len(self.text) - self.pos)
                    continue
                if self.eof and short and not self.text.rstrip().endswith("]"):
                    raise _DamagedError("is cut short (truncated)") from None
                where = self.where(error.pos)
                raise _DamagedError(f"is not valid JSON ({error.msg}, {where})") from None
            if end == len(self.text) and self.more():  # a number may go on, too
                continue
            text = self.text[self.pos : end]
            self.pos = end
            size = len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))
            if size > MAX_RECORD_BYTES:
                raise _DamagedError(_TOO_LARGE)
            return text, value
