"""A schedule's mail status tells the truth: the outbox, not the firing, says what was mailed.

The test server has no mail server configured (``smtp_host`` empty): the page and the API
warn when a schedule has recipients, and a firing whose run completed reads "queued in the
outbox" until the outbox rows are sent; a failed message reads "failed" with its error.
"""

from __future__ import annotations

import re
import time

import httpx
from sqlalchemy import select, update

from reportcard.db.notify_tables import outbox_messages
from reportcard.db.schedule_tables import report_schedules, schedule_firings
from reportcard.notify.dispatcher import dispatch_due
from reportcard.notify.schedules import NO_MAIL_SERVER
from tests.patience import ANSWER, PATIENCE
from tests.web.conftest import PASSWORDS, Site
from tests.web.helpers import csrf_of, sign_in

REPORT = "provisioning_csv"


def _firing_delivery(site: Site, sid: int) -> str | None:
    with site.engine.connect() as conn:
        return conn.execute(
            select(schedule_firings.c.delivery).where(schedule_firings.c.schedule_id == sid)
        ).scalar()


def _last_firing(client: httpx.Client, page: str, sid: int) -> str:
    html = client.get(page).text
    card = re.search(rf'id="schedule-{sid}".*?class="last-firing">(.*?)</dd>', html, re.S)
    assert card, html
    return card.group(1)


def test_no_mail_server_is_warned_and_firings_show_the_outbox(site: Site) -> None:
    client = sign_in(site.base, "admin", PASSWORDS["admin"])
    page = f"/accounts/{site.root}/reports/{REPORT}/schedules"
    form = client.get(page).text
    assert "No mail server is configured" in form  # said before anything is created
    made = client.post(
        page,
        data={
            "csrf_token": csrf_of(form),
            "parameters[users]": "true",
            "frequency": "daily",
            "time": "06:00",
            "time_zone": "UTC",
            "recipients": "dean@example.edu vp@example.org",
            "empty_report": "send",
            "enabled": "true",
        },
    )
    assert made.status_code == 303, made.text
    sid = int(made.headers["location"].rsplit("#schedule-", 1)[1])
    card = client.get(page).text.split(f'id="schedule-{sid}"', 1)[1]
    assert NO_MAIL_SERVER in card

    api = httpx.get(
        f"{site.base}/api/v1/accounts/{site.root}/report_schedules/{sid}",
        headers={"Authorization": f"Bearer {site.tokens['admin']}"},
        timeout=ANSWER,
    ).json()
    assert api["warnings"] == [NO_MAIL_SERVER]

    with site.engine.connect() as conn:
        due = conn.execute(
            select(report_schedules.c.next_run_at).where(report_schedules.c.id == sid)
        ).scalar_one()
    (fired,) = [f for f in dispatch_due(site.engine, site.settings, due) if f.schedule_id == sid]
    deadline = time.monotonic() + PATIENCE
    while _firing_delivery(site, sid) is None:
        assert time.monotonic() < deadline, "the scheduled run did not end"
        time.sleep(0.1)
    assert _firing_delivery(site, sid) == "sent"

    last = _last_firing(client, page, sid)
    assert "mailed" not in last
    assert "2 of 2 emails queued in the outbox (no mail server is configured)" in last

    o = outbox_messages.c
    with site.engine.begin() as conn:
        ids = conn.execute(
            select(o.id).where(o.run_id == fired.run_id, o.kind == "schedule").order_by(o.id)
        ).scalars()
        first, second = list(ids)
        conn.execute(update(outbox_messages).where(o.id == first).values(state="sent"))
    last = _last_firing(client, page, sid)
    assert "1 sent, 1 of 2 emails queued in the outbox" in last

    with site.engine.begin() as conn:
        conn.execute(
            update(outbox_messages)
            .where(o.id == second)
            .values(state="failed", last_error="550 mailbox unavailable")
        )
    last = _last_firing(client, page, sid)
    assert "1 sent, 1 failed (550 mailbox unavailable)" in last
    assert "queued" not in last

    with site.engine.begin() as conn:
        conn.execute(update(outbox_messages).where(o.id == second).values(state="sent"))
    assert "mailed to all 2 recipients" in _last_firing(client, page, sid)
