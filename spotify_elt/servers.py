"""Servers the commands start as child processes on loopback (Airflow, the dashboard).

Each runs in a session of its own, so that Ctrl-C in the terminal reaches the command only,
which then stops the server once, in the server's own way. The price of the session is that
the server no longer dies with the command's terminal or process group: `started` ties it,
and everything it starts, to the command's life instead, whatever ends the command (`kill -9`
included).

`python -m spotify_elt.servers SESSION` is the guard `started` runs beside each server.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import IO, Any

# Linux's prctl(2) option: the signal a process gets when the thread that started it ends.
PR_SET_PDEATHSIG = 1
# How long a server's processes get to stop on SIGTERM before SIGKILL, once the command is gone.
GRACE_SECONDS = 5.0


def wait_for_health(
    health_url: str, process: subprocess.Popen[bytes], timeout: float, poll_seconds: float
) -> int | None:
    """Poll `health_url` until it answers 200 (None) or `process` exits (its exit status).

    Raises TimeoutError when neither happens within `timeout` seconds.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = process.poll()
        if status is not None:
            return status
        try:
            with urllib.request.urlopen(health_url, timeout=2) as response:  # noqa: S310 - our loopback URL
                if response.status == 200:
                    return None
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(poll_seconds)
    raise TimeoutError(health_url)


@contextmanager
def started(
    command: Sequence[str],
    *,
    env: Mapping[str, str],
    stdout: int | IO[Any] | None = None,
    stderr: int | IO[Any] | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """`command` in a session of its own, which ends with this process, however that ends.

    Stop the server in its own way inside the block; on leaving it, and if this process dies,
    the guard stops whatever is left of the session. Two mechanisms, because neither is enough:

    - The guard, a small process of its own (`guard`), holds the read end of a pipe whose
      write end only this process has. The kernel closes it when this process ends, by
      `kill -9` too, so the guard reads end of file and stops every process of the server's
      session: the grandchildren as well (Airflow's scheduler, API server, triggerer, DAG
      processor and their workers are standalone's children, not ours), and those that
      outlived their parent. A parent-death signal reaches one process only.
    - The guard exists only once `Popen` has returned. The server gets Linux's parent-death
      signal (SIGTERM) before it runs, so that it dies with us in that moment too, and
      whatever becomes of the guard.
    """
    process = subprocess.Popen(
        list(command), env=dict(env), stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr,
        start_new_session=True, preexec_fn=_die_with(os.getpid()),
    )  # fmt: skip
    try:
        guard = subprocess.Popen(
            # -P: no module from the working directory; its own session: no Ctrl-C from the
            # terminal, which would end it before it has anything to do.
            [sys.executable, "-P", "-m", "spotify_elt.servers", str(process.pid)],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
    except BaseException:
        stop_session(process.pid)
        process.wait()
        raise
    try:
        yield process
    finally:
        assert guard.stdin is not None
        guard.stdin.close()  # what the caller stopped is gone: the guard finds nothing left
        guard.wait()


def _die_with(parent: int) -> Callable[[], None] | None:
    """A `preexec_fn` giving the child SIGTERM when `parent` ends (Linux only, else None).

    By ctypes, for one call into the C library Python already runs on: of the wrappers on PyPI,
    python-prctl is a C extension built against libcap, and pyprctl has had no release since
    2021. Everything is looked up here, before the fork, so that the child only makes the call.
    The signal comes when the *thread* that forked ends: the commands start servers from their
    main thread. A set-user-ID program would lose it at exec; Streamlit and Airflow are not.
    """
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    prctl.argtypes = [ctypes.c_int, *[ctypes.c_ulong] * 4]
    prctl.restype = ctypes.c_int

    def arm() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:  # it ended before the call: no signal would come
            os._exit(1)

    return arm


def session_members(session: int) -> list[Any]:
    """The live processes (psutil's) of `session`: not zombies, which no signal can end."""
    import psutil  # imported here: a dependency of the project's, slow to import for `--help`

    members = []
    for candidate in psutil.process_iter():
        try:
            if os.getsid(candidate.pid) == session and candidate.status() != psutil.STATUS_ZOMBIE:
                members.append(candidate)
        except (OSError, psutil.Error):
            continue
    return members


def stop_session(session: int, grace: float = GRACE_SECONDS) -> None:
    """SIGTERM to every process of `session`, SIGKILL to those alive `grace` seconds later.

    By session, not process group: Airflow gives each task process a group of its own, and a
    session is kept by every descendant that does not ask for a new one. Again after SIGKILL,
    for any process started while the others were stopping.
    """
    import psutil

    for _ in range(3):
        members = session_members(session)
        if not members:
            return
        for member in members:
            with contextlib.suppress(psutil.Error):
                member.terminate()
        deadline = time.monotonic() + grace
        while session_members(session) and time.monotonic() < deadline:
            time.sleep(0.1)
        for member in session_members(session):
            with contextlib.suppress(psutil.Error):
                member.kill()
        grace = 1.0


def guard(session: int) -> None:
    """Wait for end of file on stdin (the command closed it, or died), then stop `session`."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # never stopped half-way by a stray Ctrl-C
    while sys.stdin.buffer.read(4096):
        pass
    stop_session(session)


if __name__ == "__main__":
    guard(int(sys.argv[1]))
