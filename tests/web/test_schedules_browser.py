"""A report's schedules in a real browser (Debian's Chromium through Playwright).

Creates a weekly schedule through the form, sees it listed, and checks the page does not
scroll sideways at phone width. Reuses the module server and browser of tests/web/conftest.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.patience import ANSWER_MS
from tests.web.conftest import PASSWORDS, Site, shoot

pytestmark = pytest.mark.browser
COOKIE_SECURE = True  # the default: Chromium keeps Secure cookies of http://127.0.0.1

DESKTOP = {"width": 1000, "height": 760}
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def page(browser: Any, site: Site) -> Iterator[Any]:
    context = browser.new_context(viewport=DESKTOP, base_url=site.base)
    context.set_default_timeout(ANSWER_MS)
    tab = context.new_page()
    try:
        yield tab
    finally:
        context.close()


def test_create_a_weekly_schedule_through_the_form(page: Any, site: Site) -> None:
    page.goto("/login")
    page.get_by_label("Login", exact=True).fill("admin")
    page.get_by_label("Password", exact=True).fill(PASSWORDS["admin"])
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url("**/reports")
    page.get_by_role("link", name="Schedules of Provisioning", exact=True).click()
    page.wait_for_url("**/reports/provisioning_csv/schedules")
    assert page.get_by_text("This report has no schedule in this account.").is_visible()

    form = page.locator("form", has=page.get_by_role("button", name="Create schedule"))
    form.get_by_label("users", exact=True).check()
    form.get_by_label("courses", exact=True).check()
    # Only the fields of the chosen repetition are shown.
    assert form.get_by_label("Time of day", exact=True).is_visible()
    assert not form.get_by_label("Day of the week (weekly)").is_visible()
    assert not form.get_by_label("Cron expression", exact=True).is_visible()
    form.get_by_label("Repeat", exact=True).select_option(label="Every week")
    assert not form.get_by_label("Day of the month (monthly)").is_visible()
    form.get_by_label("Day of the week (weekly)").select_option(label="Friday")
    form.get_by_label("Time of day", exact=True).fill("16:30")
    assert form.get_by_label("Time zone", exact=True).input_value() == "America/Denver"
    form.get_by_label("Recipients", exact=True).fill("dean@example.edu\nregistrar@example.edu")
    form.get_by_label("Send a note saying it was empty").check()
    form.get_by_role("button", name="Create schedule").click()
    page.wait_for_url("**/schedules?done=created*")

    assert page.get_by_role("status").inner_text() == "Schedule created."
    card = page.locator("li.schedule").first
    heading = card.get_by_role("heading").inner_text()
    assert heading.endswith("every Friday at 16:30 (America/Denver)"), heading
    text = card.inner_text()
    assert "dean@example.edu, registrar@example.edu" in text
    assert "a note is sent" in text and "Files: users, courses" in text
    assert card.locator(".schedule-status").inner_text() == "Enabled"
    shoot(page, "schedules", card)

    page.set_viewport_size(PHONE)
    wide = page.evaluate("document.documentElement.scrollWidth")
    assert wide <= PHONE["width"], "the schedules page scrolls sideways on a phone"

    card.get_by_role("button", name="Disable").click()
    page.wait_for_url("**/schedules?done=disabled*")
    assert page.locator("li.schedule .schedule-status").first.inner_text() == "Disabled"


def test_schedule_form_shows_every_error_at_once(page: Any, site: Site) -> None:
    page.goto("/login")
    page.get_by_label("Login", exact=True).fill("admin")
    page.get_by_label("Password", exact=True).fill(PASSWORDS["admin"])
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url("**/reports")
    page.goto(f"/accounts/{site.root}/reports/provisioning_csv/schedules")
    form = page.locator("form", has=page.get_by_role("button", name="Create schedule"))
    form.get_by_label("Repeat", exact=True).select_option(label="Cron expression")
    assert not form.get_by_label("Time of day", exact=True).is_visible()
    form.get_by_label("Cron expression", exact=True).fill("99 * * * *")
    form.get_by_label("Time zone", exact=True).fill("Mars/Olympus")
    form.get_by_label("Recipients", exact=True).fill("dean@example.edu, not-an-address")
    form.get_by_role("button", name="Create schedule").click()
    errors = page.get_by_role("alert").filter(has_text="The schedule was not created")
    errors.wait_for()
    items = errors.locator("li").all_inner_texts()
    # No file chosen, the cron expression, the zone and the address: four at once.
    assert len(items) == 4, items
    assert any("Choose at least one file" in i for i in items), items
    assert any("invalid recurrence" in i for i in items), items
    assert any("Mars/Olympus" in i for i in items), items
    assert any("not-an-address" in i for i in items), items
    # The form comes back on the chosen repetition, its other fields still hidden.
    assert form.get_by_label("Cron expression", exact=True).input_value() == "99 * * * *"
    assert not form.get_by_label("Time of day", exact=True).is_visible()
    shoot(page, "schedule-errors", errors)
