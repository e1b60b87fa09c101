"""The embedded queue across a real crash: `reportcard serve` killed with SIGKILL mid-shard,
started again, finishes the run with exactly the rows of an undisturbed run."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from reportcard.db.engine import make_engine
from reportcard.db.tables import report_shards
from reportcard.storage.local import LocalStorage
from tests.api.conftest import build_world
from tests.patience import ANSWER, PATIENCE
from tests.queue.slow_report import SLOW
from tests.queue.test_celery import REPO, REPORTCARD
from tests.serving import free_port
from tests.storage.invariant import assert_storage_clean


@pytest.fixture
def env(tmp_path: Path, database_url: str) -> Iterator[dict[str, str]]:
    yield dict(
        os.environ,
        REPORTCARD_DATA_DIR=str(tmp_path),
        REPORTCARD_DATABASE_URL=database_url,
        REPORTCARD_EXTRA_REPORT_MODULES="tests.queue.slow_report",
        REPORTCARD_HEARTBEAT_SECONDS="0.5",
        REPORTCARD_SHARD_ROWS="400",
        REPORTCARD_POLL_SECONDS="0.1",
        PYTHONPATH=str(REPO),
    )


def serve(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [REPORTCARD, "serve", "--port", str(port), "--workers", "2"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + PATIENCE
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=1)
            return proc
        except httpx.TransportError:
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.1)


def test_server_killed_mid_shard_resumes_after_restart(env: dict[str, str]) -> None:
    engine = make_engine(env["REPORTCARD_DATABASE_URL"])
    made = build_world(engine)
    root, token = made["root"], made["tokens"]["admin"]  # type: ignore[index]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {token}"}
    server = serve(env, port)
    try:
        run = httpx.post(
            f"{base}/api/v1/accounts/{root}/reports/{SLOW}",
            data={"parameters[k]": "crash"},
            headers=headers,
            timeout=ANSWER,
        ).json()
        deadline = time.monotonic() + PATIENCE
        while True:
            with engine.connect() as conn:
                running = conn.execute(
                    select(func.count()).where(
                        report_shards.c.report_id == run["id"], report_shards.c.state == "running"
                    )
                ).scalar_one()
            if running:
                break
            assert time.monotonic() < deadline
            time.sleep(0.05)
        time.sleep(0.3)
        os.kill(server.pid, signal.SIGKILL)
        server.wait(10)
        time.sleep(1.6)  # the dead shards' heartbeats go stale (3 x 0.5 s)
        server = serve(env, port)
        url = f"{base}/api/v1/accounts/{root}/reports/{SLOW}/{run['id']}"
        deadline = time.monotonic() + PATIENCE
        while (status := httpx.get(url, headers=headers, timeout=ANSWER).json())[
            "status"
        ] != "complete":
            assert status["status"] in ("running", "compiling"), status
            assert time.monotonic() < deadline, status
            time.sleep(0.1)
        body = httpx.get(status["attachment"]["url"], timeout=ANSWER).content.decode()
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(10)
    lines = body.splitlines()
    assert lines[0] == "canvas_user_id,login_id"
    ids = [int(x.split(",")[0]) for x in lines[1:]]
    assert len(ids) == 35 and ids == sorted(set(ids))  # nothing lost, nothing twice
    assert status["current_line"] == 36
    # The killed shards' temp files went with the run's parts: only the attachment is left.
    assert_storage_clean(engine, LocalStorage(Path(env["REPORTCARD_DATA_DIR"]) / "files"))
