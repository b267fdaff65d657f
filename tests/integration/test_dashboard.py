"""The dashboard (issue #6) on real warehouses.

Every page in Streamlit's AppTest on the demo's data, with its figures checked against SQL over
`marts.fct_plays`; the one sentence shown for a warehouse that is empty, missing, unbuilt or
busy; every query on PostgreSQL giving DuckDB's answers, and compiled to T-SQL; and
`spotify-elt dashboard` served on loopback to Debian's headless Chromium, which must draw every
page's charts without asking anything of the internet, then stopped with Ctrl-C.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import duckdb
import pandas as pd  # type: ignore[import-untyped]
import psutil
import pytest
import sqlalchemy as sa
import sqlglot
from PIL import Image, ImageChops
from sqlalchemy.dialects import mssql
from streamlit.testing.v1 import AppTest

from ingestion.warehouse import Warehouse
from spotify_elt.dashboard import queries
from spotify_elt.dashboard.connection import create_engine
from spotify_elt.dashboard.queries import QUERIES, Filters
from spotify_elt.dashboard.ui import markdown_text
from spotify_elt.demo import SAMPLE_TIMEZONES, load_sample_data, load_sample_exports
from tests.support.cli import base_environment, run_cli, settings_from
from tests.support.databases import PostgresServer, postgres_database
from tests.support.processes import (
    LOOPBACK,
    duckdb_file_held,
    kill_all,
    outliving,
    process_tree,
    tcp_listeners,
)

APP = Path(queries.__file__).with_name("app.py")
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
]  # fmt: skip
# page script, title, URL path, charts it draws on the demo data
PAGES = [
    ("views/overview.py", "Overview", "", 4),
    ("views/tops.py", "Tops", "tops", 3),
    ("views/time_patterns.py", "Time patterns", "time_patterns", 4),
    ("views/sessions.py", "Sessions & streaks", "sessions", 2),
    ("views/discoveries.py", "Discoveries", "discoveries", 1),
    ("views/recap.py", "Recap", "recap", 1),
]


def dbt_paths(root: Path) -> dict[str, str]:
    # dbt's target and logs in the test's folder: never into dbt_project/, which others use.
    return {"DBT_TARGET_PATH": str(root / "dbt_target"), "DBT_LOG_PATH": str(root / "dbt_logs")}


@pytest.fixture(scope="module")
def demo_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`spotify-elt demo` into a DuckDB file of this module's own."""
    root = tmp_path_factory.mktemp("demo")
    path = root / "warehouse.duckdb"
    env = {"SPOTIFY_ELT_DUCKDB_PATH": str(path), **dbt_paths(root)}
    result = run_cli("demo", env=env, cwd=root, timeout=900)
    assert result.returncode == 0, result.output[-4000:]
    return path


def sql(path: Path, statement: str, *parameters: object) -> list[tuple[Any, ...]]:
    """Rows of `statement` over the DuckDB file, read-only (as the dashboard opens it)."""
    with duckdb.connect(str(path), read_only=True) as connection:
        return connection.execute(statement, list(parameters)).fetchall()


def listeners(path: Path) -> list[tuple[str, str]]:
    """(user_sk, user_id) of every listener with plays."""
    return sql(
        path,
        "select distinct user_sk, user_id from marts.fct_plays order by user_id",
    )


def open_app(monkeypatch: pytest.MonkeyPatch, path: Path, page: str | None = None) -> AppTest:
    monkeypatch.setenv("SPOTIFY_ELT_DUCKDB_PATH", str(path))
    app = AppTest.from_file(str(APP), default_timeout=60).run()
    if page is not None and page != PAGES[0][0]:
        app.switch_page(page).run()
    assert not app.exception, [element.value for element in app.exception]
    return app


def metrics(app: AppTest) -> dict[str, str]:
    return {metric.label: metric.value for metric in app.metric}


def charts(app: AppTest) -> list[Any]:
    return list(app.get("vega_lite_chart"))


def choose_listener(app: AppTest, user_sk: str) -> None:
    app.selectbox(key="listener").set_value(user_sk).run()
    assert not app.exception, [element.value for element in app.exception]


def date_key(day: date) -> int:
    return day.year * 10000 + day.month * 100 + day.day


# --------------------------------------------------------------------------------------------
# Every page on the demo's data (AppTest: the app's scripts, in this process)


