"""The importer's error: what went wrong, and where (file, line or record, field)."""

from __future__ import annotations

from pathlib import Path


class Cd2Error(Exception):
    """A CD2 load that cannot be applied; nothing of its table was changed."""

    def __init__(
        self,
        message: str,
        *,
        file: Path | str | None = None,
        line: int | None = None,
        field: str | None = None,
        table: str | None = None,
    ) -> None:
        self.message = message
        self.file = None if file is None else str(file)
        self.line = line
        self.field = field
        self.table = table
        super().__init__(self.describe())

    def describe(self) -> str:
        where = []
        if self.table:
            where.append(f"table {self.table}")
        if self.file:
            where.append(self.file + (f":{self.line}" if self.line is not None else ""))
        elif self.line is not None:
            where.append(f"record {self.line}")
        if self.field:
            where.append(f"field {self.field}")
        return (", ".join(where) + ": " if where else "") + self.message

    def __str__(self) -> str:
        return self.describe()
