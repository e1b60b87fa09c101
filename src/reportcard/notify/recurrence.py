"""When a schedule fires: recurrence rules in a time zone, with well-defined DST behaviour.

A rule yields *local wall times* in ascending order (``daily``, ``weekdays``, ``weekly``,
``monthly`` at a time of day, or a 5-field ``cron`` expression); :func:`next_after` turns them
into UTC instants in the schedule's zone:

- a wall time that does not exist (skipped by a spring-forward) fires at the first valid
  instant after the gap (02:30 on 2026-03-08 in America/New_York fires at 03:00 EDT), once;
- a wall time that happens twice (fall-back) fires at its first occurrence only.

The mapping from wall time to instant never goes backwards, so "the first candidate later than
``after``" is the next firing, and several wall times that collapse onto one instant (every
15 minutes through a one-hour gap) fire once. The cron parser is our own (no dependency): the
five standard fields, ``*``, lists, ranges, steps, month and weekday names, ``7`` = Sunday,
the ``@hourly``/``@daily``/``@weekly``/``@monthly``/``@yearly`` shorthands, and Vixie cron's
rule that when both day-of-month and day-of-week are restricted a day matching either fires.
All datetimes here are naive UTC unless they say otherwise.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from reportcard.timezones import UnknownTimeZone, resolve_zone

__all__ = [
    "FREQUENCIES",
    "CronExpr",
    "Recurrence",
    "RecurrenceError",
    "next_after",
    "parse_cron",
    "parse_time_of_day",
    "parse_weekday",
    "resolve_local",
    "validate_zone",
]

FREQUENCIES = ("daily", "weekdays", "weekly", "monthly", "cron")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_CRON_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_SHORTHANDS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}
# How far ahead to look for an occurrence before calling a rule impossible (Feb 30, ...).
_HORIZON_DAYS = 366 * 8 + 2


def _digits(text: str) -> bool:
    """ASCII digits only (str.isdigit also accepts "²", which int() refuses), at most 4."""
    return text.isascii() and text.isdigit() and len(text) <= 4


class RecurrenceError(ValueError):
    """A rule, time, zone or cron expression that cannot be used; the message says why."""


def validate_zone(name: str) -> ZoneInfo:
    """The zone ``name`` (an IANA or a Rails name), or :class:`RecurrenceError`."""
    try:
        return resolve_zone(name)
    except UnknownTimeZone as exc:
        raise RecurrenceError(f"unknown time zone {str(name)[:80]!r}") from exc


def parse_time_of_day(value: str) -> time:
    """``HH:MM`` (24-hour) as a time, or :class:`RecurrenceError`."""
    m = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*", str(value))
    if m is None or int(m.group(1)) > 23 or int(m.group(2)) > 59:
        raise RecurrenceError(f"time must be HH:MM (00:00 to 23:59), got {value!r}")
    return time(int(m.group(1)), int(m.group(2)))


def parse_weekday(value: object) -> int:
    """A weekday as 0 = Monday ... 6 = Sunday, from a name, an abbreviation or cron's 0-7."""
    if isinstance(value, bool):
        raise RecurrenceError(f"day_of_week must be a weekday name, got {value!r}")
    if isinstance(value, int) or (isinstance(value, str) and _digits(value.strip())):
        n = int(value)
        if 0 <= n <= 7:
            return (n - 1) % 7  # cron numbering: 0 and 7 are Sunday
        raise RecurrenceError(f"day_of_week must be 0-7 or a weekday name, got {value!r}")
    if isinstance(value, str):
        v = value.strip().lower()
        for i, name in enumerate(WEEKDAYS):
            if len(v) >= 3 and name.startswith(v):
                return i
    raise RecurrenceError(f"day_of_week must be a weekday name, got {value!r}")


# ---------------------------------------------------------------------------------- cron
@dataclass(frozen=True)
class CronExpr:
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: frozenset[int]  # days of month 1-31
    months: frozenset[int]  # 1-12
    weekdays: frozenset[int]  # 0 = Sunday ... 6 = Saturday
    days_restricted: bool
    weekdays_restricted: bool

    def day_matches(self, d: date) -> bool:
        if d.month not in self.months:
            return False
        dom = d.day in self.days
        dow = (d.isoweekday() % 7) in self.weekdays
        if self.days_restricted and self.weekdays_restricted:
            return dom or dow
        return dom and dow


