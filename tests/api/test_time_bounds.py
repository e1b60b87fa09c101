"""Times near year 1 or 9999 in API and report parameters: a 400 or a report, never a 500.

``0001-01-01T00:00:00+05:00`` is a time in year 0 in UTC and ``9999-12-31T23:00:00-05:00`` one
in year 10000: converting either raised OverflowError (500 on ``audit_events?since=`` and
``sis_imports?created_since=``; a ``students_with_no_submissions_csv`` run ended in error).
"""

from __future__ import annotations

import httpx
import pytest

from tests.api.conftest import World
from tests.patience import ANSWER
from tests.security.conftest import client, finish, reports_url

YEAR_0 = "0001-01-01T00:00:00+05:00"
YEAR_10000 = "9999-12-31T23:00:00-05:00"


def out_of_range(name: str) -> dict[str, object]:
    return {"errors": [{"message": f"{name} is out of range (years 1 to 9999, in UTC)"}]}


@pytest.mark.parametrize(
    ("path", "param"),
    [
        ("audit_events", "since"),
        ("audit_events", "until"),
        ("sis_imports", "created_since"),
        ("sis_imports", "created_before"),
    ],
)
def test_a_time_filter_out_of_range_is_a_canvas_400(world: World, path: str, param: str) -> None:
    url = f"/api/v1/accounts/{world.root}/{path}"
    with client(world.base, world.tokens["admin"]) as c:
        for value in (YEAR_0, YEAR_10000):
            r = c.get(url, params={param: value})
            assert (r.status_code, r.json()) == (400, out_of_range(param)), value
            assert r.headers["content-type"].startswith("application/json")
        # The bounds themselves are fine.
        for value in ("0001-01-02T00:00:00Z", "9999-12-30T00:00:00Z"):
            assert c.get(url, params={param: value}).status_code == 200, value
    # Who may not look learns nothing more than before: 401 first.
    assert httpx.get(world.base + url, params={param: YEAR_0}, timeout=ANSWER).status_code == 401


@pytest.mark.parametrize(
    "params",
    [
        {"start_at": "0001-01-01T00:00:00"},  # year 1 in the account's zone, west of UTC
        {"start_at": YEAR_0},
        {"end_at": YEAR_10000},
        {"start_at": YEAR_0, "end_at": YEAR_10000},
    ],
)
def test_students_with_no_submissions_takes_edge_dates(
    world: World, params: dict[str, str]
) -> None:
    report = "students_with_no_submissions_csv"
    with client(world.base, world.tokens["admin"]) as c:
        data = {f"parameters[{k}]": v for k, v in params.items()}
        run = c.post(reports_url(world.root, report), data=data)
        assert run.status_code == 200, run.text
        done = finish(c, reports_url(world.root, report, run.json()["id"]))
        assert done["status"] == "complete", done
        assert c.get(done["file_url"]).status_code == 200


@pytest.mark.parametrize("days", ["99999999", "1" + "0" * 30])
def test_a_limiting_period_past_year_1_is_no_limit(world: World, days: str) -> None:
    report = "grade_export_csv"
    with client(world.base, world.tokens["admin"]) as c:
        data = {"parameters[include_deleted]": "true", "parameters[limiting_period]": days}
        run = c.post(reports_url(world.root, report), data=data)
        assert run.status_code == 200, run.text
        done = finish(c, reports_url(world.root, report, run.json()["id"]))
        assert done["status"] == "complete", done
