"""The Reports page in a real browser: Debian's Chromium, driven by Playwright.

Each test opens its own browser context (a fresh cookie jar) on the module's one browser and
one server. Screenshots of the main states are saved as artefacts (see conftest.SCREENSHOTS).
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.patience import ANSWER_MS
from tests.web.conftest import FORMULA_NAME, PASSWORDS, Site, shoot

pytestmark = pytest.mark.browser
COOKIE_SECURE = True  # the default: Chromium keeps Secure cookies of http://127.0.0.1

BOM = b"\xef\xbb\xbf"
DESKTOP = {"width": 1000, "height": 760}
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def page(browser: Any, site: Site) -> Iterator[Any]:
    context = browser.new_context(viewport=DESKTOP, accept_downloads=True, base_url=site.base)
    context.set_default_timeout(ANSWER_MS)
    tab = context.new_page()
    try:
        yield tab
    finally:
        context.close()


def password_sign_in(page: Any, login: str) -> None:
    page.goto("/login")
    page.get_by_label("Login", exact=True).fill(login)
    page.get_by_label("Password", exact=True).fill(PASSWORDS[login])
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url("**/reports")
    cookie = next(c for c in page.context.cookies() if c["name"] == "reportcard_session")
    assert cookie["secure"] and cookie["httpOnly"] and cookie["sameSite"] == "Lax"


def token_sign_in(page: Any, token: str) -> None:
    page.goto("/login")
    page.get_by_label("Access token", exact=True).fill(token)
    page.get_by_role("button", name="Sign in with token").click()
    page.wait_for_url("**/reports")


def test_password_sign_in_run_provisioning_and_download(
    page: Any, site: Site, tmp_path: Path
) -> None:
    page.goto("/login")
    page.get_by_label("Login", exact=True).fill("admin")
    shoot(page, "sign-in")
    page.get_by_label("Password", exact=True).fill(PASSWORDS["admin"])
    page.keyboard.press("Enter")  # the form is usable from the keyboard alone
    page.wait_for_url(f"**/accounts/{site.root}/reports")
    assert page.get_by_role("heading", name="Provisioning", exact=True).is_visible()

    section = page.locator("#report-provisioning_csv")
    section.get_by_text("Configure…").click()
    term = section.get_by_label("Term", exact=True)
    assert term.locator("option").first.inner_text() == "All Terms"
    term.select_option(label="Fall 2024")
    term.select_option(label="All Terms")
    for label in ("users", "accounts", "enrollments"):
        section.get_by_label(label, exact=True).check()
    section.get_by_label("Students", exact=True).check()
    shoot(page, "configure", section)
    section.get_by_role("button", name="Run Report").click()
    section.get_by_text("Provisioning report started.").wait_for()

    # Watch the bar (htmx swaps the run's row each second): it reaches 100, no page reload.
    # A loaded machine: CI ran past 60 s in the PostgreSQL lane, so wait generously for the
    # end state, then check the bar the swapped row shows.
    page.wait_for_selector("#report-provisioning_csv li.run[data-state=complete]", timeout=300_000)
    assert (
        page.evaluate(
            "() => document.querySelector('#report-provisioning_csv li.run progress').value"
        )
        == 100
    )
    run = section.locator("li.run").first
    assert "Complete" in run.inner_text()
    shoot(page, "complete", section)

    with page.expect_download() as info:
        run.get_by_role("link", name="Download").click()
    target = tmp_path / info.value.suggested_filename
    info.value.save_as(target)
    assert target.name.startswith("provisioning_csv_") and target.suffix == ".zip"
    with zipfile.ZipFile(target) as zf:
        assert zf.namelist() == ["users.csv", "accounts.csv", "enrollments.csv"]
        users = zf.read("users.csv")
        assert users.startswith(BOM)
        assert b"'" + FORMULA_NAME.encode().replace(b'"', b'""') in users
        assert zf.read("accounts.csv").startswith(BOM)


def test_token_sign_in_abort_a_long_run_then_delete_it(page: Any, site: Site) -> None:
    token_sign_in(page, site.tokens["otheradmin"])
    section = page.locator("#report-framework_slow_csv")
    section.get_by_text("Configure…").click()
    section.get_by_role("button", name="Run Report").click()
    run = section.locator("li.run").first
    page.wait_for_selector("#report-framework_slow_csv li.run[data-state=running]")
    shoot(page, "running", section)
    box = run.locator("progress").bounding_box()
    # The bar keeps its place and size while the run moves on: across the page's next refresh
    # of the run (htmx swaps the whole item every second), seen by a mark the old item had.
    item = run.get_attribute("id")
    page.evaluate("id => { document.getElementById(id).dataset.before = 'yes'; }", item)
    page.wait_for_function(
        "id => { const el = document.getElementById(id); return el && !el.dataset.before; }",
        arg=item,
    )
    assert run.locator("progress").bounding_box() == box
    run.get_by_role("button", name="Abort").click()
    page.wait_for_selector("#report-framework_slow_csv li.run[data-state=aborted]")
    assert "Aborted" in section.locator("li.run").first.inner_text()
    assert "Report has been aborted" in section.locator("li.run").first.inner_text()
    shoot(page, "aborted", section)

    page.once("dialog", lambda dialog: dialog.accept())
    section.locator("li.run").first.get_by_role("button", name="Delete").click()
    section.get_by_text("deleted.").wait_for()
    assert section.locator("li.run").count() == 0
    assert section.get_by_text("Not run yet.").is_visible()


def test_sub_account_admin_sees_only_their_subtree(page: Any, site: Site) -> None:
    password_sign_in(page, "subadmin")
    assert page.url.endswith(f"/accounts/{site.sub}/reports")
    switcher = page.get_by_label("Account", exact=True)
    names = [o.strip() for o in switcher.locator("option").all_inner_texts()]
    assert names == ["College of Arts", "Music"]
    switcher.select_option(label="Music")
    page.get_by_role("button", name="Switch account").click()
    page.wait_for_url(f"**/accounts/{site.subsub}/reports")
    assert page.get_by_role("navigation", name="Account path").inner_text().count("Music") == 1
    answer = page.goto(f"/accounts/{site.root}/reports")
    assert answer is not None and answer.status == 404
    assert page.get_by_text("you may not see its reports").is_visible()


def test_csrf_refusal_in_the_browser(page: Any, site: Site) -> None:
    password_sign_in(page, "admin")
    path = f"/accounts/{site.root}/reports/framework_slow_csv"
    status = page.evaluate(
        "async path => (await fetch(path, {method: 'POST', body: new URLSearchParams()})).status",
        path,
    )
    assert status == 403
    # A tampered form: the hidden token no longer matches, and htmx's header is dropped.
    page.evaluate(
        """() => {
        document.body.removeAttribute('hx-headers');
        for (const el of document.querySelectorAll('input[name=csrf_token]')) el.value = 'wrong';
    }"""
    )
    section = page.locator("#report-framework_slow_csv")
    section.get_by_text("Configure…").click()
    section.get_by_role("button", name="Run Report").click()
    problem = page.locator("#problem")
    problem.wait_for()
    assert "did not come from this site" in problem.inner_text()
    assert section.locator("li.run").count() == 0


def test_keyboard_alone_and_sign_out(page: Any, site: Site) -> None:
    password_sign_in(page, "admin")
    page.keyboard.press("Tab")
    focused = "() => document.activeElement.textContent.trim()"
    assert page.evaluate(focused) == "Skip to content"
    # Tab to the first report's Configure..., open it with Enter: its first control follows.
    for _ in range(30):
        page.keyboard.press("Tab")
        if page.evaluate(focused).startswith("Configure"):
            break
    else:
        pytest.fail("Configure… is not reachable with Tab")
    page.keyboard.press("Enter")
    assert page.locator("details.configure[open]").count() == 1
    page.keyboard.press("Tab")
    tag = page.evaluate("() => document.activeElement.tagName")
    assert tag in ("INPUT", "SELECT")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/login?signed_out=1")
    page.get_by_text("You have signed out.").wait_for()
    page.goto(f"/accounts/{site.root}/reports")
    assert "/login" in page.url


def test_phone_width(browser: Any, site: Site) -> None:
    context = browser.new_context(viewport=PHONE, base_url=site.base, device_scale_factor=1)
    try:
        page = context.new_page()
        password_sign_in(page, "admin")
        shoot(page, "phone")
        page.locator("#report-provisioning_csv").get_by_text("Configure…").click()
        wide = page.evaluate("() => document.documentElement.scrollWidth")
        assert wide <= PHONE["width"], "the page scrolls sideways on a phone"
        # 1280 CSS pixels at 400% zoom leave 320: still no sideways scrolling.
        page.set_viewport_size({"width": 320, "height": 600})
        wide = page.evaluate("() => document.documentElement.scrollWidth")
        assert wide <= 320, "the page scrolls sideways at 400% zoom"
    finally:
        context.close()


def test_sis_import_page(page: Any, site: Site, tmp_path: Path) -> None:
    password_sign_in(page, "admin")
    page.get_by_role("link", name="SIS Import").click()
    page.wait_for_url(f"**/accounts/{site.root}/sis_import")
    upload = tmp_path / "users.csv"
    upload.write_text(
        "user_id,login_id,first_name,last_name,email,status\n"
        "b-1,browser.one,Bea,One,bea@example.edu,active\n"
        "b-2,browser.two,Bo,Two,bo@example.edu,unknown\n"
    )
    page.get_by_label("File (CSV or zip)").set_input_files(str(upload))
    page.get_by_role("button", name="Start import").click()
    page.wait_for_selector("li.run[data-state=imported_with_messages]")
    item = page.locator("li.run").first
    assert "users" in item.locator("table.counts").inner_text()
    assert "unknown" in item.inner_text()
    shoot(page, "sis-import", page.get_by_role("heading", name="Recent imports"))
