"""How a run ends: signals become an orderly exit, and nothing private outlives it.

An import copies the history files out of a zip, private fields and all, into a scratch folder
of its own. Python removes that folder on the way out of a `with`, but only if the way out is
an exception: the default SIGTERM and SIGHUP end the process on the spot, and `kill -9` cannot
be caught at all. So SIGINT, SIGTERM and SIGHUP raise KeyboardInterrupt here (the `finally`
blocks and context managers run), and every command first removes the scratch folders of runs
that died without cleaning up (`sweep`). A folder names its owner (process id and start time),
and holds a lock on a file in it while it lives, so that the sweep never takes the folder of
an import running beside it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import signal
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

SCRATCH_PREFIX = "spotify-elt-import-"
_OWNED = re.compile(re.escape(SCRATCH_PREFIX) + r"(\d+)-(\d+)-")
# A folder of an earlier version names no owner: it is taken for a leftover once nothing has
# been added to it for this long (an import writes its files within seconds of starting).
_UNOWNED_AGE_SECONDS = 3600
# psutil derives a start time from the boot time, which the kernel reports to the second, and
# that may differ by one between two readings: a process is the owner within this margin. A
# pid given to another process within two seconds of the same start time does not happen.
_START_MARGIN_SECONDS = 2

_received: list[int] = []
_shielded: list[int] = []  # signals received when each shield began
_landed: list[bool] = []


def _stop(signum: int, _frame: FrameType | None) -> None:
    _received.append(signum)
    # A second signal while shielded stops at once: a commit to a server that stopped
    # answering must not make the run unstoppable short of `kill -9`.
    if not _shielded or len(_received) - _shielded[-1] >= 2:
        raise KeyboardInterrupt


def stop_on_signals() -> None:
    """Make SIGINT, SIGTERM and SIGHUP raise KeyboardInterrupt, so that a run unwinds.

    A signal the process was started with ignored stays ignored: `nohup` and a shell's
    background job ask for exactly that.
    """
    for name in ("SIGINT", "SIGTERM", "SIGHUP"):  # SIGHUP is POSIX only
        number = getattr(signal, name, None)
        if number is None:
            continue
        with contextlib.suppress(ValueError, OSError):  # not the main thread
            if signal.getsignal(number) != signal.SIG_IGN:
                signal.signal(number, _stop)


def interrupted() -> bool:
    """Whether a signal asked this run to stop."""
    return bool(_received)


@contextlib.contextmanager
def shielded() -> Iterator[None]:
    """A signal inside waits for the end of the block, then stops the run as usual: for a
    commit (the run knows whether it landed) and for removing private files (all of them). A
    second one stops the run at once."""
    pending = len(_received)
    _shielded.append(pending)
    try:
        yield
    finally:
        _shielded.pop()
    if len(_received) > pending and not _shielded:
        raise KeyboardInterrupt


def note_landed() -> None:
    """A load of this run was committed: an interruption from now on cannot undo it."""
    _landed.append(True)


def has_landed() -> bool:
    return bool(_landed)


# ---- scratch folders -------------------------------------------------------------------------


def _start_time(pid: int) -> int | None:
    import psutil

    try:
        return int(psutil.Process(pid).create_time())
    except (psutil.Error, OSError, ValueError):
        return None


# Held locked by the folder's run for as long as it lives: the kernel lets go of the lock when
# the process ends, however it ends, so a lock that can be taken means a dead run. No clock is
# involved (a start time moves when the wall clock is stepped), nor a process id (another
# container's processes have their own).
_OWNER_FILE = ".owner"


@contextlib.contextmanager
def scratch_folder() -> Iterator[Path]:
    """A private folder (0700, as mkdtemp makes it) for one import's files, named after this
    process, locked while it lives, and removed when the block ends, however it ends short of
    `kill -9`."""
    started = _start_time(os.getpid()) or 0
    folder = Path(tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-{started}-"))
    owner = os.open(folder / _OWNER_FILE, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(owner, fcntl.LOCK_EX)
        yield folder
    finally:
        with shielded():
            shutil.rmtree(folder, ignore_errors=True)
            os.close(owner)


def _lock_taken(folder: Path) -> bool | None:
    """Whether the run that made `folder` holds its lock (None: the folder has no lock file,
    as an earlier version's, or one still being made)."""
    try:
        descriptor = os.open(folder / _OWNER_FILE, os.O_RDWR | os.O_NOFOLLOW)
    except FileNotFoundError:
        return None
    except OSError:
        return True  # not ours to judge: leave it
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(descriptor)  # releases a lock taken here
    return False


def _owner_alive(pid: int, started: int) -> bool:
    now = _start_time(pid)
    return now is not None and abs(now - started) <= _START_MARGIN_SECONDS


def sweep(directory: Path | None = None) -> list[Path]:
    """Remove the scratch folders whose run died (killed, crashed, power cut); return them.

    Only this user's folders; never one whose owner process still runs. Never fails a command.
    """
    where = Path(directory or tempfile.gettempdir())
    removed: list[Path] = []
    try:
        entries = list(os.scandir(where))
    except OSError:
        return removed
    uid = getattr(os, "getuid", lambda: None)()
    for entry in entries:
        if not entry.name.startswith(SCRATCH_PREFIX):
            continue
        try:
            status = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not stat.S_ISDIR(status.st_mode) or (uid is not None and status.st_uid != uid):
            continue  # a link or a file planted under our prefix, or another user's
        owned = _OWNED.match(entry.name)
        locked = _lock_taken(Path(entry.path))
        if locked:
            continue
        if locked is None:  # not locked yet, or an earlier version's
            if owned:
                if _owner_alive(int(owned[1]), int(owned[2])):
                    continue
            elif time.time() - status.st_mtime < _UNOWNED_AGE_SECONDS:
                continue
        shutil.rmtree(entry.path, ignore_errors=True)
        removed.append(Path(entry.path))
    return removed
