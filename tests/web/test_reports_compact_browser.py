"""The compact Reports page in Debian's Chromium: one row per report, Configure... opening in
place, the filter box, recent activity without scrolling, and bars that tell the truth."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.patience import ANSWER, ANSWER_MS, PATIENCE
from tests.web.conftest import Site, shoot

pytestmark = pytest.mark.browser
COOKIE_SECURE = True
DESKTOP = {"width": 1000, "height": 760}


@pytest.fixture
def page(browser: Any, site: Site) -> Iterator[Any]:
    context = browser.new_context(viewport=DESKTOP, base_url=site.base)
    context.set_default_timeout(ANSWER_MS)
    tab = context.new_page()
    tab.goto("/login")
    tab.get_by_label("Access token", exact=True).fill(site.tokens["admin"])
    tab.get_by_role("button", name="Sign in with token").click()
    tab.wait_for_url("**/reports")
    try:
        yield tab
    finally:
        context.close()


def _api_run(site: Site, params: dict[str, str]) -> dict[str, Any]:
    """Start provisioning_csv through the API and wait for it to end; the run's JSON."""
    url = f"{site.base}/api/v1/accounts/{site.root}/reports/provisioning_csv"
    auth = {"Authorization": f"Bearer {site.tokens['admin']}"}
    data = {f"parameters[{k}]": v for k, v in params.items()}
    run: dict[str, Any] = httpx.post(url, data=data, headers=auth, timeout=ANSWER).json()
    deadline = time.monotonic() + PATIENCE
    while run["status"] in ("created", "running", "compiling"):
        assert time.monotonic() < deadline, run
        time.sleep(0.1)
        run = httpx.get(f"{url}/{run['id']}", headers=auth, timeout=ANSWER).json()
    return run


def test_one_compact_row_per_report_and_configure_in_place(page: Any) -> None:
    rows = page.locator("#reports > section.report")
    count = rows.count()
    assert count >= 5
    heights = [rows.nth(i).bounding_box()["height"] for i in range(count)]
    assert max(heights) < 140, heights  # a row, not a card of the whole form
    activity = page.get_by_role("heading", name="Recent activity")
    assert activity.bounding_box()["y"] < DESKTOP["height"] / 2  # seen without scrolling
    shoot(page, "reports")

    row = page.locator("#report-provisioning_csv")
    closed = row.bounding_box()["height"]
    row.get_by_text("Configure…").click()
    form = row.locator("form")
    assert form.is_visible() and row.get_by_label("users", exact=True).is_visible()
    # Opened in place: the form is inside the row, under its name, as wide as the row.
    assert row.bounding_box()["height"] > closed
    assert form.bounding_box()["width"] > row.bounding_box()["width"] * 0.8
    row.get_by_text("Configure…").click()
    assert not form.is_visible()


def test_filter_box(page: Any) -> None:
    box = page.get_by_label("Filter reports")
    assert box.is_visible()
    total = page.locator("#reports > section.report").count()
    box.fill("provisioning")
    visible = page.locator("#reports > section.report:visible")
    assert page.locator("#report-provisioning_csv").is_visible()
    assert not page.locator("#report-grade_export_csv").is_visible()
    shown = visible.count()
    assert 1 <= shown < total
    assert page.get_by_text(f"{shown} of {total} reports").is_visible()
    box.fill("no such report anywhere")
    assert visible.count() == 0
    box.fill("")
    assert page.locator("#reports > section.report:visible").count() == total


def test_complete_and_failed_bars(page: Any, site: Site) -> None:
    done = _api_run(site, {"users": "true", "skip_message": "true"})
    assert done["status"] == "complete"
    failed = _api_run(site, {"skip_message": "true"})  # no file chosen: the run fails
    assert failed["status"] == "error"
    page.reload()
    row = page.locator("#report-provisioning_csv")

    last = row.locator(f"#run-{failed['id']}")
    assert last.get_attribute("data-state") == "error"
    assert last.locator("progress").count() == 0  # not a full blue bar
    bar = last.locator(".bar-error")
    assert bar.inner_text() == "Failed" and bar.is_visible()
    color = bar.evaluate("el => getComputedStyle(el).backgroundColor")
    assert color == "rgb(180, 35, 24)", color
    assert last.locator(".run-progress").inner_text() == ""  # no file: no line written

    row.get_by_text("History (").click()
    ok = row.locator(f"#run-{done['id']}")
    assert ok.locator("progress").evaluate("el => el.value") == 100
    lines = done["current_line"]
    assert ok.locator(".run-progress").inner_text() == f"{lines:,} line{'' if lines == 1 else 's'}"
    assert " of " not in ok.locator(".run-progress").inner_text()
    shoot(page, "bars", row)

    activity = page.locator(".activity-list li").first
    assert f"run {failed['id']}" in activity.inner_text() and "Failed" in activity.inner_text()


def test_a_started_notice_goes_away_when_the_run_ends(page: Any) -> None:
    row = page.locator("#report-provisioning_csv")
    row.get_by_text("Configure…").click()
    row.get_by_label("users", exact=True).check()
    row.get_by_role("button", name="Run Report").click()
    notice = row.get_by_text("Provisioning report started.")
    notice.wait_for()
    page.wait_for_selector("#report-provisioning_csv li.run[data-state=complete]", timeout=60_000)
    notice.wait_for(state="detached")
    assert row.locator(".notice").count() == 0


def test_focus_ring_contrast(page: Any) -> None:
    """The focus outline against the page behind it: at least 3:1 (WCAG 2.4.11/1.4.11)."""
    page.get_by_label("Filter reports").focus()
    page.keyboard.press("Shift+Tab")  # keyboard focus: :focus-visible applies
    page.keyboard.press("Tab")
    style = page.evaluate(
        "() => { const s = getComputedStyle(document.activeElement);"
        " const b = getComputedStyle(document.body).backgroundColor;"
        " return [s.outlineStyle, s.outlineColor, b] }"
    )
    outline_style, outline, background = style
    assert outline_style == "solid", style

    def luminance(css: str) -> float:
        r, g, b = (int(v) / 255 for v in css[css.index("(") + 1 : css.index(")")].split(",")[:3])
        lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in (r, g, b)]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    hi, lo = sorted((luminance(outline), luminance(background)), reverse=True)
    assert (hi + 0.05) / (lo + 0.05) >= 3, style
