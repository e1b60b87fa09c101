"""A small institution as CD2 records (spec §5 columns), written out in every format.

Root account 1 ("Example U", a Rails time zone), sub-accounts 2 and 3; terms 1 (Default Term)
and 5 (Fall 2024); courses 10 (SIS) and 11 (no SIS); sections 20, 21; users 100 (Ann), 101
(Bob), 102 (a test student); logins, an email, built-in roles, enrollments and an admin.
"""

from __future__ import annotations

from pathlib import Path

from tests.lms.cd2 import files as f
from tests.lms.cd2.files import TS0, Rec

STAMP = {"created_at": "2015-01-01T00:00:00Z", "updated_at": "2024-04-30T12:00:00.123Z"}
COURSE_SETTINGS = ("course_format", "hide_final_grade", "public_syllabus")

ACCOUNTS: list[Rec] = [
    {
        "id": 1,
        "ts": TS0,
        "name": "Example U",
        "parent_account_id": None,
        "workflow_state": "active",
        "default_time_zone": "Mountain Time (US & Canada)",
        "uuid": "uuid-root",
        "sis_source_id": None,
        **STAMP,
    },
    {
        "id": 2,
        "ts": TS0,
        "name": "Art, Design",
        "parent_account_id": 1,
        "workflow_state": "active",
        "uuid": "uuid-art",
        "sis_source_id": "ART",
        **STAMP,
    },
    {
        "id": 3,
        "ts": TS0,
        "name": "Science\tLab",
        "parent_account_id": 1,
        "workflow_state": "active",
        "uuid": "uuid-sci",
        "sis_source_id": "",
        **STAMP,
    },
]
TERMS: list[Rec] = [
    {"id": 1, "ts": TS0, "name": "Default Term", "workflow_state": "active", **STAMP},
    {
        "id": 5,
        "ts": TS0,
        "name": "Fall 2024",
        "workflow_state": "active",
        "sis_source_id": "F24",
        "start_at": "2024-08-20T06:00:00Z",
        "end_at": "2024-12-20T07:00:00Z",
        "sis_batch_id": 9,
        **STAMP,
    },
]
COURSES: list[Rec] = [
    {
        "id": 10,
        "ts": TS0,
        "name": "Drawing I",
        "course_code": "ART101",
        "account_id": 2,
        "enrollment_term_id": 5,
        "workflow_state": "available",
        "sis_source_id": "ART101",
        "sis_batch_id": 9,
        "settings": {
            "course_format": "on_campus",
            "hide_final_grade": "false",
            "public_syllabus": None,
        },
        "start_at": "2024-08-26T06:00:00Z",
        "conclude_at": None,
        "is_public": False,
        "allow_student_wiki_edits": None,
        "template": False,
        **STAMP,
    },
    {
        "id": 11,
        "ts": TS0,
        "name": "Lab Safety",
        "course_code": "SCI-LAB",
        "account_id": 3,
        "enrollment_term_id": 1,
        "workflow_state": "claimed",
        "sis_source_id": None,
        "settings": {"course_format": None, "hide_final_grade": None, "public_syllabus": None},
        "template": False,
        **STAMP,
    },
]
SECTIONS: list[Rec] = [
    {
        "id": 20,
        "ts": TS0,
        "name": "Drawing I - A",
        "course_id": 10,
        "workflow_state": "active",
        "sis_source_id": "ART101-A",
        "sis_batch_id": 9,
        **STAMP,
    },
    {
        "id": 21,
        "ts": TS0,
        "name": "Lab Safety",
        "course_id": 11,
        "workflow_state": "active",
        "default_section": True,
        **STAMP,
    },
]
USERS: list[Rec] = [
    {
        "id": 100,
        "ts": TS0,
        "name": "Ann Smith",
        "sortable_name": "Smith, Ann",
        "short_name": "Ann",
        "workflow_state": "registered",
        "uuid": "uuid-ann",
        "pronouns": "she/her",
        **STAMP,
    },
    {
        "id": 101,
        "ts": TS0,
        "name": "Bob Jones",
        "sortable_name": "Jones, Bob",
        "short_name": "Bob Jones",
        "workflow_state": "registered",
        "uuid": "uuid-bob",
        "pronouns": "",
        **STAMP,
    },
    {
        "id": 102,
        "ts": TS0,
        "name": "Test Student",
        "sortable_name": "Student, Test",
        "short_name": "Test Student",
        "workflow_state": "registered",
        "uuid": "uuid-test",
        **STAMP,
    },
]
PSEUDONYMS: list[Rec] = [
    {
        "id": 200,
        "ts": TS0,
        "user_id": 100,
        "account_id": 1,
        "unique_id": "ann",
        "sis_user_id": "A1",
        "integration_id": "INT-A",
        "workflow_state": "active",
        "position": 1,
        "sis_batch_id": 9,
        "login_count": 3,
        "failed_login_count": 0,
        **STAMP,
    },
    {
        "id": 201,
        "ts": TS0,
        "user_id": 101,
        "account_id": 1,
        "unique_id": "bob",
        "sis_user_id": None,
        "workflow_state": "active",
        "position": 1,
        "login_count": 0,
        "failed_login_count": 0,
        **STAMP,
    },
    {
        "id": 202,
        "ts": TS0,
        "user_id": 102,
        "account_id": 1,
        "unique_id": "testuser_102",
        "workflow_state": "active",
        "login_count": 0,
        "failed_login_count": 0,
        **STAMP,
    },
]
CHANNELS: list[Rec] = [
    {
        "id": 300,
        "ts": TS0,
        "user_id": 100,
        "path": "ann@example.edu",
        "path_type": "email",
        "position": 1,
        "workflow_state": "active",
        "bounce_count": 0,
        "confirmation_sent_count": 0,
        **STAMP,
    },
]
ROLES: list[Rec] = [
    {
        "id": 50,
        "ts": TS0,
        "name": "StudentEnrollment",
        "account_id": 1,
        "workflow_state": "built_in",
        "base_role_type": "StudentEnrollment",
        **STAMP,
    },
    {
        "id": 51,
        "ts": TS0,
        "name": "TeacherEnrollment",
        "account_id": 1,
        "workflow_state": "built_in",
        "base_role_type": "TeacherEnrollment",
        **STAMP,
    },
    {
        "id": 52,
        "ts": TS0,
        "name": "AccountAdmin",
        "account_id": 1,
        "workflow_state": "built_in",
        "base_role_type": "AccountMembership",
        **STAMP,
    },
    {
        "id": 53,
        "ts": TS0,
        "name": "StudentViewEnrollment",
        "account_id": 1,
        "workflow_state": "built_in",
        "base_role_type": "StudentEnrollment",
        **STAMP,
    },
]
ENROLLMENTS: list[Rec] = [
    {
        "id": 400,
        "ts": TS0,
        "user_id": 100,
        "course_id": 10,
        "course_section_id": 20,
        "role_id": 50,
        "type": "StudentEnrollment",
        "workflow_state": "active",
        "sis_batch_id": 9,
        "limit_privileges_to_course_section": False,
        "grade_publishing_status": "unpublished",
        **STAMP,
    },
    {
        "id": 401,
        "ts": TS0,
        "user_id": 101,
        "course_id": 10,
        "course_section_id": 20,
        "role_id": 51,
        "type": "TeacherEnrollment",
        "workflow_state": "active",
        "limit_privileges_to_course_section": False,
        "grade_publishing_status": "unpublished",
        **STAMP,
    },
    {
        "id": 402,
        "ts": TS0,
        "user_id": 102,
        "course_id": 10,
        "course_section_id": 20,
        "role_id": 53,
        "type": "StudentViewEnrollment",
        "workflow_state": "active",
        "limit_privileges_to_course_section": False,
        "grade_publishing_status": "unpublished",
        **STAMP,
    },
]
ACCOUNT_USERS: list[Rec] = [
    {
        "id": 500,
        "ts": TS0,
        "user_id": 101,
        "account_id": 2,
        "role_id": 52,
        "workflow_state": "active",
        **STAMP,
    },
]