def _cron_value(token: str, lo: int, hi: int, names: tuple[str, ...] | None, offset: int) -> int:
    t = token.lower()
    if names is not None and t in names:
        return names.index(t) + offset
    if not _digits(t):
        raise RecurrenceError(f"{token!r} is not a number")
    n = int(t)
    if not lo <= n <= hi:
        raise RecurrenceError(f"{n} is outside {lo}-{hi}")
    return n


def _cron_field(
    text: str, lo: int, hi: int, names: tuple[str, ...] | None = None, offset: int = 0
) -> tuple[set[int], bool]:
    """The values one field allows, and whether it restricts anything (is not ``*``)."""
    out: set[int] = set()
    restricted = not text.startswith("*")
    for item in text.split(","):
        if not item:
            raise RecurrenceError("empty list item")
        rng, _, step_text = item.partition("/")
        step = 1
        if step_text:
            if not _digits(step_text) or int(step_text) == 0:
                raise RecurrenceError(f"bad step {step_text!r}")
            step = int(step_text)
        if rng == "*":
            a, b = lo, hi
        elif "-" in rng:
            first, _, last = rng.partition("-")
            a = _cron_value(first, lo, hi, names, offset)
            b = _cron_value(last, lo, hi, names, offset)
            if a > b:
                raise RecurrenceError(f"range {rng!r} goes backwards")
        else:
            a = _cron_value(rng, lo, hi, names, offset)
            b = hi if step_text else a
        out.update(range(a, b + 1, step))
    return out, restricted


def parse_cron(expression: str) -> CronExpr:
    """A 5-field cron expression (minute hour day-of-month month day-of-week)."""
    if not isinstance(expression, str):
        raise RecurrenceError("cron must be a string")
    text = _SHORTHANDS.get(expression.strip().lower(), expression)
    fields = text.split()
    if len(fields) != 5:
        raise RecurrenceError(
            f"cron must have 5 fields (minute hour day month weekday), got {expression!r}"
        )
    labels = ("minute", "hour", "day of month", "month", "day of week")
    specs: list[tuple[int, int, tuple[str, ...] | None, int]] = [
        (0, 59, None, 0),
        (0, 23, None, 0),
        (1, 31, None, 0),
        (1, 12, _MONTHS, 1),
        (0, 7, _CRON_DAYS, 0),
    ]
    parsed = []
    for label, field, spec in zip(labels, fields, specs, strict=True):
        try:
            parsed.append(_cron_field(field, *spec))
        except RecurrenceError as exc:
            raise RecurrenceError(f"cron {label} field {field!r}: {exc}") from None
    (mins, _), (hours, _), (days, dr), (months, _), (wdays, wr) = parsed
    wdays = {d % 7 for d in wdays}
    expr = CronExpr(
        minutes=tuple(sorted(mins)),
        hours=tuple(sorted(hours)),
        days=frozenset(days),
        months=frozenset(months),
        weekdays=frozenset(wdays),
        days_restricted=dr,
        weekdays_restricted=wr,
    )
    if not any(
        expr.day_matches(date(2024, 1, 1) + timedelta(days=i)) for i in range(_HORIZON_DAYS)
    ):
        raise RecurrenceError(f"cron {expression!r} never fires")
    return expr


