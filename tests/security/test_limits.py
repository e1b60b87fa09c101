"""Limits, each a setting: body size (413), start rate per token and queued runs per account
(429 with Retry-After), SIS upload size, and the maximum run time."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from reportcard import audit
from reportcard.clock import utcnow
from reportcard.db.engine import dispose_all, make_engine
from reportcard.db.tables import account_reports
from reportcard.runs.time_limit import end_overdue_runs
from reportcard.service.limits import TokenBuckets
from reportcard.settings import Settings
from reportcard.storage.local import LocalStorage
from tests.api.conftest import build_world
from tests.databases import drop_database, fresh_database_url
from tests.patience import ANSWER
from tests.runs.sample import SAMPLE
from tests.security.conftest import client, reports_url, serve


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp: Path = tmp_path_factory.mktemp("limited")
    url = fresh_database_url(tmp)
    engine = make_engine(url)
    made = build_world(engine)
    settings = Settings(
        data_dir=tmp,
        database_url=url,
        max_body_bytes=2000,
        sis_import_max_bytes=5000,
        report_start_rate=6,  # one every 10 s
        report_start_burst=2,
        max_queued_runs=3,
        duplicate_window_hours=0,
        max_run_seconds=3600,
    )
    with serve(settings, workers=0) as base:  # no workers: runs stay queued
        yield {"base": base, "engine": engine, "settings": settings, **made}
    dispose_all()
    drop_database(url)


def test_body_over_the_limit_is_413_declared_or_streamed(limited: dict[str, Any]) -> None:
    tokens = limited["tokens"]
    url = limited["base"] + reports_url(limited["root"], SAMPLE)
    headers = {"Authorization": f"Bearer {tokens['admin']}", "Content-Type": "application/json"}
    big = b'{"parameters": {"x": "' + b"a" * 3000 + b'"}}'
    r = httpx.post(url, content=big, headers=headers, timeout=ANSWER)
    assert r.status_code == 413
    assert r.json() == {
        "errors": [{"message": "The request body is larger than the limit of 2000 bytes."}]
    }

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while read
        yield b'{"parameters": {"x": "'
        for _ in range(10):
            yield b"b" * 500
        yield b'"}}'

    r = httpx.post(url, content=chunks(), headers=headers, timeout=ANSWER)
    assert r.status_code == 413
    assert r.json()["errors"][0]["message"].startswith("The request body is larger")
    other = limited["base"] + reports_url(limited["other_root"], SAMPLE)
    mine = {**headers, "Authorization": f"Bearer {tokens['otheradmin']}"}
    within = httpx.post(other, content=b'{"parameters": {"x": "1"}}', headers=mine, timeout=ANSWER)
    assert within.status_code == 200


def _raw_post(base: str, path: str, headers: dict[str, str], body: bytes) -> bytes:
    host, port = base.removeprefix("http://").split(":")
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}", *[f"{k}: {v}" for k, v in headers.items()]]
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        return s.recv(65536)


def test_sis_upload_has_its_own_larger_limit(limited: dict[str, Any]) -> None:
    base, root = limited["base"], limited["root"]
    headers = {"Authorization": f"Bearer {limited['tokens']['admin']}"}
    url = f"{base}/api/v1/accounts/{root}/sis_imports"
    small = b"user_id,login_id,status\n" + b"u1,l1,active\n" * 200  # > max_body_bytes
    ok = httpx.post(
        url,
        params={"extension": "csv"},
        content=small,
        headers={**headers, "Content-Type": "text/csv"},
        timeout=ANSWER,
    )
    assert ok.status_code == 200, ok.text
    huge = b"x" * (5000 + (1 << 20) + 10)
    r = httpx.post(
        url,
        params={"extension": "csv"},
        content=huge,
        headers={**headers, "Content-Type": "text/csv"},
        timeout=ANSWER,
    )
    assert r.status_code == 413
    # a lying Content-Length is refused before the body is read
    raw = _raw_post(
        base,
        f"/api/v1/accounts/{root}/sis_imports",
        {**headers, "Content-Length": str(10**12), "Content-Type": "text/csv"},
        b"",
    )
    assert raw.startswith(b"HTTP/1.1 413")


def test_start_rate_per_token_answers_429_with_retry_after(limited: dict[str, Any]) -> None:
    base, root, tokens = limited["base"], limited["root"], limited["tokens"]
    with client(base, tokens["viewer"]) as c:
        codes = [
            c.post(reports_url(root, SAMPLE), data={"parameters[n]": str(i)}).status_code
            for i in range(3)
        ]
        assert codes[:2] == [200, 200]
        assert codes[2] == 429
        r = c.post(reports_url(root, SAMPLE))
        assert r.status_code == 429
        assert 1 <= int(r.headers["Retry-After"]) <= 10
        assert "Too many reports" in r.json()["errors"][0]["message"]
        assert c.get(reports_url(root)).status_code == 200  # reading is not limited
    with client(base, tokens["subadmin"]) as c:  # another token has its own bucket
        assert c.post(reports_url(limited["sub"], SAMPLE)).status_code == 200
    with limited["engine"].connect() as conn:
        assert audit.list_events(conn, action="limit.rate")


def test_queued_runs_per_account_answer_429(limited: dict[str, Any]) -> None:
    base, tokens, engine = limited["base"], limited["tokens"], limited["engine"]
    account = limited["sibling"]
    statuses = []
    for who in ("admin", "admin", "otheradmin"):  # otheradmin: 403, not counted
        with client(base, tokens[who]) as c:
            statuses.append(c.post(reports_url(account, SAMPLE)).status_code)
    assert statuses == [200, 200, 403]
    with engine.begin() as conn:
        queued = (
            conn.execute(
                select(account_reports.c.id).where(account_reports.c.account_id == account)
            )
            .scalars()
            .all()
        )
    assert len(queued) == 2
    with client(base, tokens["subadmin"]) as c:  # sub admin: not on the sibling
        assert c.post(reports_url(account, SAMPLE)).status_code == 403
    from reportcard.service.limits import START_BUCKETS

    START_BUCKETS.clear()
    with client(base, tokens["admin"]) as c:
        assert c.post(reports_url(account, SAMPLE)).status_code == 200  # the 3rd fits
        full = c.post(reports_url(account, SAMPLE))
        assert full.status_code == 429
        assert full.headers["Retry-After"] == "60"
        assert "limit is 3" in full.json()["errors"][0]["message"]
        # finishing one (here: aborting) makes room
        c.put(reports_url(account, SAMPLE, queued[0], "abort"))
        START_BUCKETS.clear()
        assert c.post(reports_url(account, SAMPLE)).status_code == 200


def test_a_run_past_the_maximum_time_ends_in_error(limited: dict[str, Any]) -> None:
    base, tokens, engine = limited["base"], limited["tokens"], limited["engine"]
    settings: Settings = limited["settings"]
    account = limited["subsub"]
    with client(base, tokens["admin"]) as c:
        slow = c.post(reports_url(account, SAMPLE), data={"parameters[s]": "1"}).json()
        young = c.post(reports_url(account, SAMPLE), data={"parameters[s]": "2"}).json()
    now = utcnow()
    with engine.begin() as conn:
        for run_id, started in ((slow["id"], now - timedelta(hours=2)), (young["id"], now)):
            conn.execute(
                update(account_reports)
                .where(account_reports.c.id == run_id)
                .values(workflow_state="running", start_at=started)
            )
    storage = LocalStorage(settings.resolved_storage_dir)
    assert end_overdue_runs(engine, storage, settings, utcnow()) == 1
    assert end_overdue_runs(engine, storage, settings, utcnow()) == 0  # idempotent
    with client(base, tokens["admin"]) as c:
        ended = c.get(reports_url(account, SAMPLE, slow["id"])).json()
        still = c.get(reports_url(account, SAMPLE, young["id"])).json()
    assert ended["status"] == "error"
    assert "ran longer than the limit of 1 hour" in ended["parameters"]["extra_text"]
    assert still["status"] == "running"
    off = settings.model_copy(update={"max_run_seconds": 0})
    assert end_overdue_runs(engine, storage, off, utcnow() + timedelta(days=9)) == 0


def test_token_bucket_refills_at_the_rate() -> None:
    b = TokenBuckets()
    assert b.take("k", rate=60, burst=2, now=0.0) == 0.0
    assert b.take("k", rate=60, burst=2, now=0.0) == 0.0
    assert b.take("k", rate=60, burst=2, now=0.0) == pytest.approx(1.0)
    assert b.take("k", rate=60, burst=2, now=0.5) == pytest.approx(0.5)
    assert b.take("k", rate=60, burst=2, now=1.0) == 0.0
    assert b.take("other", rate=60, burst=2, now=1.0) == 0.0
