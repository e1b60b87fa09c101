"""When a schedule fires: recurrence rules in a time zone, with well-defined DST behaviour.

A rule yields *local wall times* in ascending order (``daily``, ``weekdays``, ``weekly``,
``monthly`` at a time of day, or a 5-field ``cron`` expression); :func:`next_after` turns them
into UTC instants in the schedule's zone:

- a wall time that does not exist (skipped by a spring-forward) fires at the first valid
  instant after the gap (02:30 on 2026-03-08 in America/New_York fires at 03:00 EDT), once;
- a wall time that happens twice (fall-back) fires at its first occurrence only.

The mapping from wall time to instant never goes backwards, so "the first candidate later than
``after``" is the next firing, and several wall times that collapse onto one instant (every
15 minutes through a one-hour gap) fire once. Cron expressions are parsed and iterated by
``cronsim`` (the library Healthchecks uses), on naive wall times so that its own DST handling
never applies: the five standard fields, ``*``, lists, ranges, steps, month and weekday names,
``7`` = Sunday, Debian/Vixie cron's rule that when both day-of-month and day-of-week are
restricted a day matching either fires, and cronsim's ``L``, ``LW``, ``5L`` and ``MON#2``;
the ``@hourly``/``@daily``/``@weekly``/``@monthly``/``@yearly`` shorthands are expanded here
first. All datetimes here are naive UTC unless they say otherwise.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from cronsim import CronSim, CronSimError

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
_SHORTHANDS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}
# How far ahead a rule's wall times are looked for (cronsim itself gives up after 50 years).
_HORIZON_DAYS = 366 * 8 + 2
_PROBE_FROM = datetime(2024, 1, 1)  # a cron expression must fire after this to be accepted


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
    """A parsed 5-field expression: ``expression`` (shorthands expanded) is what cronsim
    iterates; the other fields show the plain values each field allows (the ``L``, ``W`` and
    ``#`` forms only cronsim knows)."""

    expression: str
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: frozenset[int]  # days of month 1-31
    months: frozenset[int]  # 1-12
    weekdays: frozenset[int]  # 0 = Sunday ... 6 = Saturday
    days_restricted: bool
    weekdays_restricted: bool

    def iterate(self, after: datetime) -> CronSim:
        """cronsim's iterator of naive wall times strictly after the naive ``after``."""
        return CronSim(self.expression, after)


def _single_range(item: str) -> str:
    """``5-5/2`` as ``5``: cronsim reads a one-value range with a step as ``5/2`` (5, 7, 9...),
    where cron means the one value."""
    rng, slash, _ = item.partition("/")
    first, dash, last = rng.partition("-")
    if (
        slash
        and dash
        and (
            first.lower() == last.lower()
            or (_digits(first) and _digits(last) and int(first) == int(last))
        )
    ):
        return first
    return item


_FIELDS = (
    ("minute", "0-59"),
    ("hour", "0-23"),
    ("day-of-month", "1-31, L, LW"),
    ("month", "1-12 or jan-dec"),
    ("day-of-week", "0-7 or sun-sat, 5L, mon#2"),
)


def _bad_field(fields: list[str], message: str) -> str:
    """Our message for cronsim's ``Bad <field>``: which field, its text, what it takes."""
    for (name, values), text in zip(_FIELDS, fields, strict=True):
        if message == f"Bad {name}":
            return (
                f"cron {name} field {text[:40]!r} is not valid ({values}; "
                "with *, lists a,b, ranges a-b and steps /n)"
            )
    return f"cron expression {' '.join(fields)[:80]!r} is not valid"


def _plain(values: set[Any]) -> set[int]:
    return {v for v in values if isinstance(v, int) and v >= 0}


def parse_cron(expression: str) -> CronExpr:
    """A 5-field cron expression (minute hour day-of-month month day-of-week), parsed by
    cronsim, or :class:`RecurrenceError` (with cronsim's word for the bad field)."""
    if not isinstance(expression, str):
        raise RecurrenceError("cron must be a string")
    text = _SHORTHANDS.get(expression.strip().lower(), expression)
    fields = text.split()
    if len(fields) != 5:  # cronsim would also take a sixth (seconds) field
        raise RecurrenceError(
            f"cron must have 5 fields (minute hour day month weekday), got {expression!r}"
        )
    normal = " ".join(",".join(_single_range(i) for i in f.split(",")) for f in fields)
    try:
        sim = CronSim(normal, _PROBE_FROM)
    except (CronSimError, ValueError) as exc:
        any_month = normal.split()
        any_month[3] = "*"
        try:  # cronsim refuses days those months never have (Feb 30): a rule that never fires
            if str(exc) != "Bad day-of-month":
                raise
            CronSim(" ".join(any_month), _PROBE_FROM)
        except (CronSimError, ValueError):
            raise RecurrenceError(_bad_field(fields, str(exc))) from None
        raise RecurrenceError(f"cron {expression!r} never fires") from None
    try:
        next(sim)
    except StopIteration:
        raise RecurrenceError(f"cron {expression!r} never fires") from None
    return CronExpr(
        expression=normal,
        minutes=tuple(sorted(_plain(sim.minutes))),
        hours=tuple(sorted(_plain(sim.hours))),
        days=frozenset(_plain(sim.days)),
        months=frozenset(_plain(sim.months)),
        weekdays=frozenset(d % 7 for d in _plain(sim.weekdays)),
        days_restricted=not fields[2].startswith("*"),
        weekdays_restricted=not fields[4].startswith("*"),
    )


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
            # naive datetimes: cronsim counts wall times only, resolve_local does the zone;
            # cronsim stops by itself after 50 years without a firing
            yield from parse_cron(self.cron).iterate(
                datetime.combine(start, time(0, 0)) - timedelta(seconds=1)
            )
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
