"""Timestamps for generated rows, preformatted once so row generators never format dates.

Values are strings in SQLAlchemy's SQLite ``DateTime`` storage format
(``YYYY-MM-DD HH:MM:SS.ffffff``, naive UTC); PostgreSQL parses the same text.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from random import Random

# "Now" for the synthetic institution; fixed so a seed always gives the same rows.
ANCHOR = datetime(2026, 11, 2, 15, 30, 0)

_FMT = "%Y-%m-%d %H:%M:%S.%f"


def ts(value: datetime) -> str:
    """Format one timestamp the way SQLAlchemy stores ``DateTime`` in SQLite."""
    return value.strftime(_FMT)


def pool(rng: Random, start: datetime, end: datetime, n: int) -> list[str]:
    """``n`` sorted random timestamps in ``[start, end)``, with whole-second precision."""
    span = max(1, int((end - start).total_seconds()))
    return [ts(start + timedelta(seconds=s)) for s in sorted(rng.randrange(span) for _ in range(n))]
