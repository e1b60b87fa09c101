"""``sis_export_csv`` on the hand-built institution: exact files, file selection, extra_text.

Expected rows are derived from the spec (sis-export-and-provisioning.md §2-§4) and the data in
``institution.py``; the comments name the rule that keeps or drops a row.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Connection

from reportcard.reports.catalog import get_report

from .canvas_registry import SIS_EXPORT_PARAMETERS
from .institution import build, context, lines, run_file

REPORT = "sis_export_csv"


BUILD = build  # what the conn fixture (conftest.py) writes


def sis(conn: Connection, part: str, **params: Any) -> str:
    return run_file(conn, REPORT, part, **params)


# ---------------------------------------------------------------- users

USERS_HEADER = (
    "user_id,integration_id,authentication_provider_id,login_id,password,first_name,last_name,"
    "full_name,sortable_name,short_name,email,status,pronouns"
)
ALICE = (
    'S001,INT-A,1,alice,,Alice,Smith,Alice Smith,"Smith, Alice",,alice@example.com,active,She/Her'
)
BOB = 'S002,,,bob,,Bob,Jones,Bob Jones,"Jones, Bob",Bobby,bob@example.com,active,xe/xem'
CAROL = (
    'T001,INT-C,,carol,,Carol Ann,Teacher,Carol Ann Teacher,"Teacher, Carol Ann, Jr.",,'
    "carol.a@example.com,active,They/Them"
)
EVE = 'S005,,,eve,,Eve,Suspended,Eve Suspended,"Suspended, Eve",,,suspended,'
FRANK = 'S006,,,frank,,Frank,Gone,Frank Gone,"Gone, Frank",,,deleted,'
GRACE = 'O001,,,grace,,Grace,Parent,Grace Parent,"Parent, Grace",,,active,'
HANK_B = 'S009B,,,hank-b,,Hank,Multi,Hank Multi,"Multi, Hank",,hank@example.com,active,'
HANK_A = 'S009A,,,hank-a,,Hank,Multi,Hank Multi,"Multi, Hank",,hank@example.com,active,'
HANK_Z = 'S009Z,,,hank-z,,Hank,Multi,Hank Multi,"Multi, Hank",,hank@example.com,suspended,'
HANK_D = 'S009D,,,hank-d,,Hank,Multi,Hank Multi,"Multi, Hank",,hank@example.com,deleted,'
IVY = "S010,,,ivy,,Ivy,,Ivy,Ivy,,,active,"
KAREN = 'A001,,,karen,,Karen,Admin,Karen Admin,"Admin, Karen",,karen@example.com,active,'


def test_users(conn: Connection) -> None:
    # One row per login with a SIS id; deleted logins, logins without a SIS id, the Instructure
    # Identity login, the test student and root 50's logins are left out. Suspended logins stay.
    assert sis(conn, "users") == lines(
        USERS_HEADER, ALICE, BOB, CAROL, EVE, GRACE, HANK_B, HANK_A, HANK_Z, IVY, KAREN
    )


def test_users_include_deleted(conn: Connection) -> None:
    # Deleted logins come back when they carry a SIS id (frank, hank-d); frank2 has none.
    assert sis(conn, "users", include_deleted="true") == lines(
        USERS_HEADER,
        ALICE,
        BOB,
        CAROL,
        EVE,
        FRANK,
        GRACE,
        HANK_B,
        HANK_A,
        HANK_Z,
        HANK_D,
        IVY,
        KAREN,
    )


def test_users_created_by_sis(conn: Connection) -> None:
    # carol's SIS id was typed by hand (no batch): only created_by_sis drops her.
    assert sis(conn, "users", created_by_sis="1") == lines(
        USERS_HEADER, ALICE, BOB, EVE, GRACE, HANK_B, HANK_A, HANK_Z, IVY, KAREN
    )


def test_users_sub_account(conn: Connection) -> None:
    # Users associated with College of Arts (enrollments, admin roles below it). Ivy is only
    # enrolled in a College of Science course.
    assert run_file(conn, REPORT, "users", account_id=2) == lines(
        USERS_HEADER, ALICE, BOB, CAROL, EVE, GRACE, HANK_B, HANK_A, HANK_Z, KAREN
    )


def test_users_without_pronouns(conn: Connection) -> None:
    assert run_file(conn, REPORT, "users", pronouns=False).splitlines()[:2] == [
        "user_id,integration_id,authentication_provider_id,login_id,password,first_name,"
        "last_name,full_name,sortable_name,short_name,email,status",
        'S001,INT-A,1,alice,,Alice,Smith,Alice Smith,"Smith, Alice",,alice@example.com,active',
    ]


# ---------------------------------------------------------------- accounts

ACCOUNTS_HEADER = "account_id,parent_account_id,name,status"


def test_accounts(conn: Connection) -> None:
    # Parent SIS id is blank for children of the root and of Sandbox (no SIS id).
    assert sis(conn, "accounts") == lines(
        ACCOUNTS_HEADER,
        "ARTS,,College of Arts,active",
        "MUSIC,ARTS,Department of Music,active",
        "SCI,,College of Science,active",
        "PHYS,SCI,Physics,active",
        "ROBO,,Robotics,active",
        "BRASS,MUSIC,Brass Ensemble,active",
    )


def test_accounts_include_deleted(conn: Connection) -> None:
    # Old College is deleted but has a SIS id; Defunct Lab has none.
    assert sis(conn, "accounts", include_deleted=True) == lines(
        ACCOUNTS_HEADER,
        "ARTS,,College of Arts,active",
        "MUSIC,ARTS,Department of Music,active",
        "SCI,,College of Science,active",
        "OLD,,Old College,deleted",
        "PHYS,SCI,Physics,active",
        "ROBO,,Robotics,active",
        "BRASS,MUSIC,Brass Ensemble,active",
    )


def test_accounts_created_by_sis(conn: Connection) -> None:
    assert sis(conn, "accounts", created_by_sis="true") == lines(
        ACCOUNTS_HEADER,
        "ARTS,,College of Arts,active",
        "MUSIC,ARTS,Department of Music,active",
        "PHYS,SCI,Physics,active",
        "ROBO,,Robotics,active",
        "BRASS,MUSIC,Brass Ensemble,active",
    )


def test_accounts_sub_account_direct_children_only(conn: Connection) -> None:
    # From College of Arts: Music is a child, Brass Ensemble a grandchild (left out, as Canvas).
    assert run_file(conn, REPORT, "accounts", account_id=2) == lines(
        ACCOUNTS_HEADER, "MUSIC,ARTS,Department of Music,active"
    )
    assert run_file(conn, REPORT, "accounts", account_id=3) == lines(
        ACCOUNTS_HEADER, "BRASS,MUSIC,Brass Ensemble,active"
    )


# ---------------------------------------------------------------- terms

TERMS_HEADER = "term_id,name,status,start_date,end_date"
FA23 = "FA23,Fall 2023,active,2023-08-20T00:00:00-06:00,2023-12-20T00:00:00-07:00"
SP24 = "SP24,Spring 2024,active,2024-01-15T00:00:00-07:00,2024-05-15T00:00:00-06:00"
WI24 = "WI24,Winter Intersession,active,2024-12-20T00:00:00-07:00,"


def test_terms(conn: Connection) -> None:
    # The Default Term has no SIS id; dates are in America/Denver (MDT -06:00, MST -07:00).
    assert sis(conn, "terms") == lines(TERMS_HEADER, FA23, SP24, WI24)


def test_terms_include_deleted(conn: Connection) -> None:
    assert sis(conn, "terms", include_deleted="1") == lines(
        TERMS_HEADER, FA23, SP24, "SU24,Summer 2024,deleted,,", WI24
    )


def test_terms_created_by_sis_and_no_term_scope(conn: Connection) -> None:
    assert sis(conn, "terms", created_by_sis="1") == lines(TERMS_HEADER, FA23, SP24)
    # The term parameter does not apply to terms.csv.
    assert sis(conn, "terms", enrollment_term_id="sis_term_id:SP24") == lines(
        TERMS_HEADER, FA23, SP24, WI24
    )


# ---------------------------------------------------------------- courses

COURSES_HEADER = (
    "course_id,integration_id,short_name,long_name,account_id,term_id,status,start_date,"
    "end_date,course_format,blueprint_course_id"
)
ART101 = (
    "ART101,INT-ART101,ART101,Intro to Art,ARTS,FA23,active,2023-08-21T09:00:00-06:00,"
    "2023-12-15T16:30:00-07:00,on_campus,"
)
MUS200 = "MUS200,,MUS200,Music Theory,MUSIC,SP24,active,,,online,"
MUS300 = "MUS300,,MUS300,Music Ensemble,MUSIC,SP24,active,,,,"
PHY100 = "PHY100,,PHY100,Physics Lab,PHYS,SP24,active,,,blended,"
CHM100 = "CHM100,,CHM100,Old Chemistry,SCI,FA23,completed,,,on_campus,"
HIS100 = "HIS100,,HIS100,World History,ARTS,FA23,deleted,,,,"
BP_ART = "BP-ART,,BP-ART,Blueprint Art,ARTS,,active,,,,"
ART102 = "ART102,,ART102,Art Studio,ARTS,SP24,active,,,,BP-ART"
LAB200 = "LAB200,,LAB200,Lab Skills,PHYS,SP24,active,,,,"


def test_courses(conn: Connection) -> None:
    # claimed/created courses are "active"; completed and deleted ones are left out; only
    # ART101 restricts enrollments to its dates; ART102's blueprint has a SIS id, LAB200's not.
    assert sis(conn, "courses") == lines(
        COURSES_HEADER, ART101, MUS200, MUS300, PHY100, BP_ART, ART102, LAB200
    )


def test_courses_include_deleted(conn: Connection) -> None:
    # Completed CHM100 and deleted HIS100 (SIS id) come back; "Deleted Recently" also would,
    # but it has no SIS id.
    assert sis(conn, "courses", include_deleted="true") == lines(
        COURSES_HEADER, ART101, MUS200, MUS300, PHY100, CHM100, HIS100, BP_ART, ART102, LAB200
    )


def test_courses_created_by_sis(conn: Connection) -> None:
    assert sis(conn, "courses", created_by_sis="true") == lines(
        COURSES_HEADER, ART101, MUS200, MUS300, BP_ART, ART102, LAB200
    )


def test_courses_term_scope(conn: Connection) -> None:
    assert sis(conn, "courses", enrollment_term_id="2") == lines(COURSES_HEADER, ART101)
    assert sis(conn, "courses", enrollment_term="sis_term_id:FA23", include_deleted="1") == lines(
        COURSES_HEADER, ART101, CHM100, HIS100
    )


def test_courses_sub_account(conn: Connection) -> None:
    assert run_file(conn, REPORT, "courses", account_id=3) == lines(COURSES_HEADER, MUS200, MUS300)


# ---------------------------------------------------------------- sections

SECTIONS_HEADER = "section_id,course_id,integration_id,name,status,start_date,end_date"
S1 = "ART101-S1,ART101,INT-S1,ART101 Section 1,active,2023-09-01T08:00:00-06:00,"
SA = "MUS200-A,MUS200,,MUS200 Section A,active,,"
SB = "MUS200-B,MUS300,,MUS200 Section B,active,,"
S300 = "MUS300-1,MUS300,,MUS300 Section 1,active,,"
SCHM = "CHM100-1,CHM100,,CHM100 Section,active,,"
SC = "MUS200-C,CHM100,,MUS200 Section C,active,,"


def test_sections(conn: Connection) -> None:
    # course_id is the current (cross-listed) course; sections need both SIS ids.
    assert sis(conn, "sections") == lines(SECTIONS_HEADER, S1, SA, SB, S300, SCHM, SC)


def test_sections_include_deleted(conn: Connection) -> None:
    # Deleted sections with a SIS id, and HIS100-1 whose course is deleted.
    assert sis(conn, "sections", include_deleted="true") == lines(
        SECTIONS_HEADER,
        S1,
        SA,
        SB,
        S300,
        SCHM,
        "ART101-OLD,ART101,,ART101 Old Section,deleted,,",
        "HIS100-1,HIS100,,HIS100 Section,active,,",
        "PHY100-X,ART101,,PHY100 X,deleted,,",
        SC,
    )


def test_sections_created_by_sis_and_term(conn: Connection) -> None:
    assert sis(conn, "sections", created_by_sis="true") == lines(
        SECTIONS_HEADER, S1, SA, SB, SCHM, SC
    )
    assert sis(conn, "sections", enrollment_term_id="3") == lines(SECTIONS_HEADER, SA, SB, S300)


# ---------------------------------------------------------------- enrollments

ENROLLMENTS_HEADER = (
    "course_id,user_id,role,role_id,section_id,status,associated_user_id,limit_section_privileges"
)
E1 = "ART101,S001,student,1,ART101-S1,active,,false"
E2 = "ART101,T001,teacher,2,ART101-S1,active,,false"
E3 = "MUS200,S002,Pixel Engineer,7,MUS200-A,active,,true"
E4 = "ART101,O001,observer,5,ART101-S1,active,S001,false"
E5 = "ART101,,student,1,ART101-S1,active,,false"
E7 = "MUS300,S009B,student,1,MUS200-B,active,,false"
E8 = "MUS300,S009A,designer,4,MUS300-1,active,,false"
E11 = "ART101,S002,student,1,ART101-S1,inactive,,false"
E17 = "ART101,S002,student,1,ART101-OLD,deleted,,false"
E18 = "HIS100,T001,teacher,2,HIS100-1,deleted,,false"
E19 = "CHM100,S010,student,1,CHM100-1,active,,false"
E20 = "ART101,A001,observer,5,ART101-S1,active,,false"


def test_enrollments(conn: Connection) -> None:
    # invited/creation_pending/rejected, deleted, completed and Student View rows are left out;
    # Frank (only deleted logins) is skipped; Dan has no SIS id and an empty user_id; Hank's
    # login is the enrollment's SIS login when it is a candidate (hank-b), else hank-a; a
    # deleted section or course makes the status "deleted"; Karen observes Frank, who has no
    # usable login, so associated_user_id is empty.
    assert sis(conn, "enrollments") == lines(
        ENROLLMENTS_HEADER, E1, E2, E3, E4, E5, E7, E8, E11, E17, E18, E19, E20
    )


def test_enrollments_include_deleted(conn: Connection) -> None:
    # hank-d (deleted) is now a candidate, so enrollment 8 uses it; completed enrollment 9
    # keeps its suspended SIS login hank-z; Frank's deleted login is usable.
    assert sis(conn, "enrollments", include_deleted="true") == lines(
        ENROLLMENTS_HEADER,
        E1,
        E2,
        E3,
        E4,
        E5,
        E7,
        "MUS300,S009D,designer,4,MUS300-1,active,,false",
        "PHY100,S009Z,student,1,,concluded,,false",
        "ART101,S006,student,1,ART101-S1,active,,false",
        E11,
        "MUS200,S001,student,1,MUS200-A,deleted,,false",
        E17,
        E18,
        E19,
        "ART101,A001,observer,5,ART101-S1,active,S006,false",
    )


def test_enrollments_created_by_sis(conn: Connection) -> None:
    assert sis(conn, "enrollments", created_by_sis="true") == lines(
        ENROLLMENTS_HEADER, E1, E3, E4, E7, E11, E17, E18, E19, E20
    )


def test_enrollments_filter_is_read_in_sis_mode(conn: Connection) -> None:
    assert sis(conn, "enrollments", enrollment_filter="ObserverEnrollment") == lines(
        ENROLLMENTS_HEADER, E4, E20
    )


# ---------------------------------------------------------------- groups

GROUPS_HEADER = "group_id,group_category_id,account_id,course_id,name,status"
CHESS = "CHESS,CLUBS,,,Chess Club,available"
CHOIR = "CHOIR,,MUSIC,,Choir,available"
LAB1 = "LAB1,,,PHY100,Lab Partners,available"


def test_groups(conn: Connection) -> None:
    # Chess Club lives in the root account (blank account_id); Art Study Group has no SIS id.
    assert sis(conn, "groups") == lines(GROUPS_HEADER, CHESS, CHOIR, LAB1)


def test_groups_include_deleted(conn: Connection) -> None:
    assert sis(conn, "groups", include_deleted="true") == lines(
        GROUPS_HEADER, CHESS, CHOIR, "PT1,PROJ,,MUS200,Project Team 1,deleted", LAB1
    )


def test_groups_created_by_sis(conn: Connection) -> None:
    assert sis(conn, "groups", created_by_sis="true") == lines(GROUPS_HEADER, CHESS, LAB1)


# ---------------------------------------------------------------- group_membership

MEMBERSHIP_HEADER = "group_id,user_id,status"


def test_group_membership(conn: Connection) -> None:
    # Memberships created by SIS; Art Study Group has no SIS id, so group_id is blank; the
    # test student, deleted memberships and Frank (no usable login) are left out.
    assert sis(conn, "group_membership") == lines(
        MEMBERSHIP_HEADER,
        "CHESS,S001,accepted",
        "CHOIR,S002,accepted",
        ",S009A,accepted",
        "CHOIR,T001,invited",
    )


def test_group_membership_include_deleted(conn: Connection) -> None:
    assert sis(conn, "group_membership", include_deleted="true") == lines(
        MEMBERSHIP_HEADER,
        "CHESS,S001,accepted",
        "CHOIR,S002,accepted",
        ",S009A,accepted",
        "PT1,S001,accepted",
        "LAB1,S006,accepted",
        "CHOIR,T001,invited",
        "CHESS,S002,deleted",
    )


# ---------------------------------------------------------------- group_categories

CATEGORIES_HEADER = "group_category_id,account_id,course_id,category_name,status"


def test_group_categories(conn: Connection) -> None:
    # SIS mode means "created by SIS" here; Clubs belongs to the root (blank account_id).
    assert sis(conn, "group_categories") == lines(
        CATEGORIES_HEADER, "CLUBS,,,Clubs,active", "PROJ,,MUS200,Projects,active"
    )


def test_group_categories_include_deleted(conn: Connection) -> None:
    assert sis(conn, "group_categories", include_deleted="true") == lines(
        CATEGORIES_HEADER,
        "CLUBS,,,Clubs,active",
        "PROJ,,MUS200,Projects,active",
        "COMM,ARTS,,Old Committees,deleted",
    )


# ---------------------------------------------------------------- xlist

XLIST_HEADER = "xlist_course_id,section_id,status"


def test_xlist(conn: Connection) -> None:
    # MUS200-C is cross-listed into a completed course; Sandbox X has no SIS ids.
    assert sis(conn, "xlist") == lines(XLIST_HEADER, "MUS300,MUS200-B,active")


def test_xlist_include_deleted(conn: Connection) -> None:
    assert sis(conn, "xlist", include_deleted="true") == lines(
        XLIST_HEADER,
        "MUS300,MUS200-B,active",
        "ART101,PHY100-X,deleted",
        "CHM100,MUS200-C,active",
    )


# ---------------------------------------------------------------- user_observers

OBSERVERS_HEADER = "observer_id,student_id,status"


def test_user_observers(conn: Connection) -> None:
    # Alice has two logins: two rows. Ivy's Instructure Identity login is not paired. Frank's
    # logins are deleted; Eve's link is deleted; Dan's link was not created by SIS.
    assert sis(conn, "user_observers") == lines(
        OBSERVERS_HEADER, "O001,S001,active", "O001,,active", "O001,S010,active"
    )


def test_user_observers_include_deleted(conn: Connection) -> None:
    assert sis(conn, "user_observers", include_deleted="true") == lines(
        OBSERVERS_HEADER,
        "O001,S001,active",
        "O001,,active",
        "O001,S005,deleted",
        "O001,S006,active",
        "O001,,active",
        "O001,S010,active",
    )


# ---------------------------------------------------------------- admins

ADMINS_HEADER = "user_id,account_id,role_id,role,status"


def test_admins(conn: Connection) -> None:
    # Created by SIS only: Carol's Help Desk role was granted by hand. Dan has no SIS id.
    assert sis(conn, "admins") == lines(
        ADMINS_HEADER,
        "A001,,6,AccountAdmin,active",
        ",MUSIC,6,AccountAdmin,active",
        "S009A,PHYS,8,Help Desk,active",
    )


def test_admins_include_deleted(conn: Connection) -> None:
    assert sis(conn, "admins", include_deleted="true") == lines(
        ADMINS_HEADER,
        "A001,,6,AccountAdmin,active",
        ",MUSIC,6,AccountAdmin,active",
        "S002,SCI,6,AccountAdmin,deleted",
        "S006,ARTS,6,AccountAdmin,active",
        "S009A,PHYS,8,Help Desk,active",
    )


# ---------------------------------------------------------------- institutional tags


@pytest.mark.parametrize(
    "part",
    ["institutional_tag_categories", "institutional_tags", "institutional_tag_associations"],
)
def test_institutional_tag_files_are_one_empty_line(conn: Connection, part: str) -> None:
    assert sis(conn, part, include_deleted="true") == "\n"


# ---------------------------------------------------------------- declaration


def test_declaration() -> None:
    report = get_report(REPORT)
    assert report is not None
    assert report.title == "SIS Export"
    assert list(report.parameters) == SIS_EXPORT_PARAMETERS
    assert report.parameters["xlist"].description == "Get the SIS file for cross listed courses"
    assert report.parameters["users"].description == "Get the SIS file for users"
    assert [p.name for p in report.parts] == [
        "users",
        "accounts",
        "terms",
        "courses",
        "sections",
        "enrollments",
        "groups",
        "group_membership",
        "group_categories",
        "xlist",
        "user_observers",
        "admins",
        "institutional_tag_categories",
        "institutional_tags",
        "institutional_tag_associations",
    ]


def test_select_parts_fixed_order(conn: Connection) -> None:
    report = get_report(REPORT)
    assert report is not None
    ctx = context(
        conn,
        REPORT,
        xlist=True,
        courses="true",
        users="1",
        terms="false",
        admins="0",
        bogus="true",
        institutional_tags="on",
        group_membership="yes",
    )
    assert report.select_parts(ctx) == [
        "users",
        "courses",
        "group_membership",
        "xlist",
        "institutional_tags",
    ]
    assert report.extra_text(ctx) == (
        "Term: All Terms; Reports: users courses group_membership xlist institutional_tags "
    )


def test_extra_text(conn: Connection) -> None:
    report = get_report(REPORT)
    assert report is not None
    assert report.extra_text(context(conn, REPORT, xlist="1", enrollment_term_id="1")) == (
        "Term: Default Term; Reports: xlist "
    )
    assert report.extra_text(context(conn, REPORT, xlist="1", include_deleted="true")) == (
        "Term: All Terms; Include Deleted Objects; Reports: xlist "
    )
    ctx = context(
        conn,
        REPORT,
        enrollment_term_id="sis_term_id:SP24",
        include_deleted="false",
        enrollment_filter="StudentEnrollment,TeacherEnrollment,Bogus",
        enrollment_states="deleted,active,completed",
        users="true",
        enrollments="true",
    )
    assert report.extra_text(ctx) == (
        "Term: Spring 2024; Include Enrollment Roles: TeacherEnrollment and StudentEnrollment; "
        "Include Enrollment States: active, completed, and deleted; Reports: users enrollments "
    )


def test_nothing_selected(conn: Connection) -> None:
    report = get_report(REPORT)
    assert report is not None
    ctx = context(conn, REPORT, users="false", enrollment_term_id="")
    assert report.select_parts(ctx) == []
    assert report.extra_text(ctx) == "Term: All Terms; Reports: "
