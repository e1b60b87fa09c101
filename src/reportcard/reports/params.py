"""Canvas parameter semantics: lenient booleans, term and course references, lists, dates."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from reportcard.reports.formatting import zone
from reportcard.timebounds import EARLIEST, LATEST, OutOfRange, naive_utc


class ReportInputError(ValueError):
    """A parameter that cannot be used; the API answers 400 with this message."""

    def __init__(self, message: str, *, body: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.body = body if body is not None else {"errors": [{"message": message}]}


_TRUE_WORDS = {"yes", "true", "on", "True", "TRUE", "Yes", "YES", "On", "ON", "y", "t"}
_FALSE_WORDS = {"no", "false", "off", "n", "f"}


def value_to_boolean(value: Any) -> bool:
    """Canvas's ``value_to_boolean``, made lenient in letter case as the issue asks.

    ``true``/``yes``/``on``/``1`` (any case) are true; ``false``/``no``/``off``/``0``, empty,
    missing and any other text are false; numbers are true when non-zero.
    """
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, list | dict):
        return False
    text = str(value).strip()
    if text in _TRUE_WORDS or text.lower() in {"yes", "true", "on"}:
        return True
    if text.lower() in _FALSE_WORDS:
        return False
    try:
        return int(text) != 0
    except ValueError:
        return False


def param(params: Mapping[str, Any], *names: str) -> Any:
    """The first present, non-blank value among ``names`` (aliases such as ``enrollment_term``)."""
    for name in names:
        value = params.get(name)
        if value is None:
            continue
        if isinstance(value, str) and value.strip() == "":
            continue
        return value
    return None


def value_to_list(value: Any) -> list[str] | None:
    """A comma-separated string or an array (Canvas's ``value_to_array``); no trimming."""
    if value is None:
        return None
    if isinstance(value, list):
        return [str(v) for v in value]
    if isinstance(value, dict):
        return [str(v) for v in value.values()]
    return str(value).split(",")


def split_reference(value: Any, sis_prefix: str) -> tuple[str, str]:
    """``("id", "12")`` or ``("sis", "fall12")`` for ``12`` / ``sis_term_id:fall12``."""
    text = str(value).strip()
    if text.startswith(sis_prefix + ":"):
        return "sis", text[len(sis_prefix) + 1 :]
    return "id", text


def parse_time(value: Any, tz_name: str) -> datetime | None:
    """A date or date-time parameter read in the root account's zone, as naive UTC.

    Unparsable values become None, as in Canvas. A time beyond what every zone can show
    (years 1 and 9999 at the edges) is held at the nearest bound (:mod:`reportcard.timebounds`):
    ``start_at=0001-01-01`` still means "from the beginning", and no report fails on it.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    text = str(value).strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=zone(tz_name))
    try:
        return naive_utc(dt)
    except OutOfRange:
        return EARLIEST if dt.year < 5000 else LATEST
