"""`spotify-elt`: the command line (docs/design.md, "Command line"). Expected failures end in one
line, exit 1."""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import TaskID
from rich.table import Table
from rich.text import Text

from ingestion import running
from ingestion.config import Settings, load_settings
from ingestion.errors import SpotifyEltError, printable

if TYPE_CHECKING:
    from ingestion.export import ImportResult

P = ParamSpec("P")
R = TypeVar("R")

out = Console()
err = Console(stderr=True)

app = typer.Typer(
    name="spotify-elt",
    help="Your Spotify listening history in a SQL warehouse: extract, load, dbt transform.",
    no_args_is_help=True,
    add_completion=False,
    # Locals of a crashing frame may hold tokens: never print them.
    pretty_exceptions_show_locals=False,
)


class _RedactSecrets(logging.Filter):
    """Replace any configured secret in a log line with ***, whoever logged it."""

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self.settings = settings

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = self.settings.scrub(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def _configure_logging(settings: Settings, verbose: bool) -> None:
    handler = RichHandler(console=err, show_path=False, show_time=False)
    handler.addFilter(_RedactSecrets(settings))
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(message)s",
        handlers=[handler],
        force=True,
    )
    # Even with --verbose: spotipy logs bearer tokens at DEBUG (and every HTTP error, which we
    # report ourselves in one line); urllib3 logs every request.
    logging.getLogger("spotipy").setLevel(logging.CRITICAL)
    logging.getLogger("urllib3").setLevel(logging.WARNING)


_verbose = False
_loaded: Settings | None = None


def _print_error(message: str) -> None:
    if _loaded is not None:  # belt and braces: messages are built without secrets
        message = _loaded.scrub(message)
    # Belt and braces too: names in messages are escaped where they are put in (`printable`);
    # whatever else slipped in, a newline or a terminal escape never leaves this line.
    message = printable(message)
    # The message is data (paths, Spotify's words): never let rich read it as markup.
    err.print(Text.assemble(("error:", "bold red"), " ", message), soft_wrap=True)


def _fail(message: str) -> typer.Exit:
    _print_error(message)
    return typer.Exit(1)


def command(function: Callable[P, R]) -> Callable[P, R]:
    """Turn expected failures into one line on stderr and exit status 1."""

    @wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        running.stop_on_signals()
        running.sweep()  # private files of runs that were killed
        try:
            return function(*args, **kwargs)
        except (typer.Exit, typer.Abort):
            raise
        except KeyboardInterrupt:
            raise _fail(_interrupted()) from None
        except Exception as error:
            # A signal stops the query running at the time: DuckDB then raises an error of its
            # own ("Query interrupted"), SQLAlchemy wraps it, and so on. Whatever it became,
            # the run was interrupted.
            if running.interrupted():
                raise _fail(_interrupted()) from None
            if isinstance(error, SpotifyEltError):
                raise _fail(str(error)) from None
            raise

    return wrapper


def _interrupted() -> str:
    if running.has_landed():
        return "interrupted; what this run had loaded before stays (raw.load_batches)"
    return "interrupted; nothing of this run landed"


def _settings() -> Settings:
    global _loaded
    settings = _loaded = load_settings()
    _configure_logging(settings, _verbose)
    return settings


@app.callback()
def main_options(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress.")] = False,
) -> None:
    global _verbose
    _verbose = verbose


@app.command()
@command
def auth(
    redirect_url: Annotated[
        str | None,
        typer.Option(help="The URL Spotify redirected to; asked for on stdin when omitted."),
    ] = None,
) -> None:
    """Authorise a Spotify account once (works without a browser); stores its refresh token."""
    from ingestion.errors import AuthError
    from ingestion.spotify import start_authorisation

    settings = _settings()
    flow = start_authorisation(settings)
    if redirect_url is None:
        err.print("Open this URL in any browser, log in and approve:")
        err.print(flow.url, soft_wrap=True, highlight=False)
        err.print("Then paste the full URL you were redirected to (it may not load):")
        redirect_url = sys.stdin.readline()
        if not redirect_url.strip():
            raise AuthError("no redirect URL given: run `spotify-elt auth` in a terminal")
    profile = flow.complete(redirect_url)
    name = profile.get("display_name") or profile["id"]
    out.print(
        f"Authorised {name} ({profile['id']}); token stored in "
        f"{settings.token_dir / (profile['id'] + '.json')} (mode 0600)",
        highlight=False,
        markup=False,
    )


