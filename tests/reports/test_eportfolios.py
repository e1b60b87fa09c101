"""``eportfolio_report_csv`` on the hand-built institution of ``activity_institution.py``: exact
files (spec other-reports.md §4.17)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from reportcard.reports.catalog import get_report

from .activity_institution import OTHER_ROOT, build
from .institution import context, lines, run_file

REPORT = "eportfolio_report_csv"
HEADER = (
    "eportfolio_name,eportfolio_id,author_name,author_id,author_sis_id,author_login_id,"
    "created_at,updated_at,is_public,workflow_state"
)
E1 = (
    "Alice's Work,1,Alice Smith,1,S001,alice,2024-01-10 08:00:00 UTC,2024-02-11 09:30:00 UTC,"
    "true,active"
)
TEACHING = '"Teaching, 2024",2,Carol Teacher,3,T001'
STAMPS2 = "2024-03-01 00:00:00 UTC,2024-03-02 00:00:00 UTC,false,active"
E2A = f"{TEACHING},carol,{STAMPS2}"
E2B = f"{TEACHING},carol.t,{STAMPS2}"
E4 = "Hank's Page,4,Hank Idle,8,,hank,2024-04-01 00:00:00 UTC,2024-04-01 00:00:00 UTC,false,active"
GRACE = "Grace's,8,Grace Multi,7"
STAMPS8 = "2024-05-01 00:00:00 UTC,2024-05-01 00:00:00 UTC,true,active"
E8 = (
    f"{GRACE},G1,grace-a,{STAMPS8}",
    f"{GRACE},G2,grace-b,{STAMPS8}",
    f"{GRACE},,grace-c,{STAMPS8}",
)
OLD = "2023-06-01 00:00:00 UTC"
E5 = f"Old Portfolio,5,Alice Smith,1,S001,alice,{OLD},2024-05-05 00:00:00 UTC,false,deleted"
E7 = f"Jill's,7,Jill Dropped,10,S010,jill,{OLD},{OLD},false,deleted"
E9 = f"Hank's Old Page,9,Hank Idle,8,,hank,{OLD},{OLD},false,deleted"


BUILD = build  # what the conn fixture (conftest.py) writes


def run(conn: Connection, account_id: int = 1, **params: Any) -> str:
    return run_file(conn, REPORT, "eportfolio_report", account_id=account_id, **params)


def test_active_eportfolios_one_row_per_root_login(conn: Connection) -> None:
    # Carol's two logins give two rows, Grace's three (her deleted login too). Eve is a
    # deleted user; Frank has no login on this root.
    assert run(conn) == lines(HEADER, E1, E2A, E2B, E4, *E8)


def test_include_deleted_means_only_deleted(conn: Connection) -> None:
    assert run(conn, include_deleted="true") == lines(HEADER, E5, E7, E9)


def test_no_enrollments(conn: Connection) -> None:
    # Jill's only enrollment is deleted: she still has one.
    assert run(conn, no_enrollments="true") == lines(HEADER, E4)
    assert run(conn, no_enrollments="1", include_deleted="1") == lines(HEADER, E9)


def test_root_scoped(conn: Connection) -> None:
    assert run(conn, account_id=4) == run(conn)
    assert run(conn, account_id=OTHER_ROOT) == lines(
        HEADER, f"Frank's,6,Frank Other,6,F001,frank,{OLD},{OLD},true,active"
    )


def test_declaration_and_settings_text(conn: Connection) -> None:
    report = get_report(REPORT)
    assert report is not None
    assert report.title == "Eportfolio Report"
    assert list(report.parameters) == ["no_enrollments", "include_deleted"]
    assert report.extra_text(context(conn, REPORT)) == ""
    assert report.extra_text(context(conn, REPORT, include_deleted="1", no_enrollments="1")) == (
        "Include Deleted/Concluded Objects; Only users with no enrollments"
    )
