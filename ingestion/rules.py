"""The rules every play that lands keeps, whichever way it comes (the API, an export), so that
what lands can always be modelled: a play outside them would make every later `transform`
fail, on every run, until it was removed."""

from __future__ import annotations

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
