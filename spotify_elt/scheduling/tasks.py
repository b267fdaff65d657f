"""What the Airflow DAG's own tasks do (dags/spotify_elt_dag.py): the command line's code."""

from __future__ import annotations

from typing import Any

from ingestion.config import Settings
from ingestion.errors import SpotifyEltError


def authorised_users(settings: Settings) -> list[str]:
    """The label of every authorised account: what the DAG maps its extract over (no token)."""
    from ingestion.spotify import authorised_accounts, require_app_credentials

    require_app_credentials(settings)
    return [account.label for account in authorised_accounts(settings)]


def extract_user(settings: Settings, label: str) -> dict[str, Any]:
    """Extract one account into `raw`; a summary for XCom, or the one-line error raised."""
    from ingestion.errors import AuthError
    from ingestion.extract import extract
    from ingestion.spotify import authorised_accounts
    from ingestion.warehouse import Warehouse

    accounts = [account for account in authorised_accounts(settings) if account.label == label]
    if not accounts:
        raise AuthError(f"{label} is no longer authorised: run `spotify-elt auth`")
    with Warehouse(settings) as warehouse:
        (result,) = extract(settings, warehouse, accounts)
    if result.batch is None:
        raise SpotifyEltError(result.error or f"extract failed for {label}")
    batch = result.batch
    return {
        "user": result.user,
        "new_plays": batch.rows_inserted,
        "already_had": batch.rows_duplicate,
        "requests": batch.api_requests,
        "gap_suspected": batch.gap_suspected,
    }
