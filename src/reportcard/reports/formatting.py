"""Value formatting shared by every report: times in the root account's zone, names, booleans."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, case, literal

from reportcard.names import name_parts
from reportcard.timezones import UnknownTimeZone, resolve_zone

log = logging.getLogger(__name__)

UTC_NAMES = frozenset({"UTC", "Etc/UTC", "Etc/UCT", "UCT", "Etc/Universal", "Universal", "Zulu"})


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    """The zone a stored name stands for: an IANA or a Rails name (``Mountain Time (US & Canada)``).

    A name no zone answers to (stored before zones were checked, or written straight into the
    database) is read as UTC, with a warning in the log, so a report or a page still renders
    rather than failing; everything that takes a zone in refuses such names.
    """
    try:
        return resolve_zone(name)
    except UnknownTimeZone:
        log.warning("unknown time zone %r stored; writing its times in UTC", str(name)[:80])
        return ZoneInfo("Etc/UTC")


def is_utc(tz_name: str) -> bool:
    """Whether times in ``tz_name`` are written with ``Z`` (UTC itself, or an unknown zone)."""
    return tz_name in UTC_NAMES or zone(tz_name).key in UTC_NAMES


def to_utc(value: datetime | str) -> datetime:
    """A stored (naive UTC) datetime, or its SQLite text form, as an aware UTC datetime."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def iso_in_zone(value: datetime | str | None, tz_name: str) -> str | None:
    """ISO 8601 without fractions in ``tz_name``: ``...Z`` for UTC, else ``...±HH:MM``."""
    if value is None:
        return None
    dt = to_utc(value)
    if is_utc(tz_name):
        return _utc_text(dt)
    try:
        return dt.astimezone(zone(tz_name)).isoformat(timespec="seconds")
    except OverflowError:  # a stored time within a day of year 1 or 9999
        return _utc_text(dt)


