"""Hostile path segments, form values, query strings and cookies against every page of the
Reports UI (read from the web router): never a 500, in either database lane.

Each hostile value replaces one thing at a time (one path parameter, or every form field),
the rest being real ids, so the value reaches the code that reads it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import select

from reportcard.db.engine import read_conn
from reportcard.db.web_tables import web_sessions
from reportcard.web.sessions import COOKIE
from tests.patience import ANSWER
from tests.runs.sample import SAMPLE
from tests.security.conftest import client, finish, reports_url
from tests.security.test_pages_matrix import session_row, web_routes
from tests.web.conftest import Site, site
from tests.web.helpers import sign_in

__all__ = ["site"]

# Text values, sent percent-encoded in paths and as-is in forms and queries.
HOSTILE = (
    "\u00b2",  # superscript two: str.isdigit() is true
    "\u0663",  # Arabic-Indic three
    "\uff11\uff12",  # full-width 12
    "9" * 30,  # overflows BIGINT
    str(2**63),
    str(2**63 - 1),
    "-1",
    "0",
    "+1",
    " 1",
    "1.0",
    "1e3",
    "0x10",
    "",
    "../",
    "../../etc/passwd",
    "..",
    "\x00",
    "1\x00",
    "a" * 5000,
    "1 OR 1=1",
    "'; DROP TABLE accounts; --",
    "<script>alert(1)</script>",
    '=HYPERLINK("http://example.invalid")',
    "\U0001f600",
    "\u202e",  # right-to-left override
    "%",
    "%00",
    "\r\nSet-Cookie: x=1",
    "{account_id}",
)
# Raw path segments that are not the encoding of any text.
RAW_SEGMENTS = ("%FF", "%C0%AF", "%2e%2e%2f", "%", "%zz")
FIELDS = (
    "parameters[enrollment_term_id]",
    "parameters[start_at]",
    "parameters[end_at]",
    "parameters[course_id]",
    "parameters[format]",
    "parameters[users]",
    "parameters[include_deleted]",
    "parameters[enrollment_states][]",
    "parameters[marker]",
    "frequency",
    "time",
    "day_of_week",
    "day_of_month",
    "cron",
    "time_zone",
    "recipients",
    "empty_report",
    "enabled",
    "skip_deletes",
    "override_sis_stickiness",
    "login",
    "password",
    "access_token",
    "method",
    "next",
)
FORM_REPORTS = (SAMPLE, "provisioning_csv", "students_with_no_submissions_csv")


@pytest.fixture(scope="module")
def real(site: Site) -> Iterator[dict[str, Any]]:
    """Real ids for the parameters not under attack, and a signed-in admin."""
    with client(site.base, site.tokens["admin"]) as c:
        r = c.post(reports_url(site.root, SAMPLE))
        run = finish(c, reports_url(site.root, SAMPLE, r.json()["id"]))["id"]
        imp = c.post(
            f"/api/v1/accounts/{site.root}/sis_imports",
            params={"extension": "csv"},
            content=b"term_id,name,status\nt-f,Term F,active\n",
            headers={"Content-Type": "text/csv"},
        ).json()["id"]
        sched = c.post(
            f"/api/v1/accounts/{site.root}/report_schedules",
            json={
                "report": SAMPLE,
                "recurrence": {"frequency": "daily", "time": "07:00"},
                "recipients": "dean@example.edu",
            },
        ).json()["id"]
    admin = sign_in(site.base, token=site.tokens["admin"])
    values = {
        "account_id": str(site.root),
        "report_name": SAMPLE,
        "run_id": str(run),
        "import_id": str(imp),
        "schedule_id": str(sched),
    }
    yield {"values": values, "admin": admin, "csrf": session_row(site, admin).csrf_token}
    admin.close()


def _path(template: str, values: dict[str, str], name: str = "", raw: str = "") -> str:
    out = template
    for key, value in values.items():
        out = out.replace("{" + key + "}", raw if key == name else value)
    return out


def _ok(answer: httpx.Response, what: Any) -> None:
    assert answer.status_code < 500, (what, answer.status_code, answer.text[:500])


def test_hostile_path_segments(site: Site, real: dict[str, Any]) -> None:
    admin: httpx.Client = real["admin"]
    segments = [quote(v, safe="") for v in HOSTILE] + list(RAW_SEGMENTS)
    tried = 0
    for method, template in web_routes():
        names = [k for k in real["values"] if "{" + k + "}" in template]
        for name in names:
            for raw in segments:
                url = _path(template, real["values"], name, raw)
                data = {"csrf_token": real["csrf"]} if method == "POST" else None
                # htmx requests take the same paths; a few segments suffice for them.
                for hx in ({}, {"HX-Request": "true"})[: 2 if raw in segments[:6] else 1]:
                    _ok(admin.request(method, url, data=data, headers=hx), (method, url))
                    tried += 1
    assert tried > 700
    # The switcher and the sign-in form's ``next`` read the query string.
    for value in HOSTILE:
        _ok(admin.get("/accounts/switch", params={"account_id": value, "page": value}), value)
        _ok(httpx.get(f"{site.base}/login", params={"next": value}, timeout=ANSWER), value)


def test_hostile_form_values(site: Site, real: dict[str, Any]) -> None:
    admin: httpx.Client = real["admin"]
    posts = [p for m, p in web_routes() if m == "POST"]
    for value in HOSTILE:
        form = {name: value for name in FIELDS}
        form["csrf_token"] = real["csrf"]
        for template in posts:
            for report in FORM_REPORTS if "{report_name}" in template else ("",):
                values = dict(real["values"], report_name=report or SAMPLE)
                url = _path(template, values)
                if url == "/logout":
                    continue  # would end the session under test
                files = (
                    {"attachment": (value or "x.csv", b"term_id,name,status\n")}
                    if url.endswith("/sis_import")
                    else None
                )
                # The SIS upload takes its CSRF token in the query (checked before the body).
                query = {"csrf_token": real["csrf"]} if files else None
                answer = admin.post(url, data=form, files=files, params=query)
                _ok(answer, (url, value))
        # The sign-in form, with its own CSRF cookie.
        anon = httpx.Client(base_url=site.base, timeout=ANSWER)
        page = anon.get("/login")
        token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        for method in ("password", "token"):
            login = {name: value for name in FIELDS}
            login.update(csrf_token=token, method=method)
            _ok(anon.post("/login", data=login), ("login", method, value))
        anon.close()
    # The session under test is still alive (nothing above signed it out).
    with read_conn(site.engine) as conn:
        assert conn.execute(
            select(web_sessions.c.id).where(web_sessions.c.id == session_row(site, admin).id)
        ).first()


def test_hostile_cookies_and_headers(site: Site, real: dict[str, Any]) -> None:
    url = f"/accounts/{site.root}/reports"
    for value in ("", "x" * 4000, "\u00e9", "%00", "a;b", '"quoted"', "1~abc"):
        raw = f"{COOKIE}={value}".encode("latin-1")  # as a browser might send it
        answer = httpx.get(site.base + url, headers={b"Cookie": raw}, timeout=ANSWER)
        assert answer.status_code == 303, value
    admin: httpx.Client = real["admin"]
    post = f"/accounts/{site.root}/reports/{SAMPLE}/runs/{real['values']['run_id']}/abort"
    for name, value in (
        ("Origin", "null"),
        ("Origin", "http://127.0.0.1:1"),
        ("Referer", "not a url"),
        ("Referer", "http://[::1"),
        ("X-CSRF-Token", "\u00e9" * 10),
        ("X-CSRF-Token", "x" * 5000),
    ):
        headers = {name.encode(): value.encode("latin-1")}
        try:
            answer = admin.post(post, data={"csrf_token": real["csrf"]}, headers=headers)
        except httpx.HTTPError:
            continue  # the client itself refused to send it
        _ok(answer, headers)
