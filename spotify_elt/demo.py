"""The demo job: bundled recently-played responses loaded by the same code as a real extract."""

from __future__ import annotations

import gzip
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingestion.config import Settings
from ingestion.export import import_export
from ingestion.extract import land_recent_plays
from ingestion.spotify import collect_recent_plays
from ingestion.warehouse import Batch, Warehouse, new_batch_id, utc_now

SAMPLE_DIR = Path(__file__).resolve().parent / "sample_data"
# Privacy exports of two sample users, `<user_id>_<what>.zip` (sample_data/README.md).
EXPORTS = "exports"
# Where the fictional listeners live (sample_data/README.md); a configured zone still wins.
SAMPLE_TIMEZONES = {
    "demo-ana": "Europe/Madrid",
    "demo-kenji": "Asia/Tokyo",
    "demo-sam": "America/New_York",
}


def _spotify_window_exhausted(_: Mapping[str, Any]) -> Mapping[str, Any]:
    # A recorded response that is full still carries a `next` link; Spotify answers it with an
    # empty page because it keeps only the latest 50 plays. The recording ends there too.
    return {"items": [], "next": None, "limit": 50}


@dataclass(frozen=True)
class DemoUser:
    """What replaying one sample user's polls did."""

    user_id: str
    polls: int
    inserted: int
    duplicates: int
    gaps_suspected: int


def load_sample_data(warehouse: Warehouse, sample_dir: Path = SAMPLE_DIR) -> list[DemoUser]:
    """Replay every recorded poll of every sample user, in order, through the real loader."""
    warehouse.create_raw_tables()
    results = []
    for path in sorted(sample_dir.glob("*.json.gz")):
        recording = json.loads(gzip.decompress(path.read_bytes()))
        profile = recording["profile"]
        user_id = str(profile["id"])
        inserted = duplicates = gaps = 0
        for response in recording["responses"]:
            watermark = warehouse.watermark(user_id)
            fetched = collect_recent_plays(response, _spotify_window_exhausted, watermark, user_id)
            batch = Batch(
                new_batch_id(), "demo", user_id, "succeeded", utc_now(), watermark_before=watermark
            )
            landed = land_recent_plays(warehouse, batch, fetched, profile)
            inserted += landed.rows_inserted
            duplicates += landed.rows_duplicate
            gaps += landed.gap_suspected
        results.append(DemoUser(user_id, len(recording["responses"]), inserted, duplicates, gaps))
    return results


def load_sample_exports(
    settings: Settings, warehouse: Warehouse, sample_dir: Path = SAMPLE_DIR
) -> dict[str, int]:
    """Import every sample privacy export with `spotify-elt import`'s code: records per user."""
    imported: dict[str, int] = {}
    for path in sorted((sample_dir / EXPORTS).glob("*.zip")):
        user_id = path.name.partition("_")[0]
        result = import_export(settings, warehouse, [path], user_id)
        imported[user_id] = imported.get(user_id, 0) + result.batch.rows_inserted
    return imported
