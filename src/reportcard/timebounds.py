"""The times reportcard stores and shows: naive UTC values every time zone can represent.

Python's ``datetime`` holds years 1 to 9999. A value near either end overflows when it is moved
into a time zone (``0001-01-01T00:00:00+05:00`` is a time in year 0 in UTC; ``9999-12-31``
shown in Denver is fine, ``9999-12-31T23:00:00-05:00`` is not). Every time read from outside
(a SIS CSV, an API parameter, a report parameter) goes through :func:`naive_utc`, which keeps
it inside :data:`EARLIEST` .. :data:`LATEST`: a day from either end, so that a stored time
can be written in any zone (offsets are under 24 hours) without overflowing.
"""

from __future__ import annotations

from datetime import UTC, datetime

EARLIEST = datetime(1, 1, 2)
LATEST = datetime(9999, 12, 30, 23, 59, 59, 999999)


class OutOfRange(ValueError):
    """A time outside :data:`EARLIEST` .. :data:`LATEST` (in UTC)."""


def naive_utc(value: datetime) -> datetime:
    """``value`` (aware, or naive meaning UTC) as naive UTC; OutOfRange when out of bounds."""
    if value.tzinfo is not None:
        try:
            value = value.astimezone(UTC).replace(tzinfo=None)
        except OverflowError:
            raise OutOfRange(value.isoformat()) from None
    if not EARLIEST <= value <= LATEST:
        raise OutOfRange(value.isoformat())
    return value


def clamp(value: datetime) -> datetime:
    """A naive UTC ``value`` moved inside the bounds."""
    return min(max(value, EARLIEST), LATEST)