# ---------------------------------------------------------------------------------- rules
@dataclass(frozen=True)
class Recurrence:
    """One schedule's rule. ``at`` is ignored by ``cron``; ``day_of_week`` is 0 = Monday."""

    frequency: str
    at: time = time(0, 0)
    day_of_week: int | None = None
    day_of_month: int | None = None
    cron: str | None = None

    @classmethod
    def build(
        cls,
        frequency: str,
        *,
        at: str | None = None,
        day_of_week: object = None,
        day_of_month: object = None,
        cron: str | None = None,
    ) -> Recurrence:
        """Validate user input into a rule (RecurrenceError says what is wrong)."""
        if frequency not in FREQUENCIES:
            raise RecurrenceError(
                f"frequency must be one of {', '.join(FREQUENCIES)}, got {frequency!r}"
            )
        if frequency == "cron":
            if not cron:
                raise RecurrenceError("a cron schedule needs a cron expression")
            parse_cron(cron)
            return cls("cron", cron=" ".join(str(cron).split()))
        when = parse_time_of_day(at) if at is not None else time(0, 0)
        if frequency == "weekly":
            if day_of_week is None:
                raise RecurrenceError("a weekly schedule needs day_of_week")
            return cls("weekly", when, day_of_week=parse_weekday(day_of_week))
        if frequency == "monthly":
            if (
                isinstance(day_of_month, bool)
                or not isinstance(day_of_month, (int, str))
                or not _digits(str(day_of_month).strip())
                or not 1 <= int(day_of_month) <= 31
            ):
                raise RecurrenceError(
                    f"a monthly schedule needs day_of_month 1-31, got {day_of_month!r}"
                )
            return cls("monthly", when, day_of_month=int(day_of_month))
        return cls(frequency, when)

    def describe(self) -> str:
        hhmm = self.at.strftime("%H:%M")
        if self.frequency == "daily":
            return f"every day at {hhmm}"
        if self.frequency == "weekdays":
            return f"Monday to Friday at {hhmm}"
        if self.frequency == "weekly":
            return f"every {WEEKDAYS[self.day_of_week or 0].capitalize()} at {hhmm}"
        if self.frequency == "monthly":
            return f"on day {self.day_of_month} of every month at {hhmm} (or its last day)"
        return f"cron {self.cron}"

    def wall_times(self, start: date) -> Iterator[datetime]:
        """Local wall times of this rule on ``start`` and later, ascending, without end."""
        if self.frequency == "cron":
            assert self.cron is not None
            expr = parse_cron(self.cron)
            for i in range(_HORIZON_DAYS):
                d = start + timedelta(days=i)
                if expr.day_matches(d):
                    for h in expr.hours:
                        for m in expr.minutes:
                            yield datetime(d.year, d.month, d.day, h, m)
            return
        d = start
        while True:
            if self._day_matches(d):
                yield datetime.combine(d, self.at)
            d += timedelta(days=1)

    def _day_matches(self, d: date) -> bool:
        if self.frequency == "daily":
            return True
        if self.frequency == "weekdays":
            return d.weekday() < 5
        if self.frequency == "weekly":
            return d.weekday() == self.day_of_week
        if self.frequency == "monthly":
            assert self.day_of_month is not None
            last = calendar.monthrange(d.year, d.month)[1]
            return d.day == min(self.day_of_month, last)
        raise AssertionError(self.frequency)


def _exists(wall: datetime, zone: ZoneInfo) -> bool:
    utc = wall.replace(tzinfo=zone).astimezone(UTC)
    return utc.astimezone(zone).replace(tzinfo=None) == wall


def resolve_local(wall: datetime, zone: ZoneInfo) -> datetime:
    """The naive-UTC instant a local wall time fires at (gap: first valid instant after it;
    repeated: the first of the two)."""
    probe = wall
    for _ in range(60 * 48):  # gaps are at most a day long (Samoa skipped 2011-12-30)
        if _exists(probe, zone):
            break
        probe = (probe + timedelta(minutes=1)).replace(second=0, microsecond=0)
    else:  # pragma: no cover - no real zone has a gap this long
        raise RecurrenceError(f"{wall} does not exist in {zone.key}")
    return probe.replace(tzinfo=zone, fold=0).astimezone(UTC).replace(tzinfo=None)


def next_after(rule: Recurrence, zone: ZoneInfo, after: datetime) -> datetime | None:
    """The first firing strictly after ``after`` (naive UTC), as naive UTC; None if never."""
    local_after = after.replace(tzinfo=UTC).astimezone(zone).replace(tzinfo=None)
    start = local_after.date() - timedelta(days=1)
    early = local_after - timedelta(hours=27)  # no offset change moves a wall time this far
    limit = after + timedelta(days=_HORIZON_DAYS)
    for wall in rule.wall_times(start):
        if wall < early:
            continue
        instant = resolve_local(wall, zone)
        if instant > after:
            return instant
        if instant > limit:  # pragma: no cover - guarded by wall_times' own horizon
            break
    return None
