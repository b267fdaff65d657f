"""Files DuckDB cannot read: say where, keep what comes before.

Only files DuckDB refused are walked here, record by record, to name the damaged record and,
with `--skip-invalid`, to keep the records before it (a download cut short still holds good
plays).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingestion.export.files import _DamagedError, _Window

_LONE_SURROGATE = "holds a lone UTF-16 surrogate (like \\ud800): not text"
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89abcdefABCDEF]")


@dataclass(frozen=True)
class Damage:
    """Why a file cannot be read whole: the first damaged record and how many were kept."""

    problem: str
    record: int  # 1-based number of the damaged record
    readable: int = 0  # the records before it, written to the sink


@dataclass(frozen=True)
class Walked:
    """What `inspect_damage` found: the damage that ends the file (None: it ends well), and
    the records left out before it (`tolerant` only)."""

    damage: Damage | None
    kept: int
    left_out: int


def _has_lone_surrogate(text: str, value: Any) -> bool:
    # Escaped surrogates in pairs are characters (emoji are written so); one alone is not, and
    # DuckDB refuses it ("no low surrogate in string"). Only records that escape one are
    # written out again to tell.
    if "\\u" not in text or not _SURROGATE_ESCAPE.search(text):
        return False
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def inspect_damage(
    path: Path,
    visit: Callable[[int, str, Any], bool] | None = None,
    *,
    tolerant: bool = False,
) -> Walked:
    """Walk a file record by record, a chunk at a time, calling `visit(number, text, value)`
    for each sound record until it returns True.

    Only called for files DuckDB refused, to name the record and, with `--skip-invalid`, to
    keep the records before it (a download cut short still holds good plays). `tolerant`
    leaves out records that are JSON but not text (a lone surrogate) and goes on; otherwise
    such a record is the damage. Memory stays flat whatever the file: the walk holds one
    record at a time, and at most `MAX_RECORD_BYTES` of one.
    """
    kept = left_out = read = 0  # damage is always in record `read + 1`

    def damaged(problem: str) -> Walked:
        return Walked(Damage(window.problem or problem, read + 1, kept), kept, left_out)

    with path.open("rb") as handle:
        window = _Window(handle)
        try:
            if not window.skip_space():
                return damaged("is empty")
            if window.text[window.pos] != "[":
                return damaged("is not a JSON array of records")
            window.pos += 1
            if not window.skip_space():
                return damaged("is cut short (truncated)")
            while window.text[window.pos] != "]":
                if read:  # after a record: a comma, then the next
                    if window.text[window.pos] != ",":
                        where = window.where(window.pos)
                        return damaged(f"is not valid JSON (expecting ',' or ']', {where})")
                    window.pos += 1
                    if not window.skip_space():
                        return damaged("is cut short (truncated)")
                text, value = window.value()
                if _has_lone_surrogate(text, value):
                    if not tolerant:
                        return damaged(_LONE_SURROGATE)
                    left_out += 1
                elif visit is not None:
                    if visit(read + 1, text, value):
                        return Walked(None, kept + 1, left_out)
                    kept += 1
                read += 1
                if not window.skip_space():
                    return damaged("is cut short (truncated)")
            window.pos += 1
            if window.skip_space(limit=None) or window.problem:
                return damaged("has text after the array")
        except _DamagedError as error:
            return damaged(error.problem)
    return Walked(None, kept, left_out)


def record_number(path: Path, record_text: str) -> int | None:
    """The 1-based position of a record in its file, to name it in a message."""
    try:
        wanted = json.loads(record_text)
    except (ValueError, RecursionError):
        return None
    found: list[int] = []

    def visit(number: int, text: str, value: Any) -> bool:
        if text == record_text or value == wanted:
            found.append(number)
            return True
        return False

    try:
        inspect_damage(path, visit, tolerant=True)
    except OSError:
        return None
    return found[0] if found else None
