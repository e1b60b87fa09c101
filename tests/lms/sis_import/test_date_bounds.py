"""Dates at the edges of what a datetime holds (years 1 and 9999, with offsets): a row warning.

They used to raise OverflowError (an import ending ``failed_with_messages`` after the batches
before it were applied), and year-1 dates were stored on SQLite as ``1-01-02 ...``, a text
SQLAlchemy cannot read back, so every later import of the account failed too.
"""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import Engine, func, select

from reportcard.db.tables import courses, enrollment_terms
from tests.lms.sis_import.helpers import rows

COURSES = "course_id,short_name,long_name,status,start_date\n"
TERMS = "term_id,name,status,start_date,end_date\n"

EDGES = [
    "0001-01-01T00:00:00+05:00",  # year 0 in UTC
    "9999-12-31T23:00:00-05:00",  # year 10000 in UTC
    "0001-01-01T00:00:00",  # representable, but not in a zone west of UTC
    "9999-12-31",  # representable, but not in a zone east of UTC
    "0001-01-01T23:59:59Z",
]


@pytest.mark.parametrize("value", EDGES)
def test_a_date_no_zone_can_show_is_a_row_warning(db: Engine, sis, value: str) -> None:  # type: ignore[no-untyped-def]
    result = sis(
        {
            "courses.csv": COURSES + f"BAD,Bad,Bad,active,{value}\nOK,Ok,Ok,active,2024-01-15\n",
            "terms.csv": TERMS + f"T1,Term,active,{value},2025-01-01\n",
        },
        "sis.zip",
    )
    assert result.state == "imported_with_messages"
    assert result.warnings == [
        ("terms.csv", 2, f'Bad date "{value}" in start_date for term T1'),
        ("courses.csv", 2, f'Bad date "{value}" in start_date for course BAD'),
    ]
    assert rows(db, courses, "sis_source_id start_at") == [("OK", datetime(2024, 1, 15))]


def test_the_earliest_and_latest_times_are_stored_and_read_back(db: Engine, sis) -> None:  # type: ignore[no-untyped-def]
    first = sis(
        COURSES
        + "EARLY,Early,Early,active,0001-01-02T00:00:00Z\n"
        + "LATE,Late,Late,active,9999-12-30T23:59:59Z\n"
    )
    assert (first.state, first.messages) == ("imported", [])
    expected = [
        ("EARLY", datetime(1, 1, 2)),
        ("LATE", datetime(9999, 12, 30, 23, 59, 59)),
    ]
    assert rows(db, courses, "sis_source_id start_at") == expected
    # The next import reads those rows (on SQLite the year is written with four digits).
    again = sis(COURSES + "EARLY,Early,Early,active,0001-01-02T00:00:00Z\n")
    assert (again.state, again.messages) == ("imported", [])
    assert rows(db, courses, "sis_source_id start_at") == expected


def test_one_bad_date_in_a_big_file_is_one_warning_and_the_rest_is_applied(
    db: Engine,
    sis,  # type: ignore[no-untyped-def]
) -> None:
    lines = [f"C{i},C{i},Course {i},active,2024-01-15T08:00:00Z" for i in range(12_000)]
    lines[11_000] = "C11000,C11000,Course 11000,active,9999-12-31T23:00:00-05:00"
    result = sis(COURSES + "\n".join(lines) + "\n")
    assert result.state == "imported_with_messages"
    assert result.warnings == [
        (
            "sis.csv",
            11_002,
            'Bad date "9999-12-31T23:00:00-05:00" in start_date for course C11000',
        )
    ]
    with db.connect() as conn:
        assert conn.execute(select(func.count()).select_from(courses)).scalar_one() == 11_999
        assert conn.execute(select(func.count()).select_from(enrollment_terms)).scalar_one() == 1
