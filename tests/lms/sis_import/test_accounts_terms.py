"""accounts.csv and terms.csv: exact rows after create, update, delete and re-import."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine

from reportcard.db.tables import account_ancestors, accounts, enrollment_terms
from tests.lms.sis_import.helpers import rows, snapshot

ACCOUNTS = "account_id,parent_account_id,name,status,integration_id\n"


def test_accounts_create_update_delete(db: Engine, sis) -> None:  # type: ignore[no-untyped-def]
    first = sis(
        ACCOUNTS
        + "ARTS,,College of Arts,active,INT-A\n"
        + "MUSIC,ARTS,Music,active,\n"
        + "SCI,,Science,active,\n"
    )
    assert first.state == "imported"
    assert first.counts == {"accounts": 3}
    b = first.id
    cols = "id name parent_account_id root_account_id workflow_state sis_source_id "
    cols += "integration_id sis_batch_id"
    assert rows(db, accounts, cols) == [
        (1, "Canvas U", None, None, "active", None, None, None),
        (2, "College of Arts", 1, 1, "active", "ARTS", "INT-A", b),
        (3, "Music", 2, 1, "active", "MUSIC", None, b),
        (4, "Science", 1, 1, "active", "SCI", None, b),
    ]
    # The closure was refreshed: Music is under Arts and the root.
    assert rows(
        db, account_ancestors, "ancestor_id depth", account_ancestors.c.account_id == 3
    ) == [
        (1, 2),
        (2, 1),
        (3, 0),
    ]
    # Move Music under Science, rename Arts, delete Science's sibling; blank integration keeps.
    second = sis(
        ACCOUNTS + "ARTS,,Arts,deleted,\nMUSIC,SCI,Music,active,<delete>\nSCI,,Science,active,\n"
    )
    c = second.id
    assert rows(db, accounts, cols, accounts.c.id > 1) == [
        (2, "Arts", 1, 1, "deleted", "ARTS", "INT-A", c),
        (3, "Music", 4, 1, "active", "MUSIC", None, c),
        (4, "Science", 1, 1, "active", "SCI", None, b),  # unchanged: keeps its batch
    ]


def test_children_may_come_before_parents_and_cycles_are_refused(db: Engine, sis) -> None:  # type: ignore[no-untyped-def]
    result = sis(ACCOUNTS + "C,B,C,active,\nB,A,B,active,\nA,,A,active,\nX,NOPE,X,active,\n")
    assert result.state == "imported_with_messages"
    got = rows(db, accounts, "sis_source_id parent_account_id", accounts.c.id > 1)
    ids = {sis_id: i + 2 for i, (sis_id, _) in enumerate(got)}
    assert sorted(got, key=lambda r: str(r[0])) == [("A", 1), ("B", ids["A"]), ("C", ids["B"])]
    assert result.warnings == [("sis.csv", 5, "Parent account didn't exist for X")]
    again = sis(ACCOUNTS + "A,C,A,active,\n")
    assert again.warnings == [
        ("sis.csv", 2, "Account A cannot be moved under C, which is inside it")
    ]


def test_reimport_changes_nothing(db: Engine, sis) -> None:  # type: ignore[no-untyped-def]
    data = ACCOUNTS + "ARTS,,College of Arts,active,\nMUSIC,ARTS,Music,active,\n"
    sis(data)
    before = snapshot(db)
    again = sis(data)
    assert again.state == "imported" and again.counts == {"accounts": 2}
    assert snapshot(db) == before


TERMS = "term_id,name,status,start_date,end_date,integration_id\n"


def test_terms(db: Engine, sis) -> None:  # type: ignore[no-untyped-def]
    first = sis(
        TERMS
        + "FA24,Fall 2024,active,2024-08-20T06:00:00Z,2024-12-20T00:00:00-07:00,T-FA\n"
        + "SP25,Spring 2025,active,2025-01-15,,\n"
    )
    b = first.id
    cols = "id name workflow_state start_at end_at is_default sis_source_id integration_id "
    cols += "sis_batch_id"
    assert rows(db, enrollment_terms, cols) == [
        (1, "Default Term", "active", None, None, True, None, None, None),
        (
            2,
            "Fall 2024",
            "active",
            datetime(2024, 8, 20, 6),
            datetime(2024, 12, 20, 7),
            False,
            "FA24",
            "T-FA",
            b,
        ),
        (3, "Spring 2025", "active", datetime(2025, 1, 15), None, False, "SP25", None, b),
    ]
    # Blank dates clear them (terms), a deleted status deletes.
    second = sis(TERMS + "FA24,Fall 2024,deleted,,,\n")
    assert rows(db, enrollment_terms, cols, enrollment_terms.c.id == 2) == [
        (2, "Fall 2024", "deleted", None, None, False, "FA24", "T-FA", second.id)
    ]


def test_term_date_overrides_are_reported_not_applied(db: Engine, sis) -> None:  # type: ignore[no-untyped-def]
    result = sis(
        "term_id,name,status,start_date,end_date,date_override_enrollment_type\n"
        "FA24,Fall,active,2024-08-20,,StudentEnrollment\n"
    )
    assert result.state == "imported_with_messages"
    assert rows(db, enrollment_terms, "sis_source_id") == [(None,)]
