"""Zone names as Canvas accepts them: Rails (ActiveSupport) names and IANA names."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from reportcard.timezones import (
    RAILS_ZONES,
    UnknownTimeZone,
    canonical_zone_name,
    is_known_zone,
    resolve_zone,
    zone_names,
)


def test_every_rails_name_resolves_to_a_real_zone() -> None:
    assert len(RAILS_ZONES) >= 150
    for rails, iana in RAILS_ZONES.items():
        assert canonical_zone_name(rails) == iana
        assert resolve_zone(rails).key == iana


@pytest.mark.parametrize(
    ("name", "iana"),
    [
        ("Mountain Time (US & Canada)", "America/Denver"),
        ("Eastern Time (US & Canada)", "America/New_York"),
        ("Arizona", "America/Phoenix"),
        ("UTC", "Etc/UTC"),
        ("America/Denver", "America/Denver"),
        ("  Europe/Berlin ", "Europe/Berlin"),
        ("Etc/UTC", "Etc/UTC"),
    ],
)
def test_rails_and_iana_names(name: str, iana: str) -> None:
    assert canonical_zone_name(name) == iana
    assert is_known_zone(name)


def test_offsets_follow_daylight_saving() -> None:
    zone = resolve_zone("Mountain Time (US & Canada)")
    winter = datetime(2024, 1, 15, 8, 0, tzinfo=UTC).astimezone(zone)
    summer = datetime(2024, 7, 15, 8, 0, tzinfo=UTC).astimezone(zone)
    assert winter.isoformat() == "2024-01-15T01:00:00-07:00"
    assert summer.isoformat() == "2024-07-15T02:00:00-06:00"


@pytest.mark.parametrize(
    "name",
    [
        "Mountain Time",
        "mountain time (us & canada)",
        "Mars/Olympus_Mons",
        "",
        "../../etc/passwd",
        "/usr/share/zoneinfo/UTC",
        "localtime",
        "Factory",
        None,
        42,
    ],
)
def test_unknown_names_are_refused_clearly(name: object) -> None:
    assert not is_known_zone(name)
    with pytest.raises(UnknownTimeZone, match="unknown time zone") as info:
        canonical_zone_name(name)
    assert isinstance(info.value, ValueError)
    assert "America/Denver" in str(info.value)
    with pytest.raises(UnknownTimeZone):
        resolve_zone(name)  # type: ignore[arg-type]


def test_zone_names_lists_both_kinds() -> None:
    names = zone_names()
    assert "Mountain Time (US & Canada)" in names
    assert "America/Denver" in names
    assert "localtime" not in names
