"""End to end on a real server: the emailed link downloads the file; expired files are 410."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from reportcard.clock import utcnow
from reportcard.db.engine import dispose_all, make_engine
from reportcard.runs.retention import sweep
from reportcard.settings import Settings
from reportcard.storage.local import LocalStorage
from tests.api.conftest import SAMPLE, World, build_world
from tests.api.test_http import client, finish, reports_url
from tests.databases import drop_database, fresh_database_url
from tests.notify.conftest import add_email
from tests.notify.smtp_server import SmtpServer
from tests.patience import ANSWER, PATIENCE
from tests.serving import free_port, serving_reportcard

GONE = {
    "errors": [
        {
            "message": "The file of this report has expired and was deleted; "
            "run the report again to get a new one."
        }
    ]
}


@dataclass
class Site:
    world: World
    settings: Settings
    smtp: SmtpServer


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp: Path = tmp_path_factory.mktemp("delivery")
    url = fresh_database_url(tmp)
    smtp = SmtpServer()
    smtp.start()
    port = free_port()
    settings = Settings(
        data_dir=tmp,
        database_url=url,
        poll_seconds=0.05,
        shard_rows=10,
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        mail_interval_seconds=0.1,
        public_url=f"http://127.0.0.1:{port}",
    )
    engine = make_engine(url)
    made = build_world(engine)
    try:
        with serving_reportcard(settings, workers=2, port=port) as base:
            world = World(engine=engine, base=base, **made)  # type: ignore[arg-type]
            yield Site(world, settings, smtp)
    finally:
        smtp.stop()
        dispose_all()
        drop_database(url)


def start(c: httpx.Client, world: World, **params: str) -> dict[str, Any]:
    data = {f"parameters[{k}]": v for k, v in params.items()}
    r = c.post(reports_url(world.root, SAMPLE), data=data)
    assert r.status_code == 200, r.text
    return finish(c, reports_url(world.root, SAMPLE, r.json()["id"]))


def test_the_server_emails_a_link_that_downloads_the_file(site: Site) -> None:
    world = site.world
    with world.engine.connect() as conn:
        from sqlalchemy import select

        from reportcard.db.tables import pseudonyms

        admin = conn.execute(
            select(pseudonyms.c.user_id).where(pseudonyms.c.unique_id == "admin")
        ).scalar_one()
    add_email(world.engine, admin, "ada@example.edu")
    with client(world) as c:
        body = start(c, world, logins="mailed")
        assert body["status"] == "complete"
        deadline = time.monotonic() + PATIENCE
        while not site.smtp.inbox.messages:  # the server's own workers deliver it
            assert time.monotonic() < deadline, "no email arrived"
            time.sleep(0.05)
        [msg] = site.smtp.inbox.messages
        assert msg["Subject"] == "Report Generated" and msg["To"] == "ada@example.edu"
        text = msg.get_content()
        link = next(line for line in text.splitlines() if line.startswith("http"))
        att = body["attachment"]
        assert link.startswith(
            f"{world.base}/accounts/{world.root}/files/{att['id']}/download"
            "?download_frd=1&verifier="
        )
        assert body["message"] in text
        got = httpx.get(link, timeout=ANSWER)  # no token: the link's verifier lets the reader in
        assert got.status_code == 200
        assert got.content == c.get(body["file_url"]).content
        assert got.content.startswith(b"canvas_user_id,")


def test_an_expired_file_answers_410_and_the_run_remains(site: Site) -> None:
    world = site.world
    with client(world) as c:
        old = start(c, world, logins="old")
        assert c.get(old["file_url"]).status_code == 200
        storage = LocalStorage(site.settings.resolved_storage_dir)
        removed = sweep(world.engine, storage, site.settings, utcnow() + timedelta(days=31))
        assert old["id"] in [r.run_id for r in removed]
        new = start(c, world, logins="new")  # made after the sweep: still there
        for url in (
            old["file_url"],
            old["attachment"]["url"],
            f"/api/v1/files/{old['attachment']['id']}",
        ):
            r = c.get(url)
            assert r.status_code == 410, url
            assert r.json() == GONE
        assert httpx.get(old["attachment"]["url"], timeout=ANSWER).status_code == 410  # verifier
        assert httpx.get(old["file_url"], timeout=ANSWER).status_code == 401  # no credentials
        again = c.get(reports_url(world.root, SAMPLE, old["id"]))
        assert again.status_code == 200
        run = again.json()
        assert run["status"] == "complete" and run["message"] == old["message"]
        assert run["attachment"]["workflow_state"] == "expired"
        assert run["file_url"] == old["file_url"]
        assert c.get(new["file_url"]).status_code == 200
