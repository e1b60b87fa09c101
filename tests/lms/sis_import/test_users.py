"""users.csv, logins.csv and change_sis_id.csv."""

from __future__ import annotations

from sqlalchemy import Engine, update

from reportcard.db.tables import (
    accounts,
    communication_channels,
    course_sections,
    courses,
    pseudonyms,
    users,
)
from tests.lms.sis_import.helpers import make_root, rows, snapshot
from tests.stored_names import assert_names_stored

USERS = (
    "user_id,integration_id,login_id,password,authentication_provider_id,first_name,last_name,"
    "full_name,sortable_name,short_name,email,status\n"
)
U_COLS = "id name sortable_name short_name pronouns workflow_state"
P_COLS = (
    "id user_id account_id unique_id sis_user_id integration_id authentication_provider_id "
    "workflow_state position password_hash sis_batch_id"
)


def test_users_create_and_update(db: Engine, sis) -> None:  # type: ignore[no-untyped-def]
    first = sis(
        USERS
        + "S1,INT1,alice,secret,1,Alice,Smith,Alice Smith,"
        + '"Smith, Alice",Al,alice@example.edu,active\n'
        + "S2,,bob,,saml,Bob,Jones,,,,,suspended\n"
        + "S3,,carol,,,,,Carol Ann Teacher,,,,deleted\n"
    )
    assert first.state == "imported", first.messages
    b = first.id
    assert rows(db, users, U_COLS) == [
        (1, "Alice Smith", "Smith, Alice", "Al", None, "registered"),
        (2, "Bob Jones", "Jones, Bob", None, None, "registered"),
        (3, "Carol Ann Teacher", "Teacher, Carol Ann", None, None, "registered"),
    ]
    # Passwords are never stored.
    assert rows(db, pseudonyms, P_COLS) == [
        (1, 1, 1, "alice", "S1", "INT1", 1, "active", 1, None, b),
        (2, 2, 1, "bob", "S2", None, 1, "suspended", 1, None, b),
        (3, 3, 1, "carol", "S3", None, None, "deleted", 1, None, b),
    ]
    assert rows(db, communication_channels, "user_id path path_type position workflow_state") == [
        (1, "alice@example.edu", "email", 1, "active")
    ]
    # A new email goes first; names change; blank short_name keeps.
    second = sis(USERS + "S1,,alice2,,,Alicia,Smith,,,,alicia@example.edu,active\n")
    assert rows(db, users, U_COLS, users.c.id == 1) == [
        (1, "Alicia Smith", "Smith, Alicia", "Al", None, "registered")
    ]
    assert rows(db, pseudonyms, "unique_id integration_id sis_batch_id", pseudonyms.c.id == 1) == [
        ("alice2", "INT1", second.id)
    ]
    assert rows(
        db, communication_channels, "path position", communication_channels.c.user_id == 1
    ) == [
        ("alice@example.edu", 2),
        ("alicia@example.edu", 1),
    ]


def test_users_keep_their_stored_name_parts(db: Engine, sis) -> None:  # type: ignore[no-untyped-def]
    first = sis(
        USERS
        + "S1,,alice,,,Alice,Smith,,,,,active\n"
        + 'S2,,kate,,,,,,"Clark, Katherine ""Kate""",,,active\n'
        + "S3,,carol,,,,,Carol Ann Teacher III,,,,active\n"
        + "S4,,cher,,,,,Cher,,,,active\n"
        + 'S5,,odd,,,,,,"Smith, John, Jr.",,,active\n'
    )
    assert first.state == "imported", first.messages
    assert assert_names_stored(db) == 5
    assert rows(db, users, "id first_name last_name") == [
        (1, "Alice", "Smith"),
        (2, 'Katherine "Kate"', "Clark"),
        (3, "Carol Ann Teacher", "III"),  # "III, Carol Ann Teacher", as Canvas splits it
        (4, "Cher", None),
        (5, "John", "Smith"),
    ]
    # A rename: the parts follow; a row without names leaves them as they are.
    second = sis(USERS + "S1,,alice,,,Alicia,Smith-Jones,,,,,active\nS3,,carol,,,,,,,,,active\n")
    assert second.state == "imported", second.messages
    assert assert_names_stored(db) == 5
    assert rows(db, users, "first_name last_name", users.c.id.in_([1, 3])) == [
        ("Alicia", "Smith-Jones"),
        ("Carol Ann Teacher", "III"),
    ]


def test_user_problems(db: Engine, sis) -> None:  # type: ignore[no-untyped-def]
    sis(USERS + "S1,,alice,,,,,Alice,,,,active\n")
    result = sis(
        USERS
        + ",,nobody,,,,,No Body,,,,active\n"
        + "S2,,,,,,,No Login,,,,active\n"
        + "S3,,alice,,,,,Thief,,,,active\n"
        + "S4,,dan,,99,,,Dan,,,,active\n"
        + "S5,,eve,,,,,Eve,,,,gone\n"
        + "S6,,fay,,,,,Fay,,,,active\n"
        + "S6,,fay2,,,,,Fay,,,,active\n"
        + "S7,,FAY,,,,,Fay,,,,active\n"
    )
    assert result.warnings == [
        ("sis.csv", 2, "No user_id given for a user"),
        ("sis.csv", 3, "No login_id given for user S2"),
        (
            "sis.csv",
            4,
            "An existing Canvas user with the SIS ID S1 has already claimed S3's "
            "requested login information, skipping",
        ),
        ("sis.csv", 5, "Unknown authentication provider 99 for user S4"),
        ("sis.csv", 6, 'Improper status "gone" for user S5'),
        ("sis.csv", 8, "Duplicate user_id S6 in this import; only the first row was used"),
        ("sis.csv", 9, "Duplicate login_id FAY in this import; only the first row was used"),
    ]
    assert rows(db, pseudonyms, "sis_user_id unique_id") == [("S1", "alice"), ("S6", "fay")]


