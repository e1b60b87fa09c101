"""The schedule form takes a Rails zone name, as Canvas shows zones, and suggests them."""

from __future__ import annotations

from sqlalchemy import select

from reportcard.db.schedule_tables import report_schedules
from tests.web.conftest import PASSWORDS, Site
from tests.web.helpers import csrf_of, sign_in
from tests.web.test_schedules_page import _form, _page


def test_a_rails_zone_is_suggested_accepted_and_stored_as_iana(site: Site) -> None:
    client = sign_in(site.base, "admin", PASSWORDS["admin"])
    page = client.get(_page(site, site.root)).text
    assert '<option value="Mountain Time (US &amp; Canada)">' in page
    assert '<option value="America/Denver">' in page
    made = client.post(
        _page(site, site.root), data=_form(csrf_of(page), time_zone="Paris", enabled="")
    )
    assert made.status_code == 303, made.text
    sid = int(made.headers["location"].rsplit("#schedule-", 1)[1])
    with site.engine.connect() as conn:
        stored = conn.execute(
            select(report_schedules.c.time_zone).where(report_schedules.c.id == sid)
        ).scalar_one()
    assert stored == "Europe/Paris"
    bad = client.post(_page(site, site.root), data=_form(csrf_of(page), time_zone="Paris, France"))
    assert bad.status_code == 422 and "Paris, France" in bad.text
