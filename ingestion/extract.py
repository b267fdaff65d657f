"""The extract job: recently-played for every authorised user into `raw`, one batch per user."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ingestion.config import Settings
from ingestion.errors import SpotifyEltError
from ingestion.spotify import (
    Account,
    RecentlyPlayed,
    SpotifyClient,
    authorised_accounts,
    parse_played_at,
    require_app_credentials,
)
from ingestion.warehouse import Batch, Play, Warehouse, new_batch_id, utc_now


@dataclass(frozen=True)
class UserResult:
    """How one user's load went: the batch row when it landed, else the one-line error."""

    user: str
    batch: Batch | None = None
    error: str | None = None


def land_recent_plays(
    warehouse: Warehouse,
    batch: Batch,
    fetched: RecentlyPlayed,
    profile: Mapping[str, Any] | None = None,
) -> Batch:
    """Land what one poll returned; shared by `extract` and the demo so both load alike."""
    user_id = batch.user_id or ""
    plays = [
        Play(
            user_id=user_id,
            played_at=parse_played_at(item["played_at"]),
            # Re-serialised from the parsed response: same keys, order and values.
            item_json=json.dumps(item, ensure_ascii=False),
        )
        for item in fetched.items
    ]
    message = (
        "gap suspected: more plays happened since the last load than Spotify reports; "
        "import the privacy export to fill it"
        if fetched.gap_suspected
        else None
    )
    return warehouse.land_plays(
        dataclasses.replace(
            batch,
            gap_suspected=fetched.gap_suspected,
            api_requests=fetched.requests,
            message=message,
        ),
        plays,
        profile,
    )


def extract(
    settings: Settings,
    warehouse: Warehouse,
    accounts: Sequence[Account] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> list[UserResult]:
    """Extract every authorised user; one user's failure is reported, never stops the others."""
    require_app_credentials(settings)
    accounts = list(accounts) if accounts is not None else authorised_accounts(settings)
    warehouse.create_raw_tables()
    results = []
    for account in accounts:
        started, batch_id = utc_now(), new_batch_id()
        user_id: str | None = None
        watermark: datetime | None = None
        try:
            client = SpotifyClient(settings, account, sleep=sleep)
            profile = client.me()
            user_id = str(profile["id"])
            watermark = warehouse.watermark(user_id)
            fetched = client.recently_played_since(watermark)
            batch = Batch(
                batch_id, "api", user_id, "succeeded", started, watermark_before=watermark
            )
            results.append(
                UserResult(user_id, land_recent_plays(warehouse, batch, fetched, profile))
            )
        except SpotifyEltError as error:
            message = settings.scrub(str(error))
            user_id = user_id or account.user_id
            failed = Batch(
                batch_id, "api", user_id, "failed", started,
                watermark_before=watermark, message=message,
            )  # fmt: skip
            warehouse.record_failure(failed)
            results.append(UserResult(user_id or account.label, error=message))
    return results
