"""The database restarting mid-run: a private PostgreSQL cluster is restarted while worker
processes are executing a report's shards; the report still completes with every row once.

The cluster is the project's own (initdb into a temporary directory, its own port), so
restarting it disturbs nothing else on the machine. It needs PostgreSQL's server binaries and
root (to run them as the ``postgres`` user); it runs in the PostgreSQL lane.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from reportcard.db.engine import make_engine
from reportcard.db.migrate import upgrade
from reportcard.db.tables import account_reports, attachments, pseudonyms, report_shards
from reportcard.runs.lifecycle import create_run
from reportcard.storage.local import LocalStorage
from tests.databases import lane
from tests.patience import PATIENCE
from tests.queue.slow_report import HOLD_AFTER, SLOW
from tests.queue.test_celery import REPO, REPORTCARD
from tests.runs.sample import make_institution
from tests.serving import free_port
from tests.storage.invariant import assert_storage_clean


def _pg_bin() -> Path | None:
    root = Path("/usr/lib/postgresql")
    versions = sorted(root.iterdir(), key=lambda p: p.name) if root.is_dir() else []
    for v in reversed(versions):
        if (v / "bin" / "pg_ctl").exists():
            return v / "bin"
    return None


PG_BIN = _pg_bin()
_AS_POSTGRES = ["runuser", "-u", "postgres", "--"]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(lane() != "postgresql", reason="a PostgreSQL scenario (its lane)"),
    pytest.mark.skipif(PG_BIN is None, reason="PostgreSQL server binaries not installed"),
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run postgres as its user"),
]


@dataclass
class Cluster:
    data: Path
    port: int

    @property
    def log(self) -> Path:
        return self.data.parent / "log"

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def ctl(self, *args: str) -> None:
        assert PG_BIN is not None
        # -l: the server's output goes to a file, or it would hold our pipe open
        pg_ctl = [str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log)]
        subprocess.run([*_AS_POSTGRES, *pg_ctl, *args], check=True, capture_output=True, timeout=90)


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    assert PG_BIN is not None
    # Not under pytest's tmp_path: its parents are private to root, and postgres must enter.
    base = Path(tempfile.mkdtemp(prefix="rc-pg-", dir="/tmp"))
    base.chmod(0o755)
    shutil.chown(base, "postgres", "postgres")
    data = base / "data"
    subprocess.run(
        [*_AS_POSTGRES, str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "--no-sync"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    c = Cluster(data, free_port())
    opts = f"-p {c.port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off"
    c.ctl("-o", opts, "-w", "start")
    try:
        yield c
    finally:
        c.ctl("-m", "immediate", "stop")
        shutil.rmtree(base, ignore_errors=True)


def test_report_completes_exactly_across_a_database_restart(
    cluster: Cluster, tmp_path: Path
) -> None:
    """The run is held mid-way (tests/queue/slow_report.py: each process writes 20 rows, then
    waits while the hold file exists) with shards of 40 rows, so whatever the machine's load,
    no shard can end before the restart and some shard is being written across it."""
    engine = make_engine(cluster.url)
    upgrade(engine)
    hold = tmp_path / "hold"
    hold.touch()
    with engine.begin() as conn:
        root = make_institution(conn, 160)
        run_id = create_run(
            conn,
            account_id=root,
            root_account_id=root,
            user_id=None,
            report_type=SLOW,
            parameters={"k": "restart", "hold": str(hold)},
        )
        expected = conn.execute(
            select(pseudonyms.c.user_id, pseudonyms.c.unique_id)
            .where(pseudonyms.c.account_id == root)
            .order_by(pseudonyms.c.id)
        ).all()
    env = dict(
        os.environ,
        REPORTCARD_DATA_DIR=str(tmp_path),
        REPORTCARD_DATABASE_URL=cluster.url,
        REPORTCARD_EXTRA_REPORT_MODULES="tests.queue.slow_report",
        REPORTCARD_HEARTBEAT_SECONDS="0.5",
        REPORTCARD_STALE_SECONDS="3",
        REPORTCARD_SHARD_ROWS=str(2 * HOLD_AFTER),
        REPORTCARD_POLL_SECONDS="0.1",
        PYTHONPATH=str(REPO),
    )
    worker = subprocess.Popen(
        [REPORTCARD, "worker", "--threads", "2", "--queue", "embedded"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + PATIENCE
        while True:  # restart once a shard is being written (held: it cannot end meanwhile)
            with engine.connect() as conn:
                states = (
                    conn.execute(
                        select(report_shards.c.state).where(report_shards.c.report_id == run_id)
                    )
                    .scalars()
                    .all()
                )
            if "running" in states:
                break
            assert time.monotonic() < deadline, "no shard started"
            time.sleep(0.1)
        assert "done" not in states, states
        cluster.ctl("-m", "fast", "-w", "restart")
        engine.dispose()
        hold.unlink()
        deadline = time.monotonic() + 120
        while True:
            try:
                with engine.connect() as conn:
                    run = conn.execute(
                        select(account_reports).where(account_reports.c.id == run_id)
                    ).one()
            except Exception:  # the server may still be coming back
                run = None
            if run is not None and run.workflow_state not in ("created", "running", "compiling"):
                break
            assert time.monotonic() < deadline, "the run did not end after the restart"
            time.sleep(0.2)
    finally:
        hold.unlink(missing_ok=True)
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(15)
        except subprocess.TimeoutExpired:
            worker.kill()
    assert run.workflow_state == "complete", run.error_detail
    with engine.connect() as conn:
        key = conn.execute(
            select(attachments.c.storage_key).where(attachments.c.id == run.attachment_id)
        ).scalar_one()
        shards = (
            conn.execute(select(report_shards.c.state).where(report_shards.c.report_id == run_id))
            .scalars()
            .all()
        )
    assert shards and set(shards) == {"done"}, shards
    assert_storage_clean(engine, LocalStorage(tmp_path / "files"))  # the attachment only
    engine.dispose()
    with LocalStorage(tmp_path / "files").open_read(key) as src:
        body = src.read()
    lines = body.decode().split("\n")
    assert lines[0] == "canvas_user_id,login_id"
    assert lines[1:] == [f"{u},{login}" for u, login in expected] + [""]
