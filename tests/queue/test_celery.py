"""Celery on real Redis and RabbitMQ brokers with real worker processes: runs complete, a
worker killed with SIGKILL mid-shard loses nothing, a broker outage loses nothing, the
per-root-account cap holds across workers."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select

from reportcard.app import create_app
from reportcard.db.engine import make_engine
from reportcard.db.tables import account_reports, report_shards
from reportcard.settings import Settings
from reportcard.storage.local import LocalStorage
from tests.api.conftest import build_world
from tests.patience import ANSWER, PATIENCE
from tests.queue.slow_report import SLOW
from tests.serving import free_port, serving
from tests.storage.invariant import assert_storage_clean

REPO = Path(__file__).resolve().parents[2]
REPORTCARD = str(Path(sys.executable).parent / "reportcard")
BROKERS = {
    "redis": "redis://127.0.0.1:6379/3",
    "rabbitmq": "amqp://guest:guest@127.0.0.1:5672//",
}


class Cluster:
    """A server publishing to a broker, and worker processes started and killed at will."""

    def __init__(self, tmp: Path, db_url: str, broker: str) -> None:
        self.prefix = f"rc-test-{uuid.uuid4().hex[:8]}"
        self.env = dict(
            os.environ,
            REPORTCARD_DATA_DIR=str(tmp),
            REPORTCARD_DATABASE_URL=db_url,
            REPORTCARD_QUEUE="celery",
            REPORTCARD_BROKER_URL=broker,
            REPORTCARD_QUEUE_PREFIX=self.prefix,
            REPORTCARD_EXTRA_REPORT_MODULES="tests.queue.slow_report",
            REPORTCARD_HEARTBEAT_SECONDS="0.5",
            REPORTCARD_STALE_SECONDS="3",
            REPORTCARD_SHARD_ROWS="400",
            PYTHONPATH=str(REPO),
        )
        self.workers: list[subprocess.Popen[bytes]] = []

    def settings(self, **overrides: Any) -> Settings:
        values = {
            k.removeprefix("REPORTCARD_").lower(): v
            for k, v in self.env.items()
            if k.startswith("REPORTCARD_")
        }
        values.update(overrides)
        return Settings(**values)

    def start_worker(self) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            [REPORTCARD, "worker", "--queue", "celery"],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.workers.append(proc)
        return proc

    def stop(self) -> None:
        # Every worker at once. On RabbitMQ a worker notices SIGTERM only when its event loop
        # next wakes (about 5 s); what a test checks is done by now, so one that lingers past
        # 1 s is killed (a Redis worker stops in about 0.5 s).
        running = [proc for proc in self.workers if proc.poll() is None]
        for proc in running:
            proc.terminate()
        deadline = time.monotonic() + 1
        for proc in running:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


@pytest.fixture(params=sorted(BROKERS))
def broker(request: pytest.FixtureRequest) -> str:
    return BROKERS[request.param]


@pytest.fixture
def cluster(tmp_path: Path, database_url: str, broker: str) -> Iterator[Cluster]:
    c = Cluster(tmp_path, database_url, broker)
    yield c
    c.stop()


def wait_done(c: httpx.Client, url: str, timeout: float = PATIENCE) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        body: dict[str, Any] = c.get(url).json()
        if body["status"] in ("complete", "error", "aborted"):
            return body
        assert time.monotonic() < deadline, body
        time.sleep(0.1)


def setup_world(engine: Engine) -> tuple[int, str]:
    made = build_world(engine)
    return int(made["root"]), str(made["tokens"]["admin"])  # type: ignore[index]


def test_reports_run_on_celery_workers(cluster: Cluster) -> None:
    engine = make_engine(cluster.env["REPORTCARD_DATABASE_URL"])
    root, token = setup_world(engine)
    with serving(create_app(cluster.settings()), lifespan="auto") as base:
        cluster.start_worker()
        with httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=ANSWER
        ) as c:
            run = c.post(
                f"/api/v1/accounts/{root}/reports/provisioning_csv",
                data={"parameters[users]": "1", "parameters[accounts]": "1"},
            ).json()
            done = wait_done(c, f"/api/v1/accounts/{root}/reports/provisioning_csv/{run['id']}")
            assert done["status"] == "complete", done
            zf = zipfile.ZipFile(io.BytesIO(c.get(done["attachment"]["url"]).content))
            assert zf.namelist() == ["users.csv", "accounts.csv"]
            assert zf.read("users.csv").count(b"\n") == 36  # 35 logins and the header


def test_sigkill_mid_shard_loses_nothing(cluster: Cluster) -> None:
    engine = make_engine(cluster.env["REPORTCARD_DATABASE_URL"])
    root, token = setup_world(engine)
    with serving(create_app(cluster.settings()), lifespan="auto") as base:
        first = cluster.start_worker()
        with httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=ANSWER
        ) as c:
            run = c.post(f"/api/v1/accounts/{root}/reports/{SLOW}", data={"parameters[k]": "1"})
            run_id = run.json()["id"]
            # Wait until a worker holds a shard, then kill it without warning.
            deadline = time.monotonic() + PATIENCE
            while True:
                with engine.connect() as conn:
                    running = conn.execute(
                        select(func.count()).where(
                            report_shards.c.report_id == run_id, report_shards.c.state == "running"
                        )
                    ).scalar_one()
                if running:
                    break
                assert time.monotonic() < deadline
                time.sleep(0.05)
            time.sleep(0.3)
            os.kill(first.pid, signal.SIGKILL)
            first.wait(10)
            cluster.start_worker()
            done = wait_done(c, f"/api/v1/accounts/{root}/reports/{SLOW}/{run_id}")
            assert done["status"] == "complete", done
            got = c.get(done["attachment"]["url"]).content
        with engine.connect() as conn:
            attempts = conn.execute(
                select(func.max(report_shards.c.attempts)).where(
                    report_shards.c.report_id == run_id
                )
            ).scalar_one()
        assert attempts >= 2  # the killed shard ran again
        lines = got.decode().splitlines()
        assert lines[0] == "canvas_user_id,login_id"
        ids = [int(line.split(",")[0]) for line in lines[1:]]
        assert ids == sorted(set(ids))  # no duplicate, in order
        assert len(ids) == 35  # no row missing
        # The killed shard's temp file went with the parts: only the attachment is left.
        assert_storage_clean(engine, LocalStorage(cluster.settings().resolved_storage_dir))


def test_broker_down_when_a_report_starts_then_it_runs(cluster: Cluster) -> None:
    engine = make_engine(cluster.env["REPORTCARD_DATABASE_URL"])
    root, token = setup_world(engine)
    dead_broker = f"redis://127.0.0.1:{free_port()}/0"
    app = create_app(cluster.settings(broker_url=dead_broker))
    with (
        serving(app, lifespan="auto") as base,
        httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=ANSWER
        ) as c,
    ):
        r = c.post(
            f"/api/v1/accounts/{root}/reports/provisioning_csv",
            data={"parameters[users]": "1"},
            timeout=ANSWER,
        )
        assert r.status_code == 200  # accepted and kept in the database
        run_id = r.json()["id"]
        assert r.json()["status"] == "created"
        # The broker comes back (the worker uses the live one): the reaper republishes.
        cluster.start_worker()
        done = wait_done(c, f"/api/v1/accounts/{root}/reports/provisioning_csv/{run_id}")
        assert done["status"] == "complete"


def test_twenty_reports_on_two_workers_respect_the_cap(cluster: Cluster) -> None:
    engine = make_engine(cluster.env["REPORTCARD_DATABASE_URL"])
    root, token = setup_world(engine)
    cluster.env["REPORTCARD_CONCURRENCY_PER_ROOT"] = "2"
    peak = 0
    with serving(create_app(cluster.settings()), lifespan="auto") as base:
        cluster.start_worker()
        cluster.start_worker()
        with httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=ANSWER
        ) as c:
            started = [
                c.post(
                    f"/api/v1/accounts/{root}/reports/provisioning_csv",
                    data={"parameters[users]": "1", "parameters[n]": str(i)},
                )
                for i in range(20)
            ]
            assert [r.status_code for r in started] == [200] * 20, started[-1].text
            ids = [r.json()["id"] for r in started]
            deadline = time.monotonic() + 120
            while True:
                with engine.connect() as conn:
                    states = dict(
                        conn.execute(
                            select(account_reports.c.workflow_state, func.count())
                            .where(account_reports.c.id.in_(ids))
                            .group_by(account_reports.c.workflow_state)
                        ).all()
                    )
                peak = max(peak, states.get("running", 0) + states.get("compiling", 0))
                if states.get("complete", 0) == 20:
                    break
                assert time.monotonic() < deadline, states
                time.sleep(0.05)
            bodies = {
                c.get(
                    c.get(f"/api/v1/accounts/{root}/reports/provisioning_csv/{i}").json()[
                        "attachment"
                    ]["url"]
                ).content
                for i in ids
            }
        assert peak <= 2
        assert len(bodies) == 1  # every file is the same, correct report
        assert next(iter(bodies)).count(b"\n") == 36
