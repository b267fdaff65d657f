"""Serving the dashboard: `streamlit run` on loopback as a child process, ready when this says so.

A child process rather than Streamlit in-process: Streamlit's server owns the main thread's
event loop, its signal handlers and process-wide configuration, and exits the interpreter when
it stops. As a child it leaves the command line's own error lines and Ctrl-C handling intact,
and a crash in it cannot take the command's exit status down with a traceback.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ingestion.errors import SpotifyEltError
from spotify_elt.servers import started, wait_for_health

APP = Path(__file__).with_name("app.py")
HOST = "127.0.0.1"


class DashboardError(SpotifyEltError):
    """The dashboard could not start or stopped by itself."""


@dataclass(frozen=True)
class Dashboard:
    url: str
    process: subprocess.Popen[bytes]


def streamlit_command(port: int) -> list[str]:
    """`streamlit run` of the app, on loopback only, with nothing leaving the machine."""
    options = {
        "server.address": HOST,
        "server.port": str(port),
        "server.headless": "true",  # no browser opened, no e-mail prompt
        "browser.serverAddress": HOST,
        "browser.gatherUsageStats": "false",  # no telemetry
        "server.fileWatcherType": "none",  # an installed app: no reloads, no inotify watches
        "server.runOnSave": "false",
        "global.developmentMode": "false",
        "logger.level": "warning",  # its start-up lines would repeat ours
        "client.toolbarMode": "viewer",
        "theme.base": "dark",
        "theme.primaryColor": "#1DB954",
    }
    arguments = [f"--{name}={value}" for name, value in options.items()]
    return [sys.executable, "-m", "streamlit", "run", str(APP), *arguments]


def port_in_use(port: int) -> bool:
    """Whether something already listens on `port` of 127.0.0.1 (Streamlit would fail there)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Tornado binds
        try:
            probe.bind((HOST, port))
        except OSError:
            return True
    return False


def wait_until_ready(url: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    """Wait for Streamlit's health check; fail if it exits or takes too long."""
    try:
        status = wait_for_health(f"{url}/_stcore/health", process, timeout, poll_seconds=0.3)
    except TimeoutError:
        raise DashboardError(
            f"the dashboard did not answer at {url} within {timeout:.0f} s"
        ) from None
    if status is not None:
        raise DashboardError(
            f"the dashboard server exited with status {status} before it answered; its "
            "messages are above"
        )


@contextmanager
def serve(
    port: int, *, environment: Mapping[str, str] | None = None, timeout: float = 60
) -> Iterator[Dashboard]:
    """The dashboard on http://127.0.0.1:`port`, ready to use; stopped on exit.

    The app reads the warehouse settings itself, from `environment` (default: this process's)
    and `.env` in the working directory, as every command does.
    """
    if not 0 < port < 65536:
        raise DashboardError(f"port {port} is not a TCP port: choose one from 1 to 65535")
    if port_in_use(port):
        raise DashboardError(f"port {port} on {HOST} is in use: choose another with --port")
    url = f"http://{HOST}:{port}"
    # A session of its own (`started`): Ctrl-C in the terminal reaches this process only, which
    # then stops Streamlit once (a second SIGINT would make it abort mid-shutdown with a
    # traceback). Its messages go to this process's stderr.
    with started(
        streamlit_command(port), env=environment if environment is not None else os.environ,
        stdout=subprocess.DEVNULL,
    ) as process:  # fmt: skip
        try:
            wait_until_ready(url, process, timeout)
            yield Dashboard(url, process)
        finally:
            stop(process)


def stop(process: subprocess.Popen[bytes], timeout: float = 15) -> None:
    """Stop Streamlit as Ctrl-C would (it closes its sessions), then for good if it lingers."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