@pytest.mark.parametrize(("page", "title", "path", "chart_count"), PAGES)
def test_every_page_renders_the_demo_data(
    monkeypatch: pytest.MonkeyPatch,
    demo_warehouse: Path,
    page: str,
    title: str,
    path: str,
    chart_count: int,
) -> None:
    app = open_app(monkeypatch, demo_warehouse, page)
    assert [element.value for element in app.title] == [title]
    assert not app.error and not app.warning, [e.value for e in (*app.error, *app.warning)]
    assert len(charts(app)) == chart_count
    options = app.selectbox(key="listener").options
    assert sorted(options) == ["Ana Lucía", "Sam O'Neill", "健二"]
    for listener in listeners(demo_warehouse):  # every listener's page renders too
        choose_listener(app, listener[0])
        assert [element.value for element in app.title] == [title]
        assert len(charts(app)) == chart_count
        assert not app.error and not app.warning


def test_overview_figures_are_each_listeners_plays(
    monkeypatch: pytest.MonkeyPatch, demo_warehouse: Path
) -> None:
    app = open_app(monkeypatch, demo_warehouse)
    for user_sk, user_id in listeners(demo_warehouse):
        choose_listener(app, user_sk)
        [(plays, ms, days, tracks)] = sql(
            demo_warehouse,
            "select count(*), sum(ms_played), count(distinct date_key), "
            "count(distinct case when content_type = 'track' then track_sk end) "
            "from marts.fct_plays where user_id = ?",
            user_id,
        )
        [(artists,)] = sql(
            demo_warehouse,
            "select count(distinct b.artist_sk) from marts.fct_plays as p "
            "inner join marts.bridge_track_artists as b on b.track_sk = p.track_sk "
            "where p.user_id = ? and p.content_type = 'track'",
            user_id,
        )
        shown = metrics(app)
        assert shown["Plays"] == f"{plays:,}", user_id
        assert shown["Minutes"] == f"{round(ms / 60000):,}", user_id
        assert shown["Days with plays"].startswith(f"{days:,} of "), user_id
        assert shown["Different tracks"] == f"{tracks:,}", user_id
        assert shown["Different artists"] == f"{artists:,}", user_id


def test_a_date_range_narrows_the_figures(
    monkeypatch: pytest.MonkeyPatch, demo_warehouse: Path
) -> None:
    app = open_app(monkeypatch, demo_warehouse)
    [(user_sk, user_id, first, last)] = sql(
        demo_warehouse,
        "select user_sk, user_id, min(cast(played_at_local as date)), "
        "max(cast(played_at_local as date)) from marts.fct_plays "
        "where user_id = 'demo-sam' group by all",
    )
    choose_listener(app, user_sk)
    start, end = first + timedelta(days=10), last - timedelta(days=10)
    app.date_input(key=f"dates-{user_sk}").set_value((start, end)).run()
    assert not app.exception
    [(plays, ms)] = sql(
        demo_warehouse,
        "select count(*), sum(ms_played) from marts.fct_plays "
        "where user_id = ? and date_key between ? and ?",
        user_id, date_key(start), date_key(end),
    )  # fmt: skip
    [(all_plays,)] = sql(
        demo_warehouse, "select count(*) from marts.fct_plays where user_id = ?", user_id
    )
    assert 0 < plays < all_plays
    shown = metrics(app)
    assert shown["Plays"] == f"{plays:,}"
    assert shown["Minutes"] == f"{round(ms / 60000):,}"
    assert f"{(end - start).days + 1} days" in app.caption[0].value


def test_dates_without_plays_say_so_on_every_page(
    monkeypatch: pytest.MonkeyPatch, demo_warehouse: Path
) -> None:
    [(user_sk, quiet_day)] = sql(
        demo_warehouse,
        "with days as (select user_sk, cast(played_at_local as date) as day "
        "from marts.fct_plays where user_id = 'demo-sam') "
        "select any_value(user_sk), min(day + 1) from days "
        "where day + 1 not in (select day from days) and day + 1 < (select max(day) from days)",
    )
    for page, title, _, _ in PAGES:
        app = open_app(monkeypatch, demo_warehouse, page)
        choose_listener(app, user_sk)
        app.date_input(key=f"dates-{user_sk}").set_value((quiet_day, quiet_day)).run()
        assert not app.exception, [element.value for element in app.exception]
        assert [element.value for element in app.title] == [title]
        assert [element.value for element in app.info] == [
            "No plays in these dates: widen the date range in the sidebar."
        ]
        assert not charts(app) and not app.metric


