"""`spotify-elt demo`: the bundled sample data through the real loader and dbt, no network."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from pathlib import Path

from ingestion.warehouse import Warehouse
from spotify_elt.demo import SAMPLE_DIR
from tests.support.cli import CliResult, settings_from


def sample_plays() -> dict[str, set[str]]:
    """Every distinct play in the recordings, read without the loader."""
    plays: dict[str, set[str]] = {}
    for path in SAMPLE_DIR.glob("*.json.gz"):
        recording = json.loads(gzip.decompress(path.read_bytes()))
        plays[recording["profile"]["id"]] = {
            item["played_at"] for response in recording["responses"] for item in response["items"]
        }
    return plays


def test_demo_loads_every_sample_play_once_and_builds(
    cli: Callable[..., CliResult], env: dict[str, str], tmp_path: Path
) -> None:
    offline = {
        # Nothing listens here: the demo must not need Spotify at all.
        "SPOTIFY_API_URL": "http://127.0.0.1:9/v1",
        "SPOTIFY_ACCOUNTS_URL": "http://127.0.0.1:9",
        "SPOTIFY_ELT_TARGET": "postgres",  # the demo always uses the embedded default
    }
    first = cli("demo", extra_env=offline, without=("SPOTIFY_CLIENT_ID", "SPOTIFY_CLIENT_SECRET"))
    assert first.returncode == 0, first.output
    expected = sample_plays()
    total = sum(len(plays) for plays in expected.values())
    assert len(expected) == 3 and total > 3000
    with Warehouse(settings_from(env)) as warehouse:
        facts = warehouse.marts_summary().plays
    # demo-sam's export reaches four weeks back, before his polls began.
    assert f"{facts} plays in marts.fct_plays, 2026-09-07 to 2026-11-08 (UTC)" in first.stdout
    assert facts > total
    assert "Top artists:" in first.stdout
    assert str(tmp_path / "warehouse.duckdb") in first.stdout

    second = cli("demo", extra_env=offline)
    assert second.returncode == 0, second.output
    assert f"{facts} plays" in second.stdout  # replaying the same recordings adds nothing

    with Warehouse(settings_from(env)) as warehouse:
        for user_id, plays in expected.items():
            assert warehouse.count_plays(user_id) == len(plays)
        batches = warehouse.batches()
    assert {batch["source"] for batch in batches} == {"demo", "export"}
    gaps = {batch["user_id"] for batch in batches if batch["gap_suspected"]}
    assert gaps == {"demo-sam"}  # the one recorded poller outage of more than 50 plays
