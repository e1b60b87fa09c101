"""``user_access_tokens_csv``, ``lti_report_csv`` and ``developer_key_report_csv`` on the
hand-built institution of ``activity_institution.py``: exact files (spec other-reports.md
§4.14-§4.16)."""

from __future__ import annotations

import csv
import io
from typing import Any

from sqlalchemy import Connection

from reportcard.auth.tokens import create_token
from reportcard.reports.basics import ruby_inspect
from reportcard.reports.catalog import get_report
from reportcard.reports.integrations import token_hint

from .activity_institution import OTHER_ROOT, build
from .institution import context, lines, run_file

BUILD = build  # what the conn fixture (conftest.py) writes


def run(conn: Connection, report: str, account_id: int = 1, **params: Any) -> str:
    return run_file(conn, report, report.removesuffix("_csv"), account_id=account_id, **params)


def settings_text(conn: Connection, report: str, **params: Any) -> str:
    declaration = get_report(report)
    assert declaration is not None
    return declaration.extra_text(context(conn, report, **params))


# ---------------------------------------------------------------- user_access_tokens_csv

TOKENS = "user_access_tokens_csv"
# Canvas's 7 columns (student_reports.rb; its student_reports_spec.rb expects 7-cell rows and
# reads the dev key name from the last cell).
TOKENS_HEADER = "user id,user name,token hint,expiration,last used,dev key id,dev key name"
ALICE = '1,"Smith, Alice"'
# Within a user: never-used tokens first, then the most recently used.
ALICE_TOKENS = (
    f"{ALICE},fghij,2024-12-31T16:59:59-07:00,never,1,Reporting App",
    f"{ALICE},abcde,never,2024-05-31T04:00:00-06:00,,User-Generated",
    f"{ALICE},later,never,2024-05-01T06:00:00-06:00,4,Global Tool",
)
# Carol has two root logins but her token is listed once; key 99 no longer exists: the last
# cell (dev key name) is blank, as in Canvas's "deals with a missing developer key".
CAROL_TOKEN = '3,"Teacher, Carol",klmno,never,2024-04-03T22:00:00-06:00,99,'
EVE_TOKEN = '5,"Gone, Eve",pqrst,never,never,,User-Generated'
IVY_TOKEN = (
    '9,"Science, Ivy",ivy01,2024-06-30T18:00:00-06:00,2024-06-01T00:00:00-06:00,6,Global API'
)


def test_user_access_tokens(conn: Connection) -> None:
    # Deleted tokens never; Eve's login is deleted; Frank has no login on this root.
    assert run(conn, TOKENS) == lines(TOKENS_HEADER, *ALICE_TOKENS, CAROL_TOKEN, IVY_TOKEN)


def test_user_access_tokens_include_deleted_adds_users_with_deleted_logins(
    conn: Connection,
) -> None:
    assert run(conn, TOKENS, include_deleted="true") == lines(
        TOKENS_HEADER, *ALICE_TOKENS, CAROL_TOKEN, EVE_TOKEN, IVY_TOKEN
    )
    assert settings_text(conn, TOKENS, include_deleted="true") == (
        "Include Deleted/Concluded Objects;"
    )
    assert settings_text(conn, TOKENS) == ""


def test_user_access_tokens_scope(conn: Connection) -> None:
    assert run(conn, TOKENS, account_id=4) == lines(TOKENS_HEADER, *ALICE_TOKENS, IVY_TOKEN)
    assert run(conn, TOKENS, account_id=OTHER_ROOT) == lines(
        TOKENS_HEADER,
        '6,"Other, Frank",zzzzz,never,never,,User-Generated',
    )


def test_user_access_tokens_lists_reportcard_api_tokens(conn: Connection) -> None:
    # A token made by reportcard (CLI or API) has no developer key: it is user-generated.
    token = create_token(conn, 8, purpose="cli")  # Hank
    rows = list(csv.reader(io.StringIO(run(conn, TOKENS))))
    hank = [row for row in rows if row[0] == "8"]
    assert len(hank) == 1
    _, name, hint, expiration, last_used, key_id, key_name = hank[0]
    assert name == "Idle, Hank"
    assert len(hint) == 5 and token.split("~", 1)[1].startswith(hint)
    assert (expiration, last_used, key_id, key_name) == ("never", "never", "", "User-Generated")


def test_token_hint() -> None:
    assert token_hint("1~abcde") == "abcde"
    assert token_hint("abcde") == "abcde"
    assert token_hint(None) is None


# ---------------------------------------------------------------- lti_report_csv

LTI = "lti_report_csv"
# The newest Canvas code's 11 columns (lti_reports.rb: tool_id, the record id, after
# course_name; no LTI version column).
LTI_HEADER = (
    "context_type,context_id,account_name,course_name,tool_id,tool_type_name,tool_type_id,"
    "tool_created_at,privacy_level,launch_url,custom_fields"
)
T1 = (
    "Account,1,Springfield University,,1,Vimeo,Vimeo,2024-01-05 10:00:07 UTC,public,"
    'https://vimeo.example/lti,"{""b""=>""2"", ""a""=>""say \\""hi\\""""}"'
)
T2 = (
    "Course,1,,Intro to Art,2,Course Tool,,2024-02-01 00:00:00 UTC,anonymous,"
    "https://tool.example/launch,"
)
# An empty custom fields hash is written {} (Canvas writes the stored hash as it is); only a
# tool without one (T2) has a blank cell.
T3 = (
    "Account,3,Department of Music,,3,Music Tool,music,2024-02-02 00:00:00 UTC,name_only,"
    "https://music.example,{}"
)
T4 = "Account,4,College of Science,,4,Removed Tool,gone,2024-02-03 00:00:00 UTC,public,,"
T5 = "Course,6,,Deleted Recently,5,In Deleted Course,,2024-02-04 00:00:00 UTC,public,,"
T6 = "Account,5,Old College,,6,In Deleted Account,,2024-02-05 00:00:00 UTC,public,,"
T7 = "Course,8,,Old College Course,7,Under Deleted Account,,2024-02-06 00:00:00 UTC,public,,"
# A disabled tool is listed only with include_deleted: Canvas's ContextExternalTool.active
# scope leaves out deleted and disabled tools.
T10 = (
    "Course,11,,Biology,10,Bio Sim,biosim,2024-03-01 23:59:59 UTC,email_only,"
    'https://bio.example/lti,"{""course""=>""$Canvas.course.id""}"'
)


