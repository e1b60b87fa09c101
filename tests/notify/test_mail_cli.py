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
from tests.databases import drop_database, fresh_database_url
from tests.notify.smtp_server import SmtpServer
from tests.test_cli import rc


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
    assert out.stdout.strip() == "would remove 0 files, 0 bytes"
    no_host = dict(env, REPORTCARD_SMTP_HOST="")
    refused = rc(no_host, "mail", "send-pending")
    assert refused.returncode == 1 and "REPORTCARD_SMTP_HOST" in refused.stderr
