"""A small hand-built institution for the SIS export / provisioning tests.

Every id is explicit so that expected CSVs can be written from the spec by hand. The layout:

Root 1 "Springfield University" (America/Denver, pronouns on)
  2 ARTS College of Arts (SIS batch)          4 SCI College of Science (SIS id set by hand)
    3 MUSIC Department of Music                 7 Defunct Lab (deleted, no SIS id)
      10 BRASS Brass Ensemble                   8 PHYS Physics
  5 OLD Old College (deleted)                 6 Sandbox (no SIS id)
                                                9 ROBO Robotics
Root 50 "Shelbyville College" (UTC) reuses the same SIS ids; none of its rows may appear.

Times are naive UTC; the comments give the America/Denver rendering.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection, Table, insert

from reportcard.db.tables import (
    account_users,
    accounts,
    authentication_providers,
    blueprint_subscriptions,
    communication_channels,
    course_sections,
    courses,
    enrollment_terms,
    enrollments,
    group_categories,
    group_memberships,
    groups,
    pseudonyms,
    roles,
    user_observers,
    users,
)
from reportcard.lms.tree import refresh
from reportcard.reports.catalog import RunContext, get_report
from reportcard.runs.context import build_context
from reportcard.runs.query import part_rows
from tests.clocks import T0_REPORTS as T0

ROOT = 1
OTHER_ROOT = 50
NOW = datetime(2024, 6, 1, 12, 0, 0)  # the run's "now": 120 days back is 2024-02-02 12:00
B = 1  # the SIS batch of root 1
OB = 5  # the SIS batch of root 50

STAMPS = {"created_at": T0, "updated_at": T0}


Rows = tuple[Table, list[dict[str, Any]]]


def _rows(table: Table, cols: str, data: list[tuple[Any, ...]], **extra: Any) -> Rows:
    names = cols.split()
    return table, [{**extra, **dict(zip(names, row, strict=True))} for row in data]


def _accounts() -> Rows:
    table, rows = _rows(
        accounts,
        "id name parent_account_id root_account_id workflow_state sis_source_id sis_batch_id "
        "default_time_zone can_add_pronouns",
        [
            (1, "Springfield University", None, None, "active", None, None, "America/Denver", True),
            (2, "College of Arts", 1, 1, "active", "ARTS", B, "UTC", False),
            (3, "Department of Music", 2, 1, "active", "MUSIC", B, "UTC", False),
            (4, "College of Science", 1, 1, "active", "SCI", None, "UTC", False),
            (5, "Old College", 1, 1, "deleted", "OLD", B, "UTC", False),
            (6, "Sandbox", 1, 1, "active", None, None, "UTC", False),
            (7, "Defunct Lab", 4, 1, "deleted", None, None, "UTC", False),
            (8, "Physics", 4, 1, "active", "PHYS", B, "UTC", False),
            (9, "Robotics", 6, 1, "active", "ROBO", B, "UTC", False),
            (10, "Brass Ensemble", 3, 1, "active", "BRASS", B, "UTC", False),
            (50, "Shelbyville College", None, None, "active", None, None, "UTC", False),
            (51, "Shelby Arts", 50, 50, "active", "ARTS", OB, "UTC", False),
        ],
        **STAMPS,
    )
    for row in rows:
        row["uuid"] = f"acct-{row['id']}"
    return table, rows


def _declare() -> list[Rows]:
    return [
        _accounts(),
        _rows(
            authentication_providers,
            "id root_account_id auth_type",
            [(1, ROOT, "saml")],
        ),
        _rows(
            enrollment_terms,
            "id root_account_id name workflow_state start_at end_at is_default sis_source_id "
            "sis_batch_id",
            [
                (1, 1, "Default Term", "active", None, None, True, None, None),
                # 2023-08-20T00:00:00-06:00 .. 2023-12-20T00:00:00-07:00
                (
                    2,
                    1,
                    "Fall 2023",
                    "active",
                    datetime(2023, 8, 20, 6),
                    datetime(2023, 12, 20, 7),
                    False,
                    "FA23",
                    B,
                ),
                # 2024-01-15T00:00:00-07:00 .. 2024-05-15T00:00:00-06:00
                (
                    3,
                    1,
                    "Spring 2024",
                    "active",
                    datetime(2024, 1, 15, 7),
                    datetime(2024, 5, 15, 6),
                    False,
                    "SP24",
                    B,
                ),
                (4, 1, "Summer 2024", "deleted", None, None, False, "SU24", B),
                # SIS id typed by hand (no batch); 2024-12-20T00:00:00-07:00
                (
                    5,
                    1,
                    "Winter Intersession",
                    "active",
                    datetime(2024, 12, 20, 7),
                    None,
                    False,
                    "WI24",
                    None,
                ),
                (6, 1, "Scratch Term", "deleted", None, None, False, None, None),
                (50, 50, "Default Term", "active", None, None, True, None, None),
                (51, 50, "Fall 2023", "active", None, None, False, "FA23", OB),
            ],
            **STAMPS,
        ),
        _rows(
            courses,
            "id root_account_id account_id enrollment_term_id name course_code sis_source_id "
            "integration_id sis_batch_id workflow_state course_format "
            "restrict_enrollments_to_course_dates start_at conclude_at updated_at",
            [
                # restricted dates: 2023-08-21T09:00:00-06:00 .. 2023-12-15T16:30:00-07:00
                (
                    1,
                    1,
                    2,
                    2,
                    "Intro to Art",
                    "ART101",
                    "ART101",
                    "INT-ART101",
                    B,
                    "available",
                    "on_campus",
                    True,
                    datetime(2023, 8, 21, 15),
                    datetime(2023, 12, 15, 23, 30),
                    T0,
                ),
                # dates set but not restricted: never written
                (
                    2,
                    1,
                    3,
                    3,
                    "Music Theory",
                    "MUS200",
                    "MUS200",
                    None,
                    B,
                    "available",
                    "online",
                    False,
                    datetime(2024, 1, 16),
                    datetime(2024, 5, 10),
                    T0,
                ),
                (
                    3,
                    1,
                    3,
                    3,
                    "Music Ensemble",
                    "MUS300",
                    "MUS300",
                    None,
                    B,
                    "claimed",
                    None,
                    False,
                    None,
                    None,
                    T0,
                ),
                (
                    4,
                    1,
                    8,
                    3,
                    "Physics Lab",
                    "PHY100",
                    "PHY100",
                    None,
                    None,
                    "created",
                    "blended",
                    False,
                    None,
                    None,
                    T0,
                ),
                (
                    5,
                    1,
                    6,
                    1,
                    "Sandbox Course",
                    "SBX",
                    None,
                    None,
                    None,
                    "available",
                    None,
                    False,
                    None,
                    None,
                    T0,
                ),
                (
                    6,
                    1,
                    4,
                    2,
                    "Old Chemistry",
                    "CHM100",
                    "CHM100",
                    None,
                    B,
                    "completed",
                    "on_campus",
                    False,
                    None,
                    None,
                    T0,
                ),
                (
                    7,
                    1,
                    2,
                    2,
                    "Deleted Recently",
                    "DEL1",
                    None,
                    None,
                    None,
                    "deleted",
                    None,
                    False,
                    None,
                    None,
                    datetime(2024, 5, 1),
                ),
                (
                    8,
                    1,
                    2,
                    2,
                    "Deleted Long Ago",
                    "DEL2",
                    None,
                    None,
                    None,
                    "deleted",
                    None,
                    False,
                    None,
                    None,
                    datetime(2023, 12, 1),
                ),
                (
                    9,
                    1,
                    2,
                    2,
                    "World History",
                    "HIS100",
                    "HIS100",
                    None,
                    B,
                    "deleted",
                    None,
                    False,
                    None,
                    None,
                    datetime(2023, 12, 1),
                ),
                (
                    10,
                    1,
                    2,
                    1,
                    "Blueprint Art",
                    "BP-ART",
                    "BP-ART",
                    None,
                    B,
                    "available",
                    None,
                    False,
                    None,
                    None,
                    T0,
                ),
                (
                    11,
                    1,
                    2,
                    3,
                    "Art Studio",
                    "ART102",
                    "ART102",
                    None,
                    B,
                    "available",
                    None,
                    False,
                    None,
                    None,
                    T0,
                ),
                (
                    12,
                    1,
                    4,
                    1,
                    "Science Template",
                    "SCI-T",
                    None,
                    None,
                    None,
                    "available",
                    None,
                    False,
                    None,
                    None,
                    T0,
                ),
                (
                    13,
                    1,
                    8,
                    3,
                    "Lab Skills",
                    "LAB200",
                    "LAB200",
                    None,
                    B,
                    "available",
                    None,
                    False,
                    None,
                    None,
                    T0,
                ),
                (
                    50,
                    50,
                    51,
                    51,
                    "Shelby Art",
                    "ART101",
                    "ART101",
                    None,
                    OB,
                    "available",
                    None,
                    False,
                    None,
                    None,
                    T0,
                ),
            ],
            created_at=T0,
        ),
        _rows(
            blueprint_subscriptions,
            "id blueprint_course_id child_course_id workflow_state",
            [(1, 10, 11, "active"), (2, 10, 5, "deleted"), (3, 12, 13, "active")],
        ),
        _rows(
            course_sections,
            "id root_account_id course_id nonxlist_course_id name sis_source_id integration_id "
            "sis_batch_id workflow_state restrict_enrollments_to_section_dates start_at end_at",
            [
                # restricted: 2023-09-01T08:00:00-06:00, no end
                (
                    1,
                    1,
                    1,
                    None,
                    "ART101 Section 1",
                    "ART101-S1",
                    "INT-S1",
                    B,
                    "active",
                    True,
                    datetime(2023, 9, 1, 14),
                    None,
                ),
                (
                    2,
                    1,
                    2,
                    None,
                    "MUS200 Section A",
                    "MUS200-A",
                    None,
                    B,
                    "active",
                    False,
                    datetime(2024, 1, 16, 7),
                    datetime(2024, 5, 10, 6),
                ),
                (3, 1, 3, 2, "MUS200 Section B", "MUS200-B", None, B, "active", False, None, None),
                (
                    4,
                    1,
                    3,
                    None,
                    "MUS300 Section 1",
                    "MUS300-1",
                    None,
                    None,
                    "active",
                    False,
                    None,
                    None,
                ),
                (5, 1, 4, None, "PHY100 Lab", None, None, None, "active", False, None, None),
                (6, 1, 5, None, "Sandbox Section", None, None, None, "active", False, None, None),
                (7, 1, 6, None, "CHM100 Section", "CHM100-1", None, B, "active", False, None, None),
                (
                    8,
                    1,
                    1,
                    None,
                    "ART101 Old Section",
                    "ART101-OLD",
                    None,
                    B,
                    "deleted",
                    False,
                    None,
                    None,
                ),
                (9, 1, 1, None, "ART101 Scratch", None, None, None, "deleted", False, None, None),
                (
                    10,
                    1,
                    9,
                    None,
                    "HIS100 Section",
                    "HIS100-1",
                    None,
                    B,
                    "active",
                    False,
                    None,
                    None,
                ),
                (11, 1, 1, 4, "PHY100 X", "PHY100-X", None, B, "deleted", False, None, None),
                (12, 1, 6, 2, "MUS200 Section C", "MUS200-C", None, B, "active", False, None, None),
                (13, 1, 5, 4, "Sandbox X", None, None, None, "active", False, None, None),
                (
                    50,
                    50,
                    50,
                    None,
                    "Shelby Section",
                    "ART101-S1",
                    None,
                    OB,
                    "active",
                    False,
                    None,
                    None,
                ),
            ],
            **STAMPS,
        ),
        _rows(
            users,
            "id name sortable_name short_name pronouns uuid is_test_student",
            [
                (1, "Alice Smith", "Smith, Alice", None, "she_her", "uuid-alice", False),
                (2, "Bob Jones", "Jones, Bob", "Bobby", "xe/xem", "uuid-bob", False),
                (
                    3,
                    "Carol Ann Teacher",
                    "Teacher, Carol Ann, Jr.",
                    None,
                    "they_them",
                    "uuid-carol",
                    False,
                ),
                (4, "Dan Nosis", "Nosis, Dan", None, None, "uuid-dan", False),
                (5, "Eve Suspended", "Suspended, Eve", None, None, "uuid-eve", False),
                (6, "Frank Gone", "Gone, Frank", None, None, "uuid-frank", False),
                (7, "Grace Parent", "Parent, Grace", None, None, "uuid-grace", False),
                (8, "Test Student", "Student, Test", None, None, "uuid-test", True),
                (9, "Hank Multi", "Multi, Hank", None, None, "uuid-hank", False),
                (10, "Ivy", "Ivy", None, None, "uuid-ivy", False),
                (11, "Jack Other", "Other, Jack", None, None, "uuid-jack", False),
                (12, "Karen Admin", "Admin, Karen", None, None, "uuid-karen", False),
            ],
            **STAMPS,
        ),
        _rows(
            pseudonyms,
            "id user_id account_id unique_id sis_user_id integration_id authentication_provider_id "
            "workflow_state position is_inst_id sis_batch_id",
            [
                (1, 1, 1, "alice", "S001", "INT-A", 1, "active", 1, False, B),
                (2, 1, 1, "alice.smith@example.edu", None, None, None, "active", 2, False, None),
                (3, 2, 1, "bob", "S002", None, None, "active", 1, False, B),
                (4, 3, 1, "carol", "T001", "INT-C", None, "active", 1, False, None),
                (5, 4, 1, "dan", None, None, None, "active", 1, False, None),
                (6, 5, 1, "eve", "S005", None, None, "suspended", 1, False, B),
                (7, 6, 1, "frank", "S006", None, None, "deleted", 1, False, B),
                (8, 6, 1, "frank2", None, None, None, "deleted", 2, False, None),
                (9, 7, 1, "grace", "O001", None, None, "active", 1, False, B),
                (10, 8, 1, "test_student", None, None, None, "active", 1, False, None),
                # Hank: the §1.8 order picks hank-a (active, has SIS id, lowest unique_id)
                (11, 9, 1, "hank-b", "S009B", None, None, "active", 1, False, B),
                (12, 9, 1, "hank-a", "S009A", None, None, "active", 2, False, B),
                (13, 9, 1, "hank", None, None, None, "active", 3, False, None),
                (14, 9, 1, "hank-z", "S009Z", None, None, "suspended", 4, False, B),
                (15, 9, 1, "hank-d", "S009D", None, None, "deleted", 5, False, B),
                (16, 10, 1, "ivy", "S010", None, None, "active", 1, False, B),
                (17, 10, 1, "ivy@instructure.com", None, None, None, "active", 2, True, None),
                (18, 12, 1, "karen", "A001", None, None, "active", 1, False, B),
                (50, 11, 50, "jack", "S001", None, None, "active", 1, False, OB),
                (51, 1, 50, "alice", "SH-A", None, None, "active", 1, False, OB),
            ],
            **STAMPS,
        ),
        _rows(
            communication_channels,
            "id user_id path path_type position workflow_state",
            [
                (1, 1, "alice.old@example.com", "email", 1, "retired"),
                (2, 1, "+15550100", "sms", 0, "active"),
                (3, 1, "alice@example.com", "email", 3, "active"),
                (4, 2, "bob@example.com", "email", 1, "unconfirmed"),
                (5, 3, "carol.b@example.com", "email", 2, "active"),
                (6, 3, "carol.a@example.com", "email", 1, "active"),
                (7, 9, "hank@example.com", "email", 1, "active"),
                (8, 12, "karen@example.com", "email", 1, "active"),
                (9, 11, "jack@example.com", "email", 1, "active"),
            ],
        ),
        _rows(
            roles,
            "id root_account_id account_id name base_role_type built_in",
            [
                (1, None, None, "StudentEnrollment", "StudentEnrollment", True),
                (2, None, None, "TeacherEnrollment", "TeacherEnrollment", True),
                (3, None, None, "TaEnrollment", "TaEnrollment", True),
                (4, None, None, "DesignerEnrollment", "DesignerEnrollment", True),
                (5, None, None, "ObserverEnrollment", "ObserverEnrollment", True),
                (6, None, None, "AccountAdmin", "AccountMembership", True),
                (7, 1, 1, "Pixel Engineer", "TaEnrollment", False),
                (8, 1, 1, "Help Desk", "AccountMembership", False),
            ],
        ),
        _rows(
            enrollments,
            "id root_account_id user_id course_id course_section_id role_id type workflow_state "
            "associated_user_id limit_privileges_to_course_section sis_pseudonym_id sis_batch_id",
            [
                (1, 1, 1, 1, 1, 1, "StudentEnrollment", "active", None, False, 1, B),
                (2, 1, 3, 1, 1, 2, "TeacherEnrollment", "active", None, False, None, None),
                (3, 1, 2, 2, 2, 7, "TaEnrollment", "active", None, True, None, B),
                (4, 1, 7, 1, 1, 5, "ObserverEnrollment", "active", 1, False, None, B),
                (5, 1, 4, 1, 1, 1, "StudentEnrollment", "active", None, False, None, None),
                (6, 1, 5, 2, 2, 1, "StudentEnrollment", "invited", None, False, None, B),
                # section 3 is cross-listed into course 3: the enrollment moved with it
                (7, 1, 9, 3, 3, 1, "StudentEnrollment", "active", None, False, 11, B),
                (8, 1, 9, 3, 4, 4, "DesignerEnrollment", "active", None, False, 15, None),
                (9, 1, 9, 4, 5, 1, "StudentEnrollment", "completed", None, False, 14, B),
                (10, 1, 6, 1, 1, 1, "StudentEnrollment", "active", None, False, None, B),
                (11, 1, 2, 1, 1, 1, "StudentEnrollment", "inactive", None, False, None, B),
                (12, 1, 4, 2, 2, 1, "StudentEnrollment", "deleted", None, False, None, None),
                (13, 1, 1, 2, 2, 1, "StudentEnrollment", "deleted", None, False, None, B),
                (14, 1, 5, 2, 2, 3, "TaEnrollment", "rejected", None, False, None, B),
                (
                    15,
                    1,
                    4,
                    5,
                    6,
                    1,
                    "StudentEnrollment",
                    "creation_pending",
                    None,
                    False,
                    None,
                    None,
                ),
                (16, 1, 8, 1, 1, 1, "StudentViewEnrollment", "active", None, False, None, None),
                (17, 1, 2, 1, 8, 1, "StudentEnrollment", "active", None, False, None, B),
                (18, 1, 3, 9, 10, 2, "TeacherEnrollment", "active", None, False, None, B),
                (19, 1, 10, 6, 7, 1, "StudentEnrollment", "active", None, False, None, B),
                (20, 1, 12, 1, 1, 5, "ObserverEnrollment", "active", 6, False, None, B),
                (50, 50, 11, 50, 50, 1, "StudentEnrollment", "active", None, False, None, OB),
            ],
            **STAMPS,
        ),
        _rows(
            user_observers,
            "id root_account_id user_id observer_id workflow_state sis_batch_id",
            [
                (1, 1, 1, 7, "active", B),
                (2, 1, 5, 7, "deleted", B),
                (3, 1, 4, 12, "active", None),
                (4, 1, 6, 7, "active", B),
                (5, 1, 10, 7, "active", B),
                (50, 50, 11, 1, "active", OB),
            ],
            **STAMPS,
        ),
        _rows(
            account_users,
            "id root_account_id account_id user_id role_id workflow_state sis_batch_id",
            [
                (1, 1, 1, 12, 6, "active", B),
                (2, 1, 2, 3, 8, "active", None),
                (3, 1, 3, 4, 6, "active", B),
                (4, 1, 4, 2, 6, "deleted", B),
                (5, 1, 2, 6, 6, "active", B),
                (6, 1, 8, 9, 8, "active", B),
                (50, 50, 50, 11, 6, "active", OB),
            ],
            **STAMPS,
        ),
        _rows(
            group_categories,
            "id root_account_id context_type context_id name role self_signup group_limit "
            "auto_leader deleted_at sis_source_id sis_batch_id",
            [
                (1, 1, "Account", 1, "Clubs", None, "enabled", 10, "first", None, "CLUBS", B),
                (
                    2,
                    1,
                    "Course",
                    1,
                    "Student Groups",
                    "student_organized",
                    None,
                    None,
                    None,
                    None,
                    None,
                    None,
                ),
                (
                    3,
                    1,
                    "Course",
                    2,
                    "Projects",
                    None,
                    "restricted",
                    None,
                    "random",
                    None,
                    "PROJ",
                    B,
                ),
                (
                    4,
                    1,
                    "Account",
                    2,
                    "Old Committees",
                    None,
                    None,
                    None,
                    None,
                    datetime(2024, 3, 1),
                    "COMM",
                    B,
                ),
                (5, 1, "Account", 4, "Labs", None, None, 4, None, None, None, None),
                (50, 50, "Account", 50, "Shelby Clubs", None, None, None, None, None, "CLUBS", OB),
            ],
            **STAMPS,
        ),
        _rows(
            groups,
            "id root_account_id context_type context_id account_id group_category_id name "
            "workflow_state max_membership sis_source_id sis_batch_id",
            [
                (1, 1, "Account", 1, 1, 1, "Chess Club", "available", 20, "CHESS", B),
                (2, 1, "Account", 3, 3, None, "Choir", "available", None, "CHOIR", None),
                (3, 1, "Course", 1, 2, 2, "Art Study Group", "available", None, None, None),
                (4, 1, "Course", 2, 3, 3, "Project Team 1", "deleted", 5, "PT1", B),
                (5, 1, "Course", 4, 8, 5, "Lab Partners", "available", None, "LAB1", B),
                (6, 1, "Account", 6, 6, None, "Sandbox Group", "deleted", None, None, None),
                (50, 50, "Account", 50, 50, 50, "Shelby Chess", "available", None, "CHESS", OB),
            ],
            **STAMPS,
        ),
        _rows(
            group_memberships,
            "id group_id user_id workflow_state sis_batch_id",
            [
                (1, 1, 1, "accepted", B),
                (2, 1, 4, "accepted", None),
                (3, 2, 2, "accepted", B),
                (4, 3, 9, "accepted", B),
                (5, 4, 1, "accepted", B),
                (6, 1, 5, "deleted", None),
                (7, 1, 8, "accepted", None),
                (8, 5, 6, "accepted", B),
                (9, 2, 3, "invited", B),
                (10, 1, 2, "deleted", B),
                (50, 50, 11, "accepted", OB),
            ],
            **STAMPS,
        ),
    ]


def build(conn: Connection) -> None:
    """Insert the institution and refresh the derived tree and user associations."""
    for table, rows in _declare():
        conn.execute(insert(table), rows)
    refresh(conn, ROOT)
    refresh(conn, OTHER_ROOT)


def run_file(
    conn: Connection,
    report: str,
    part: str,
    *,
    account_id: int = ROOT,
    pronouns: bool | None = None,
    **params: Any,
) -> str:
    """One file of a run, as the exact CSV text (header row first, ``\\n`` line ends).

    ``params`` are the run's stored parameters; the file itself is selected whatever they
    say. ``pronouns`` overrides the root account's ``can_add_pronouns`` setting.
    """
    run = SimpleNamespace(id=1, account_id=account_id, report_type=report, parameters=params)
    ctx = build_context(conn, run, now=NOW)
    if pronouns is not None:
        ctx.settings["can_add_pronouns"] = pronouns
    declaration = get_report(report)
    assert declaration is not None
    query = declaration.part(part).build(ctx)
    if not query.columns:
        return "\n"
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([c.header for c in query.columns])
    writer.writerows(part_rows(conn, query, ctx))
    return buf.getvalue()


def context(conn: Connection, report: str, account_id: int = ROOT, **params: Any) -> RunContext:
    run = SimpleNamespace(id=1, account_id=account_id, report_type=report, parameters=params)
    return build_context(conn, run, now=NOW)


def lines(*rows: str) -> str:
    """Expected CSV text: one literal string per row, each ended with ``\\n``."""
    return "".join(row + "\n" for row in rows)
