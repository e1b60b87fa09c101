"""Tables the other reports read: grading, assignments, outcomes, activity, tokens, tools."""

from __future__ import annotations

from reportcard.db.tables import metadata

__all__ = ["metadata"]
