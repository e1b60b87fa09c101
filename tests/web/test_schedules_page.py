"""A report's schedules on the Reports page, over plain HTTP against the real server.

Create, list, disable, enable and delete through the forms (no JavaScript), the API's
validation shown as text, CSRF refusal, a sub-account admin kept out of a sibling's
schedules, the firings shown, and the audit events of the page and of the API.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
from sqlalchemy import func, select

from reportcard.db.audit_tables import audit_events
from reportcard.db.schedule_tables import report_schedules
from reportcard.notify.dispatcher import dispatch_due
from tests.patience import ANSWER
from tests.web.conftest import PASSWORDS, Site
from tests.web.helpers import csrf_of, sign_in

REPORT = "provisioning_csv"


def _page(site: Site, account: int, report: str = REPORT) -> str:
    return f"/accounts/{account}/reports/{report}/schedules"


def _schedule(site: Site, sid: int) -> Any:
    with site.engine.connect() as conn:
        return conn.execute(select(report_schedules).where(report_schedules.c.id == sid)).one()


def _count(site: Site) -> int:
    with site.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(report_schedules)).scalar_one())


def _audit(site: Site, sid: int) -> list[tuple[str, str | None]]:
    e = audit_events.c
    with site.engine.connect() as conn:
        rows = conn.execute(
            select(e.action, e.detail)
            .where(e.subject_type == "report_schedule", e.subject_id == sid)
            .order_by(e.id)
        ).all()
    return [(r.action, (r.detail or {}).get("via")) for r in rows]


def _form(token: str, **extra: str) -> dict[str, str]:
    data = {
        "csrf_token": token,
        "parameters[users]": "true",
        "parameters[enrollment_term_id]": "",
        "frequency": "weekly",
        "time": "07:45",
        "day_of_week": "tuesday",
        "day_of_month": "1",
        "cron": "",
        "time_zone": "America/Denver",
        "recipients": "dean@example.edu,\nvp@example.org",
        "empty_report": "note",
        "enabled": "true",
    }
    data.update(extra)
    return data


def _card(html: str, sid: int) -> str:
    found = re.search(rf'<li class="card schedule" id="schedule-{sid}".*?</li>\n', html, re.S)
    assert found, f"schedule {sid} is not listed"
    return found.group(0)


def test_create_list_disable_enable_delete(site: Site) -> None:
    client = sign_in(site.base, "admin", PASSWORDS["admin"])
    reports = client.get(f"/accounts/{site.root}/reports").text
    assert f'href="{_page(site, site.root)}"' in reports  # linked from the report's section
    page = client.get(_page(site, site.root))
    assert page.status_code == 200
    assert "New schedule" in page.text and 'value="America/Denver"' in page.text
    for control in ("frequency", "time", "day_of_week", "day_of_month", "cron", "time_zone",
                    "recipients", "enabled"):  # fmt: skip
        assert f'<label for="sched--{control}">' in page.text, control
    token = csrf_of(page.text)
    made = client.post(_page(site, site.root), data=_form(token))
    assert made.status_code == 303, made.text
    location = made.headers["location"]
    sid = int(location.rsplit("#schedule-", 1)[1])
    assert location.startswith(_page(site, site.root) + "?done=created")
    row = _schedule(site, sid)
    assert row.parameters == {"users": "true"} and row.time_zone is None  # follows the account
    assert (row.frequency, row.time_of_day, row.day_of_week) == ("weekly", "07:45", 1)
    assert row.recipients == ["dean@example.edu", "vp@example.org"]
    listed = client.get(location.split("#")[0])
    assert "Schedule created." in listed.text
    card = _card(listed.text, sid)
    assert "every Tuesday at 07:45 (America/Denver)" in card
    assert "dean@example.edu, vp@example.org" in card and "a note is sent" in card
    assert "Enabled" in card and "Ada Admin" in card and "not run yet" in card
    assert re.search(r"Next run</dt><dd>\d{4}-\d\d-\d\d 07:45 M[SD]T", card), card
    assert "Files: users" in card  # the settings in the form's words
    # The API sees the same schedule.
    api = httpx.get(
        f"{site.base}/api/v1/accounts/{site.root}/report_schedules/{sid}",
        headers={"Authorization": f"Bearer {site.tokens['admin']}"},
        timeout=ANSWER,
    ).json()
    assert api["description"] == "every Tuesday at 07:45" and api["empty_report"] == "note"

    off = client.post(f"{_page(site, site.root)}/{sid}/enabled", data={"csrf_token": token})
    assert off.status_code == 303 and "done=disabled" in off.headers["location"]
    assert _schedule(site, sid).enabled is False and _schedule(site, sid).next_run_at is None
    card = _card(client.get(_page(site, site.root)).text, sid)
    assert "Disabled" in card and "none (disabled)" in card and ">Enable<" in card
    on = client.post(
        f"{_page(site, site.root)}/{sid}/enabled", data={"csrf_token": token, "enabled": "true"}
    )
    assert on.status_code == 303 and _schedule(site, sid).next_run_at is not None

    # A firing shows up as the last outcome and in the recent firings.
    due = _schedule(site, sid).next_run_at
    (fired,) = [f for f in dispatch_due(site.engine, site.settings, due) if f.schedule_id == sid]
    assert fired.outcome == "started"
    card = _card(client.get(_page(site, site.root)).text, sid)
    assert f"Started {due:%Y-%m-%d}" in card and f"run {fired.run_id}" in card
    assert "Recent firings (1)" in card

    confirm = client.get(f"{_page(site, site.root)}/{sid}/delete")
    assert confirm.status_code == 200 and f"Delete schedule {sid}?" in confirm.text
    gone = client.post(f"{_page(site, site.root)}/{sid}/delete", data={"csrf_token": token})
    assert gone.status_code == 303 and "done=deleted" in gone.headers["location"]
    assert _schedule(site, sid).workflow_state == "deleted"
    assert f'id="schedule-{sid}"' not in client.get(_page(site, site.root)).text
    again = client.post(f"{_page(site, site.root)}/{sid}/delete", data={"csrf_token": token})
    assert again.status_code == 404 and "no such schedule" in again.text
    assert _audit(site, sid) == [
        ("schedule.create", "web"),
        ("schedule.update", "web"),
        ("schedule.update", "web"),
        ("schedule.delete", "web"),
    ]


def test_other_zone_and_cron(site: Site) -> None:
    client = sign_in(site.base, "admin", PASSWORDS["admin"])
    token = csrf_of(client.get(_page(site, site.root)).text)
    made = client.post(
        _page(site, site.root),
        data=_form(
            token,
            frequency="cron",
            cron="30 6 * * 1-5",
            time_zone="Europe/Paris",
            empty_report="skip",
            enabled="",
        ),
    )
    assert made.status_code == 303, made.text
    sid = int(made.headers["location"].rsplit("#schedule-", 1)[1])
    row = _schedule(site, sid)
    assert (row.cron, row.time_zone, row.enabled) == ("30 6 * * 1-5", "Europe/Paris", False)
    card = _card(client.get(_page(site, site.root)).text, sid)
    assert "cron 30 6 * * 1-5 (Europe/Paris)" in card and "nothing is sent" in card
    assert "Disabled" in card
    on = client.post(
        f"{_page(site, site.root)}/{sid}/enabled", data={"csrf_token": token, "enabled": "true"}
    )
    assert on.status_code == 303
    card = _card(client.get(_page(site, site.root)).text, sid)
    assert re.search(r"\d\d:30 CES?T \(\S+ \S+ M[SD]T in the account's zone\)", card), card


def test_validation_errors_are_shown_as_text(site: Site) -> None:
    client = sign_in(site.base, "admin", PASSWORDS["admin"])
    token = csrf_of(client.get(_page(site, site.root)).text)
    before = _count(site)
    cases = [
        ({"parameters[users]": ""}, "Choose at least one file to include."),
        ({"frequency": "cron", "cron": "99 * * * *"}, "invalid recurrence:"),
        ({"frequency": "monthly", "day_of_month": "40"}, "day_of_month 1-31"),
        ({"frequency": "hourly"}, "frequency must be one of"),
        ({"time": "25:00"}, "invalid recurrence:"),
        ({"time_zone": "Mars/Olympus"}, "Mars/Olympus"),
        ({"recipients": "dean@example.edu, not-an-address"}, "invalid recipient email address"),
        ({"empty_report": "shout"}, "empty_report must be one of"),
    ]
    for extra, message in cases:
        answer = client.post(_page(site, site.root), data=_form(token, **extra))
        assert answer.status_code == 422, extra
        assert answer.text.startswith("<!doctype html>")
        assert "The schedule was not created:" in answer.text and message in answer.text, extra
    # The form comes back with what was typed.
    kept = client.post(_page(site, site.root), data=_form(token, recipients="x@y"))
    assert ">x@y</textarea>" in kept.text and 'value="07:45"' in kept.text
    assert _count(site) == before


def test_forms_without_a_good_csrf_token_are_refused(site: Site) -> None:
    client = sign_in(site.base, "admin", PASSWORDS["admin"])
    token = csrf_of(client.get(_page(site, site.root)).text)
    made = client.post(_page(site, site.root), data=_form(token))
    sid = int(made.headers["location"].rsplit("#schedule-", 1)[1])
    before = _count(site)
    for data, headers in (
        (_form(""), {}),
        (_form("wrong"), {}),
        (_form(token), {"Origin": "http://evil.example"}),
    ):
        answer = client.post(_page(site, site.root), data=data, headers=headers)
        assert answer.status_code == 403
        assert "did not come from this site" in answer.text
        for action in ("delete", "enabled"):
            refused = client.post(
                f"{_page(site, site.root)}/{sid}/{action}",
                data={"csrf_token": data["csrf_token"]},
                headers=headers,
            )
            assert refused.status_code == 403, action
    assert _count(site) == before
    row = _schedule(site, sid)
    assert row.workflow_state == "active" and row.enabled is True


def test_sub_account_admin_does_not_see_a_siblings_schedules(site: Site) -> None:
    api = httpx.Client(
        base_url=site.base,
        headers={"Authorization": f"Bearer {site.tokens['admin']}"},
        timeout=ANSWER,
    )
    sibling = api.post(
        f"/api/v1/accounts/{site.sibling}/report_schedules",
        json={
            "report": REPORT,
            "parameters": {"users": "true"},
            "recurrence": {"frequency": "daily", "time": "05:00"},
            "recipients": ["sci@example.edu"],
        },
    )
    assert sibling.status_code == 200, sibling.text
    sid = int(sibling.json()["id"])
    client = sign_in(site.base, "subadmin", PASSWORDS["subadmin"])
    own = client.get(_page(site, site.sub))
    assert own.status_code == 200
    assert "sci@example.edu" not in own.text and f'id="schedule-{sid}"' not in own.text
    token = csrf_of(own.text)
    for account in (site.sibling, site.root):
        refused = client.get(_page(site, account))
        assert refused.status_code == 404 and "sci@example.edu" not in refused.text
        assert client.get(f"{_page(site, account)}/{sid}/delete").status_code == 404
    for path in (
        f"{_page(site, site.sibling)}/{sid}/delete",
        f"{_page(site, site.sub)}/{sid}/delete",  # the id under an account they may see
        f"{_page(site, site.sub)}/{sid}/enabled",
    ):
        assert client.post(path, data={"csrf_token": token}).status_code == 404, path
    assert _schedule(site, sid).workflow_state == "active"
    # The API's own changes are audited too.
    assert (
        api.put(
            f"/api/v1/accounts/{site.sibling}/report_schedules/{sid}", json={"enabled": False}
        ).status_code
        == 200
    )
    assert api.delete(f"/api/v1/accounts/{site.sibling}/report_schedules/{sid}").status_code == 200
    assert _audit(site, sid) == [
        ("schedule.create", "api"),
        ("schedule.update", "api"),
        ("schedule.delete", "api"),
    ]


def test_unknown_report_and_schedule(site: Site) -> None:
    client = sign_in(site.base, "admin", PASSWORDS["admin"])
    assert client.get(_page(site, site.root, "no_such_report")).status_code == 404
    assert client.get(f"{_page(site, site.root)}/999999/delete").status_code == 404
    assert client.get(f"{_page(site, site.root)}/x1/delete").status_code == 404
    unsigned = httpx.get(f"{site.base}{_page(site, site.root)}", timeout=ANSWER)
    assert unsigned.status_code == 303 and unsigned.headers["location"].startswith("/login")