def _extract(settings: Settings) -> bool:
    from ingestion.extract import extract
    from ingestion.warehouse import Warehouse

    with Warehouse(settings) as warehouse:
        results = extract(settings, warehouse)
    table = Table("user", "new plays", "already had", "requests", "gap suspected", "status")
    for result in results:
        if result.batch is not None:
            batch = result.batch
            table.add_row(
                result.user,
                str(batch.rows_inserted),
                str(batch.rows_duplicate),
                str(batch.api_requests),
                "yes" if batch.gap_suspected else "no",
                "ok",
            )
        else:
            table.add_row(result.user, "-", "-", "-", "-", "[red]failed[/]")
    out.print(table)
    for result in results:
        if result.error:
            _print_error(result.error)
    return all(result.error is None for result in results)


@app.command()
@command
def extract() -> None:
    """Load recently-played for every authorised user into the raw layer."""
    if not _extract(_settings()):
        raise typer.Exit(1)


@app.command()
@command
def transform(
    full_refresh: Annotated[
        bool,
        typer.Option(
            "--full-refresh",
            help="Rebuild every incremental model from the whole history.",
        ),
    ] = False,
) -> None:
    """Run `dbt build` on the configured target."""
    from spotify_elt.transform import build

    build(_settings(), full_refresh=full_refresh)


@app.command()
@command
def run() -> None:
    """The main job: extract, then transform (also when one user's extract failed)."""
    settings = _settings()
    extracted = _extract(settings)
    from spotify_elt.transform import build

    build(settings)
    if not extracted:
        raise typer.Exit(1)


@app.command()
@command
def demo() -> None:
    """The main job on bundled sample data into DuckDB: no Spotify account, no network."""
    from ingestion.warehouse import Warehouse
    from spotify_elt.demo import SAMPLE_TIMEZONES, load_sample_data, load_sample_exports
    from spotify_elt.transform import build, generate_docs

    configured = _settings()
    settings = configured.model_copy(
        update={
            "target": "duckdb",
            "user_timezones": {**SAMPLE_TIMEZONES, **configured.user_timezones},
        }
    )
    with Warehouse(settings) as warehouse:
        users = load_sample_data(warehouse)
        exported = load_sample_exports(settings, warehouse)
    build(settings)
    with Warehouse(settings) as warehouse:
        summary = warehouse.marts_summary()
    docs = generate_docs(settings)

    table = Table(
        "user", "polls replayed", "plays landed", "already had", "gaps flagged", "export records"
    )
    for user in users:
        table.add_row(
            user.user_id, str(user.polls), str(user.inserted), str(user.duplicates),
            str(user.gaps_suspected), str(exported.get(user.user_id, 0)),
        )  # fmt: skip
    out.print(table)
    span = (
        f"{summary.first:%Y-%m-%d} to {summary.last:%Y-%m-%d}" if summary.first and summary.last
        else "no plays"
    )  # fmt: skip
    out.print(f"[bold]{summary.plays}[/] plays in marts.fct_plays, {span} (UTC)")
    out.print("Top artists: " + ", ".join(f"{name} ({n})" for name, n in summary.top_artists))
    out.print(f"Warehouse: {settings.duckdb_path}", highlight=False)
    out.print(f"Docs:      {docs}", highlight=False)


