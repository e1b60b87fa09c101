"""The time every timestamp is written in.

A neutral module at the bottom of the package (beside ``ids``): auth, audit, runs, notify, the
API and the pages all take "now" from here, so none of them imports another for it.
"""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Naive UTC now, the form every timestamp is stored in."""
    return datetime.now(UTC).replace(tzinfo=None)
