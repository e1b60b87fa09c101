"""The shape of one file type's importer: rows in batches, then a final step."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from reportcard.lms.sis_import.context import ImportContext
from reportcard.lms.sis_import.values import Columns

Record = tuple[int, list[str]]  # (line the record starts on, its fields)


class Handler(Protocol):
    def rows(self, ctx: ImportContext, file: str, cols: Columns, batch: Sequence[Record]) -> None:
        """Apply one batch of rows inside the open transaction (``ctx.conn``)."""

    def finish(self, ctx: ImportContext) -> None:
        """After every file of the type: resolve what had to wait (own transaction)."""