@app.command()
@command
def docs() -> None:
    """Write the static dbt docs site and say where it is."""
    from ingestion.warehouse import check_reachable
    from spotify_elt.transform import generate_docs

    settings = _settings()
    check_reachable(settings)
    out.print(f"Docs written to {generate_docs(settings)}", highlight=False)


class _ProgressBar:
    """The import's progress on stderr: a bar that follows DuckDB's own query progress."""

    def __init__(self) -> None:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self.display = Progress(
            TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
            console=err, transient=True,
        )  # fmt: skip
        self.task: TaskID | None = None
        self.fraction: Callable[[], float] | None = None
        self.stopped = threading.Event()
        self.poller = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> _ProgressBar:
        self.display.start()
        self.poller.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stopped.set()
        self.poller.join()
        self.display.stop()

    def step(self, description: str, fraction: Callable[[], float] | None = None) -> None:
        if self.task is not None:
            self.display.update(self.task, completed=1, visible=False)
        self.fraction = fraction
        self.task = self.display.add_task(description, total=1 if fraction else None)

    def _poll(self) -> None:
        while not self.stopped.wait(0.2):
            task, fraction = self.task, self.fraction
            if task is not None and fraction is not None:
                self.display.update(task, completed=fraction())


@app.command(name="import")
@command
def import_export(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="The export .zip, a folder or JSON files.", show_default=False),
    ] = None,
    user: Annotated[
        str | None,
        typer.Option(help="Spotify user id the export belongs to; default: the authorised user."),
    ] = None,
    skip_invalid: Annotated[
        bool,
        typer.Option(
            "--skip-invalid",
            help="Load the valid records and count the others, instead of stopping.",
        ),
    ] = False,
    undo: Annotated[
        str | None,
        typer.Option(
            metavar="BATCH_ID",
            help="Remove the records one import landed (see --list); then run transform.",
        ),
    ] = None,
    list_imports: Annotated[
        bool, typer.Option("--list", help="List the imports, newest last, and exit.")
    ] = False,
) -> None:
    """Import a Spotify privacy export (Extended streaming history or Account data)."""
    from contextlib import nullcontext

    from ingestion.export import import_export as run_import
    from ingestion.export import import_user
    from ingestion.warehouse import Warehouse, run_lock

    settings = _settings()
    if undo is not None or list_imports:
        if paths or (undo is not None and list_imports):
            raise _fail("--undo and --list take no export and go alone")
        with Warehouse(settings) as warehouse:
            warehouse.create_raw_tables()
            if list_imports:
                _list_imports(warehouse.batches())
                return
        # Not while a build runs: it would fill again the tables the undo drops.
        with run_lock(settings), Warehouse(settings) as warehouse:
            undone = warehouse.undo_import(undo or "")
        out.print(
            f"Undid import {undone.batch_id} of {undone.user_id}: removed "
            f"{_counted(undone.rows_inserted, 'record')}. The marts are empty until the next "
            "`spotify-elt transform` builds them anew without it.",
            highlight=False, markup=False, soft_wrap=True,
        )  # fmt: skip
        return
    if not paths:
        raise _fail("which export? give its .zip, a folder or JSON files (or --undo, --list)")
    user_id = import_user(settings, user)
    bar = _ProgressBar() if err.is_terminal else None
    with Warehouse(settings) as warehouse, bar or nullcontext():
        result = run_import(
            settings, warehouse, paths, user_id, skip_invalid=skip_invalid, progress=bar
        )
    for note in result.notes:
        err.print(Text(printable(note)), soft_wrap=True)
    out.print(_import_summary(result, user_id), highlight=False, markup=False, soft_wrap=True)
    for reason, count in result.skipped.most_common():
        out.print(f"Skipped {count:,} invalid: {reason}", highlight=False, markup=False)


