"""Servers the commands start as child processes on loopback (Airflow, the dashboard)."""

from __future__ import annotations

import subprocess
import time
import urllib.error
import urllib.request


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
