"""Reading one CSV field: trimmed text, ``<delete>``, ISO 8601 times, booleans."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from reportcard.timebounds import OutOfRange, naive_utc

DELETE = "<delete>"

Getter = Callable[[Sequence[str]], str | None]


class Columns:
    """The header of one file: fast getters returning a trimmed value or None when blank."""

    def __init__(self, headers: Sequence[str]) -> None:
        self.index: dict[str, int] = {}
        for i, h in enumerate(headers):
            self.index.setdefault(h, i)

    def __contains__(self, name: str) -> bool:
        return name in self.index

    def getter(self, name: str) -> Getter:
        i = self.index.get(name)
        if i is None:
            return _absent

        def get(row: Sequence[str]) -> str | None:
            if i < len(row):
                v = row[i].strip()
                return v or None
            return None

        return get


def _absent(_: Sequence[str]) -> str | None:
    return None


class BadValue(ValueError):
    """A field whose text cannot be read as the type its column needs."""


def parse_time(text: str) -> datetime:
    """ISO 8601 (``2024-01-15T08:00:00Z``, with an offset, or a bare date) to naive UTC.

    A time without an offset is taken as UTC, as the SIS format documents. A time outside
    what every time zone can show (years 1 and 9999 at the edges, see
    :mod:`reportcard.timebounds`) is a bad value, like one that does not parse.
    """
    try:
        return naive_utc(datetime.fromisoformat(text))
    except (ValueError, OutOfRange):
        raise BadValue(text) from None


_TRUE = {"true", "1", "yes", "on", "t", "y"}
_FALSE = {"false", "0", "no", "off", "f", "n"}


def parse_bool(text: str) -> bool:
    low = text.lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise BadValue(text)