def test_tops_and_recap_name_the_most_played(
    monkeypatch: pytest.MonkeyPatch, demo_warehouse: Path
) -> None:
    for user_sk, user_id in listeners(demo_warehouse):
        expected_tracks = sql(
            demo_warehouse,
            "select t.track_name, count(*) from marts.fct_plays as p "
            "inner join marts.dim_tracks as t on t.track_sk = p.track_sk "
            "where p.user_id = ? and p.content_type = 'track' "
            "group by p.track_sk, t.track_name "
            "order by count(*) desc, sum(p.ms_played) desc, p.track_sk limit 10",
            user_id,
        )
        expected_artists = sql(
            demo_warehouse,
            "select a.artist_name, count(*) from marts.fct_plays as p "
            "inner join marts.bridge_track_artists as b on b.track_sk = p.track_sk "
            "inner join marts.dim_artists as a on a.artist_sk = b.artist_sk "
            "where p.user_id = ? and p.content_type = 'track' "
            "group by b.artist_sk, a.artist_name "
            "order by count(*) desc, sum(p.ms_played) desc, b.artist_sk limit 10",
            user_id,
        )
        app = open_app(monkeypatch, demo_warehouse, "views/tops.py")
        choose_listener(app, user_sk)
        tracks, artists, _albums = (table.value for table in app.dataframe)
        shown = list(zip(tracks["track_name"], tracks["plays"], strict=True))
        assert shown == [(name, plays) for name, plays in expected_tracks], user_id
        shown = list(zip(artists["artist_name"], artists["plays"], strict=True))
        assert shown == [(name, plays) for name, plays in expected_artists], user_id

        app.switch_page("views/recap.py").run()
        assert not app.exception
        cards = [element.value for element in app.markdown]
        assert f"### {markdown_text(expected_tracks[0][0])}" in cards, cards
        assert f"### {markdown_text(expected_artists[0][0])}" in cards, cards
        [(plays, ms, new_tracks)] = sql(
            demo_warehouse,
            "select count(*), sum(ms_played), count(distinct case when content_type = 'track' "
            "and is_counted_stream then track_sk end) from marts.fct_plays where user_id = ?",
            user_id,
        )
        shown_metrics = metrics(app)
        assert shown_metrics["Plays"] == f"{plays:,}"
        assert shown_metrics["Minutes listened"] == f"{round(ms / 60000):,}"
        assert shown_metrics["New tracks discovered"] == f"{new_tracks:,}"


def test_sessions_streaks_and_hours_follow_the_plays(
    monkeypatch: pytest.MonkeyPatch, demo_warehouse: Path
) -> None:
    for user_sk, user_id in listeners(demo_warehouse):
        # A session: plays each starting at most 30 minutes after the previous one ended.
        [(sessions,)] = sql(
            demo_warehouse,
            "with plays as (select played_at - to_milliseconds(ms_played) as started_at, "
            "lag(played_at) over (order by played_at) as previous_end "
            "from marts.fct_plays where user_id = ?) "
            "select count(*) from plays "
            "where previous_end is null or started_at > previous_end + interval 30 minute",
            user_id,
        )
        [(streak,)] = sql(
            demo_warehouse,
            "with days as (select distinct date_key, "
            "cast(strptime(cast(date_key as varchar), '%Y%m%d') as date) as day "
            "from marts.fct_plays where user_id = ? and is_counted_stream), "
            "runs as (select day - cast(row_number() over (order by day) as integer) as run "
            "from days) select max(days) from (select count(*) as days from runs group by run)",
            user_id,
        )
        [(hour,)] = sql(
            demo_warehouse,
            "select hour(played_at_local) from marts.fct_plays where user_id = ? "
            "group by all order by sum(ms_played) desc limit 1",
            user_id,
        )
        app = open_app(monkeypatch, demo_warehouse, "views/sessions.py")
        choose_listener(app, user_sk)
        shown = metrics(app)
        assert shown["Sessions"] == f"{sessions:,}", user_id
        assert shown["Longest streak"] == f"{streak} day{'s' if streak != 1 else ''}", user_id
        app.switch_page("views/time_patterns.py").run()
        assert metrics(app)["Busiest hour"] == f"{hour:02d}:00-{(hour + 1) % 24:02d}:00"


# --------------------------------------------------------------------------------------------
# A warehouse that cannot be shown yet: one sentence saying what to run, never an error


