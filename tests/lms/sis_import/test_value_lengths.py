"""A value longer than its column is a row warning, not a failed, half-applied import.

On PostgreSQL a 300-character ``long_name`` or ``login_id`` made the batch fail, and the import
ended ``failed_with_messages`` with the batches before it applied (SQLite stored it).
"""

from __future__ import annotations

from sqlalchemy import Engine

from reportcard.db.tables import courses, pseudonyms
from tests.lms.sis_import.helpers import rows


def test_a_course_name_too_long_skips_its_row(db: Engine, sis) -> None:  # type: ignore[no-untyped-def]
    long = "x" * 256
    result = sis(
        "course_id,short_name,long_name,status\n"
        f"C1,C1,{long},active\n"
        f"C2,C2,{'y' * 255},active\n"  # exactly at the limit: fine
        f"C3,C3,Short,active\n"
    )
    assert result.state == "imported_with_messages"
    assert result.warnings == [
        ("sis.csv", 2, "The value in long_name is longer than 255 characters; row skipped")
    ]
    assert rows(db, courses, "sis_source_id") == [("C2",), ("C3",)]


def test_a_login_too_long_in_a_later_batch_fails_nothing(db: Engine, sis, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from reportcard.settings import Settings

    lines = [f"U{i},login{i},User {i},active" for i in range(30)]
    lines[25] = f"U25,{'l' * 300},User 25,active"
    result = sis(
        "user_id,login_id,full_name,status\n" + "\n".join(lines) + "\n",
        settings=Settings(data_dir=tmp_path / "files", sis_import_batch_rows=10),
    )
    assert result.state == "imported_with_messages"
    assert result.warnings == [
        ("sis.csv", 27, "The value in login_id is longer than 255 characters; row skipped")
    ]
    assert len(rows(db, pseudonyms, "sis_user_id")) == 29


def test_a_long_value_in_a_column_the_import_does_not_read_is_fine(db: Engine, sis) -> None:  # type: ignore[no-untyped-def]
    result = sis(f"course_id,short_name,long_name,status,notes\nC1,C1,One,active,{'n' * 5000}\n")
    assert (result.state, result.messages) == ("imported", [])
    assert rows(db, courses, "sis_source_id") == [("C1",)]
