"""Canvas parameter semantics: booleans, lists, references, times."""

from __future__ import annotations

from datetime import datetime

import pytest

from reportcard.reports.params import (
    param,
    parse_time,
    split_reference,
    value_to_boolean,
    value_to_list,
)


@pytest.mark.parametrize(
    "value", [True, 1, "1", "true", "True", "TRUE", "on", "On", "yes", "Yes", " true ", 2, "7"]
)
def test_truthy(value: object) -> None:
    assert value_to_boolean(value) is True


@pytest.mark.parametrize(
    "value",
    [False, 0, "0", "false", "False", "off", "no", "", None, "garbage", "tru", [], {}, "1.5x"],
)
def test_falsy(value: object) -> None:
    assert value_to_boolean(value) is False


def test_param_skips_blank_values_and_reads_aliases() -> None:
    assert (
        param(
            {"enrollment_term_id": "", "enrollment_term": "7"},
            "enrollment_term_id",
            "enrollment_term",
        )
        == "7"
    )
    assert param({"enrollment_term_id": "  "}, "enrollment_term_id") is None


def test_value_to_list_does_not_trim() -> None:
    assert value_to_list("StudentEnrollment, TeacherEnrollment") == [
        "StudentEnrollment",
        " TeacherEnrollment",
    ]
    assert value_to_list(["a", "b"]) == ["a", "b"]
    assert value_to_list(None) is None


def test_split_reference() -> None:
    assert split_reference("sis_term_id:fall12", "sis_term_id") == ("sis", "fall12")
    assert split_reference(" 12 ", "sis_term_id") == ("id", "12")


def test_parse_time_in_root_account_zone() -> None:
    # 08:00 in Denver (winter, -07:00) is 15:00 UTC; an explicit offset wins
    assert parse_time("2024-01-15T08:00:00", "America/Denver") == datetime(2024, 1, 15, 15, 0)
    assert parse_time("2024-01-15", "America/Denver") == datetime(2024, 1, 15, 7, 0)
    assert parse_time("2024-07-01T00:00:00Z", "America/Denver") == datetime(2024, 7, 1, 0, 0)
    assert parse_time("not a date", "UTC") is None
    assert parse_time("", "UTC") is None
