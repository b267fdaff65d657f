"""Take the README's picture of the dashboard: the demo's data, Debian's Chromium, Playwright.

Runs `spotify-elt demo` into a throwaway DuckDB file (dbt's target and logs beside it), serves
the dashboard on it the way `spotify-elt dashboard` does, opens the overview in headless
Chromium once every chart is drawn, and saves a PNG. Needs Debian's `chromium`
(`apt-get install chromium`; `scripts/test.sh` installs it).

    .venv/bin/python scripts/screenshot_dashboard.py [docs/images/dashboard_overview.png]
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import Route, ViewportSize, sync_playwright

from ingestion.config import PROJECT_ROOT
from spotify_elt.dashboard.server import port_in_use, serve

DEFAULT_OUTPUT = PROJECT_ROOT / "docs" / "images" / "dashboard_overview.png"
PORT = 8598
VIEWPORT: ViewportSize = {"width": 1400, "height": 900}
CHARTS_ON_THE_OVERVIEW = 4
LISTENER = "demo-sam"  # music, podcasts, audiobooks and skips: every figure has something
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]  # fmt: skip
DRAWN = """(count) => {
  const charts = [...document.querySelectorAll('[data-testid=stVegaLiteChart]')];
  return charts.length === count
    && charts.every(chart => chart.querySelector('svg .mark-rect path, svg .mark-arc path'));
}"""


def build_demo(directory: Path) -> dict[str, str]:
    """`spotify-elt demo` into `directory`; the environment that points at its warehouse."""
    environment = {
        **os.environ,
        "SPOTIFY_ELT_DUCKDB_PATH": str(directory / "warehouse.duckdb"),
        "DBT_TARGET_PATH": str(directory / "dbt_target"),
        "DBT_LOG_PATH": str(directory / "dbt_logs"),
    }
    subprocess.run(
        [sys.executable, "-m", "spotify_elt", "demo"], env=environment, cwd=directory,
        check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    return environment


def screenshot(url: str, output: Path) -> None:
    port = urlsplit(url).port

    def only_loopback(route: Route) -> None:  # the picture must not depend on the internet
        parts = urlsplit(route.request.url)
        if parts.hostname == "127.0.0.1" and parts.port == port:
            route.continue_()
        else:
            route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_FLAGS
        )
        context = browser.new_context(viewport=VIEWPORT)
        context.route("**/*", only_loopback)
        page = context.new_page()
        page.goto(f"{url}/?listener={LISTENER}")
        page.wait_for_function(DRAWN, arg=CHARTS_ON_THE_OVERVIEW, timeout=120_000)
        page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached")
        page.wait_for_timeout(1000)  # Vega's transitions
        output.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(output))
        browser.close()


def main() -> int:
    output = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUTPUT
    if port_in_use(PORT):
        raise SystemExit(f"port {PORT} on 127.0.0.1 is in use: stop what uses it first")
    with tempfile.TemporaryDirectory(prefix="spotify-elt-screenshot-") as directory:
        print("building the demo warehouse (spotify-elt demo) …")
        environment = build_demo(Path(directory))
        with serve(PORT, environment=environment) as dashboard:
            screenshot(dashboard.url, output)
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
