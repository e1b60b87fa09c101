"""Concurrent report starts: the queue limit and Canvas's duplicate guard hold under a race.

Twenty threads start reports on one account at the same moment (a barrier) against a real
server. Before the count and the insert were one atomic step, the limit of 5 let all 20 in
(the count was read before the write transaction) and, on PostgreSQL, 20 identical starts made
9 runs. Both lanes: SQLite serialises through ``BEGIN IMMEDIATE``, PostgreSQL through a
transaction-scoped advisory lock per account (reportcard.runs.start).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from reportcard import audit
from reportcard.db.engine import dispose_all, make_engine
from reportcard.db.tables import account_reports
from reportcard.settings import Settings
from tests.api.conftest import build_world
from tests.databases import drop_database, fresh_database_url
from tests.runs.sample import SAMPLE
from tests.security.conftest import reports_url, serve

STARTS = 20
LIMIT = 5


@pytest.fixture(scope="module")
def racing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp: Path = tmp_path_factory.mktemp("racing")
    url = fresh_database_url(tmp)
    engine = make_engine(url)
    made = build_world(engine)
    settings = Settings(
        data_dir=tmp,
        database_url=url,
        report_start_rate=0,  # only the queue limit and the duplicate guard are at stake
        max_queued_runs=LIMIT,
        duplicate_window_hours=12,
    )
    with serve(settings, workers=0) as base:  # no workers: runs stay queued
        yield {"base": base, "engine": engine, **made}
    dispose_all()
    drop_database(url)


def race(base: str, token: str, url: str, bodies: list[dict[str, str]]) -> list[httpx.Response]:
    """POST each body from its own thread and connection, all released at once."""
    barrier = threading.Barrier(len(bodies))
    answers: list[httpx.Response | None] = [None] * len(bodies)

    def one(i: int) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=base, headers=headers, timeout=120) as c:
            c.get("/api/v1/accounts/self")  # connect first: the race is in the handler
            barrier.wait()
            answers[i] = c.post(url, data=bodies[i])

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(bodies))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
    assert all(a is not None for a in answers)
    return [a for a in answers if a is not None]


def runs_of(engine: Any, account: int) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count())
                .select_from(account_reports)
                .where(account_reports.c.account_id == account)
            ).scalar_one()
        )


def test_concurrent_starts_never_pass_the_queue_limit(racing: dict[str, Any]) -> None:
    account = racing["sibling"]
    bodies = [{"parameters[n]": str(i)} for i in range(STARTS)]  # all different: no 409
    answers = race(racing["base"], racing["tokens"]["admin"], reports_url(account, SAMPLE), bodies)
    codes = Counter(a.status_code for a in answers)
    assert codes == {200: LIMIT, 429: STARTS - LIMIT}, codes
    assert runs_of(racing["engine"], account) == LIMIT
    for a in answers:
        if a.status_code == 429:
            assert a.headers["Retry-After"] == "60"
            assert f"(the limit is {LIMIT})" in a.json()["errors"][0]["message"]
    with racing["engine"].connect() as conn:  # every refusal is in the audit log
        refused = [
            e
            for e in audit.list_events(conn, action="limit.queue", limit=100)
            if e["account_id"] == account
        ]
    assert len(refused) == STARTS - LIMIT


def test_concurrent_identical_starts_make_one_run(racing: dict[str, Any]) -> None:
    account = racing["subsub"]
    bodies = [{"parameters[same]": "1"} for _ in range(STARTS)]
    answers = race(racing["base"], racing["tokens"]["admin"], reports_url(account, SAMPLE), bodies)
    codes = Counter(a.status_code for a in answers)
    assert codes == {200: 1, 409: STARTS - 1}, codes
    assert runs_of(racing["engine"], account) == 1
    first = next(a for a in answers if a.status_code == 200).json()["id"]
    for a in answers:
        if a.status_code == 409:
            assert a.json()["id"] == first
            assert a.headers["Location"].endswith(f"/reports/{SAMPLE}/{first}")
