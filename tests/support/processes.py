"""The processes a command starts: where they listen, whether they outlive it, and another
process holding a DuckDB file open."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil

LOOPBACK = {"127.0.0.1", "::1"}


def process_tree(pid: int) -> list[psutil.Process]:
    """The process `pid` and every descendant it has now."""
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def tcp_listeners(processes: list[psutil.Process]) -> list[tuple[str, int, str]]:
    """(address, port, process) of every TCP socket the processes listen on.

    psutil reads /proc/net/tcp and tcp6 and matches their socket inodes with /proc/<pid>/fd."""
    found = []
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            for connection in process.net_connections(kind="tcp"):
                if connection.status == psutil.CONN_LISTEN:
                    address = connection.laddr
                    found.append((address.ip, address.port, " ".join(process.cmdline()[:3])))
    return found


def alive(processes: list[psutil.Process]) -> list[psutil.Process]:
    """Those still running. A zombie is not: it has ended, and waits for a parent to reap it
    (here PID 1 may never do that for orphans)."""
    running = []
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                running.append(process)
    return running


def outliving(processes: list[psutil.Process], timeout: float) -> list[str]:
    """The command lines of `processes` still running after up to `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while alive(processes) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = []
    for process in alive(processes):
        with contextlib.suppress(psutil.NoSuchProcess):
            left.append(" ".join(process.cmdline()))
    return left


def kill_all(processes: list[psutil.Process]) -> None:
    """After a failed test: nothing it started may keep running."""
    for process in alive(processes):
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()


@contextlib.contextmanager
def duckdb_file_held(path: Path) -> Iterator[int]:
    """Another process holding the DuckDB file at `path` open, as a running command would;
    yields its process id."""
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('held', flush=True); "
         "time.sleep(120)", str(path)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        yield holder.pid
    finally:
        holder.kill()
        holder.wait()
