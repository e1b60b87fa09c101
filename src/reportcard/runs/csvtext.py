"""CSV text of rows as Canvas writes it: Python's csv writer, with a lone ``\\r`` quoted too.

Canvas (Ruby's CSV) quotes a field that holds a comma, a quote or a line break, and a carriage
return is a line break. Python's writer with ``\\n`` line endings quotes ``\\n`` but leaves a
bare ``\\r`` unquoted, which readers may take for the end of a row; PostgreSQL's COPY quotes it.
So text that holds a ``\\r`` anywhere is written again field by field with the full rule; any
other text is the C writer's, unchanged (one scan of the batch decides).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from typing import Any

NEEDS_QUOTES = (",", '"', "\n", "\r")
_NEEDS_QUOTES = re.compile("[" + "".join(NEEDS_QUOTES) + "]")  # one C-speed scan of a value


def field(value: Any) -> str:
    """One field: empty for NULL, quoted (quotes doubled) when it holds a special character."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    if _NEEDS_QUOTES.search(text):
        return '"' + text.replace('"', '""') + '"'
    return text


def line(row: Sequence[Any], ending: str = "\n") -> str:
    """One row; a row of one empty field is ``""``, as Python's writer writes it."""
    fields = [field(v) for v in row]
    if len(fields) == 1 and fields[0] == "":
        return '""' + ending
    return ",".join(fields) + ending


def csv_lines(rows: Sequence[Sequence[Any]]) -> list[str]:
    """Each row's :func:`line`, written by the C writer (a row holding ``\\r`` by ``line``)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    sizes = [writer.writerow(row) for row in rows]  # the characters written, each
    text = buf.getvalue()
    out: list[str] = []
    at = 0
    for row, size in zip(rows, sizes, strict=True):
        one = text[at : at + size]
        out.append(line(row) if "\r" in one else one)
        at += size
    return out


class BatchWriter:
    """Batches of rows to CSV text with ``\\n`` line endings."""

    def __init__(self) -> None:
        self._buf = io.StringIO()
        self._writer = csv.writer(self._buf, lineterminator="\n")

    def text(self, rows: Iterable[Sequence[Any]]) -> str:
        rows = rows if isinstance(rows, list) else list(rows)
        self._writer.writerows(rows)
        text = self._buf.getvalue()
        self._buf.seek(0)
        self._buf.truncate()
        if "\r" in text:
            return "".join(line(row) for row in rows)
        return text