def write_snapshot(root: Path) -> Path:
    """The institution as a snapshot directory, one table per folder, every format used."""
    d = root / "snapshot"
    f.write(d / "accounts" / "job_1" / "part-00000.jsonl.gz", f.jsonl(ACCOUNTS), gz=True)
    f.write(d / "enrollment_terms" / "job_2" / "part-0.tsv", f.tsv(TERMS, action=False))
    f.write(
        d / "courses" / "job_3" / "part-0.csv.gz",
        f.csv(COURSES, structs={"settings": COURSE_SETTINGS}),
        gz=True,
    )
    f.write(d / "course_sections" / "job_4" / "data.csv", f.csv(SECTIONS, condensed=True))
    f.write(d / "users" / "job_5" / "x.tsv.gz", f.tsv(USERS, condensed=True), gz=True)
    (d / "pseudonyms" / "job_6").mkdir(parents=True)
    f.parquet(PSEUDONYMS, d / "pseudonyms" / "job_6" / "part-0.parquet")
    f.write(d / "communication_channels" / "j" / "c.jsonl", f.jsonl(CHANNELS))
    f.write(d / "roles" / "j" / "r.tsv", f.tsv(ROLES))
    f.write(d / "enrollments" / "j" / "e.jsonl.gz", f.jsonl(ENROLLMENTS), gz=True)
    f.write(d / "account_users" / "j" / "a.csv", f.csv(ACCOUNT_USERS))
    return d


def write_submissions(snapshot: Path, users: dict[int, int]) -> None:
    """Add to ``snapshot`` assignment 700 of course 10 and, for each ``id: user_id`` of
    ``users``, a submitted submission of that user to it."""
    course = {"context_id": 10, "context_type": "Course", "workflow_state": "published"}
    f.write(
        snapshot / "assignments" / "j" / "a.jsonl",
        f.jsonl([{"id": 700, "ts": TS0, **course, **STAMP}]),
    )
    work = {"assignment_id": 700, "workflow_state": "submitted", **STAMP}
    f.write(
        snapshot / "submissions" / "j" / "s.jsonl",
        f.jsonl([{"id": i, "ts": TS0, "user_id": u, **work} for i, u in users.items()]),
    )
