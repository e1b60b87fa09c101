"""The checks every file keyed by its own SIS id makes first (accounts, terms, courses,
sections, group categories, groups): a row without its id, without a status or with an
improper one, an id given twice in one import, and a deletion under ``skip_deletes``."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, Table, select

from reportcard.db.tables import (
    accounts,
    course_sections,
    courses,
    enrollment_terms,
    group_categories,
    groups,
)

SETUP = {
    "courses.csv": "course_id,short_name,long_name,status\nC0,C0,Course Zero,active\n",
}
# file, header, a good row's cells between its id and its status, the id column, the noun,
# the table, a status that keeps the row
KEYED = [
    ("accounts.csv", "account_id,parent_account_id,name,status", ",Arts", "account_id",
     "account", accounts, "active"),
    ("terms.csv", "term_id,name,status", "Fall", "term_id", "term", enrollment_terms,
     "active"),
    ("courses.csv", "course_id,short_name,long_name,status", "K,Kourse", "course_id", "course",
     courses, "active"),
    ("sections.csv", "section_id,course_id,name,status", "C0,Sec", "section_id", "section",
     course_sections, "active"),
    ("group_categories.csv", "group_category_id,category_name,status", "Teams",
     "group_category_id", "group category", group_categories, "active"),
    ("groups.csv", "group_id,name,status", "Chess", "group_id", "group", groups, "available"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("file", "header", "cells", "column", "noun", "table", "good"), KEYED, ids=[k[0] for k in KEYED]
)
def test_a_keyed_file_skips_its_bad_rows_with_these_warnings(  # type: ignore[no-untyped-def]
    db: Engine,
    sis,
    file: str,
    header: str,
    cells: str,
    column: str,
    noun: str,
    table: Table,
    good: str,
) -> None:
    article = "an" if noun == "account" else "a"
    body = (
        f"{header}\n"
        f",{cells},{good}\n"  # line 2: no id
        f"X2,{cells},\n"  # line 3: no status
        f"X3,{cells},archived-ish\n"  # line 4: an improper status
        f"X4,{cells},{good}\n"  # line 5: kept
        f"X4,{cells},{good}\n"  # line 6: the same id again
        f"X5,{cells},deleted\n"  # line 7: a deletion, skipped under skip_deletes
    )
    result = sis({**SETUP, file: body}, options={"skip_deletes": True})
    assert [w for w in result.warnings if w[0] == file] == [
        (file, 2, f"No {column} given for {article} {noun}"),
        (file, 3, f"No status given for {noun} X2"),
        (file, 4, f'Improper status "archived-ish" for {noun} X3'),
        (file, 6, f"Duplicate {column} X4 in this import; only the first row was used"),
    ]
    with db.connect() as conn:
        ids = conn.execute(select(table.c.sis_source_id)).scalars().all()
    assert "X4" in ids
    assert not {"X2", "X3", "X5"} & set(ids)