def test_a_login_without_sis_id_is_adopted(db: Engine, sis) -> None:  # type: ignore[no-untyped-def]
    sis(USERS + "S1,,alice,,,,,Alice,,,,active\n")
    with db.begin() as conn:
        conn.execute(update(pseudonyms).values(sis_user_id=None, sis_batch_id=None))
    result = sis(USERS + "S9,,alice,,,,,Alice,,,,active\n")
    assert result.state == "imported"
    assert rows(db, pseudonyms, "id user_id sis_user_id sis_batch_id") == [(1, 1, "S9", result.id)]


def test_pronouns_only_when_the_root_allows_them(engine: Engine, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.lms.sis_import.helpers import do_import

    make_root(engine, pronouns=True)
    data = "user_id,login_id,full_name,pronouns,status\nS1,a,A,She/Her,active\n"
    do_import(engine, tmp_path, data)
    assert rows(engine, users, "pronouns") == [("She/Her",)]
    do_import(engine, tmp_path, "user_id,login_id,pronouns,status\nS1,a,<delete>,active\n")
    assert rows(engine, users, "name pronouns") == [("A", None)]


LOGINS = "user_id,login_id,existing_user_id,existing_integration_id,existing_canvas_user_id,email\n"


def test_logins_add_a_login_to_an_existing_user(db: Engine, sis) -> None:  # type: ignore[no-untyped-def]
    sis(USERS + "S1,INT1,alice,,,,,Alice,,,,active\nS2,,bob,,,,,Bob,,,,active\n")
    result = sis(
        LOGINS
        + "S1B,alice-b,S1,,,\n"
        + "S1C,alice-c,,INT1,,\n"
        + "S2B,bob-b,,,2,bob@example.edu\n"
        + "S3B,x,NOPE,,,\n"
        + "S2,bob-other,S1,,,\n"
    )
    assert result.counts == {"logins": 3}
    assert result.warnings == [
        ("sis.csv", 5, "Could not find the existing user for login S3B"),
        ("sis.csv", 6, "SIS ID S2 is already in use by another user"),
    ]
    assert rows(db, pseudonyms, "user_id unique_id sis_user_id position") == [
        (1, "alice", "S1", 1),
        (2, "bob", "S2", 1),
        (1, "alice-b", "S1B", 2),
        (1, "alice-c", "S1C", 3),
        (2, "bob-b", "S2B", 2),
    ]
    assert rows(db, communication_channels, "user_id path") == [(2, "bob@example.edu")]


CHANGE = "old_id,new_id,old_integration_id,new_integration_id,type\n"


def test_change_sis_id(db: Engine, sis) -> None:  # type: ignore[no-untyped-def]
    sis(
        {
            "accounts.csv": "account_id,parent_account_id,name,status,integration_id\n"
            "A1,,A,active,IA\nA2,,B,active,\n",
            "courses.csv": "course_id,short_name,long_name,status\nC1,C1,C,active\n",
            "sections.csv": "section_id,course_id,name,status\nS1,C1,S,active\n",
            "users.csv": USERS + "U1,IU,u1,,,,,U,,,,active\n",
        }
    )
    result = sis(
        CHANGE
        + "A1,A1new,IA,<delete>,account\n"
        + "C1,C1new,,,course\n"
        + ",,IU,IU2,user\n"
        + "S1,S1new,,,section\n"
        + "A2,A1new,,,account\n"
        + "NOPE,X,,,course\n"
        + "U1,U2,,,widget\n"
    )
    assert result.counts == {"change_sis_ids": 4}
    assert result.warnings == [
        ("sis.csv", 6, "A new_id, 'A1new', referenced an existing account"),
        ("sis.csv", 7, "An old_id, 'NOPE', referenced a non-existent course"),
        ("sis.csv", 8, 'Invalid type "widget" for change_sis_id'),
    ]
    assert rows(db, accounts, "sis_source_id integration_id", accounts.c.id > 1) == [
        ("A1new", None),
        ("A2", None),
    ]
    assert rows(db, courses, "sis_source_id") == [("C1new",)]
    assert rows(db, course_sections, "sis_source_id") == [("S1new",)]
    assert rows(db, pseudonyms, "sis_user_id integration_id") == [("U1", "IU2")]
    # The rest of the same import already sees the new ids.
    both = sis(
        {
            "change.csv": CHANGE + "C1new,C1,,,course\n",
            "courses.csv": "course_id,short_name,long_name,status\nC1,C1,Renamed,active\n",
        }
    )
    assert both.state == "imported"
    assert rows(db, courses, "sis_source_id name") == [("C1", "Renamed")]
    before = snapshot(db)
    assert sis(CHANGE + "C1,C1,,,course\n").state == "imported"
    assert snapshot(db)["courses"][0][:-1] == before["courses"][0][:-1]
