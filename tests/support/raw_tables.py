"""What a command landed in the raw tables, read back for assertions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from ingestion.warehouse import Warehouse, load_batches, recently_played, streaming_history
from tests.support.cli import LISTENER, settings_from


def landed(env: dict[str, str]) -> list[tuple[str, datetime]]:
    with Warehouse(settings_from(env)) as warehouse, warehouse.engine.connect() as connection:
        query = sa.select(recently_played.c.user_id, recently_played.c.played_at)
        return sorted((row.user_id, row.played_at) for row in connection.execute(query))


def history_rows(env: dict[str, str]) -> list[tuple[Any, ...]]:
    with Warehouse(settings_from(env)) as warehouse, warehouse.engine.connect() as connection:
        if not sa.inspect(connection).has_table(streaming_history.name, schema="raw"):
            return []
        present = {column["name"] for column in sa.inspect(connection).get_columns(
            streaming_history.name, schema="raw"
        )}  # fmt: skip
        names = ["user_id", "record_key", "record", "source_file", "repeats"]
        # A warehouse of an earlier version has no `repeats`.
        query = sa.select(*(streaming_history.c[name] for name in names if name in present))
        return sorted(tuple(row) for row in connection.execute(query))


def batch_rows(env: dict[str, str]) -> list[dict[str, Any]]:
    with Warehouse(settings_from(env)) as warehouse, warehouse.engine.connect() as connection:
        if not sa.inspect(connection).has_table(load_batches.name, schema="raw"):
            return []
    with Warehouse(settings_from(env)) as warehouse:
        return warehouse.batches()


def batches(env: dict[str, str]) -> list[dict[str, Any]]:
    with Warehouse(settings_from(env)) as warehouse:
        return warehouse.batches()


def expected_keys(
    items: list[dict[str, Any]], user_id: str = LISTENER
) -> list[tuple[str, datetime]]:
    """The raw keys (user, played_at) the Web API items `items` land as."""
    return sorted(
        (user_id, datetime.fromisoformat(item["played_at"]).replace(tzinfo=None)) for item in items
    )
