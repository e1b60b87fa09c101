"""Report emails over a real SMTP server: texts, link, skip_message, retries, no double send."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, insert, select, update

from reportcard.auth.links import LinkSigner
from reportcard.clock import utcnow
from reportcard.db.notify_tables import outbox_messages
from reportcard.notify import mail
from reportcard.notify.mail import deliver_pending
from reportcard.notify.outbox import enqueue
from reportcard.runs.housekeeping import run_all
from reportcard.runs.inline import run_report
from reportcard.settings import Settings
from reportcard.storage.local import LocalStorage
from tests.notify.conftest import add_email
from tests.notify.smtp_server import SmtpServer
from tests.runs.sample import SAMPLE


def outbox(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return conn.execute(select(outbox_messages).order_by(outbox_messages.c.id)).all()


def run(
    engine: Engine, storage: LocalStorage, settings: Settings, people: dict[str, int], **kw: Any
) -> Any:
    user = kw.pop("user", people["ada"])
    return run_report(
        engine,
        storage,
        settings,
        account_id=people["root"],
        report_type=SAMPLE,
        parameters=kw,
        user_id=user,
    )


def test_a_completed_run_emails_its_user_the_settings_and_link(
    engine: Engine,
    storage: LocalStorage,
    mail_settings: Settings,
    smtp: SmtpServer,
    people: dict[str, int],
) -> None:
    add_email(engine, people["ada"], "old@example.edu", position=1, workflow_state="retired")
    add_email(engine, people["ada"], "+1555", position=2, path_type="sms")
    add_email(engine, people["ada"], "ada@example.edu", position=3)
    done = run(engine, storage, mail_settings, people)
    assert done.workflow_state == "complete"
    [queued] = outbox(engine)
    assert (queued.state, queued.run_id, queued.to_address) == (
        "pending",
        done.id,
        "ada@example.edu",
    )
    assert "{{public_url}}" in queued.body  # the address is filled in when the mail is sent
    assert smtp.inbox.messages == []
    assert deliver_pending(engine, storage, mail_settings, utcnow()) == 1
    [msg] = smtp.inbox.messages
    assert smtp.inbox.envelopes == [("reports@example.edu", ["ada@example.edu"])]
    assert msg["Subject"] == "Report Generated"
    assert msg["From"] == "reports@example.edu" and msg["To"] == "ada@example.edu"
    body = msg.get_content().replace("\r\n", "\n")
    with engine.connect() as conn:
        from reportcard.db.tables import attachments

        att = conn.execute(select(attachments).where(attachments.c.id == done.attachment_id)).one()
    assert f"verifier={{{{verifier:{att.id}}}}}" in queued.body  # signed when sent
    link = body.splitlines()[-1]
    prefix = (
        f"https://reports.example.edu/accounts/{people['root']}/files/{att.id}/download"
        "?download_frd=1&verifier="
    )
    assert link.startswith(prefix)
    verifier = link.removeprefix(prefix)
    signer = LinkSigner.from_settings(mail_settings)  # as the mail job signed it
    assert signer.verify(int(att.id), att.uuid, verifier)
    assert not signer.verify(int(att.id) + 1, att.uuid, verifier)
    # valid while the file is kept (30 days), not only download_link_seconds (1 day)
    assert signer.verify(int(att.id), att.uuid, verifier, now=time.time() + 29 * 86400)
    assert not signer.verify(int(att.id), att.uuid, verifier, now=time.time() + 31 * 86400)
    assert body == (
        "Framework Sample report successfully generated with the following settings. "
        "Account: Sample U; Sample;\n\n"
        "Report: Framework Sample\n"
        "Account: Sample U\n"
        "Settings: Sample;\n"
        f"File: {att.display_name}\n\n"
        f"Click here to download the report:\n{link}\n"
    )
    [sent] = outbox(engine)
    assert (sent.state, sent.attempts, sent.last_error) == ("sent", 1, None)
    assert deliver_pending(engine, storage, mail_settings, utcnow()) == 0  # sent only once
    assert len(smtp.inbox.messages) == 1


def test_a_failed_run_emails_the_reason(
    engine: Engine,
    storage: LocalStorage,
    mail_settings: Settings,
    smtp: SmtpServer,
    people: dict[str, int],
) -> None:
    add_email(engine, people["bob"], "bob@example.edu")
    failed = run(engine, storage, mail_settings, people, user=people["bob"], format="pdf")
    assert failed.workflow_state == "error"
    assert run_all(engine, storage, mail_settings) >= 1  # the housekeeping job delivers it
    [msg] = smtp.inbox.messages
    assert msg["Subject"] == "Report Generation Failed"
    assert msg["To"] == "bob@example.edu"
    # Canvas's failure text names the titleized type; the "Report:" line has the title.
    assert msg.get_content().replace("\r\n", "\n") == (
        "Generating the report, Framework Sample Csv, failed.\n\n"
        "Report: Framework Sample\n"
        "Account: Sample U\n"
        "Reason: invalid format 'pdf': use one of csv, xlsx, parquet\n"
    )


@pytest.mark.parametrize(
    ("value", "queued"),
    [(True, 0), ("true", 0), (1, 0), ("1", 0), ("TRUE", 0), ("false", 1), (0, 1), (None, 1)],
)
def test_skip_message_true_sends_nothing(
    engine: Engine,
    storage: LocalStorage,
    mail_settings: Settings,
    people: dict[str, int],
    value: object,
    queued: int,
) -> None:
    add_email(engine, people["ada"], "ada@example.edu")
    params = {} if value is None else {"skip_message": value}
    assert run(engine, storage, mail_settings, people, **params).workflow_state == "complete"
    assert len(outbox(engine)) == queued


def test_no_user_or_no_address_means_no_email(
    engine: Engine, storage: LocalStorage, mail_settings: Settings, people: dict[str, int]
) -> None:
    assert run(engine, storage, mail_settings, people, user=None).workflow_state == "complete"
    assert run(engine, storage, mail_settings, people, user=people["cyd"]).attachment_id
    assert outbox(engine) == []


def test_a_failing_listener_never_fails_the_report(
    engine: Engine,
    storage: LocalStorage,
    mail_settings: Settings,
    people: dict[str, int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    add_email(engine, people["ada"], "ada@example.edu")

    def broken(conn: Any, run: Any) -> None:
        conn.execute(insert(outbox_messages).values(to_address=None))  # violates NOT NULL
        raise AssertionError("not reached")

    monkeypatch.setattr(mail, "compose", broken)
    done = run(engine, storage, mail_settings, people)
    assert done.workflow_state == "complete" and done.attachment_id is not None
    assert outbox(engine) == []


def test_a_down_mail_server_delays_mail_and_never_the_report(
    engine: Engine, storage: LocalStorage, tmp_path: Any, people: dict[str, int]
) -> None:
    server = SmtpServer()  # its port is free: nothing listens yet
    settings = Settings(
        data_dir=tmp_path,
        smtp_host="127.0.0.1",
        smtp_port=server.port,
        smtp_timeout=2,
        mail_retry_seconds=60,
    )
    add_email(engine, people["ada"], "ada@example.edu")
    done = run(engine, storage, settings, people)
    assert done.workflow_state == "complete"
    t0 = utcnow()
    assert deliver_pending(engine, storage, settings, t0) == 0
    [msg] = outbox(engine)
    assert (msg.state, msg.attempts) == ("pending", 1)
    assert "cannot connect to 127.0.0.1" in msg.last_error
    assert msg.next_attempt_at == t0 + timedelta(seconds=60)
    assert deliver_pending(engine, storage, settings, t0 + timedelta(seconds=30)) == 0
    assert outbox(engine)[0].attempts == 1  # not due yet: not tried
    assert deliver_pending(engine, storage, settings, t0 + timedelta(seconds=61)) == 0
    [msg] = outbox(engine)
    assert msg.attempts == 2
    assert msg.next_attempt_at == t0 + timedelta(seconds=61 + 120)  # the delay doubles
    server.start()
    try:
        t1 = t0 + timedelta(seconds=181)
        assert deliver_pending(engine, storage, settings, t1) == 1
        [got] = server.inbox.messages
        assert got["Subject"] == "Report Generated"
        [msg] = outbox(engine)
        assert (msg.state, msg.attempts, msg.sent_at) == ("sent", 3, t1)
    finally:
        server.stop()


def test_attempts_run_out_and_refusals_are_final(
    engine: Engine, mail_settings: Settings, smtp: SmtpServer, people: dict[str, int]
) -> None:
    smtp.inbox.refuse.add("gone@example.edu")
    with engine.begin() as conn:
        refused = enqueue(conn, to="gone@example.edu", subject="s", body="b")
        fine = enqueue(conn, to="here@example.edu", subject="s", body="b")
    assert deliver_pending(engine, None, mail_settings, utcnow()) == 1
    states = {m.id: (m.state, m.attempts) for m in outbox(engine)}
    assert states == {refused: ("failed", 1), fine: ("sent", 1)}
    assert "550" in outbox(engine)[0].last_error
    assert [to for _, to in smtp.inbox.envelopes] == [["here@example.edu"]]

    down = mail_settings.model_copy(update={"smtp_port": SmtpServer().port, "mail_max_attempts": 2})
    with engine.begin() as conn:
        later = enqueue(conn, to="later@example.edu", subject="s", body="b")
    now = utcnow()
    deliver_pending(engine, None, down, now)
    deliver_pending(engine, None, down, now + timedelta(hours=1))
    last = next(m for m in outbox(engine) if m.id == later)
    assert (last.state, last.attempts) == ("failed", 2)


def test_two_deliverers_at_once_send_each_message_once(
    engine: Engine, mail_settings: Settings, smtp: SmtpServer
) -> None:
    with engine.begin() as conn:
        for i in range(30):
            enqueue(conn, to=f"user{i}@example.edu", subject=f"n{i}", body="b")
    now = utcnow()
    counts: list[int] = []
    barrier = threading.Barrier(2)

    def deliver() -> None:
        barrier.wait()
        counts.append(deliver_pending(engine, None, mail_settings, now))

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sum(counts) == 30
    subjects = sorted(str(m["Subject"]) for m in smtp.inbox.messages)
    assert subjects == sorted(f"n{i}" for i in range(30))
    with engine.connect() as conn:
        assert (
            conn.execute(select(func.count()).where(outbox_messages.c.state == "sent")).scalar_one()
            == 30
        )


def test_smtp_login_is_used_and_a_refused_login_is_retried(engine: Engine, tmp_path: Any) -> None:
    server = SmtpServer(login=("mailer", "s3cret"))
    server.start()
    try:
        good = Settings(
            data_dir=tmp_path,
            smtp_host="127.0.0.1",
            smtp_port=server.port,
            smtp_username="mailer",
            smtp_password="s3cret",
        )
        bad = good.model_copy(update={"smtp_password": "wrong"})
        with engine.begin() as conn:
            enqueue(conn, to="a@example.edu", subject="s", body="b")
        now = utcnow()
        assert deliver_pending(engine, None, bad, now) == 0
        [msg] = outbox(engine)
        assert (msg.state, msg.attempts) == ("pending", 1)
        assert "535" in msg.last_error  # authentication failed: the operator may fix it
        assert deliver_pending(engine, None, good, now + timedelta(minutes=2)) == 1
        assert len(server.inbox.messages) == 1
        assert server.logins == ["mailer"]
    finally:
        server.stop()


def test_a_message_left_sending_by_a_dead_process_is_sent_later(
    engine: Engine, mail_settings: Settings, smtp: SmtpServer
) -> None:
    now = utcnow()
    with engine.begin() as conn:
        mid = enqueue(conn, to="a@example.edu", subject="orphan", body="b")
        conn.execute(
            update(outbox_messages)
            .where(outbox_messages.c.id == mid)
            .values(state="sending", claimed_by="dead:1", claimed_at=now, attempts=1)
        )
    assert deliver_pending(engine, None, mail_settings, now + timedelta(seconds=30)) == 0
    assert smtp.inbox.messages == []  # it may still be in flight
    assert deliver_pending(engine, None, mail_settings, now + timedelta(minutes=2)) == 1
    [msg] = outbox(engine)
    assert (msg.state, msg.attempts) == ("sent", 2)
    assert [str(m["Subject"]) for m in smtp.inbox.messages] == ["orphan"]