def explanation(monkeypatch: pytest.MonkeyPatch, path: Path) -> str:
    """What every page shows for the warehouse at `path`; there must be exactly one note."""
    notes = []
    for page, title, _, _ in PAGES:
        app = open_app(monkeypatch, path, page)
        assert [element.value for element in app.title] == [title]
        assert not app.error and not charts(app) and not app.metric
        infos = [element.value for element in app.info]
        assert len(infos) == 1, infos
        assert "Traceback" not in infos[0]
        notes.append(infos[0])
    assert len(set(notes)) == 1
    return notes[0]


def test_an_empty_warehouse_explains_itself(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "empty.duckdb"
    env = {"SPOTIFY_ELT_DUCKDB_PATH": str(path), **dbt_paths(tmp_path)}
    result = run_cli("transform", env=env, cwd=tmp_path, timeout=900)
    assert result.returncode == 0, result.output[-4000:]
    note = explanation(monkeypatch, path)
    assert note.startswith("The warehouse has no plays yet: run `spotify-elt run`")
    assert "`spotify-elt demo`" in note


def test_a_missing_warehouse_explains_itself(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "nowhere" / "warehouse.duckdb"
    note = explanation(monkeypatch, path)
    assert note.startswith(f"There is no warehouse at {path} yet: run `spotify-elt demo`")
    assert not path.exists() and not path.parent.exists()  # reading never creates it


def test_a_warehouse_without_marts_explains_itself(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "raw_only.duckdb"
    with duckdb.connect(str(path)) as connection:
        connection.execute("create schema raw")
        connection.execute("create table raw.load_batches (batch_id varchar)")
    note = explanation(monkeypatch, path)
    assert "lacks the marts the dashboard reads" in note
    assert note.endswith("run `spotify-elt transform` to build them.")


def test_a_busy_warehouse_explains_itself_and_recovers(
    monkeypatch: pytest.MonkeyPatch, demo_warehouse: Path, tmp_path: Path
) -> None:
    path = tmp_path / "busy.duckdb"
    shutil.copy(demo_warehouse, path)
    with duckdb_file_held(path):
        note = explanation(monkeypatch, path)
        assert note.startswith(f"The warehouse {path} is busy: another program")
        assert note.endswith("reload this page when it has finished.")
    app = open_app(monkeypatch, path)  # the writer is gone: the next run reads again
    assert [element.value for element in app.title] == ["Overview"]
    assert not app.info and len(charts(app)) == PAGES[0][3]


def test_the_dashboard_holds_no_connection_between_runs(
    monkeypatch: pytest.MonkeyPatch, demo_warehouse: Path, tmp_path: Path
) -> None:
    """A transform must find the DuckDB file free while a dashboard is open."""
    path = tmp_path / "shared.duckdb"
    shutil.copy(demo_warehouse, path)
    for page, _, _, _ in PAGES:
        open_app(monkeypatch, path, page)
    writer = subprocess.run(
        [sys.executable, "-c",
         "import duckdb, sys; duckdb.connect(sys.argv[1]).execute('create table t (x int)')",
         str(path)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert writer.returncode == 0, writer.stderr


# --------------------------------------------------------------------------------------------
# The queries on the other warehouses


def every_query(connection: sa.Connection) -> dict[str, pd.DataFrame]:
    """Every query of `QUERIES`, for every listener over their whole history, by name."""
    results: dict[str, pd.DataFrame] = {}
    everyone = queries.users(connection)
    for user in everyone.itertuples():
        filters = Filters(user.user_sk, user.first_date, user.last_date)
        for name, query in QUERIES.items():
            results[f"{user.user_id}/{name}"] = query(connection, filters)
    return results


def test_every_query_compiles_to_t_sql(demo_warehouse: Path) -> None:
    """No SQL Server here: what each query ran on DuckDB must compile for it and parse."""
    engine = create_engine(settings_from({"SPOTIFY_ELT_DUCKDB_PATH": str(demo_warehouse)}))
    statements: list[sa.Executable] = []

    def record(_connection: Any, statement: Any, *_: Any) -> None:
        statements.append(statement)

    sa.event.listen(engine, "before_execute", record)
    with engine.connect() as connection:
        every_query(connection)
    engine.dispose()
    assert len(statements) > len(QUERIES)
    for statement in statements:
        assert isinstance(statement, sa.sql.Select), statement  # Core, not text
        sql_text = str(
            statement.compile(
                dialect=mssql.dialect(),  # type: ignore[no-untyped-call]
                compile_kwargs={"literal_binds": True},
            )
        )
        sqlglot.parse_one(sql_text, read="tsql")
        assert " LIMIT " not in sql_text.upper()
        if statement._limit_clause is not None:
            assert "SELECT TOP " in sql_text.upper()
        tables = [table for table in statement.get_final_froms() if isinstance(table, sa.Table)]
        assert all(table.schema == "marts" for table in tables), sql_text


@pytest.mark.postgres
def test_every_query_gives_duckdbs_answers_on_postgresql(
    postgres_server: PostgresServer, demo_warehouse: Path, tmp_path: Path
) -> None:
    zones = ",".join(f"{user}={zone}" for user, zone in SAMPLE_TIMEZONES.items())
    with postgres_database(postgres_server) as variables:
        env = {**variables, "SPOTIFY_ELT_USER_TIMEZONES": zones, **dbt_paths(tmp_path)}
        settings = settings_from(env)
        with Warehouse(settings) as warehouse:
            load_sample_data(warehouse)
            load_sample_exports(settings, warehouse)
        result = run_cli("transform", env=env, cwd=tmp_path, timeout=900)
        assert result.returncode == 0, result.output[-4000:]
        postgres = create_engine(settings)
        with postgres.connect() as connection:
            on_postgres = every_query(connection)
        postgres.dispose()
    duck = create_engine(settings_from({"SPOTIFY_ELT_DUCKDB_PATH": str(demo_warehouse)}))
    with duck.connect() as connection:
        on_duckdb = every_query(connection)
    duck.dispose()
    assert on_postgres.keys() == on_duckdb.keys()
    for name, expected in on_duckdb.items():
        pd.testing.assert_frame_equal(
            on_postgres[name].reset_index(drop=True), expected.reset_index(drop=True),
            check_dtype=False, obj=name,
        )  # fmt: skip


# --------------------------------------------------------------------------------------------
# `spotify-elt dashboard` in a real browser


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def drawn_share(image: Image.Image) -> float:
    """The share of pixels that differ from the most common colour (the background)."""
    rgb = image.convert("RGB")
    colours = rgb.getcolors(maxcolors=rgb.width * rgb.height) or []
    _, background = max(colours, key=lambda entry: entry[0])
    assert isinstance(background, tuple)
    # Per pixel, the largest channel difference from the background; "drawn" above 30 of 255.
    difference = ImageChops.difference(rgb, Image.new("RGB", rgb.size, background))
    largest = ImageChops.lighter(ImageChops.lighter(*difference.split()[:2]), difference.split()[2])
    drawn = sum(largest.histogram()[31:])
    return drawn / (rgb.width * rgb.height)


@pytest.fixture
def served(demo_warehouse: Path, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], int]]:
    """`spotify-elt dashboard --port N` on the demo warehouse, as a user starts it."""
    port = free_port()
    env = {**base_environment(), "SPOTIFY_ELT_DUCKDB_PATH": str(demo_warehouse), "COLUMNS": "200"}
    child = subprocess.Popen(
        [sys.executable, "-m", "spotify_elt", "dashboard", "--port", str(port)], env=env,
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        yield child, port
    finally:
        # A failed test leaves it running: stop it, and the server it started, for good.
        if child.poll() is None:
            server = psutil.Process(child.pid).children(recursive=True)
            child.send_signal(signal.SIGINT)
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
            for leftover in server:
                with contextlib.suppress(psutil.Error):
                    leftover.kill()


def test_the_dashboard_draws_every_page_in_chromium_and_stops_on_ctrl_c(
    served: tuple[subprocess.Popen[str], int], tmp_path: Path
) -> None:
    from playwright.sync_api import Route, sync_playwright

    if not CHROMIUM.exists():
        pytest.fail(f"Debian's chromium is missing at {CHROMIUM}: scripts/test.sh installs it")
    child, port = served
    assert child.stdout is not None
    started = time.monotonic()
    first_line = child.stdout.readline()
    url = f"http://127.0.0.1:{port}"
    assert first_line.strip() == f"Dashboard at {url}", first_line
    # Loopback only: every socket the dashboard listens on is 127.0.0.1's.
    listening = [
        connection.laddr.ip for connection in psutil.net_connections("inet")
        if connection.status == psutil.CONN_LISTEN and connection.laddr
        and connection.laddr.port == port
    ]  # fmt: skip
    assert listening and all(ip == "127.0.0.1" for ip in listening), listening

    outside: list[str] = []

    def only_loopback(route: Route) -> None:
        parts = urlsplit(route.request.url)
        if parts.hostname == "127.0.0.1" and parts.port == port:
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        context.route("**/*", only_loopback)
        page = context.new_page()
        for script, title, path, chart_count in PAGES:
            page.goto(f"{url}/{path}")
            page.wait_for_function(
                """(count) => {
                  const charts = [...document.querySelectorAll('[data-testid=stVegaLiteChart]')];
                  const marks = 'svg .mark-rect path, svg .mark-arc path, svg .mark-line path';
                  return charts.length === count
                    && charts.every(chart => chart.querySelector(marks));
                }""",
                arg=chart_count, timeout=60_000,
            )  # fmt: skip
            page.wait_for_selector(
                '[data-testid="stStatusWidget"]', state="detached", timeout=60_000
            )
            assert page.locator("h1").first.inner_text() == title, script
            assert page.locator('[data-testid="stException"]').count() == 0, script
            assert page.locator('[data-testid="stAlertContentError"]').count() == 0, script
            assert page.locator('[data-testid="stAlertContentWarning"]').count() == 0, script
            shot = tmp_path / f"{path or 'overview'}.png"
            page.screenshot(path=str(shot))
            assert drawn_share(Image.open(shot)) > 0.03, script
            charts_drawn = page.locator('[data-testid="stVegaLiteChart"]')
            for index in range(chart_count):
                chart = charts_drawn.nth(index)
                chart.scroll_into_view_if_needed()
                box = chart.locator("svg").first.bounding_box()
                assert box is not None and box["width"] > 150 and box["height"] > 60, (script, box)
                chart_shot = tmp_path / f"{path or 'overview'}-chart-{index}.png"
                chart.screenshot(path=str(chart_shot))
                assert drawn_share(Image.open(chart_shot)) > 0.03, (script, index)
        browser.close()
    assert outside == [], outside
    assert time.monotonic() - started < 300

    child.send_signal(signal.SIGINT)  # Ctrl-C
    child.wait(timeout=30)
    assert child.returncode == 0, child.stderr.read() if child.stderr else ""
    assert "Traceback" not in (child.stderr.read() if child.stderr else "")
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0


def test_the_dashboard_listens_on_loopback_only_and_dies_with_its_command(
    tmp_path: Path,
) -> None:
    """Every socket of the command's processes is loopback's; after `kill -9` of the command
    (no handler of its runs) its server is gone within seconds, not left listening."""
    port = free_port()
    env = {**base_environment(), "COLUMNS": "200",
           "SPOTIFY_ELT_DUCKDB_PATH": str(tmp_path / "none.duckdb")}  # fmt: skip
    with (tmp_path / "stderr.txt").open("w") as stderr:  # Streamlit's too: it inherits it
        child = subprocess.Popen(
            [sys.executable, "-m", "spotify_elt", "dashboard", "--port", str(port)], env=env,
            cwd=tmp_path, stdout=subprocess.PIPE, stderr=stderr, text=True,
        )  # fmt: skip
    tree: list[psutil.Process] = []
    try:
        assert child.stdout is not None
        first_line = child.stdout.readline()
        assert first_line.strip() == f"Dashboard at http://127.0.0.1:{port}", (
            first_line + (tmp_path / "stderr.txt").read_text()
        )
        tree = process_tree(child.pid)
        assert len(tree) > 1, "no server process under the command"
        listening = tcp_listeners(tree)
        assert ("127.0.0.1", port) in [(address, number) for address, number, _ in listening]
        assert [entry for entry in listening if entry[0] not in LOOPBACK] == []

        child.kill()  # kill -9
        child.wait(timeout=10)
        assert outliving(tree, timeout=30) == []
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", port)) != 0
    finally:
        child.kill()
        child.wait()
        kill_all(tree)


def test_a_busy_port_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli(
            "dashboard", "--port", str(port),
            env={"SPOTIFY_ELT_DUCKDB_PATH": str(tmp_path / "warehouse.duckdb")}, cwd=tmp_path,
            timeout=60,
        )  # fmt: skip
    assert result.returncode == 1
    assert "Traceback" not in result.output
    assert result.stderr.strip() == (
        f"error: port {port} on 127.0.0.1 is in use: choose another with --port"
    )
