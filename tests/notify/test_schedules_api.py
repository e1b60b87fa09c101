"""``/api/v1/accounts/:id/report_schedules`` through a real server (the API tests' world)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
import pytest

from reportcard.notify.dispatcher import dispatch_due
from reportcard.settings import Settings
from tests.api import conftest as api_conftest
from tests.api.conftest import SAMPLE, World
from tests.patience import ANSWER

world = api_conftest.world  # the API tests' server fixture, shared here

FORBIDDEN = {
    "status": "unauthorized",
    "errors": [{"message": "user not authorized to perform that action"}],
}
NOT_FOUND = {"errors": [{"message": "The specified resource does not exist."}]}


def client(world: World, who: str | None = "admin") -> httpx.Client:
    headers = {} if who is None else {"Authorization": f"Bearer {world.tokens[who]}"}
    return httpx.Client(base_url=world.base, headers=headers, timeout=ANSWER)


def url(account: int | str, *rest: object) -> str:
    return "/".join([f"/api/v1/accounts/{account}/report_schedules", *map(str, rest)])


def body(**extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "report": SAMPLE,
        "parameters": {"logins": "true"},
        "recurrence": {"frequency": "weekly", "day_of_week": "tuesday", "time": "07:45"},
        "recipients": ["dean@example.edu"],
        "empty_report": "note",
    }
    out.update(extra)
    return out


def test_crud(world: World) -> None:
    with client(world) as c:
        r = c.post(url(world.root), json=body())
        assert r.status_code == 200, r.text
        made = r.json()
        sid = made["id"]
        assert made["report"] == SAMPLE and made["parameters"] == {"logins": "true"}
        assert made["recurrence"] == {
            "frequency": "weekly", "time": "07:45", "day_of_week": "tuesday",
            "day_of_month": None, "cron": None,
        }  # fmt: skip
        assert made["time_zone"] == "America/Denver" and made["time_zone_override"] is None
        assert made["recipients"] == ["dean@example.edu"] and made["empty_report"] == "note"
        assert made["enabled"] is True and made["owner"]["display_name"] == "Ada Admin"
        assert made["description"] == "every Tuesday at 07:45"
        local = datetime.fromisoformat(made["next_run_at_local"])
        assert (local.weekday(), local.hour, local.minute) == (1, 7, 45)
        assert made["next_run_at"].endswith("Z")

        assert c.get(url(world.root, sid)).json() == made

        r = c.put(
            url(world.root, sid),
            json={"recurrence": {"frequency": "cron", "cron": "30 6 1 * *"},
                  "time_zone": "Europe/Paris", "enabled": "true"},
        )  # fmt: skip
        assert r.status_code == 200, r.text
        changed = r.json()
        assert changed["recurrence"]["cron"] == "30 6 1 * *"
        assert changed["time_zone"] == "Europe/Paris"
        local = datetime.fromisoformat(changed["next_run_at_local"])
        assert (local.day, local.hour, local.minute) == (1, 6, 30)
        assert changed["recipients"] == ["dean@example.edu"]  # untouched

        r = c.put(url(world.root, sid), json={"enabled": False})
        assert r.json()["enabled"] is False and r.json()["next_run_at"] is None

        # a form-encoded create, Canvas style
        r = c.post(
            url(world.root),
            data={
                "report_schedule[report]": SAMPLE,
                "report_schedule[recurrence][frequency]": "monthly",
                "report_schedule[recurrence][day_of_month]": "31",
                "report_schedule[recipients][]": ["a@example.edu", "b@example.edu"],
            },
        )
        assert r.status_code == 200, r.text
        assert r.json()["recipients"] == ["a@example.edu", "b@example.edu"]
        assert r.json()["recurrence"]["day_of_month"] == 31

        assert c.delete(url(world.root, sid)).status_code == 200
        assert c.get(url(world.root, sid)).status_code == 404
        assert c.delete(url(world.root, sid)).status_code == 404
        assert sid not in [s["id"] for s in c.get(url(world.root)).json()]


def test_list_is_paginated(world: World) -> None:
    with client(world) as c:
        made = [c.post(url(world.sub), json=body()).json()["id"] for _ in range(3)]
        r = c.get(url(world.sub), params={"per_page": 2})
        assert [s["id"] for s in r.json()] == made[:2]
        assert 'rel="next"' in r.headers["link"]
        r = c.get(url(world.sub), params={"per_page": 2, "page": 2})
        assert [s["id"] for s in r.json()] == made[2:]
        # the sub-account's schedules are not the root's
        assert not set(made) & {s["id"] for s in c.get(url(world.root)).json()}


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"report": "no_such_report"}, "unknown report 'no_such_report'"),
        ({"report": None}, "report is required"),
        ({"recurrence": {"frequency": "cron", "cron": "0 0 30 2 *"}}, "never fires"),
        ({"recurrence": {"frequency": "cron", "cron": "0 0 * *"}}, "5 fields"),
        ({"recurrence": {"frequency": "fortnightly"}}, "frequency must be one of"),
        ({"recurrence": "daily"}, "recurrence must be an object"),
        ({"time_zone": "America/Gotham"}, "unknown time zone"),
        ({"recipients": ["dean@example.edu", "oops"]}, "invalid recipient email address"),
        ({"empty_report": "always"}, "empty_report must be one of"),
        ({"parameters": {"enrollment_term_id": "999999"}}, "invalid enrollment_term_id"),
        ({"enabled": "perhaps"}, "enabled must be true or false"),
        (
            {"recurrence": {"frequency": "cron", "cron": "\u00b2 * * * *"}},
            "cron minute field '\u00b2'",
        ),
        ({"recurrence": {"frequency": "monthly", "day_of_month": "\u00b2"}}, "day_of_month"),
        ({"recurrence": {"frequency": "weekly", "day_of_week": ["mon"]}}, "day_of_week"),
        ({"recipients": [f"r{i}@example.edu" for i in range(51)]}, "at most 50"),
    ],
)
def test_bad_input_is_400(world: World, extra: dict[str, Any], message: str) -> None:
    with client(world) as c:
        r = c.post(url(world.root), json=body(**extra))
        assert r.status_code == 400, r.text
        errors = r.json()["errors"]
        assert message in errors[0]["message"], errors


def test_auth_and_missing(world: World) -> None:
    with client(world) as c:
        sid = c.post(url(world.root), json=body()).json()["id"]
        assert c.post(url(world.root), content=b"{nope", headers={
            "content-type": "application/json"}).status_code == 400  # fmt: skip
        assert c.put(url(world.root, sid), json={"recurrence": {"frequency": "x"}}).status_code \
            == 400  # fmt: skip
        paths = [url(world.root, 999999), url(world.root, "abc"), url(world.sub, sid),
                 url(999999), url(world.root, "\u00b2"), url(world.root, "9" * 30)]  # fmt: skip
        for path in paths:
            r = c.get(path)
            assert (r.status_code, r.json()) == (404, NOT_FOUND), path
    with client(world, None) as c:
        r = c.get(url(world.root))
        assert r.status_code == 401 and r.json()["status"] == "unauthenticated"
        assert c.post(url(world.root), json=body()).status_code == 401
    with client(world, "helpdesk") as c:
        for r in (c.get(url(world.root)), c.post(url(world.root), json=body()),
                  c.get(url(world.root, sid)), c.delete(url(world.root, sid))):  # fmt: skip
            assert (r.status_code, r.json()) == (403, FORBIDDEN)
    with client(world, "subadmin") as c:
        assert c.get(url(world.root, sid)).status_code == 403
        assert c.post(url(world.sub), json=body()).status_code == 200
    with client(world, "otheradmin") as c:
        assert c.get(url(world.root)).status_code == 403


def test_firings_log(world: World, tmp_path: Any) -> None:
    with client(world) as c:
        made = c.post(url(world.subsub), json=body(recipients=[])).json()
        due = datetime.strptime(made["next_run_at"], "%Y-%m-%dT%H:%M:%SZ")
        fired = dispatch_due(world.engine, Settings(data_dir=tmp_path), due)
        mine = [f for f in fired if f.schedule_id == made["id"]]
        assert [f.outcome for f in mine] == ["started"]
        log = c.get(url(world.subsub, made["id"], "firings")).json()
        assert [(x["outcome"], x["run_id"]) for x in log] == [("started", mine[0].run_id)]
        assert log[0]["due_at"] == made["next_run_at"]
        again = c.get(url(world.subsub, made["id"])).json()
        assert again["last_run_id"] == mine[0].run_id
        assert again["next_run_at"] > made["next_run_at"]
        run = c.get(f"/api/v1/accounts/{world.subsub}/reports/{SAMPLE}/{mine[0].run_id}")
        assert run.status_code == 200 and run.json()["user"]["display_name"] == "Ada Admin"
