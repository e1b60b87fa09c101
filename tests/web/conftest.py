"""A real reportcard server with the Reports page, the API tests' world, passwords and a browser.

One server per test module (uvicorn on a free loopback port, two embedded workers, the slow
test report loaded as a plug-in), and one headless Debian Chromium per module driven by
Playwright (never a browser Playwright downloads).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, insert, select, update

from reportcard.auth.passwords import hash_password
from reportcard.db.engine import dispose_all, make_engine
from reportcard.db.tables import pseudonyms, users
from reportcard.settings import Settings
from tests.api.conftest import build_world
from tests.databases import drop_database, fresh_database_url
from tests.factories import FAST, add_login, add_user, login_values
from tests.serving import serving_reportcard

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Artefacts of every run go under var/ (not tracked); REPORTCARD_SCREENSHOT_DIR=docs/screenshots
# refreshes the pictures the README shows.
SCREENSHOTS = Path(
    os.environ.get(
        "REPORTCARD_SCREENSHOT_DIR",
        Path(__file__).resolve().parents[2] / "var" / "test-artifacts" / "screenshots",
    )
).resolve()
PASSWORDS = {"admin": "correct horse battery", "subadmin": "sub admin secret 1"}
FORMULA_NAME = '=HYPERLINK("http://example.invalid","click")'
SLOW_LOGINS = 200  # x 50 ms a row: the slow report runs for seconds


@dataclass
class Site:
    engine: Engine
    base: str
    root: int
    sub: int
    subsub: int
    sibling: int
    other_root: int
    fall_term: int
    tokens: dict[str, str]
    settings: Settings


def _seed_web(engine: Engine, root: int) -> None:
    with engine.begin() as conn:
        for login, password in PASSWORDS.items():
            conn.execute(
                update(pseudonyms)
                .where(pseudonyms.c.unique_id == login)
                .values(password_hash=hash_password(password, **FAST))
            )
        # A person whose name a spreadsheet would run as a formula.
        uid = add_user(conn, FORMULA_NAME, uuid="uuid-formula")
        add_login(conn, uid, root, "formula")
        # Many logins in the other institution: the slow report takes seconds there.
        other = conn.execute(
            select(pseudonyms.c.user_id).where(pseudonyms.c.unique_id == "otheradmin")
        ).scalar_one()
        other_root = conn.execute(
            select(pseudonyms.c.account_id).where(pseudonyms.c.unique_id == "otheradmin")
        ).scalar_one()
        conn.execute(
            insert(pseudonyms),
            [
                login_values(other, other_root, f"extra-{i}", position=2 + i)
                for i in range(SLOW_LOGINS)
            ],
        )
        from reportcard.lms.tree import refresh

        refresh(conn, root)
        assert conn.execute(select(users.c.id).where(users.c.name == FORMULA_NAME)).first()


@pytest.fixture(scope="module")
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    """The server; a module sets ``COOKIE_SECURE = True`` for the default Secure cookie
    (browsers send it to http://127.0.0.1; httpx would not)."""
    tmp: Path = tmp_path_factory.mktemp("web")
    url = fresh_database_url(tmp)
    settings = Settings(
        data_dir=tmp,
        database_url=url,
        poll_seconds=0.05,
        shard_rows=10,
        extra_report_modules="tests.queue.slow_report",
        ui_cookie_secure=getattr(request.module, "COOKIE_SECURE", False),
    )
    engine = make_engine(url)
    made: dict[str, Any] = build_world(engine)
    _seed_web(engine, int(made["root"]))
    try:
        with serving_reportcard(settings, workers=2) as base:
            yield Site(engine=engine, base=base, settings=settings, **made)
    finally:
        dispose_all()
        drop_database(url)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Debian Chromium for the module."""
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(
                f"{CHROMIUM} is missing: `make test` installs it (apt-get install chromium)"
            )
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def shoot(page: Any, name: str, show: Any = None) -> None:
    """Save a screenshot artefact (a small PNG of the viewport) into SCREENSHOTS.

    ``show``: a locator scrolled to the top of the viewport first.
    """
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    if show is not None:
        show.evaluate("el => el.scrollIntoView({block: 'start'})")
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=False)
