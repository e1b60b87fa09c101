"""group_categories, groups, group memberships, admins and user observers."""

from __future__ import annotations

from sqlalchemy import Engine

from reportcard.db.tables import (
    account_users,
    group_categories,
    group_memberships,
    groups,
    user_observers,
)
from tests.lms.sis_import.helpers import rows, snapshot

BASE = {
    "accounts.csv": "account_id,parent_account_id,name,status\nARTS,,Arts,active\n",
    "courses.csv": "course_id,short_name,long_name,account_id,status\nC1,C1,One,ARTS,active\n",
    "users.csv": "user_id,login_id,full_name,status\nU1,u1,Ann,active\nU2,u2,Ben,active\n",
}


def test_groups_and_memberships(db: Engine, sis) -> None:  # type: ignore[no-untyped-def]
    result = sis(
        {
            **BASE,
            "group_categories.csv": "group_category_id,account_id,course_id,category_name,status\n"
            "CLUBS,,,Clubs,active\nPROJ,,C1,Projects,active\nOLD,ARTS,,Old,deleted\n",
            "groups.csv": "group_id,group_category_id,account_id,course_id,name,status\n"
            "CHESS,CLUBS,,,Chess,available\nPT1,PROJ,,C1,Team 1,available\n"
            "ART,,ARTS,,Art Club,deleted\nBAD,PROJ,,,Wrong context,available\n",
            "groups_membership.csv": "group_id,user_id,status\nCHESS,U1,accepted\n"
            "CHESS,U2,deleted\nPT1,U1,accepted\nNOPE,U1,accepted\nCHESS,U1,invited\n",
        }
    )
    b = result.id
    assert result.warnings == [
        ("groups.csv", 5, "Group category PROJ belongs to another context than group BAD"),
        ("groups_membership.csv", 5, "Group NOPE not found for membership of U1 in group NOPE"),
        (
            "groups_membership.csv",
            6,
            'Improper status "invited" for membership of U1 in group CHESS',
        ),
    ]
    gc = rows(db, group_categories, "id context_type context_id name sis_source_id sis_batch_id")
    assert gc == [
        (1, "Account", 1, "Clubs", "CLUBS", b),
        (2, "Course", 1, "Projects", "PROJ", b),
        (3, "Account", 2, "Old", "OLD", b),
    ]
    deleted = [
        (sis_id, when is not None)
        for sis_id, when in rows(db, group_categories, "sis_source_id deleted_at")
    ]
    assert deleted == [("CLUBS", False), ("PROJ", False), ("OLD", True)]
    cols = (
        "id group_category_id context_type context_id account_id name workflow_state sis_source_id"
    )
    assert rows(db, groups, cols) == [
        (1, 1, "Account", 1, 1, "Chess", "available", "CHESS"),
        (2, 2, "Course", 1, 2, "Team 1", "available", "PT1"),
        (3, None, "Account", 2, 2, "Art Club", "deleted", "ART"),
    ]
    assert rows(db, group_memberships, "group_id user_id workflow_state sis_batch_id") == [
        (1, 1, "accepted", b),
        (1, 2, "deleted", b),
        (2, 1, "accepted", b),
    ]
    before = snapshot(db)
    sis(result_files())
    assert snapshot(db) == before


def result_files() -> dict[str, str]:
    return {
        "group_categories.csv": "group_category_id,account_id,course_id,category_name,status\n"
        "CLUBS,,,Clubs,active\n",
        "groups.csv": "group_id,group_category_id,account_id,course_id,name,status\n"
        "CHESS,CLUBS,,,Chess,available\n",
        "groups_membership.csv": "group_id,user_id,status\nCHESS,U1,accepted\n",
    }


def test_admins_with_custom_roles(db: Engine, sis) -> None:  # type: ignore[no-untyped-def]
    result = sis(
        {
            **BASE,
            "admins.csv": "user_id,account_id,role_id,role,status\n"
            "U1,,,AccountAdmin,active\nU2,ARTS,8,Help Desk,active\nU2,ARTS,,Wizard,active\n"
            "U1,NOPE,,AccountAdmin,active\nNOPE,,,AccountAdmin,active\n",
        }
    )
    b = result.id
    assert result.warnings == [
        ("admins.csv", 4, 'Invalid role "Wizard" for admin U2 on account ARTS'),
        ("admins.csv", 5, "Invalid account_id NOPE for admin U1 on account NOPE"),
        ("admins.csv", 6, "Invalid or unknown user_id NOPE for admin NOPE on account (root)"),
    ]
    assert rows(db, account_users, "account_id user_id role_id workflow_state sis_batch_id") == [
        (1, 1, 6, "active", b),
        (2, 2, 8, "active", b),
    ]
    sis("user_id,account_id,role,status\nU2,ARTS,Help Desk,deleted\n")
    assert rows(db, account_users, "user_id workflow_state", account_users.c.user_id == 2) == [
        (2, "deleted")
    ]


def test_user_observers(db: Engine, sis) -> None:  # type: ignore[no-untyped-def]
    result = sis(
        {
            **BASE,
            "user_observers.csv": "observer_id,student_id,status\nU2,U1,active\nU1,U1,active\n"
            "NOPE,U1,active\n",
        }
    )
    assert result.warnings == [
        ("user_observers.csv", 3, "A user cannot observe themselves (observer U1 of student U1)"),
        ("user_observers.csv", 4, "An observer referenced a non-existent user NOPE"),
    ]
    assert rows(db, user_observers, "user_id observer_id workflow_state root_account_id") == [
        (1, 2, "active", 1)
    ]
    sis("observer_id,student_id,status\nU2,U1,deleted\n")
    assert rows(db, user_observers, "id workflow_state") == [(1, "deleted")]
