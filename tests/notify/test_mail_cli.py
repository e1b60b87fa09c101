"""`reportcard mail send-pending` and `reportcard retention sweep`, run as a user runs them."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from reportcard.db.engine import make_engine
from reportcard.db.notify_tables import outbox_messages
from reportcard.notify.outbox import enqueue
from tests.cli.test_commands import rc
from tests.databases import drop_database, fresh_database_url
from tests.notify.smtp_server import SmtpServer


@pytest.fixture
def env(tmp_path: Path, smtp: SmtpServer) -> Iterator[dict[str, str]]:
    url = fresh_database_url(tmp_path)
    yield dict(
        os.environ,
        REPORTCARD_DATA_DIR=str(tmp_path),
        REPORTCARD_DATABASE_URL=url,
        REPORTCARD_SMTP_HOST="127.0.0.1",
        REPORTCARD_SMTP_PORT=str(smtp.port),
        REPORTCARD_MAIL_RETRY_SECONDS="3600",
    )
    drop_database(url)


def test_send_pending_delivers_now_and_reports_what_is_left(
    env: dict[str, str], smtp: SmtpServer
) -> None:
    engine = make_engine(env["REPORTCARD_DATABASE_URL"])
    with engine.begin() as conn:
        enqueue(conn, to="a@example.edu", subject="one", body="b {{public_url}}/x")
    done = rc(env, "mail", "send-pending")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "sent 1; pending 0; failed 0"
    [msg] = smtp.inbox.messages
    assert msg.get_content().strip() == "b http://127.0.0.1:8000/x"  # public_url's default

    smtp.stop()  # the server goes down: the message waits, the command says so
    with engine.begin() as conn:
        enqueue(conn, to="b@example.edu", subject="two", body="b")
    down = rc(env, "mail", "send-pending")
    assert down.returncode == 1
    assert down.stdout.strip() == "sent 0; pending 1; failed 0"
    assert "cannot connect" in down.stderr
    smtp.start()  # back up: no waiting for the hour-long retry delay
    again = rc(env, "mail", "send-pending", "--retry-failed")
    assert again.stdout.strip() == "sent 1; pending 0; failed 0"
    with engine.connect() as conn:
        states = conn.execute(select(outbox_messages.c.state)).scalars().all()
    assert states == ["sent", "sent"]
    engine.dispose()


def test_retention_sweep_dry_run(env: dict[str, str]) -> None:
    out = rc(env, "retention", "sweep", "--dry-run")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "would remove 0 files, 0 bytes",
        "would remove 0 unclaimed files, 0 bytes",
    ]
    no_host = dict(env, REPORTCARD_SMTP_HOST="")
    refused = rc(no_host, "mail", "send-pending")
    assert refused.returncode == 1 and "REPORTCARD_SMTP_HOST" in refused.stderr


def test_retention_sweep_removes_old_files_that_nothing_claims(
    env: dict[str, str], tmp_path: Path
) -> None:
    stray = tmp_path / "files" / "runs" / "4242" / "parts" / "0000-000000.csv"
    stray.parent.mkdir(parents=True)
    stray.write_bytes(b"left,by,a,killed,worker\n")
    old = stray.stat().st_mtime - 3 * 24 * 3600  # far older than any grace period
    os.utime(stray, (old, old))
    listed = rc(env, "retention", "sweep", "--dry-run")
    assert listed.returncode == 0, listed.stderr
    assert "would remove unclaimed file runs/4242/parts/0000-000000.csv (24 bytes)" in listed.stdout
    assert stray.exists()
    swept = rc(env, "retention", "sweep")
    assert swept.returncode == 0, swept.stderr
    assert swept.stdout.splitlines()[-1] == "removed 1 unclaimed files, 24 bytes"
    assert not stray.exists()
