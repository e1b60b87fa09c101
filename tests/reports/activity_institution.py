"""A small hand-built institution for the activity, course, token, tool and ePortfolio reports.

Every id is explicit so the expected CSVs can be written from the spec by hand. The run's
"now" is 2024-06-01 12:00 UTC. Root 1 is in America/Denver: times are written with -07:00
before 2024-03-10 and after 2023-11-05, with -06:00 in summer.

Root 1 "Springfield University" (America/Denver)
  2 ARTS College of Arts             4 SCI College of Science      5 OLD Old College (deleted)
    3 MUSIC Department of Music
Root 50 "Shelbyville College" (UTC) with 51 Shelby Arts: none of its rows may appear in root 1.

Users (user id: logins):
  1 Alice Smith: 1 alice S001                       2 Bob Jones: 3 bob S002 (+13 in root 50)
  3 Carol Teacher: 4 carol T001, 14 carol.t T001    4 Dan Nosis: 5 dan (suspended), 15 dan2
  5 Eve Gone (deleted user): 6 eve S005 (deleted)   6 Frank Other: 7 frank F001 (root 50 only)
  7 Grace Multi: 8 grace-a G1, 9 grace-b G2, 10 grace-c (deleted)
  8 Hank Idle (no enrollments): 12 hank             9 Ivy Science: 11 ivy S009
  10 Jill Dropped: 16 jill S010 (one deleted enrollment)
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, insert, text

from reportcard.db.activity_tables import (
    context_external_tools,
    context_modules,
    course_files,
    developer_key_account_bindings,
    developer_keys,
    discussion_topics,
    eportfolios,
    wiki_pages,
)
from reportcard.db.learning_tables import assignments, quizzes
from reportcard.db.tables import (
    access_tokens,
    accounts,
    course_sections,
    courses,
    enrollment_terms,
    enrollments,
    pseudonyms,
    roles,
    users,
)
from reportcard.lms.tree import refresh
from tests.clocks import T0_REPORTS as T0

ROOT = 1
OTHER_ROOT = 50
STAMPS = {"created_at": T0, "updated_at": T0}

Rows = tuple[Table, list[dict[str, Any]]]


def _rows(table: Table, cols: str, data: list[tuple[Any, ...]], **extra: Any) -> Rows:
    names = cols.split()
    return table, [{**extra, **dict(zip(names, row, strict=True))} for row in data]


def d(*parts: int) -> datetime:
    return datetime(*parts)  # type: ignore[arg-type]


# The tables, one row a line (the formatter is kept off them).
# fmt: off
ACCOUNTS = [  # id name parent root state sis zone
    (1, "Springfield University", None, None, "active", None, "America/Denver"),
    (2, "College of Arts", 1, 1, "active", "ARTS", "UTC"),
    (3, "Department of Music", 2, 1, "active", "MUSIC", "UTC"),
    (4, "College of Science", 1, 1, "active", "SCI", "UTC"),
    (5, "Old College", 1, 1, "deleted", "OLD", "UTC"),
    (50, "Shelbyville College", None, None, "active", None, "UTC"),
    (51, "Shelby Arts", 50, 50, "active", "ARTS", "UTC"),
]
TERMS = [  # id root name default sis
    (1, 1, "Default Term", True, None),
    (2, 1, "Fall 2023", False, "FA23"),
    (3, 1, "Spring 2024", False, "SP24"),
    (50, 50, "Default Term", True, None),
]
COURSES = [
    # id root account term name code sis state public restrict start conclude created updated
    # restricted: 2023-08-21T09:00:00-06:00 .. 2023-12-15T16:30:00-07:00
    (1, 1, 2, 2, "Intro to Art", "ART101", "ART101", "available", True, True,
     d(2023, 8, 21, 15), d(2023, 12, 15, 23, 30), d(2023, 5, 2, 16), T0),
    # dates set but not restricted: never written
    (2, 1, 3, 3, "Music Theory", "MUS200", "MUS200", "available", False, False,
     d(2024, 1, 16), d(2024, 5, 10), T0, T0),
    # restricted: 2024-01-16T00:00:00-07:00 .. 2024-05-10T18:00:00-06:00
    (3, 1, 3, 3, "Music Ensemble", "MUS300", "MUS300", "created", True, True,
     d(2024, 1, 16, 7), d(2024, 5, 11), d(2024, 1, 2, 3, 4, 5), T0),
    (4, 1, 4, 2, "Physics, Honors", "PHY100", None, "claimed", False, False,
     None, None, d(2023, 7, 4, 12), T0),
    (5, 1, 4, 3, "Chemistry", "CHM100", "CHM100", "completed", True, False, None, None, T0, T0),
    (6, 1, 2, 3, "Deleted Recently", "DEL1", "DEL1", "deleted", True, True,
     d(2024, 1, 16, 7), None, T0, d(2024, 5, 20)),
    (7, 1, 4, 3, "Deleted Long Ago", "DEL2", "DEL2", "deleted", False, False,
     None, None, T0, d(2024, 4, 1)),
    (8, 1, 5, 1, "Old College Course", "OLD1", "OLD1", "available", False, False,
     None, None, T0, T0),
    # deleted exactly 30 days before now: no longer "recent"
    (9, 1, 1, 1, "Deleted Boundary", "DEL3", None, "deleted", False, False,
     None, None, T0, d(2024, 5, 2, 12)),
    (10, 1, 1, 1, "Announcements Only", "ANN", None, "available", False, False,
     None, None, T0, T0),
    (11, 1, 4, 3, "Biology", "BIO100", "BIO100", "available", False, False, None, None, T0, T0),
    (12, 1, 3, 1, "Empty Course", "EMPTY", "EMPTY", "available", False, False,
     None, None, d(2024, 2, 29, 23, 59, 59), T0),
    (13, 1, 4, 1, "Finished Course", "FIN", None, "completed", False, False, None, None, T0, T0),
    (14, 1, 2, 1, "Pages Only", "PAGES", None, "available", False, False, None, None, T0, T0),
    (15, 1, 2, 1, "Modules Only", "MODS", None, "available", False, False, None, None, T0, T0),
    (16, 1, 2, 1, "Assignments Only", "ASG", None, "available", False, False,
     None, None, T0, T0),
    (17, 1, 2, 1, "Quizzes Only", "QUIZ", None, "available", False, False, None, None, T0, T0),
    (50, 50, 51, 50, "Shelby Course", "SHB1", "ART101", "created", True, False,
     None, None, T0, T0),
]
SECTIONS = [  # id root course name sis state
    (11, 1, 1, "Intro to Art", "ART101-S", "active"),
    (21, 1, 2, "Music Theory", "MUS200-S", "active"),
    (22, 1, 2, "Theory Lab", None, "active"),
    (23, 1, 2, "Old Section", None, "deleted"),
    (31, 1, 3, "Music Ensemble", None, "active"),
    (41, 1, 4, "Physics", None, "active"),
    (51, 1, 5, "Chemistry", None, "active"),
    (61, 1, 6, "Deleted Recently", None, "active"),
    (81, 1, 8, "Old College Course", None, "active"),
    (111, 1, 11, "Biology A", "BIO-A", "active"),
    (501, 50, 50, "Shelby Course", None, "active"),
]
USERS = [  # id name sortable_name uuid state
    (1, "Alice Smith", "Smith, Alice", "u1", "registered"),
    (2, "Bob Jones", "Jones, Bob", "u2", "registered"),
    (3, "Carol Teacher", "Teacher, Carol", "u3", "registered"),
    (4, "Dan Nosis", "Nosis, Dan", "u4", "registered"),
    (5, "Eve Gone", "Gone, Eve", "u5", "deleted"),
    (6, "Frank Other", "Other, Frank", "u6", "registered"),
    (7, "Grace Multi", "Multi, Grace", "u7", "registered"),
    (8, "Hank Idle", "Idle, Hank", "u8", "registered"),
    (9, "Ivy Science", "Science, Ivy", "u9", "registered"),
    (10, "Jill Dropped", "Dropped, Jill", "u10", "registered"),
]
LOGINS = [  # id user account unique_id sis state last_request_at current_login_ip
    # 2024-05-30T10:45:10-06:00
    (1, 1, 1, "alice", "S001", "active", d(2024, 5, 30, 16, 45, 10), "10.0.0.1"),
    (3, 2, 1, "bob", "S002", "active", None, None),
    # 2024-01-10T13:00:00-07:00, superseded by carol.t for (3, T001)
    (4, 3, 1, "carol", "T001", "active", d(2024, 1, 10, 20), "192.168.1.5"),
    # 2024-04-01T08:00:00-06:00
    (5, 4, 1, "dan", None, "suspended", d(2024, 4, 1, 14), "10.0.0.4"),
    (6, 5, 1, "eve", "S005", "deleted", d(2023, 12, 1, 9), "10.0.0.5"),
    (7, 6, 50, "frank", "F001", "active", d(2024, 5, 1), "10.0.0.6"),
    (8, 7, 1, "grace-a", "G1", "active", d(2024, 2, 1, 17, 30), "10.0.0.7"),
    (9, 7, 1, "grace-b", "G2", "active", None, None),
    (10, 7, 1, "grace-c", None, "deleted", d(2024, 5, 1, 12), "10.0.0.8"),
    (11, 9, 1, "ivy", "S009", "active", d(2024, 3, 15, 18), "10.0.0.9"),
    (12, 8, 1, "hank", None, "active", None, None),
    (13, 2, 50, "bob50", "S002", "active", d(2024, 5, 5), "10.5.0.2"),
    # 2024-05-25T12:00:00-06:00
    (14, 3, 1, "carol.t", "T001", "active", d(2024, 5, 25, 18), "10.9.9.9"),
    (15, 4, 1, "dan2", None, "active", None, None),
    (16, 10, 1, "jill", "S010", "active", d(2024, 2, 2), "10.0.0.10"),
]
ROLES = [  # id root account name base built_in
    (1, None, None, "StudentEnrollment", "StudentEnrollment", True),
    (2, None, None, "TeacherEnrollment", "TeacherEnrollment", True),
    (3, None, None, "ObserverEnrollment", "ObserverEnrollment", True),
]
ENROLLMENTS = [  # id root user course section role type state last_activity_at
    (1, 1, 1, 1, 11, 1, "StudentEnrollment", "active", d(2023, 10, 1, 10)),
    (2, 1, 1, 2, 21, 1, "StudentEnrollment", "active", None),
    (3, 1, 1, 2, 22, 1, "StudentEnrollment", "active", d(2024, 3, 1, 10)),
    (4, 1, 2, 2, 21, 1, "StudentEnrollment", "active", None),
    (5, 1, 2, 3, 31, 1, "StudentEnrollment", "active", None),
    (6, 1, 3, 1, 11, 2, "TeacherEnrollment", "active", d(2024, 5, 1, 15)),
    (7, 1, 3, 2, 21, 2, "TeacherEnrollment", "active", None),
    (8, 1, 4, 1, 11, 1, "StudentEnrollment", "active", d(2023, 9, 1, 12)),
    (9, 1, 5, 1, 11, 1, "StudentEnrollment", "deleted", d(2023, 9, 5, 12)),
    (10, 1, 6, 2, 21, 1, "StudentEnrollment", "active", d(2024, 4, 15, 20)),
    (11, 1, 7, 2, 21, 1, "StudentEnrollment", "active", None),
    (12, 1, 7, 2, 23, 1, "StudentEnrollment", "active", None),
    (13, 1, 9, 5, 51, 1, "StudentEnrollment", "active", None),
    (15, 1, 9, 11, 111, 1, "StudentEnrollment", "active", None),
    (16, 1, 1, 11, 111, 1, "StudentEnrollment", "active", d(2024, 5, 15, 9)),
    (17, 1, 4, 2, 21, 3, "ObserverEnrollment", "active", None),
    (18, 1, 1, 8, 81, 1, "StudentEnrollment", "active", None),
    (20, 1, 10, 2, 21, 1, "StudentEnrollment", "deleted", d(2024, 2, 2, 8)),
    (21, 1, 2, 2, 21, 1, "StudentEnrollment", "invited", None),
    (50, 50, 2, 50, 501, 1, "StudentEnrollment", "active", None),
]
MB = 1_048_576
FILES = [  # id course name size state root_attachment_id
    (1, 1, "syllabus.pdf", 1_288_490, "available", None),
    (2, 1, "tiny.txt", 100, "available", None),  # counts as 512 bytes
    (3, 1, "syllabus copy.pdf", 2 * MB, "available", 1),  # a copy: not in the quota
    (4, 1, "old.mov", 5_000_000, "deleted", None),
    (5, 1, "pending.bin", None, "available", None),  # no size yet: 0
    (6, 1, "hidden.png", 10_000, "hidden", None),
    (7, 2, "exact tie.bin", MB // 8, "available", None),  # 0.125 MB: rounds up
    (8, 5, "lab data.zip", 92 * MB, "available", None),
    (9, 8, "empty.txt", 0, "available", None),
    (10, 13, "gone.txt", 300, "deleted", None),
    (11, 50, "other root.txt", MB, "available", None),
]
TOPICS = [  # id course title type state
    (1, 4, "Old topic", "DiscussionTopic", "deleted"),
    (2, 10, "Welcome", "Announcement", "active"),
    (3, 2, "Questions", "DiscussionTopic", "unpublished"),
]
MODULES = [(1, 15, "Week 1", 1, "unpublished"), (2, 12, "Removed", 1, "deleted")]
PAGES = [(1, 14, "Front page", "active"), (2, 3, "Draft", "deleted")]
ASSIGNMENTS = [(1, 16, "Essay", "unpublished"), (2, 12, "Removed essay", "deleted")]
QUIZZES = [(1, 17, "Pop quiz", "unpublished"), (2, 4, "Removed quiz", "deleted")]
KEYS = [  # id account name email lti visible state scopes placements
    (1, 1, "Reporting App", "dev@springfield.edu", False, True, "active",
     ["url:GET|/api/v1/accounts/:account_id/reports",
      "url:POST|/api/v1/accounts/:account_id/reports/:report"], None),
    (2, 1, "Hidden LTI", None, True, False, "active", None,
     ["course_navigation", "link_selection"]),
    (3, 1, "Removed Key", None, False, True, "deleted", None, None),
    (4, None, "Global Tool", "lti@vendor.example", True, True, "active", [], []),
    (5, None, "Invisible Global", None, False, False, "active", None, None),
    (6, None, "Global API", None, False, True, "active", None, None),
    (7, 50, "Shelby Key", None, False, True, "active", None, None),
    (8, None, None, None, False, True, "inactive", ['say "hi"'], None),
]
BINDINGS = [  # id key account state
    (1, 1, 1, "on"),
    (2, 4, None, "on"),
    (3, 4, 1, "off"),  # the site-admin "on" wins
    (4, 6, None, "allow"),
    (5, 6, 1, "off"),  # site admin allows: the account decides
    (6, 7, 50, "on"),
]
TOKENS = [  # id user hash hint purpose state expires_at last_used_at created_at key
    (1, 1, "h1", "abcde", "SIS sync", "active", None, d(2024, 5, 31, 10), d(2024, 1, 2, 3), None),
    # 2024-12-31T23:59:59Z is 16:59:59-07:00; never used
    (2, 1, "h2", "1~fghij", None, "active", d(2024, 12, 31, 23, 59, 59), None, d(2024, 2, 3), 1),
    (3, 3, "h3", "klmno", "grading", "active", None, d(2024, 4, 4, 4), T0, 99),
    (4, 5, "h4", "pqrst", None, "active", None, None, T0, None),
    (5, 1, "h5", "uvwxy", None, "deleted", None, d(2024, 5, 1), T0, None),
    (6, 6, "h6", "zzzzz", None, "active", None, None, T0, None),
    (7, 9, "h7", "ivy01", None, "active", d(2024, 7, 1), d(2024, 6, 1, 6), T0, 6),
    (8, 1, "h8", "later", None, "active", None, d(2024, 5, 1, 12), T0, 4),
]
TOOLS = [  # id root context_type context_id name tool_id url privacy custom lti state created
    (1, 1, "Account", 1, "Vimeo", "Vimeo", "https://vimeo.example/lti", "public",
     {"b": "2", "a": 'say "hi"'}, "1.1", "active", d(2024, 1, 5, 10, 0, 7)),
    (2, 1, "Course", 1, "Course Tool", None, "https://tool.example/launch", "anonymous", None,
     "1.3", "active", d(2024, 2, 1)),
    (3, 1, "Account", 3, "Music Tool", "music", "https://music.example", "name_only", {},
     "1.1", "active", d(2024, 2, 2)),
    (4, 1, "Account", 4, "Removed Tool", "gone", None, "public", None, "1.1", "deleted",
     d(2024, 2, 3)),
    (5, 1, "Course", 6, "In Deleted Course", None, None, "public", None, "1.1", "active",
     d(2024, 2, 4)),
    (6, 1, "Account", 5, "In Deleted Account", None, None, "public", None, "1.1", "active",
     d(2024, 2, 5)),
    (7, 1, "Course", 8, "Under Deleted Account", None, None, "public", None, "1.3", "active",
     d(2024, 2, 6)),
    (8, 50, "Course", 50, "Shelby Course Tool", None, None, "public", None, "1.1", "active",
     d(2024, 2, 7)),
    (9, 50, "Account", 50, "Shelby Tool", None, None, "public", None, "1.1", "active",
     d(2024, 2, 8)),
    (10, 1, "Course", 11, "Bio Sim", "biosim", "https://bio.example/lti", "email_only",
     {"course": "$Canvas.course.id"}, "1.3", "disabled", d(2024, 3, 1, 23, 59, 59)),
]
EPORTFOLIOS = [  # id user name public state created updated
    (1, 1, "Alice's Work", True, "active", d(2024, 1, 10, 8), d(2024, 2, 11, 9, 30)),
    (2, 3, "Teaching, 2024", False, "active", d(2024, 3, 1), d(2024, 3, 2)),
    (3, 5, "Eve's", True, "active", T0, T0),
    (4, 8, "Hank's Page", False, "active", d(2024, 4, 1), d(2024, 4, 1)),
    (5, 1, "Old Portfolio", False, "deleted", T0, d(2024, 5, 5)),
    (6, 6, "Frank's", True, "active", T0, T0),
    (7, 10, "Jill's", False, "deleted", T0, T0),
    (8, 7, "Grace's", True, "active", d(2024, 5, 1), d(2024, 5, 1)),
    (9, 8, "Hank's Old Page", False, "deleted", T0, T0),
]
# fmt: on


def _declare() -> list[Rows]:
    acct = _rows(
        accounts,
        "id name parent_account_id root_account_id workflow_state sis_source_id default_time_zone",
        ACCOUNTS,
        **STAMPS,
    )
    for row in acct[1]:
        row["uuid"] = f"acct-{row['id']}"
    return [
        acct,
        _rows(
            enrollment_terms, "id root_account_id name is_default sis_source_id", TERMS, **STAMPS
        ),
        _rows(
            courses,
            "id root_account_id account_id enrollment_term_id name course_code sis_source_id "
            "workflow_state is_public restrict_enrollments_to_course_dates start_at conclude_at "
            "created_at updated_at",
            COURSES,
        ),
        _rows(
            course_sections,
            "id root_account_id course_id name sis_source_id workflow_state",
            SECTIONS,
            **STAMPS,
        ),
        _rows(users, "id name sortable_name uuid workflow_state", USERS, **STAMPS),
        _rows(
            pseudonyms,
            "id user_id account_id unique_id sis_user_id workflow_state last_request_at "
            "current_login_ip",
            LOGINS,
            **STAMPS,
        ),
        _rows(roles, "id root_account_id account_id name base_role_type built_in", ROLES),
        _rows(
            enrollments,
            "id root_account_id user_id course_id course_section_id role_id type "
            "workflow_state last_activity_at",
            ENROLLMENTS,
            **STAMPS,
        ),
        _rows(
            course_files,
            "id course_id display_name size file_state root_attachment_id",
            FILES,
            **STAMPS,
        ),
        _rows(discussion_topics, "id course_id title type workflow_state", TOPICS, **STAMPS),
        _rows(context_modules, "id course_id name position workflow_state", MODULES, **STAMPS),
        _rows(wiki_pages, "id course_id title workflow_state", PAGES, **STAMPS),
        _rows(assignments, "id course_id title workflow_state", ASSIGNMENTS, **STAMPS),
        _rows(quizzes, "id course_id title workflow_state", QUIZZES, **STAMPS),
        _rows(
            developer_keys,
            "id account_id name email is_lti_key visible workflow_state scopes placements",
            KEYS,
            **STAMPS,
        ),
        _rows(
            developer_key_account_bindings,
            "id developer_key_id account_id workflow_state",
            BINDINGS,
            **STAMPS,
        ),
        _rows(
            access_tokens,
            "id user_id token_hash hint purpose workflow_state expires_at last_used_at "
            "created_at developer_key_id",
            TOKENS,
        ),
        _rows(
            context_external_tools,
            "id root_account_id context_type context_id name tool_id url privacy_level "
            "custom_fields lti_version workflow_state created_at",
            TOOLS,
            updated_at=T0,
        ),
        _rows(
            eportfolios,
            "id user_id name public workflow_state created_at updated_at",
            EPORTFOLIOS,
        ),
    ]


def build(conn: Connection) -> None:
    """Insert the institution and refresh the derived tree and user associations."""
    for table, rows in _declare():
        conn.execute(insert(table), rows)
        if conn.dialect.name == "postgresql":  # later inserts (a new token) get fresh ids
            conn.execute(
                text(f"SELECT setval(pg_get_serial_sequence(:t, 'id'), MAX(id)) FROM {table.name}"),
                {"t": table.name},
            )
    refresh(conn, ROOT)
    refresh(conn, OTHER_ROOT)
