"""Recurrence rules and cron, in time zones, across DST changes (pure logic, no database)."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from cronsim import CronSim

from reportcard.notify.recurrence import (
    Recurrence,
    RecurrenceError,
    next_after,
    parse_cron,
    parse_time_of_day,
    parse_weekday,
    resolve_local,
    validate_zone,
)

NY = validate_zone("America/New_York")
UTC = validate_zone("UTC")


def firings(rule: Recurrence, zone_name: str, start: datetime, n: int) -> list[datetime]:
    zone = validate_zone(zone_name)
    out: list[datetime] = []
    at = start
    for _ in range(n):
        nxt = next_after(rule, zone, at)
        assert nxt is not None
        assert nxt > at
        out.append(nxt)
        at = nxt
    return out


def local(instants: list[datetime], zone_name: str = "America/New_York") -> list[str]:
    zone = validate_zone(zone_name)
    return [
        i.replace(tzinfo=UTC).astimezone(zone).strftime("%a %Y-%m-%d %H:%M %Z") for i in instants
    ]


# ------------------------------------------------------------------------------ each rule
def test_daily_in_zone() -> None:
    rule = Recurrence.build("daily", at="07:30")
    got = firings(rule, "America/Denver", datetime(2025, 1, 10, 12, 0), 3)
    # 07:30 MST is 14:30 UTC; the first is the same day (12:00 UTC is 05:00 in Denver)
    assert got == [datetime(2025, 1, 10, 14, 30), datetime(2025, 1, 11, 14, 30),
                   datetime(2025, 1, 12, 14, 30)]  # fmt: skip


def test_daily_strictly_after() -> None:
    rule = Recurrence.build("daily", at="00:00")
    assert next_after(rule, UTC, datetime(2025, 5, 1, 0, 0)) == datetime(2025, 5, 2, 0, 0)
    assert next_after(rule, UTC, datetime(2025, 4, 30, 23, 59, 59)) == datetime(2025, 5, 1)


def test_weekdays_skip_the_weekend() -> None:
    rule = Recurrence.build("weekdays", at="06:00")
    got = local(firings(rule, "America/New_York", datetime(2025, 1, 9, 12), 4))
    assert got == [
        "Fri 2025-01-10 06:00 EST",
        "Mon 2025-01-13 06:00 EST",
        "Tue 2025-01-14 06:00 EST",
        "Wed 2025-01-15 06:00 EST",
    ]


@pytest.mark.parametrize(
    ("day", "expected"),
    [("monday", "Mon"), ("sun", "Sun"), (0, "Sun"), (7, "Sun"), (3, "Wed"), ("Friday", "Fri")],
)
def test_weekly_day_of_week(day: object, expected: str) -> None:
    rule = Recurrence.build("weekly", at="09:15", day_of_week=day)
    got = local(firings(rule, "America/New_York", datetime(2025, 2, 1), 3))
    assert all(g.startswith(expected) and "09:15" in g for g in got)
    days = [datetime.strptime(g[4:14], "%Y-%m-%d") for g in got]
    assert days[1] - days[0] == timedelta(days=7) and days[2] - days[1] == timedelta(days=7)


def test_monthly_clamps_to_month_end() -> None:
    rule = Recurrence.build("monthly", at="23:00", day_of_month=31)
    got = local(firings(rule, "UTC", datetime(2024, 1, 1), 5), "UTC")
    assert got == [
        "Wed 2024-01-31 23:00 UTC",
        "Thu 2024-02-29 23:00 UTC",  # leap year
        "Sun 2024-03-31 23:00 UTC",
        "Tue 2024-04-30 23:00 UTC",
        "Fri 2024-05-31 23:00 UTC",
    ]
    feb = next_after(Recurrence.build("monthly", day_of_month=30), UTC, datetime(2025, 2, 1))
    assert feb == datetime(2025, 2, 28)


def test_monthly_day_15() -> None:
    rule = Recurrence.build("monthly", at="08:00", day_of_month="15")
    got = firings(rule, "UTC", datetime(2025, 1, 15, 8, 0), 2)
    assert got == [datetime(2025, 2, 15, 8), datetime(2025, 3, 15, 8)]


# ------------------------------------------------------------------------------ DST
def test_spring_forward_skipped_time_runs_once_at_next_valid_instant() -> None:
    rule = Recurrence.build("daily", at="02:30")
    got = firings(rule, "America/New_York", datetime(2026, 3, 6, 12), 4)
    assert local(got) == [
        "Sat 2026-03-07 02:30 EST",
        "Sun 2026-03-08 03:00 EDT",  # 02:30 does not exist that day: the gap's end, once
        "Mon 2026-03-09 02:30 EDT",
        "Tue 2026-03-10 02:30 EDT",
    ]
    assert got[1] == datetime(2026, 3, 8, 7, 0)


def test_spring_forward_cron_in_the_gap_fires_once() -> None:
    rule = Recurrence.build("cron", cron="*/15 2 * * *")
    got = firings(rule, "America/New_York", datetime(2026, 3, 8, 5, 0), 3)
    # 02:00, 02:15, 02:30, 02:45 all fall in the gap: one firing at 03:00 EDT, then Monday
    assert local(got) == [
        "Sun 2026-03-08 03:00 EDT",
        "Mon 2026-03-09 02:00 EDT",
        "Mon 2026-03-09 02:15 EDT",
    ]


def test_fall_back_repeated_time_runs_once() -> None:
    rule = Recurrence.build("daily", at="01:30")
    got = firings(rule, "America/New_York", datetime(2026, 10, 31, 12), 3)
    assert got == [
        datetime(2026, 11, 1, 5, 30),  # 01:30 EDT, the first of the two 01:30s
        datetime(2026, 11, 2, 6, 30),  # next day, 01:30 EST
        datetime(2026, 11, 3, 6, 30),
    ]
    # asked right after the first 01:30, the second 01:30 (06:30 UTC) is not a firing
    assert next_after(rule, NY, datetime(2026, 11, 1, 5, 45)) == datetime(2026, 11, 2, 6, 30)


def test_fall_back_hourly_cron_does_not_repeat_the_hour() -> None:
    rule = Recurrence.build("cron", cron="0 * * * *")
    got = firings(rule, "America/New_York", datetime(2026, 11, 1, 3, 30), 4)
    assert local(got) == [
        "Sun 2026-11-01 00:00 EDT",
        "Sun 2026-11-01 01:00 EDT",
        "Sun 2026-11-01 02:00 EST",  # 01:00 EST (the repeat) is skipped
        "Sun 2026-11-01 03:00 EST",
    ]
    assert got[2] - got[1] == timedelta(hours=2)


def test_weekly_across_dst_keeps_local_time() -> None:
    rule = Recurrence.build("weekly", at="09:00", day_of_week="sunday")
    got = firings(rule, "America/New_York", datetime(2026, 3, 1, 15), 2)
    assert got == [datetime(2026, 3, 8, 13, 0), datetime(2026, 3, 15, 13, 0)]
    got = firings(rule, "America/New_York", datetime(2026, 10, 25, 14), 1)
    assert got == [datetime(2026, 11, 1, 14, 0)]


def test_resolve_local_directly() -> None:
    assert resolve_local(datetime(2026, 3, 8, 2, 0), NY) == datetime(2026, 3, 8, 7, 0)
    assert resolve_local(datetime(2026, 3, 8, 2, 59), NY) == datetime(2026, 3, 8, 7, 0)
    assert resolve_local(datetime(2026, 3, 8, 1, 59), NY) == datetime(2026, 3, 8, 6, 59)
    assert resolve_local(datetime(2026, 11, 1, 1, 0), NY) == datetime(2026, 11, 1, 5, 0)
    # Europe: spring forward at 02:00 local on 2026-03-29
    berlin = validate_zone("Europe/Berlin")
    assert resolve_local(datetime(2026, 3, 29, 2, 30), berlin) == datetime(2026, 3, 29, 1, 0)


def test_southern_hemisphere_and_half_hour_zones() -> None:
    rule = Recurrence.build("daily", at="02:15")
    # Australia/Adelaide (+10:30 in summer) springs forward 2026-10-04 at 02:00
    got = firings(rule, "Australia/Adelaide", datetime(2026, 10, 2, 12), 2)
    assert local(got, "Australia/Adelaide") == [
        "Sat 2026-10-03 02:15 ACST",
        "Sun 2026-10-04 03:00 ACDT",
    ]


# ------------------------------------------------------------------------------ cron
def test_cron_fields() -> None:
    c = parse_cron("5,35 */6 1-3 jan-mar mon-fri")
    assert c.minutes == (5, 35)
    assert c.hours == (0, 6, 12, 18)
    assert c.days == frozenset({1, 2, 3})
    assert c.months == frozenset({1, 2, 3})
    assert c.weekdays == frozenset({1, 2, 3, 4, 5})
    assert parse_cron("0 0 * * 7").weekdays == frozenset({0})
    assert parse_cron("0 0 * * 0-7").weekdays == frozenset(range(7))
    assert parse_cron("10/20 * * * *").minutes == (10, 30, 50)
    assert parse_cron("@daily") == parse_cron("0 0 * * *")


def test_cron_day_of_month_or_day_of_week() -> None:
    # both restricted: the 13th OR a Friday (Vixie cron)
    rule = Recurrence.build("cron", cron="0 12 13 * fri")
    got = local(firings(rule, "UTC", datetime(2026, 2, 8), 4), "UTC")
    assert got == [
        "Fri 2026-02-13 12:00 UTC",
        "Fri 2026-02-20 12:00 UTC",
        "Fri 2026-02-27 12:00 UTC",
        "Fri 2026-03-06 12:00 UTC",
    ]
    got = local(firings(rule, "UTC", datetime(2026, 4, 10, 13), 2), "UTC")
    assert got == ["Mon 2026-04-13 12:00 UTC", "Fri 2026-04-17 12:00 UTC"]


def test_cron_leap_day() -> None:
    rule = Recurrence.build("cron", cron="0 6 29 2 *")
    assert next_after(rule, UTC, datetime(2025, 1, 1)) == datetime(2028, 2, 29, 6, 0)


def test_cron_every_minute_is_cheap() -> None:
    rule = Recurrence.build("cron", cron="* * * * *")
    got = firings(rule, "America/New_York", datetime(2026, 3, 8, 6, 58), 3)
    assert got == [datetime(2026, 3, 8, 6, 59), datetime(2026, 3, 8, 7, 0),
                   datetime(2026, 3, 8, 7, 1)]  # fmt: skip


# Next three firings after Thu 2026-02-26 10:30 UTC, worked out by hand from the calendar.
CRON_TABLE = [
    ("*/20 * * * *", ["2026-02-26 10:40 Thu", "2026-02-26 11:00 Thu", "2026-02-26 11:20 Thu"]),
    ("0 9 * * mon-fri", ["2026-02-27 09:00 Fri", "2026-03-02 09:00 Mon", "2026-03-03 09:00 Tue"]),
    ("30 2 1,15 * *", ["2026-03-01 02:30 Sun", "2026-03-15 02:30 Sun", "2026-04-01 02:30 Wed"]),
    ("0 12 13 * fri", ["2026-02-27 12:00 Fri", "2026-03-06 12:00 Fri", "2026-03-13 12:00 Fri"]),
    ("0 0 L * *", ["2026-02-28 00:00 Sat", "2026-03-31 00:00 Tue", "2026-04-30 00:00 Thu"]),
    ("0 18 * * 5L", ["2026-02-27 18:00 Fri", "2026-03-27 18:00 Fri", "2026-04-24 18:00 Fri"]),
    ("0 8 * * MON#1", ["2026-03-02 08:00 Mon", "2026-04-06 08:00 Mon", "2026-05-04 08:00 Mon"]),
    ("0 0 LW * *", ["2026-02-27 00:00 Fri", "2026-03-31 00:00 Tue", "2026-04-30 00:00 Thu"]),
    ("15 10 29 2 *", ["2028-02-29 10:15 Tue", "2032-02-29 10:15 Sun", "2036-02-29 10:15 Fri"]),
    ("0 6 * jan,jul sun", ["2026-07-05 06:00 Sun", "2026-07-12 06:00 Sun", "2026-07-19 06:00 Sun"]),
    ("5-5/10 * * * *", ["2026-02-26 11:05 Thu", "2026-02-26 12:05 Thu", "2026-02-26 13:05 Thu"]),
    ("0 */6 * * *", ["2026-02-26 12:00 Thu", "2026-02-26 18:00 Thu", "2026-02-27 00:00 Fri"]),
    ("@weekly", ["2026-03-01 00:00 Sun", "2026-03-08 00:00 Sun", "2026-03-15 00:00 Sun"]),
    ("@yearly", ["2027-01-01 00:00 Fri", "2028-01-01 00:00 Sat", "2029-01-01 00:00 Mon"]),
    ("0 0 * * 7", ["2026-03-01 00:00 Sun", "2026-03-08 00:00 Sun", "2026-03-15 00:00 Sun"]),
    ("10-50/20 3 * * *", ["2026-02-27 03:10 Fri", "2026-02-27 03:30 Fri", "2026-02-27 03:50 Fri"]),
    ("0 22 31 * *", ["2026-03-31 22:00 Tue", "2026-05-31 22:00 Sun", "2026-07-31 22:00 Fri"]),
]


@pytest.mark.parametrize(("expr", "expected"), CRON_TABLE)
def test_cron_table_of_next_firings(expr: str, expected: list[str]) -> None:
    after = datetime(2026, 2, 26, 10, 30)
    ours = firings(Recurrence.build("cron", cron=expr), "UTC", after, 3)
    assert [t.strftime("%Y-%m-%d %H:%M %a") for t in ours] == expected
    # the library itself, on the expression as parse_cron hands it over, agrees
    sim = CronSim(parse_cron(expr).expression, after)
    assert [next(sim) for _ in range(3)] == ours


def test_cron_one_value_range_with_a_step_is_that_value() -> None:
    # cron reads 5-5/10 as {5}; cronsim alone would read it as 5/10 (5, 15, 25, ...)
    assert parse_cron("5-5/10 * * * *").expression == "5 * * * *"
    assert parse_cron("0 9 * * mon-MON/2").expression == "0 9 * * mon"
    assert parse_cron("0 9 * * 1-3/2").expression == "0 9 * * 1-3/2"
    assert parse_cron("0 9 * * 1-3/2").weekdays == frozenset({1, 3})


def test_cron_in_a_zone_is_wall_time_with_our_dst_rules() -> None:
    # "L" in New York: the last day of the month at 02:30, which 2026-03-31 has (EDT), and a
    # gap day fires at 03:00 EDT: 2:30 on 2026-03-08 does not exist
    rule = Recurrence.build("cron", cron="30 2 L,8 3 *")
    got = local(firings(rule, "America/New_York", datetime(2026, 3, 1), 2))
    assert got == ["Sun 2026-03-08 03:00 EDT", "Tue 2026-03-31 02:30 EDT"]


@pytest.mark.parametrize(
    "expr",
    [
        "",
        "* * * *",
        "* * * * * *",
        "60 * * * *",
        "* 24 * * *",
        "* * 0 * *",
        "* * * 13 *",
        "* * * * 8",
        "5-1 * * * *",
        "*/0 * * * *",
        "a * * * *",
        "1,,2 * * * *",
        "0 0 30 2 *",  # never fires
        "0 0 31 4,6,9,11 *",
    ],
)
def test_bad_cron(expr: str) -> None:
    with pytest.raises(RecurrenceError):
        Recurrence.build("cron", cron=expr)


# ------------------------------------------------------------------------------ inputs
def test_inputs() -> None:
    assert parse_time_of_day("7:05") == time(7, 5)
    for bad in ("24:00", "12:60", "noon", "1230", ""):
        with pytest.raises(RecurrenceError):
            parse_time_of_day(bad)
    assert parse_weekday("tue") == 1 and parse_weekday("7") == 6 and parse_weekday(1) == 0
    for bad_day in ("mo", "funday", 8, True, None):
        with pytest.raises(RecurrenceError):
            parse_weekday(bad_day)
    for bad_zone in ("Mars/Olympus", "", "../etc/passwd", "/etc/localtime", "localtime",
                     "America/../Europe/Paris", "\x00"):  # fmt: skip
        with pytest.raises(RecurrenceError):
            validate_zone(bad_zone)
    with pytest.raises(RecurrenceError):
        Recurrence.build("hourly")
    with pytest.raises(RecurrenceError):
        Recurrence.build("weekly", at="08:00")
    for bad_day in (0, 32, "x", None, True):
        with pytest.raises(RecurrenceError):
            Recurrence.build("monthly", day_of_month=bad_day)
    with pytest.raises(RecurrenceError):
        Recurrence.build("cron")


def test_describe() -> None:
    assert Recurrence.build("weekly", at="08:00", day_of_week=1).describe() == (
        "every Monday at 08:00"
    )
    assert "cron 0 8 * * 1-5" in Recurrence.build("cron", cron="0  8 * * 1-5").describe()