def _list_imports(batches: list[dict[str, Any]]) -> None:
    table = Table("imported at (UTC)", "user", "new records", "status", "what", box=None)
    # Whole, never wrapped: the id is what --undo takes.
    table.add_column("batch id", no_wrap=True, min_width=36)
    for batch in batches:
        if batch["source"] == "export":
            table.add_row(
                f"{batch['finished_at']:%Y-%m-%d %H:%M}", Text(str(batch["user_id"])),
                f"{batch['rows_inserted']:,}", batch["status"],
                Text(str(batch["message"] or "")), batch["batch_id"],
            )  # fmt: skip
    out.print(table)


def _import_summary(result: ImportResult, user_id: str) -> str:
    """What an import added: plays and records without content apart, and what it did not."""
    batch = result.batch
    without_content = batch.rows_inserted - result.plays
    added = _counted(batch.rows_inserted, "new play")
    if without_content:
        added = (
            f"{_counted(batch.rows_inserted, 'new record')} "
            f"({_counted(result.plays, 'play')}, {without_content:,} without content)"
        )
    not_added = f"{batch.rows_duplicate - result.repeats:,} already there"
    if result.repeats:
        not_added += f", {_counted(result.repeats, 'identical record')} left out"
    return f"Imported {added} for {user_id} from {_counted(result.files, 'file')}; {not_added}"


def _counted(count: int, thing: str) -> str:
    return f"{count:,} {thing}{'' if count == 1 else 's'}"


@app.command()
@command
def dashboard(port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 8501) -> None:
    """Serve the dashboard (Streamlit) on loopback; Ctrl-C stops it."""
    from ingestion.warehouse import describe_target
    from spotify_elt.dashboard.server import serve

    settings = _settings()  # a bad setting is one line here, before anything starts
    # Streamlit runs as a child process (spotify_elt/dashboard/server.py says why). `kill` and a
    # closed terminal stop it as Ctrl-C does (`command` makes them KeyboardInterrupt).
    try:
        with serve(port) as served:
            out.print(f"Dashboard at [bold]{served.url}[/]", highlight=False)
            out.print(
                f"Reading {describe_target(settings)}. Ctrl-C stops it.",
                highlight=False, markup=False,
            )  # fmt: skip
            status = served.process.wait()
    except KeyboardInterrupt:
        return
    raise _fail(
        f"the dashboard server stopped by itself with status {status}; its messages are above"
    )


@app.command()
@command
def airflow(
    port: Annotated[int, typer.Option(help="Port of the web UI on 127.0.0.1.")] = 8080,
) -> None:
    """Start a project-local Airflow (`airflow standalone`) with the DAG and the dbt docs."""
    from spotify_elt.scheduling import local_airflow

    settings = _settings()
    home = local_airflow.airflow_home()
    err.print("Parsing the dbt project for the DAG (dbt parse) …")
    local_airflow.parse_dbt_project(settings)
    if not local_airflow.docs_exist():
        err.print("Writing the dbt docs site for the UI (dbt docs generate) …")
        from spotify_elt.transform import generate_docs

        generate_docs(settings)
    login = local_airflow.password(home)
    err.print(f"Starting Airflow in {home} (log: {home / 'standalone.log'}) …", highlight=False)

    def announce(url: str) -> None:
        out.print(f"Airflow is up at [bold]{url}[/]", highlight=False)
        out.print(f"Log in as {local_airflow.LOGIN} / {login}", highlight=False, markup=False)
        out.print(f"The DAG:  {url}/dags/{local_airflow.DAG_ID}", highlight=False)
        out.print(f"dbt docs: {url}{local_airflow.DOCS_PATH}", highlight=False)
        out.print(
            f"The DAG starts paused: unpause it to run on its schedule ({settings.schedule}). "
            "Ctrl-C stops Airflow.", highlight=False, markup=False,
        )  # fmt: skip

    try:
        with local_airflow.standalone(home, port) as airflow:
            announce(airflow.url)
            status = airflow.process.wait()
    except KeyboardInterrupt:
        return
    if status != 0:
        raise _fail(
            f"airflow standalone exited with status {status}; see {home / 'standalone.log'}"
        )


def main() -> None:
    app()
