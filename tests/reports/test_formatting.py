"""Value formatting: times in the root account's zone, names from sortable names."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from reportcard.reports.formatting import (
    _general_time_formatter,
    first_name,
    iso_in_zone,
    last_name,
    name_parts,
    pronouns,
    time_formatter,
)


def test_utc_zone_writes_z_and_others_write_offsets() -> None:
    t = datetime(2024, 1, 15, 8, 0, 0, 123456)
    assert iso_in_zone(t, "UTC") == "2024-01-15T08:00:00Z"
    assert iso_in_zone(t, "America/Denver") == "2024-01-15T01:00:00-07:00"
    assert iso_in_zone(datetime(2024, 7, 15, 8), "America/Denver") == "2024-07-15T02:00:00-06:00"
    assert iso_in_zone(t, "Asia/Kolkata") == "2024-01-15T13:30:00+05:30"
    # Europe/London in winter is +00:00, not Z: only the UTC zone itself writes Z
    assert iso_in_zone(t, "Europe/London") == "2024-01-15T08:00:00+00:00"
    assert iso_in_zone(None, "UTC") is None


def test_time_formatter_accepts_sqlite_text_and_aware_datetimes() -> None:
    fmt = time_formatter("America/Denver")
    assert fmt("2024-01-15 08:00:00.000000") == "2024-01-15T01:00:00-07:00"
    assert fmt("2024-01-15 08:00:00") == "2024-01-15T01:00:00-07:00"
    assert fmt(datetime(2024, 1, 15, 8, tzinfo=UTC)) == "2024-01-15T01:00:00-07:00"
    assert fmt(None) is None
    assert time_formatter("UTC")("2024-01-15 08:00:00") == "2024-01-15T08:00:00Z"


@pytest.mark.parametrize(
    ("sortable", "expected"),
    [
        ("St. Clair,John", ("John", "St. Clair")),
        ("Bolton, Michael", ("Michael", "Bolton")),
        ("Smith, John, Jr.", ("John", "Smith")),
        ("Smith, John, Paul", ("John Paul", "Smith")),
        ("John Smith", ("John", "Smith")),
        ("Cher", ("Cher", None)),
        ("John Smith Jr", ("John", "Smith")),
        ("", (None, None)),
        (None, (None, None)),
    ],
)
def test_name_parts(sortable: str | None, expected: tuple[str | None, str | None]) -> None:
    assert name_parts(sortable) == expected


def split_name_parts(sortable: str) -> tuple[str | None, str | None]:
    """Canvas's rule as the general path writes it (a regex split), for names with one comma."""
    surname, given = (p.strip() for p in re.split(r"\s*,\s*", sortable.strip(), maxsplit=2))
    words = given.split()
    if len(words) > 1 and re.match(
        r"^(sr|jr|[iv]+|esq|senior|junior|esquire)\.?$", words[-1], re.I
    ):
        given = " ".join(words[:-1])
    return (given or None), (surname or None)


@pytest.mark.parametrize(
    "sortable",
    [
        "Smith, John",
        "  Smith ,John  ",
        "Smith,\u00a0John\u2003",
        "\tSmith\n,\x1fJohn Paul",
        "O'Brien, Mary  Ann",
        "Smith, John Jr.",
        "Smith, John  III",
        "Smith, Jr.",
        "Smith, John\nJr",
        ",",
        " , ",
        "Smith,",
        ", John",
        "van der Berg, Anna-Lena IV",
    ],
)
def test_name_parts_of_one_comma_names_match_the_general_split(sortable: str) -> None:
    # name_parts skips the regex for names with exactly one comma; same parts.
    assert name_parts(sortable) == split_name_parts(sortable)
    assert (first_name(sortable), last_name(sortable)) == split_name_parts(sortable)


def test_pronouns_display_text() -> None:
    assert pronouns("she_her") == "She/Her"
    assert pronouns("xe/xem") == "xe/xem"
    assert pronouns(None) is None


FAST_ZONES = [
    "UTC",
    "America/Denver",
    "Australia/Lord_Howe",
    "Africa/Monrovia",
    "Asia/Kathmandu",
    "Nowhere/Land",
]


def _stored_texts() -> list[Any]:
    """SQLite texts of times: the stored shape around every offset change, and others."""
    from reportcard.reports.sqlformat import offset_segments

    rng = random.Random(5)
    times = [datetime(1, 1, 1), datetime(1, 1, 1, 12), datetime(9999, 12, 31, 23, 59, 59)]
    times += [datetime(1969, 12, 31, 23, 59, 59), datetime(2150, 6, 1), datetime(1900, 3, 1)]
    for name in ("America/Denver", "Australia/Lord_Howe", "Africa/Monrovia", "Asia/Kathmandu"):
        for start, _, _ in offset_segments(name)[:60]:
            for d in (-3601, -3600, -1, 0, 1, 1799, 3599, 3600):
                times.append(start + timedelta(seconds=d))
    base = datetime(1950, 1, 1)
    times += [base + timedelta(seconds=rng.randrange(0, 120 * 365 * 86400)) for _ in range(3000)]
    texts: list[Any] = []
    for t in times:
        texts += [t.strftime("%Y-%m-%d %H:%M:%S"), t.strftime("%Y-%m-%d %H:%M:%S.%f")]
    texts += [
        None,
        "2024-01-15T08:00:00",
        "2024-01-15 08:00:00.5",
        "2024-01-15 08:00:00+02:00",
        "2024-01-15 08:00:00.12345a",
        "2024-01-15 08:00:00.\u0663\u0663\u0663\u0663\u0663\u0663",
        "2024-02-30 00:00:00",
        "2024-01-15 24:00:00",
        # The whole-hour path's own checks: the minutes and seconds, the hour's digits.
        "2024-01-15 08:60:00",
        "2024-01-15 08:00:60",
        "2024-01-15 08:0a:00",
        "\u0662\u0660\u0662\u0664-01-15 08:00:00",
        "2024-01-15 0\u0668:00:00",
        "2024-01-15+08:00:00",
        "0000-01-01 00:00:00",
        "garbage",
        "",
        datetime(2024, 7, 1, 12),
    ]
    return texts


def _outcome(fmt: Any, value: Any) -> Any:
    try:
        return fmt(value)
    except (ValueError, TypeError, OverflowError) as exc:
        return type(exc)


@pytest.mark.parametrize("zone_name", FAST_ZONES)
def test_the_fast_path_for_stored_texts_writes_the_general_text(zone_name: str) -> None:
    fast, general = time_formatter(zone_name), _general_time_formatter(zone_name)
    for value in _stored_texts():
        assert _outcome(fast, value) == _outcome(general, value), value
