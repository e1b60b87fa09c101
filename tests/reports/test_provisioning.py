"""``provisioning_csv`` on the hand-built institution: exact files for every data set.

Expected rows are derived from the spec (sis-export-and-provisioning.md §2-§4) and the data in
``institution.py``. Provisioning lists rows whether or not they have SIS ids, with Canvas ids.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Connection, update

from reportcard.db.tables import users
from reportcard.reports.catalog import get_report

from .canvas_registry import PROVISIONING_PARAMETERS
from .institution import OTHER_ROOT, build, context, lines, run_file

REPORT = "provisioning_csv"


BUILD = build  # what the conn fixture (conftest.py) writes


def prov(conn: Connection, part: str, **params: Any) -> str:
    return run_file(conn, REPORT, part, **params)


# ---------------------------------------------------------------- users

USERS_HEADER = (
    "canvas_user_id,user_id,integration_id,authentication_provider_id,login_id,first_name,"
    "last_name,full_name,sortable_name,short_name,email,status,created_by_sis,pronouns,uuid"
)
P1 = (
    '1,S001,INT-A,1,alice,Alice,Smith,Alice Smith,"Smith, Alice",,alice@example.com,active,'
    "true,She/Her,uuid-alice"
)
P2 = (
    '1,,,,alice.smith@example.edu,Alice,Smith,Alice Smith,"Smith, Alice",,alice@example.com,'
    "active,false,She/Her,uuid-alice"
)
P3 = (
    '2,S002,,,bob,Bob,Jones,Bob Jones,"Jones, Bob",Bobby,bob@example.com,active,true,xe/xem,'
    "uuid-bob"
)
P4 = (
    '3,T001,INT-C,,carol,Carol Ann,Teacher,Carol Ann Teacher,"Teacher, Carol Ann, Jr.",,'
    "carol.a@example.com,active,false,They/Them,uuid-carol"
)
P5 = '4,,,,dan,Dan,Nosis,Dan Nosis,"Nosis, Dan",,,active,false,,uuid-dan'
P6 = '5,S005,,,eve,Eve,Suspended,Eve Suspended,"Suspended, Eve",,,suspended,true,,uuid-eve'
P7 = '6,S006,,,frank,Frank,Gone,Frank Gone,"Gone, Frank",,,deleted,true,,uuid-frank'
P9 = '7,O001,,,grace,Grace,Parent,Grace Parent,"Parent, Grace",,,active,true,,uuid-grace'
HANK = 'Hank,Multi,Hank Multi,"Multi, Hank",,hank@example.com'
P11 = f"9,S009B,,,hank-b,{HANK},active,true,,uuid-hank"
P12 = f"9,S009A,,,hank-a,{HANK},active,true,,uuid-hank"
P13 = f"9,,,,hank,{HANK},active,false,,uuid-hank"
P14 = f"9,S009Z,,,hank-z,{HANK},suspended,true,,uuid-hank"
P15 = f"9,S009D,,,hank-d,{HANK},deleted,true,,uuid-hank"
P16 = "10,S010,,,ivy,Ivy,,Ivy,Ivy,,,active,true,,uuid-ivy"
P18 = (
    '12,A001,,,karen,Karen,Admin,Karen Admin,"Admin, Karen",,karen@example.com,active,true,,'
    "uuid-karen"
)


def test_users(conn: Connection) -> None:
    # Every non-deleted root login, with or without a SIS id (Instructure Identity logins and
    # the test student excepted). The email is the first unretired email channel by position.
    assert prov(conn, "users") == lines(
        USERS_HEADER, P1, P2, P3, P4, P5, P6, P9, P11, P12, P13, P14, P16, P18
    )


def test_users_include_deleted(conn: Connection) -> None:
    # frank and hank-d are deleted but have SIS ids; frank2 has none.
    assert prov(conn, "users", include_deleted="true") == lines(
        USERS_HEADER, P1, P2, P3, P4, P5, P6, P7, P9, P11, P12, P13, P14, P15, P16, P18
    )


def test_users_created_by_sis_without_pronouns(conn: Connection) -> None:
    # With pronouns off, uuid follows created_by_sis directly.
    assert run_file(conn, REPORT, "users", created_by_sis="true", pronouns=False) == lines(
        "canvas_user_id,user_id,integration_id,authentication_provider_id,login_id,first_name,"
        "last_name,full_name,sortable_name,short_name,email,status,created_by_sis,uuid",
        '1,S001,INT-A,1,alice,Alice,Smith,Alice Smith,"Smith, Alice",,alice@example.com,active,'
        "true,uuid-alice",
        '2,S002,,,bob,Bob,Jones,Bob Jones,"Jones, Bob",Bobby,bob@example.com,active,true,uuid-bob',
        '5,S005,,,eve,Eve,Suspended,Eve Suspended,"Suspended, Eve",,,suspended,true,uuid-eve',
        '7,O001,,,grace,Grace,Parent,Grace Parent,"Parent, Grace",,,active,true,uuid-grace',
        f"9,S009B,,,hank-b,{HANK},active,true,uuid-hank",
        f"9,S009A,,,hank-a,{HANK},active,true,uuid-hank",
        f"9,S009Z,,,hank-z,{HANK},suspended,true,uuid-hank",
        "10,S010,,,ivy,Ivy,,Ivy,Ivy,,,active,true,uuid-ivy",
        '12,A001,,,karen,Karen,Admin,Karen Admin,"Admin, Karen",,karen@example.com,active,'
        "true,uuid-karen",
    )


def test_users_sub_account_and_no_term_scope(conn: Connection) -> None:
    # Ivy is not associated with College of Science's sibling College of Arts.
    assert run_file(conn, REPORT, "users", account_id=2) == lines(
        USERS_HEADER, P1, P2, P3, P4, P5, P6, P9, P11, P12, P13, P14, P18
    )
    assert prov(conn, "users", enrollment_term_id="3") == prov(conn, "users")


def test_other_root_account_sees_only_its_rows(conn: Connection) -> None:
    # Root 50 (UTC, pronouns off): Alice's second-root login, and Jack.
    assert run_file(conn, REPORT, "users", account_id=OTHER_ROOT) == lines(
        "canvas_user_id,user_id,integration_id,authentication_provider_id,login_id,first_name,"
        "last_name,full_name,sortable_name,short_name,email,status,created_by_sis,uuid",
        '11,S001,,,jack,Jack,Other,Jack Other,"Other, Jack",,jack@example.com,active,true,'
        "uuid-jack",
        '1,SH-A,,,alice,Alice,Smith,Alice Smith,"Smith, Alice",,alice@example.com,active,true,'
        "uuid-alice",
    )
    assert run_file(conn, REPORT, "enrollments", account_id=OTHER_ROOT).splitlines()[1:] == [
        "50,ART101,11,S001,student,1,50,ART101-S1,active,,,true,StudentEnrollment,false,50"
    ]


# ---------------------------------------------------------------- accounts

ACCOUNTS_HEADER = (
    "canvas_account_id,account_id,canvas_parent_id,parent_account_id,name,status,created_by_sis"
)
A2 = "2,ARTS,1,,College of Arts,active,true"
A3 = "3,MUSIC,2,ARTS,Department of Music,active,true"
A4 = "4,SCI,1,,College of Science,active,false"
A5 = "5,OLD,1,,Old College,deleted,true"
A6 = "6,,1,,Sandbox,active,false"
A8 = "8,PHYS,4,SCI,Physics,active,true"
A9 = "9,ROBO,6,,Robotics,active,true"
A10 = "10,BRASS,3,MUSIC,Brass Ensemble,active,true"


def test_accounts(conn: Connection) -> None:
    assert prov(conn, "accounts") == lines(ACCOUNTS_HEADER, A2, A3, A4, A6, A8, A9, A10)


def test_accounts_include_deleted(conn: Connection) -> None:
    # Defunct Lab is deleted without a SIS id.
    assert prov(conn, "accounts", include_deleted="true") == lines(
        ACCOUNTS_HEADER, A2, A3, A4, A5, A6, A8, A9, A10
    )


def test_accounts_created_by_sis(conn: Connection) -> None:
    assert prov(conn, "accounts", created_by_sis="true") == lines(
        ACCOUNTS_HEADER, A2, A3, A8, A9, A10
    )


def test_accounts_sub_account(conn: Connection) -> None:
    assert run_file(conn, REPORT, "accounts", account_id=2) == lines(ACCOUNTS_HEADER, A3)
    # College of Science's children: Defunct Lab (deleted) and Physics.
    assert run_file(conn, REPORT, "accounts", account_id=4, include_deleted="1") == lines(
        ACCOUNTS_HEADER, A8
    )


# ---------------------------------------------------------------- terms

TERMS_HEADER = "canvas_term_id,term_id,name,status,start_date,end_date,created_by_sis"
T1 = "1,,Default Term,active,,,false"
T2 = "2,FA23,Fall 2023,active,2023-08-20T00:00:00-06:00,2023-12-20T00:00:00-07:00,true"
T3 = "3,SP24,Spring 2024,active,2024-01-15T00:00:00-07:00,2024-05-15T00:00:00-06:00,true"
T4 = "4,SU24,Summer 2024,deleted,,,true"
T5 = "5,WI24,Winter Intersession,active,2024-12-20T00:00:00-07:00,,false"


def test_terms(conn: Connection) -> None:
    assert prov(conn, "terms") == lines(TERMS_HEADER, T1, T2, T3, T5)


def test_terms_include_deleted(conn: Connection) -> None:
    # Scratch Term is deleted without a SIS id.
    assert prov(conn, "terms", include_deleted="true") == lines(TERMS_HEADER, T1, T2, T3, T4, T5)


def test_terms_created_by_sis_and_scopes(conn: Connection) -> None:
    assert prov(conn, "terms", created_by_sis="true") == lines(TERMS_HEADER, T2, T3)
    assert run_file(conn, REPORT, "terms", account_id=3, enrollment_term_id="2") == lines(
        TERMS_HEADER, T1, T2, T3, T5
    )


# ---------------------------------------------------------------- courses

COURSES_HEADER = (
    "canvas_course_id,course_id,integration_id,short_name,long_name,canvas_account_id,"
    "account_id,canvas_term_id,term_id,status,start_date,end_date,course_format,"
    "canvas_blueprint_course_id,blueprint_course_id,created_by_sis"
)
C1 = (
    "1,ART101,INT-ART101,ART101,Intro to Art,2,ARTS,2,FA23,active,2023-08-21T09:00:00-06:00,"
    "2023-12-15T16:30:00-07:00,on_campus,,,true"
)
C2 = "2,MUS200,,MUS200,Music Theory,3,MUSIC,3,SP24,active,,,online,,,true"
C3 = "3,MUS300,,MUS300,Music Ensemble,3,MUSIC,3,SP24,unpublished,,,,,,true"
C4 = "4,PHY100,,PHY100,Physics Lab,8,PHYS,3,SP24,unpublished,,,blended,,,false"
C5 = "5,,,SBX,Sandbox Course,6,,1,,active,,,,,,false"
C6 = "6,CHM100,,CHM100,Old Chemistry,4,SCI,2,FA23,concluded,,,on_campus,,,true"
C7 = "7,,,DEL1,Deleted Recently,2,ARTS,2,FA23,deleted,,,,,,false"
C9 = "9,HIS100,,HIS100,World History,2,ARTS,2,FA23,deleted,,,,,,true"
C10 = "10,BP-ART,,BP-ART,Blueprint Art,2,ARTS,1,,active,,,,,,true"
C11 = "11,ART102,,ART102,Art Studio,2,ARTS,3,SP24,active,,,,10,BP-ART,true"
C12 = "12,,,SCI-T,Science Template,4,SCI,1,,active,,,,,,false"
C13 = "13,LAB200,,LAB200,Lab Skills,8,PHYS,3,SP24,active,,,,12,,true"


def test_courses(conn: Connection) -> None:
    # created/claimed -> unpublished, available -> active; the Sandbox course's blueprint
    # subscription is deleted, so it shows no blueprint.
    assert prov(conn, "courses") == lines(COURSES_HEADER, C1, C2, C3, C4, C5, C10, C11, C12, C13)


def test_courses_include_deleted(conn: Connection) -> None:
    # Completed (concluded) courses, courses deleted in the last 120 days, and deleted courses
    # with a SIS id; "Deleted Long Ago" (no SIS id, deleted in December) stays out.
    assert prov(conn, "courses", include_deleted="true") == lines(
        COURSES_HEADER, C1, C2, C3, C4, C5, C6, C7, C9, C10, C11, C12, C13
    )


def test_courses_created_by_sis(conn: Connection) -> None:
    assert prov(conn, "courses", created_by_sis="true") == lines(
        COURSES_HEADER, C1, C2, C3, C10, C11, C13
    )


def test_courses_term_and_sub_account(conn: Connection) -> None:
    assert prov(conn, "courses", enrollment_term_id="sis_term_id:SP24") == lines(
        COURSES_HEADER, C2, C3, C4, C11, C13
    )
    # College of Arts and everything below it (Music, Brass).
    assert run_file(conn, REPORT, "courses", account_id=2) == lines(
        COURSES_HEADER, C1, C2, C3, C10, C11
    )


# ---------------------------------------------------------------- sections

SECTIONS_HEADER = (
    "canvas_section_id,section_id,canvas_course_id,course_id,integration_id,name,status,"
    "start_date,end_date,canvas_account_id,account_id,created_by_sis"
)
S1 = "1,ART101-S1,1,ART101,INT-S1,ART101 Section 1,active,2023-09-01T08:00:00-06:00,,2,ARTS,true"
S2 = "2,MUS200-A,2,MUS200,,MUS200 Section A,active,,,3,MUSIC,true"
S3 = "3,MUS200-B,3,MUS300,,MUS200 Section B,active,,,3,MUSIC,true"
S4 = "4,MUS300-1,3,MUS300,,MUS300 Section 1,active,,,3,MUSIC,false"
S5 = "5,,4,PHY100,,PHY100 Lab,active,,,8,PHYS,false"
S6 = "6,,5,,,Sandbox Section,active,,,6,,false"
S7 = "7,CHM100-1,6,CHM100,,CHM100 Section,active,,,4,SCI,true"
S8 = "8,ART101-OLD,1,ART101,,ART101 Old Section,deleted,,,2,ARTS,true"
S10 = "10,HIS100-1,9,HIS100,,HIS100 Section,active,,,2,ARTS,true"
S11 = "11,PHY100-X,1,ART101,,PHY100 X,deleted,,,2,ARTS,true"
S12 = "12,MUS200-C,6,CHM100,,MUS200 Section C,active,,,4,SCI,true"
S13 = "13,,5,,,Sandbox X,active,,,6,,false"


def test_sections(conn: Connection) -> None:
    # Cross-listed sections report their current course and its account.
    assert prov(conn, "sections") == lines(SECTIONS_HEADER, S1, S2, S3, S4, S5, S6, S7, S12, S13)


def test_sections_include_deleted(conn: Connection) -> None:
    # "ART101 Scratch" is deleted without a SIS id.
    assert prov(conn, "sections", include_deleted="true") == lines(
        SECTIONS_HEADER, S1, S2, S3, S4, S5, S6, S7, S8, S10, S11, S12, S13
    )


def test_sections_created_by_sis(conn: Connection) -> None:
    assert prov(conn, "sections", created_by_sis="true") == lines(
        SECTIONS_HEADER, S1, S2, S3, S7, S12
    )


def test_sections_term_and_sub_account(conn: Connection) -> None:
    assert prov(conn, "sections", enrollment_term_id="3") == lines(SECTIONS_HEADER, S2, S3, S4, S5)
    assert run_file(conn, REPORT, "sections", account_id=2) == lines(
        SECTIONS_HEADER, S1, S2, S3, S4
    )


# ---------------------------------------------------------------- enrollments

ENROLLMENTS_HEADER = (
    "canvas_course_id,course_id,canvas_user_id,user_id,role,role_id,canvas_section_id,"
    "section_id,status,canvas_associated_user_id,associated_user_id,created_by_sis,"
    "base_role_type,limit_section_privileges,canvas_enrollment_id"
)
E1 = "1,ART101,1,S001,student,1,1,ART101-S1,active,,,true,StudentEnrollment,false,1"
E2 = "1,ART101,3,T001,teacher,2,1,ART101-S1,active,,,false,TeacherEnrollment,false,2"
E3 = "2,MUS200,2,S002,Pixel Engineer,7,2,MUS200-A,active,,,true,TaEnrollment,true,3"
E4 = "1,ART101,7,O001,observer,5,1,ART101-S1,active,1,S001,true,ObserverEnrollment,false,4"
E5 = "1,ART101,4,,student,1,1,ART101-S1,active,,,false,StudentEnrollment,false,5"
E6 = "2,MUS200,5,S005,student,1,2,MUS200-A,invited,,,true,StudentEnrollment,false,6"
E7 = "3,MUS300,9,S009B,student,1,3,MUS200-B,active,,,true,StudentEnrollment,false,7"
E8 = "3,MUS300,9,S009A,designer,4,4,MUS300-1,active,,,false,DesignerEnrollment,false,8"
E8_DELETED_LOGIN = (
    "3,MUS300,9,S009D,designer,4,4,MUS300-1,active,,,false,DesignerEnrollment,false,8"
)
E9 = "4,PHY100,9,S009Z,student,1,5,,concluded,,,true,StudentEnrollment,false,9"
E10 = "1,ART101,6,S006,student,1,1,ART101-S1,active,,,true,StudentEnrollment,false,10"
E11 = "1,ART101,2,S002,student,1,1,ART101-S1,inactive,,,true,StudentEnrollment,false,11"
E13 = "2,MUS200,1,S001,student,1,2,MUS200-A,deleted,,,true,StudentEnrollment,false,13"
E14 = "2,MUS200,5,S005,ta,3,2,MUS200-A,rejected,,,true,TaEnrollment,false,14"
E15 = "5,,4,,student,1,6,,invited,,,false,StudentEnrollment,false,15"
E17 = "1,ART101,2,S002,student,1,8,ART101-OLD,deleted,,,true,StudentEnrollment,false,17"
E18 = "9,HIS100,3,T001,teacher,2,10,HIS100-1,deleted,,,true,TeacherEnrollment,false,18"
E19 = "6,CHM100,10,S010,student,1,7,CHM100-1,active,,,true,StudentEnrollment,false,19"
E20 = "1,ART101,12,A001,observer,5,1,ART101-S1,active,6,,true,ObserverEnrollment,false,20"
E20_DELETED_LOGIN = (
    "1,ART101,12,A001,observer,5,1,ART101-S1,active,6,S006,true,ObserverEnrollment,false,20"
)


def test_enrollments(conn: Connection) -> None:
    # creation_pending is written "invited"; rejected stays; deleted and completed are left
    # out, as are Student View and Frank (no usable login).
    assert prov(conn, "enrollments") == lines(
        ENROLLMENTS_HEADER, E1, E2, E3, E4, E5, E6, E7, E8, E11, E14, E15, E17, E18, E19, E20
    )


def test_enrollments_include_deleted(conn: Connection) -> None:
    # Dan's deleted enrollment 12 was not created by SIS, so it stays out.
    assert prov(conn, "enrollments", include_deleted="true") == lines(
        ENROLLMENTS_HEADER,
        E1,
        E2,
        E3,
        E4,
        E5,
        E6,
        E7,
        E8_DELETED_LOGIN,
        E9,
        E10,
        E11,
        E13,
        E14,
        E15,
        E17,
        E18,
        E19,
        E20_DELETED_LOGIN,
    )


def test_enrollments_created_by_sis(conn: Connection) -> None:
    assert prov(conn, "enrollments", created_by_sis="true") == lines(
        ENROLLMENTS_HEADER, E1, E3, E4, E6, E7, E11, E14, E17, E18, E19, E20
    )


def test_enrollments_term_and_sub_account(conn: Connection) -> None:
    assert prov(conn, "enrollments", enrollment_term_id="sis_term_id:SP24") == lines(
        ENROLLMENTS_HEADER, E3, E6, E7, E8, E14
    )
    assert run_file(conn, REPORT, "enrollments", account_id=2) == lines(
        ENROLLMENTS_HEADER, E1, E2, E3, E4, E5, E6, E7, E8, E11, E14, E17, E18, E20
    )


def enrollment_ids(conn: Connection, **params: Any) -> list[str]:
    rows = prov(conn, "enrollments", **params).splitlines()
    assert rows[0] == ENROLLMENTS_HEADER
    return [row.rsplit(",", 1)[1] for row in rows[1:]]


def test_enrollment_filter(conn: Connection) -> None:
    student_or_observer = ["1", "4", "5", "6", "7", "11", "15", "17", "19", "20"]
    assert (
        enrollment_ids(conn, enrollment_filter="StudentEnrollment,ObserverEnrollment")
        == student_or_observer
    )
    assert (
        enrollment_ids(conn, enrollment_filter=["ObserverEnrollment", "StudentEnrollment"])
        == student_or_observer
    )
    # No trimming: " TeacherEnrollment" is not a valid type.
    assert enrollment_ids(conn, enrollment_filter="StudentEnrollment, TeacherEnrollment") == [
        "1",
        "5",
        "6",
        "7",
        "11",
        "15",
        "17",
        "19",
    ]
    # Every value invalid: no rows. Blank: no filter.
    assert enrollment_ids(conn, enrollment_filter="Bogus") == []
    assert len(enrollment_ids(conn, enrollment_filter="")) == 15


def test_enrollment_states(conn: Connection) -> None:
    # Matched on the raw state, on top of the include_deleted filter.
    assert enrollment_ids(conn, enrollment_states="completed") == []
    assert enrollment_ids(conn, enrollment_states="completed", include_deleted="true") == ["9"]
    assert enrollment_ids(conn, enrollment_states="deleted", include_deleted="true") == ["13"]
    assert enrollment_ids(conn, enrollment_states=["active", "invited"]) == [
        "1",
        "2",
        "3",
        "4",
        "5",
        "6",
        "7",
        "8",
        "17",
        "18",
        "19",
        "20",
    ]
    assert enrollment_ids(conn, enrollment_states="nope,also-nope") == []
    assert enrollment_ids(
        conn, enrollment_states="active", enrollment_filter="TeacherEnrollment"
    ) == ["2", "18"]


# ---------------------------------------------------------------- groups

GROUPS_HEADER = (
    "canvas_group_id,group_id,canvas_group_category_id,group_category_id,canvas_account_id,"
    "account_id,canvas_course_id,course_id,name,status,created_by_sis,context_id,context_type,"
    "max_membership"
)
G1 = "1,CHESS,1,CLUBS,1,,,,Chess Club,available,true,1,Account,20"
G2 = "2,CHOIR,,,3,MUSIC,,,Choir,available,false,3,Account,"
G3 = "3,,2,,,,1,ART101,Art Study Group,available,false,1,Course,"
G4 = "4,PT1,3,PROJ,,,2,MUS200,Project Team 1,deleted,true,2,Course,5"
G5 = "5,LAB1,5,,,,4,PHY100,Lab Partners,available,true,4,Course,"


def test_groups(conn: Connection) -> None:
    assert prov(conn, "groups") == lines(GROUPS_HEADER, G1, G2, G3, G5)


def test_groups_include_deleted(conn: Connection) -> None:
    # Sandbox Group is deleted without a SIS id.
    assert prov(conn, "groups", include_deleted="true") == lines(GROUPS_HEADER, G1, G2, G3, G4, G5)


def test_groups_created_by_sis(conn: Connection) -> None:
    assert prov(conn, "groups", created_by_sis="true") == lines(GROUPS_HEADER, G1, G5)


def test_groups_sub_account_and_no_term_scope(conn: Connection) -> None:
    # Choir's account (Music) and Art Study Group's course (ART101) are under College of Arts.
    assert run_file(conn, REPORT, "groups", account_id=2) == lines(GROUPS_HEADER, G2, G3)
    assert prov(conn, "groups", enrollment_term_id="3") == lines(GROUPS_HEADER, G1, G2, G3, G5)


# ---------------------------------------------------------------- group_membership

MEMBERSHIP_HEADER = "canvas_group_id,group_id,canvas_user_id,user_id,status,created_by_sis"
M1 = "1,CHESS,1,S001,accepted,true"
M2 = "1,CHESS,4,,accepted,false"
M3 = "2,CHOIR,2,S002,accepted,true"
M4 = "3,,9,S009A,accepted,true"
M5 = "4,PT1,1,S001,accepted,true"
M8 = "5,LAB1,6,S006,accepted,true"
M9 = "2,CHOIR,3,T001,invited,true"
M10 = "1,CHESS,2,S002,deleted,true"


def test_group_membership(conn: Connection) -> None:
    assert prov(conn, "group_membership") == lines(MEMBERSHIP_HEADER, M1, M2, M3, M4, M9)


def test_group_membership_include_deleted(conn: Connection) -> None:
    # Eve's deleted membership was not created by SIS; the test student never appears.
    assert prov(conn, "group_membership", include_deleted="true") == lines(
        MEMBERSHIP_HEADER, M1, M2, M3, M4, M5, M8, M9, M10
    )


def test_group_membership_created_by_sis_and_sub_account(conn: Connection) -> None:
    assert prov(conn, "group_membership", created_by_sis="true") == lines(
        MEMBERSHIP_HEADER, M1, M3, M4, M9
    )
    assert run_file(conn, REPORT, "group_membership", account_id=2) == lines(
        MEMBERSHIP_HEADER, M3, M4, M9
    )


def test_either_mark_of_the_test_student_leaves_a_user_out(conn: Connection) -> None:
    # sis_scope.no_test_student reads two lists: users with a Student View enrollment and
    # users flagged is_test_student. The test student (8) has both; each alone is enough.
    conn.execute(update(users).where(users.c.id == 8).values(is_test_student=False))
    assert prov(conn, "users") == lines(
        USERS_HEADER, P1, P2, P3, P4, P5, P6, P9, P11, P12, P13, P14, P16, P18
    )
    assert prov(conn, "group_membership", include_deleted="true") == lines(
        MEMBERSHIP_HEADER, M1, M2, M3, M4, M5, M8, M9, M10
    )
    conn.execute(update(users).where(users.c.id == 4).values(is_test_student=True))  # Dan
    assert prov(conn, "users") == lines(
        USERS_HEADER, P1, P2, P3, P4, P6, P9, P11, P12, P13, P14, P16, P18
    )
    assert prov(conn, "group_membership") == lines(MEMBERSHIP_HEADER, M1, M3, M4, M9)


# ---------------------------------------------------------------- group_categories

CATEGORIES_HEADER = (
    "canvas_group_category_id,group_category_id,context_id,context_type,name,role,self_signup,"
    "group_limit,auto_leader,status"
)
GC1 = "1,CLUBS,1,Account,Clubs,,enabled,10,first,active"
GC2 = "2,,1,Course,Student Groups,student_organized,,,,active"
GC3 = "3,PROJ,2,Course,Projects,,restricted,,random,active"
GC4 = "4,COMM,2,Account,Old Committees,,,,,deleted"
GC5 = "5,,4,Account,Labs,,,4,,active"


def test_group_categories(conn: Connection) -> None:
    assert prov(conn, "group_categories") == lines(CATEGORIES_HEADER, GC1, GC2, GC3, GC5)


def test_group_categories_include_deleted(conn: Connection) -> None:
    assert prov(conn, "group_categories", include_deleted="true") == lines(
        CATEGORIES_HEADER, GC1, GC2, GC3, GC4, GC5
    )


def test_group_categories_ignore_created_by_sis(conn: Connection) -> None:
    assert prov(conn, "group_categories", created_by_sis="true") == lines(
        CATEGORIES_HEADER, GC1, GC2, GC3, GC5
    )
    assert run_file(conn, REPORT, "group_categories", account_id=2) == lines(
        CATEGORIES_HEADER, GC2, GC3
    )


# ---------------------------------------------------------------- xlist

XLIST_HEADER = (
    "canvas_xlist_course_id,xlist_course_id,canvas_section_id,section_id,status,"
    "canvas_nonxlist_course_id,nonxlist_course_id"
)
X3 = "3,MUS300,3,MUS200-B,active,2,MUS200"
X11 = "1,ART101,11,PHY100-X,deleted,4,PHY100"
X12 = "6,CHM100,12,MUS200-C,active,2,MUS200"
X13 = "5,,13,,active,4,PHY100"


def test_xlist(conn: Connection) -> None:
    assert prov(conn, "xlist") == lines(XLIST_HEADER, X3, X13)


def test_xlist_include_deleted(conn: Connection) -> None:
    assert prov(conn, "xlist", include_deleted="true") == lines(XLIST_HEADER, X3, X11, X12, X13)


def test_xlist_created_by_sis_term_and_sub_account(conn: Connection) -> None:
    assert prov(conn, "xlist", created_by_sis="true") == lines(XLIST_HEADER, X3)
    assert prov(conn, "xlist", enrollment_term_id="3") == lines(XLIST_HEADER, X3)
    assert prov(conn, "xlist", enrollment_term_id="2", include_deleted="1") == lines(
        XLIST_HEADER, X11, X12
    )
    assert run_file(conn, REPORT, "xlist", account_id=2) == lines(XLIST_HEADER, X3)


# ---------------------------------------------------------------- user_observers

OBSERVERS_HEADER = (
    "canvas_observer_id,observer_id,canvas_student_id,student_id,status,created_by_sis"
)
O1A = "7,O001,1,S001,active,true"
O1B = "7,O001,1,,active,true"
O2 = "7,O001,5,S005,deleted,true"
O3 = "12,A001,4,,active,false"
O4A = "7,O001,6,S006,active,true"
O4B = "7,O001,6,,active,true"
O5 = "7,O001,10,S010,active,true"


def test_user_observers(conn: Connection) -> None:
    # One row per (student login, observer login): Alice's two logins give two rows.
    assert prov(conn, "user_observers") == lines(OBSERVERS_HEADER, O1A, O1B, O3, O5)


def test_user_observers_include_deleted(conn: Connection) -> None:
    assert prov(conn, "user_observers", include_deleted="true") == lines(
        OBSERVERS_HEADER, O1A, O1B, O2, O3, O4A, O4B, O5
    )


def test_user_observers_created_by_sis_and_sub_account(conn: Connection) -> None:
    assert prov(conn, "user_observers", created_by_sis="true") == lines(
        OBSERVERS_HEADER, O1A, O1B, O5
    )
    # Students associated with College of Arts: Alice and Dan, not Ivy.
    assert run_file(conn, REPORT, "user_observers", account_id=2) == lines(
        OBSERVERS_HEADER, O1A, O1B, O3
    )


# ---------------------------------------------------------------- admins

ADMINS_HEADER = (
    "admin_user_name,canvas_user_id,user_id,canvas_account_id,account_id,role_id,role,status,"
    "created_by_sis"
)
AU1 = "Karen Admin,12,A001,1,,6,AccountAdmin,active,true"
AU2 = "Carol Ann Teacher,3,T001,2,ARTS,8,Help Desk,active,false"
AU3 = "Dan Nosis,4,,3,MUSIC,6,AccountAdmin,active,true"
AU4 = "Bob Jones,2,S002,4,SCI,6,AccountAdmin,deleted,true"
AU5 = "Frank Gone,6,S006,2,ARTS,6,AccountAdmin,active,true"
AU6 = "Hank Multi,9,S009A,8,PHYS,8,Help Desk,active,true"


def test_admins(conn: Connection) -> None:
    # Frank's admin row is skipped: he has no usable login.
    assert prov(conn, "admins") == lines(ADMINS_HEADER, AU1, AU2, AU3, AU6)


def test_admins_include_deleted(conn: Connection) -> None:
    assert prov(conn, "admins", include_deleted="true") == lines(
        ADMINS_HEADER, AU1, AU2, AU3, AU4, AU5, AU6
    )


def test_admins_ignore_created_by_sis_and_sub_account(conn: Connection) -> None:
    assert prov(conn, "admins", created_by_sis="true") == lines(ADMINS_HEADER, AU1, AU2, AU3, AU6)
    assert run_file(conn, REPORT, "admins", account_id=2) == lines(ADMINS_HEADER, AU2, AU3)
    assert run_file(conn, REPORT, "admins", account_id=4, include_deleted="1") == lines(
        ADMINS_HEADER, AU4, AU6
    )


# ---------------------------------------------------------------- institutional tags


@pytest.mark.parametrize(
    "part",
    ["institutional_tag_categories", "institutional_tags", "institutional_tag_associations"],
)
def test_institutional_tag_files_are_one_empty_line(conn: Connection, part: str) -> None:
    assert prov(conn, part) == "\n"


# ---------------------------------------------------------------- declaration


def test_declaration() -> None:
    report = get_report(REPORT)
    assert report is not None
    assert report.title == "Provisioning"
    assert list(report.parameters) == PROVISIONING_PARAMETERS
    params = report.parameters
    assert params["enrollment_term_id"].description == (
        "The canvas id of the term of courses to report on"
    )
    assert params["users"].description == "Get the Provisioning file for users"
    assert params["enrollment_filter"].description == (
        "Include objects from the specified role types. Accepted values are TeacherEnrollment, "
        "TaEnrollment, DesignerEnrollment, StudentEnrollment, and ObserverEnrollment"
    )
    assert not any(p.required for p in params.values())


def test_select_parts_and_extra_text(conn: Connection) -> None:
    report = get_report(REPORT)
    assert report is not None
    ctx = context(
        conn,
        REPORT,
        admins="true",
        users="true",
        institutional_tag_associations="1",
        include_deleted="yes",
        enrollment_filter=["ObserverEnrollment"],
    )
    assert report.select_parts(ctx) == ["users", "admins", "institutional_tag_associations"]
    assert report.extra_text(ctx) == (
        "Term: All Terms; Include Deleted Objects; Include Enrollment Roles: ObserverEnrollment; "
        "Reports: users admins institutional_tag_associations "
    )
    every = context(conn, REPORT, **{key: "true" for key in [p.name for p in report.parts]})
    assert report.select_parts(every) == [p.name for p in report.parts]
