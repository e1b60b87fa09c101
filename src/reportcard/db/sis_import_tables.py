"""Tables of the SIS import: batches' imports, their errors and warnings."""

from __future__ import annotations

from reportcard.db.tables import metadata

__all__ = ["metadata"]