def test_lti_report(conn: Connection) -> None:
    assert run(conn, LTI) == lines(LTI_HEADER, T1, T2, T3)


def test_lti_report_include_deleted(conn: Connection) -> None:
    # Deleted tools, tools in deleted courses, on deleted accounts, in courses of deleted
    # accounts; never another root's tools.
    assert run(conn, LTI, include_deleted="yes") == lines(
        LTI_HEADER, T1, T2, T3, T4, T5, T6, T7, T10
    )


def test_lti_report_sub_accounts(conn: Connection) -> None:
    # Arts: its Music sub-account's tool and its courses' tools, not the root's nor Science's.
    assert run(conn, LTI, account_id=2) == lines(LTI_HEADER, T2, T3)
    assert run(conn, LTI, account_id=2, include_deleted="true") == lines(LTI_HEADER, T2, T3, T5)
    assert run(conn, LTI, account_id=3) == lines(LTI_HEADER, T3)
    assert run(conn, LTI, account_id=4, include_deleted="true") == lines(LTI_HEADER, T4, T10)


def test_lti_report_other_root(conn: Connection) -> None:
    assert run(conn, LTI, account_id=OTHER_ROOT) == lines(
        LTI_HEADER,
        "Course,50,,Shelby Course,8,Shelby Course Tool,,2024-02-07 00:00:00 UTC,public,,",
        "Account,50,Shelbyville College,,9,Shelby Tool,,2024-02-08 00:00:00 UTC,public,,",
    )


def test_ruby_inspect() -> None:
    assert ruby_inspect(["a", "b"]) == '["a", "b"]'
    assert ruby_inspect([]) == "[]"
    assert ruby_inspect({"k": "v", "n": 1, "f": 2.5, "t": True, "z": None}) == (
        '{"k"=>"v", "n"=>1, "f"=>2.5, "t"=>true, "z"=>nil}'
    )
    assert ruby_inspect('a"b\\c\nd\te#{x}#y\x01\x7f é') == (
        '"a\\"b\\\\c\\nd\\te\\#{x}#y\\u0001\\x7F é"'
    )
    assert ruby_inspect({"list": ["x"]}) == '{"list"=>["x"]}'


# ---------------------------------------------------------------- developer_key_report_csv

KEYS = "developer_key_report_csv"
KEYS_HEADER = (
    "Global ID,Key Name,Inherited from Parent Account,Contact Info,Key Type,Placements,Status,"
    "Permitted API Endpoints"
)
K1 = (
    "10000000000001,Reporting App,false,dev@springfield.edu,API Key,None,On,"
    '"[""url:GET|/api/v1/accounts/:account_id/reports"", '
    '""url:POST|/api/v1/accounts/:account_id/reports/:report""]"'
)
K2 = (
    '10000000000002,Hidden LTI,false,,LTI Key,"[""course_navigation"", ""link_selection""]",'
    "Allow,All"
)
# Site admin has it on: On whatever the account's binding says. Its tool configuration has no
# placements: None, as Canvas's ``placements.presence || "None"`` (an empty array is blank).
K4 = "10000000000004,Global Tool,true,lti@vendor.example,LTI Key,None,On,All"
K6_OFF = "10000000000006,Global API,true,,API Key,None,Off,All"
K6_ALLOW = "10000000000006,Global API,true,,API Key,None,Allow,All"
K8 = '10000000000008,,true,,API Key,None,Allow,"[""say \\""hi\\""""]"'


def test_developer_keys(conn: Connection) -> None:
    # The account's own keys (the invisible one too, not the deleted one), then the visible
    # site-admin keys (an inactive one too); site admin allows key 6, the account turns it off.
    assert run(conn, KEYS) == lines(KEYS_HEADER, K1, K2, K4, K6_OFF, K8)
    assert settings_text(conn, KEYS) == ""


def test_developer_keys_from_a_sub_account_and_another_root(conn: Connection) -> None:
    assert run(conn, KEYS, account_id=2) == lines(KEYS_HEADER, K4, K6_ALLOW, K8)
    assert run(conn, KEYS, account_id=OTHER_ROOT) == lines(
        KEYS_HEADER, "10000000000007,Shelby Key,false,,API Key,None,On,All", K4, K6_ALLOW, K8
    )


def test_declarations() -> None:
    expected = {
        TOKENS: ("User Access Tokens", ["include_deleted"]),
        LTI: ("LTI Report", ["include_deleted"]),
        KEYS: ("Developer Keys Report", []),
    }
    for name, (title, params) in expected.items():
        report = get_report(name)
        assert report is not None
        assert report.title == title
        assert list(report.parameters) == params
