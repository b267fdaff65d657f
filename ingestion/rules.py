"""The rules every play that lands keeps, whichever way it comes (the API, an export), so that
what lands can always be modelled: a play outside them would make every later `transform`
fail, on every run, until it was removed. And what never lands: the private fields of an
export's records."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

# Spotify began in 2006: a play that ends before it is damaged, and so is one that ends more
# than a day after it was loaded (a device clock set wrong gives minutes, not days).
EARLIEST_PLAY = datetime(2006, 1, 1)

# The models add ms_played to a time, and SQL Server's DATEADD takes an int: 2^31 - 1 ms (24
# days) is far beyond any real play, and every warehouse's integer holds it.
MAX_MS_PLAYED = 2**31 - 1


def latest_play() -> datetime:
    """The first moment no play may reach: the start of the day after tomorrow (naive UTC)."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)
    return today + timedelta(days=2)


# Never stored: removed from each record before it lands (docs/loading.md, "Privacy"). Older
# Extended records also say where the play was (`city` to `longitude`): as private as the IP
# address.
PRIVATE_FIELDS = (
    "ip_addr", "ip_addr_decrypted", "user_agent_decrypted", "username",
    "city", "region", "metro_code", "latitude", "longitude",
)  # fmt: skip


def without_private_fields_sql(record: str) -> str:
    """DuckDB SQL: the JSON text `record` without `PRIVATE_FIELDS`, compact. json_merge_patch
    with null values removes those keys (RFC 7396) and keeps the others."""
    patch = json.dumps(dict.fromkeys(PRIVATE_FIELDS)).replace("'", "''")
    return f"json_merge_patch({record}, '{patch}')"