def _utc_text(dt: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ`` (four-digit year: strftime's ``%Y`` does not pad year 1)."""
    return dt.replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def time_formatter(tz_name: str) -> Callable[[Any], str | None]:
    """A column formatter writing stored timestamps in the given zone.

    SQLite hands timestamps over as text (``2024-01-15 08:00:00[.ffffff]``, as SQLAlchemy
    stores them): those take a fast path (:func:`_fast_text`), every other value the general
    one (:func:`_general_time_formatter`); both write the same text.
    """
    return _fast_text(_general_time_formatter(tz_name), tz_name)


def _general_time_formatter(tz_name: str) -> Callable[[Any], str | None]:
    if is_utc(tz_name):

        def fmt_utc(value: Any) -> str | None:
            if value is None:
                return None
            return _utc_text(to_utc(value))

        return fmt_utc
    tz = zone(tz_name)

    def fmt(value: Any) -> str | None:
        if value is None:
            return None
        dt = to_utc(value)
        try:
            return dt.astimezone(tz).isoformat(timespec="seconds")
        except OverflowError:  # a stored time within a day of year 1 or 9999
            return _utc_text(dt)

    return fmt


_HOUR = timedelta(hours=1)
_SECOND = timedelta(seconds=1)
# ``:MM:SS`` of every second of an hour, as a stored time's text holds it.
_MINUTES_SECONDS = frozenset(f":{m:02d}:{s:02d}" for m in range(60) for s in range(60))


def _fast_text(general: Callable[[Any], str | None], tz_name: str) -> Callable[[Any], str | None]:
    """``general`` with a fast path for SQLite's text of a naive UTC time.

    The general path parses the text, attaches UTC and converts it with ``zoneinfo``, about
    5 µs a value. Here a text of exactly the stored shape (a space between date and time;
    seconds, or six digits of microseconds after them) is parsed by ``fromisoformat``, and
    shifted by the zone's offset in its UTC hour, read once per hour from the general
    formatter's own conversion of the hour's first and last second (an hour holding an offset
    change keeps the general path). When that offset is whole hours, the hour's written text
    up to its minutes is read once too, and a value of it is that text, its own ``:MM:SS``
    and the offset's (no parsing). Anything else, or anything that raises, goes the general
    way, which then gives the same text or the same error.
    """
    utc = is_utc(tz_name)
    tz = zone(tz_name)
    hours: dict[str, tuple[timedelta, str] | None] = {}
    fromiso = datetime.fromisoformat

    def offset_of(start: datetime) -> tuple[timedelta, str] | None:
        if utc:
            return timedelta(0), "Z"
        try:
            first = start.replace(tzinfo=UTC).astimezone(tz)
            last = (start + _HOUR - _SECOND).replace(tzinfo=UTC).astimezone(tz)
        except OverflowError:
            return None
        if first.utcoffset() != last.utcoffset():
            return None
        shift = first.utcoffset()
        assert shift is not None
        return shift, first.isoformat(timespec="seconds")[19:]

    def hour_text(key: str) -> tuple[str, str] | None:
        """The written text of the hour ``key`` (``YYYY-MM-DD HH``, strictly ASCII digits) up
        to its minutes, and its offset's text; None when its offset is not whole hours (or
        changes within it) or it is not such a text."""
        if not (
            key.isascii()
            and key[4] == key[7] == "-"
            and (key[:4] + key[5:7] + key[8:10] + key[11:13]).isdigit()
        ):
            return None
        try:
            start = fromiso(key + ":00:00")
        except ValueError:
            return None
        hit = offset_of(start)
        if hit is None or hit[0] % _HOUR:
            return None
        try:
            return (start + hit[0]).isoformat()[:13], hit[1]
        except OverflowError:
            return None

    texts: dict[str, tuple[str, str] | None] = {}

    def fmt(value: Any) -> str | None:
        if value.__class__ is str and value[10:11] == " ":
            n = len(value)
            if n == 19 or (
                n == 26 and value[19] == "." and value[20:].isascii() and value[20:].isdigit()
            ):
                # An hour shifted by whole hours keeps its minutes and seconds: the text is
                # the hour's, read once, and the value's own ``:MM:SS``.
                tail = value[13:19]
                if tail in _MINUTES_SECONDS:
                    key = value[:13]
                    text = texts[key] if key in texts else texts.setdefault(key, hour_text(key))
                    if text is not None:
                        return text[0] + tail + text[1]
                try:
                    at = fromiso(value[:19])
                except ValueError:
                    return general(value)
                key = value[:13]
                if key in hours:
                    hit = hours[key]
                else:
                    hit = hours[key] = offset_of(at.replace(minute=0, second=0))
                if hit is not None:
                    try:
                        return (at + hit[0]).isoformat() + hit[1]
                    except OverflowError:
                        pass
        return general(value)

    return fmt


def sql_bool(expr: ColumnElement[Any]) -> ColumnElement[str]:
    """``'true'``/``'false'`` computed in SQL (works on SQLite 0/1 and PostgreSQL booleans)."""
    return case((expr, literal("true")), else_=literal("false"))


def sql_present(expr: ColumnElement[Any]) -> ColumnElement[str]:
    """``'true'`` when ``expr`` is not NULL (``created_by_sis`` from ``sis_batch_id``)."""
    return case((expr.is_not(None), literal("true")), else_=literal("false"))


# The users file asks for both parts of each row's name in turn: one split serves both.
_row_name_parts = lru_cache(maxsize=1)(name_parts)


def first_name(sortable_name: Any) -> str | None:
    return _row_name_parts(sortable_name)[0]


def last_name(sortable_name: Any) -> str | None:
    return _row_name_parts(sortable_name)[1]


PRONOUNS = {"she_her": "She/Her", "he_him": "He/Him", "they_them": "They/Them"}


def pronouns(value: Any) -> str | None:
    if value is None:
        return None
    return PRONOUNS.get(value, value)
