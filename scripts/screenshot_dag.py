"""Take docs/scheduling.md's picture of the DAG: a local Airflow, Debian's Chromium, Playwright.

Starts `airflow standalone` the way `spotify-elt airflow` does (a throwaway AIRFLOW_HOME and
warehouse, login switched off for this run only), opens the DAG's graph view with every task
group expanded, and saves a PNG. Needs Debian's `chromium` (`apt-get install chromium`).

    .venv/bin/python scripts/screenshot_dag.py [docs/images/airflow_dag_graph.png]
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

from ingestion.config import PROJECT_ROOT
from spotify_elt.scheduling.local_airflow import DAG_ID, standalone

DEFAULT_OUTPUT = PROJECT_ROOT / "docs" / "images" / "airflow_dag_graph.png"
PORT = 8097
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]  # fmt: skip


def wait_for_dag(url: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/api/v2/dags/{DAG_ID}", timeout=5):  # noqa: S310
                return
        except (urllib.error.URLError, OSError):
            time.sleep(2)
    raise SystemExit(f"the DAG did not appear at {url} within {timeout:.0f} s")


def screenshot(url: str, output: Path) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_FLAGS
        )
        page = browser.new_page(viewport={"width": 2000, "height": 1150}, device_scale_factor=2)
        page.goto(f"{url}/")
        page.evaluate("localStorage.setItem('default_dag_view', JSON.stringify('graph'))")
        page.goto(f"{url}/dags/{DAG_ID}")
        page.get_by_label("Expand all task groups").click()
        page.get_by_label("Collapse Details Panel").click()
        page.wait_for_timeout(1500)
        page.get_by_label("Fit View").click()
        page.wait_for_timeout(1500)
        output.parent.mkdir(parents=True, exist_ok=True)
        page.locator(".react-flow").screenshot(path=str(output))
        browser.close()


def main() -> int:
    output = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUTPUT
    with tempfile.TemporaryDirectory(prefix="spotify-elt-screenshot-") as directory:
        home = Path(directory) / "airflow"
        home.mkdir()
        os.environ["SPOTIFY_ELT_DUCKDB_PATH"] = str(Path(directory) / "warehouse.duckdb")
        os.environ["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS"] = "True"  # this run only
        with standalone(home, PORT) as airflow:
            wait_for_dag(airflow.url)
            screenshot(airflow.url, output)
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
