"""The dispatcher and the delivery of scheduled runs, on a real database with a driven clock.

Clock times are in 2031, later than the real clock, so nothing but these tests fires them.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, insert, select, update

from reportcard.auth.links import LinkSigner
from reportcard.db.notify_tables import outbox_messages
from reportcard.db.schedule_tables import report_schedules, schedule_firings
from reportcard.db.tables import account_reports, account_users, accounts, pseudonyms
from reportcard.notify.dispatcher import dispatch_due
from reportcard.notify.schedules import ScheduleError, validate
from reportcard.runs.lifecycle import TERMINAL_STATES, fail_run, get_run
from reportcard.runs.worker import Worker
from reportcard.settings import Settings
from reportcard.storage.local import LocalStorage
from tests.api.conftest import build_world
from tests.notify.conftest import add_email
from tests.notify.smtp_server import SmtpServer
from tests.runs.sample import SAMPLE

T = datetime(2031, 1, 6, 12, 0)  # a Monday, 05:00 in America/Denver (the world's zone)


class QuietWorker(Worker):
    """A worker that executes runs but leaves the periodic jobs to the test."""

    def housekeep(self) -> int:
        return 0


@pytest.fixture
def world_db(engine: Engine) -> dict[str, Any]:
    made = build_world(engine)
    with engine.connect() as conn:
        ids = dict(
            conn.execute(
                select(pseudonyms.c.unique_id, pseudonyms.c.user_id).where(
                    pseudonyms.c.account_id == made["root"]
                )
            ).all()
        )
    add_email(engine, ids["admin"], "ada@example.edu")
    return {**made, "users": ids}


def make_schedule(engine: Engine, account_id: int, owner: int, now: datetime, **data: Any) -> int:
    body: dict[str, Any] = {
        "report": SAMPLE,
        "parameters": {},
        "recurrence": {"frequency": "daily", "time": "06:00"},
        "recipients": ["r1@example.edu", "r2@example.org"],
    }
    body.update(data)
    with engine.begin() as conn:
        account = conn.execute(select(accounts).where(accounts.c.id == account_id)).one()
        values = validate(conn, account, body, now=now)
        pk = conn.execute(
            insert(report_schedules).values(
                account_id=account_id,
                root_account_id=int(account.root_account_id or account.id),
                owner_user_id=owner,
                workflow_state="active",
                created_at=now,
                **values,
            )
        ).inserted_primary_key
    assert pk is not None
    return int(pk[0])


def schedule(engine: Engine, sid: int) -> Any:
    with engine.connect() as conn:
        return conn.execute(select(report_schedules).where(report_schedules.c.id == sid)).one()


def firings(engine: Engine, sid: int) -> Sequence[Any]:
    f = schedule_firings.c
    with engine.connect() as conn:
        return conn.execute(
            select(schedule_firings).where(f.schedule_id == sid).order_by(f.id)
        ).all()


def count(engine: Engine, table: Any, *where: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one())


def settings_for(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, shard_rows=1000)


def finish(engine: Engine, settings: Settings, run_id: int, tmp_path: Path) -> Any:
    worker = QuietWorker(engine, LocalStorage(tmp_path / "files"), settings)
    for _ in range(2000):
        with engine.connect() as conn:
            run = get_run(conn, run_id)
        if run.workflow_state in TERMINAL_STATES:
            return run
        if not worker.step():
            worker.wake.wait(0.02)
    raise AssertionError("run did not finish")


# ------------------------------------------------------------------------------ firing
def test_fires_once_when_due_and_advances(engine: Engine, world_db: dict[str, Any],
                                          tmp_path: Path) -> None:  # fmt: skip
    admin = world_db["users"]["admin"]
    sid = make_schedule(engine, world_db["root"], admin, T)
    first = schedule(engine, sid).next_run_at
    assert first == datetime(2031, 1, 6, 13, 0)  # 06:00 MST
    settings = settings_for(tmp_path)
    assert dispatch_due(engine, settings, T) == []
    assert dispatch_due(engine, settings, first - timedelta(seconds=1)) == []

    fired = dispatch_due(engine, settings, first + timedelta(seconds=20))
    assert [(f.schedule_id, f.outcome) for f in fired] == [(sid, "started")]
    run_id = fired[0].run_id
    assert run_id is not None
    with engine.connect() as conn:
        run = get_run(conn, run_id)
    assert run.user_id == admin and run.report_type == SAMPLE
    assert run.account_id == world_db["root"] and run.workflow_state == "created"
    row = schedule(engine, sid)
    assert row.next_run_at == datetime(2031, 1, 7, 13, 0)
    assert row.last_run_id == run_id
    # the same instant again, or a little later: nothing more
    assert dispatch_due(engine, settings, first + timedelta(seconds=20)) == []
    assert dispatch_due(engine, settings, first + timedelta(hours=3)) == []
    (firing,) = firings(engine, sid)
    assert firing.due_at == first and firing.outcome == "started" and firing.run_id == run_id


def test_catch_up_after_downtime_runs_once(engine: Engine, world_db: dict[str, Any],
                                           tmp_path: Path) -> None:  # fmt: skip
    sid = make_schedule(engine, world_db["root"], world_db["users"]["admin"], T)
    settings = settings_for(tmp_path)
    back = datetime(2031, 1, 11, 20, 0)  # five occurrences were missed
    fired = dispatch_due(engine, settings, back)
    assert len(fired) == 1 and fired[0].outcome == "started"
    assert dispatch_due(engine, settings, back + timedelta(minutes=1)) == []
    assert schedule(engine, sid).next_run_at == datetime(2031, 1, 12, 13, 0)
    assert count(engine, account_reports, account_reports.c.report_type == SAMPLE) == 1


def test_disabled_and_deleted_schedules_do_not_fire(engine: Engine, world_db: dict[str, Any],
                                                    tmp_path: Path) -> None:  # fmt: skip
    admin = world_db["users"]["admin"]
    off = make_schedule(engine, world_db["root"], admin, T, enabled=False)
    assert schedule(engine, off).next_run_at is None
    gone = make_schedule(engine, world_db["root"], admin, T)
    with engine.begin() as conn:
        conn.execute(
            update(report_schedules)
            .where(report_schedules.c.id == gone)
            .values(workflow_state="deleted")
        )
    assert dispatch_due(engine, settings_for(tmp_path), T + timedelta(days=3)) == []


def test_owner_without_rights_is_refused_and_told(engine: Engine, world_db: dict[str, Any],
                                                  tmp_path: Path) -> None:  # fmt: skip
    admin = world_db["users"]["admin"]
    sid = make_schedule(engine, world_db["root"], admin, T)
    with engine.begin() as conn:
        conn.execute(
            update(account_users)
            .where(account_users.c.user_id == admin)
            .values(workflow_state="deleted")
        )
    fired = dispatch_due(engine, settings_for(tmp_path), T + timedelta(days=1))
    assert [(f.outcome, f.run_id) for f in fired] == [("refused", None)]
    assert "read_reports" in (fired[0].message or "")
    assert count(engine, account_reports) == 0
    (firing,) = firings(engine, sid)
    assert firing.outcome == "refused" and firing.run_id is None
    with engine.connect() as conn:
        mails = conn.execute(select(outbox_messages)).all()
    assert [(m.to_address, m.kind) for m in mails] == [("ada@example.edu", "schedule")]
    assert "not run" in mails[0].subject and "read_reports" in mails[0].body
    # the schedule goes on; the owner regaining the role makes the next firing run
    with engine.begin() as conn:
        conn.execute(
            update(account_users)
            .where(account_users.c.user_id == admin)
            .values(workflow_state="active")
        )
    fired = dispatch_due(engine, settings_for(tmp_path), T + timedelta(days=2))
    assert [f.outcome for f in fired] == ["started"]


def test_a_sub_account_admin_cannot_reach_above(engine: Engine, world_db: dict[str, Any],
                                                tmp_path: Path) -> None:  # fmt: skip
    # subadmin owns a schedule on their sub-account: fine; moved to the root: refused
    sub_owner = world_db["users"]["subadmin"]
    ok = make_schedule(engine, world_db["sub"], sub_owner, T)
    bad = make_schedule(engine, world_db["root"], sub_owner, T)
    fired = {f.schedule_id: f.outcome for f in dispatch_due(engine, settings_for(tmp_path),
                                                             T + timedelta(days=1))}  # fmt: skip
    assert fired == {ok: "started", bad: "refused"}


def test_parameters_checked_again_at_run_time(engine: Engine, world_db: dict[str, Any],
                                              tmp_path: Path) -> None:  # fmt: skip
    term = world_db["fall_term"]
    sid = make_schedule(
        engine, world_db["root"], world_db["users"]["admin"], T,
        parameters={"enrollment_term_id": "sis_term_id:fall24"},
    )  # fmt: skip
    from reportcard.db.tables import enrollment_terms

    with engine.begin() as conn:
        conn.execute(update(enrollment_terms).where(enrollment_terms.c.id == term).values(
            sis_source_id="fall24-renamed"))  # fmt: skip
    fired = dispatch_due(engine, settings_for(tmp_path), T + timedelta(days=1))
    assert [f.outcome for f in fired] == ["failed"]
    assert "invalid enrollment_term_id 'sis_term_id:fall24'" in (fired[0].message or "")
    assert firings(engine, sid)[0].run_id is None


def test_validation_errors(engine: Engine, world_db: dict[str, Any]) -> None:
    admin = world_db["users"]["admin"]
    cases: list[tuple[dict[str, Any], str]] = [
        ({"report": "no_such_report"}, "unknown report"),
        ({"recurrence": {"frequency": "hourly"}}, "frequency"),
        ({"recurrence": {"frequency": "cron", "cron": "61 * * * *"}}, "cron minute"),
        ({"recurrence": {"frequency": "daily", "time": "25:00"}}, "HH:MM"),
        ({"time_zone": "Mars/Base"}, "unknown time zone"),
        ({"recipients": ["ok@example.edu", "not-an-address"]}, "invalid recipient"),
        ({"recipients": ["a@b.c\nBcc: x@y.z"]}, "invalid recipient"),
        ({"empty_report": "maybe"}, "empty_report"),
        ({"parameters": {"enrollment_term_id": "sis_term_id:nope"}}, "invalid enrollment_term"),
        ({"parameters": "x"}, "parameters"),
    ]
    for extra, message in cases:
        with pytest.raises(ScheduleError, match=message):
            make_schedule(engine, world_db["root"], admin, T, **extra)
    assert count(engine, report_schedules) == 0


# ------------------------------------------------------------------------------ exactly once
@pytest.mark.parametrize("dispatchers", [2, 4])
def test_concurrent_dispatchers_fire_each_occurrence_once(
    engine: Engine, world_db: dict[str, Any], tmp_path: Path, dispatchers: int
) -> None:
    admin = world_db["users"]["admin"]
    ids = [
        make_schedule(engine, world_db["root"], admin, T, recipients=[]) for _ in range(6)
    ] + [
        make_schedule(
            engine, world_db["sub"], admin, T,
            recurrence={"frequency": "cron", "cron": "*/30 * * * *"}, recipients=[],
        )
        for _ in range(2)
    ]  # fmt: skip
    settings = settings_for(tmp_path)
    days = 3
    results: list[list[Any]] = [[] for _ in range(dispatchers)]
    errors: list[BaseException] = []

    def dispatcher(i: int, barrier: threading.Barrier, now: datetime) -> None:
        try:
            barrier.wait(10)
            results[i].extend(dispatch_due(engine, settings, now))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    for day in range(days):
        now = datetime(2031, 1, 7 + day, 13, 0, 30)
        barrier = threading.Barrier(dispatchers)
        threads = [
            threading.Thread(target=dispatcher, args=(i, barrier, now)) for i in range(dispatchers)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    assert errors == []
    every = [f for r in results for f in r]
    assert len(every) == len(ids) * days
    assert all(f.outcome == "started" for f in every)
    with engine.connect() as conn:
        runs = conn.execute(select(func.count()).select_from(account_reports)).scalar()
        per = conn.execute(
            select(schedule_firings.c.schedule_id, func.count()).group_by(
                schedule_firings.c.schedule_id
            )
        ).all()
    assert runs == len(ids) * days
    assert sorted(dict(per).items()) == [(sid, days) for sid in sorted(ids)]


# ------------------------------------------------------------------------------ delivery
def _run_schedule(engine: Engine, world_db: dict[str, Any], tmp_path: Path,
                  **data: Any) -> tuple[int, Any]:  # fmt: skip
    sid = make_schedule(engine, world_db["root"], world_db["users"]["admin"], T, **data)
    settings = settings_for(tmp_path)
    (fired,) = dispatch_due(engine, settings, T + timedelta(days=1))
    assert fired.run_id is not None
    return sid, finish(engine, settings, fired.run_id, tmp_path)


def _schedule_mails(engine: Engine) -> Sequence[Any]:
    with engine.connect() as conn:
        return conn.execute(
            select(outbox_messages)
            .where(outbox_messages.c.kind == "schedule")
            .order_by(outbox_messages.c.id)
        ).all()


def test_delivery_mails_the_link_to_each_recipient(
    engine: Engine, world_db: dict[str, Any], tmp_path: Path, smtp: SmtpServer,
    mail_settings: Settings,
) -> None:  # fmt: skip
    """End to end: schedule -> run -> outbox -> the mailer -> a real SMTP server."""
    sid, run = _run_schedule(engine, world_db, tmp_path)
    assert run.workflow_state == "complete"
    mails = _schedule_mails(engine)
    assert [m.to_address for m in mails] == ["r1@example.edu", "r2@example.org"]
    assert all(m.run_id == run.id for m in mails)
    assert firings(engine, sid)[0].delivery == "sent"

    from reportcard.clock import utcnow
    from reportcard.db.tables import attachments
    from reportcard.notify.mail import deliver_pending

    deliver_pending(engine, None, mail_settings, utcnow())
    with engine.connect() as conn:
        att = conn.execute(select(attachments).where(attachments.c.id == run.attachment_id)).one()
    received = {str(m["To"]): m for m in smtp.inbox.messages}
    assert set(received) >= {"r1@example.edu", "r2@example.org"}
    for address in ("r1@example.edu", "r2@example.org"):
        msg = received[address]
        assert msg["Subject"] == "Scheduled report Framework Sample (Canvas U)"
        text = msg.get_content()
        assert "is ready (35 rows" in text  # 30 + 5 logins of the root; headers not counted
        link = re.search(r"Download: (\S+)", text)
        assert link is not None
        prefix = (
            f"https://reports.example.edu/accounts/{world_db['root']}/files/{att.id}"
            "/download?download_frd=1&verifier="
        )
        assert link.group(1).startswith(prefix), link.group(1)
        signer = LinkSigner.from_settings(mail_settings)
        assert signer.verify(int(att.id), att.uuid, link.group(1)[len(prefix) :])
        assert f"https://reports.example.edu/api/v1/accounts/{world_db['root']}/reports/" in text


@pytest.mark.parametrize(
    ("policy", "expected"), [("send", "sent"), ("note", "note"), ("skip", "skipped")]
)
def test_empty_report_policy(engine: Engine, world_db: dict[str, Any], tmp_path: Path,
                             policy: str, expected: str) -> None:  # fmt: skip
    sid, run = _run_schedule(
        engine, world_db, tmp_path, parameters={"empty": "true"}, empty_report=policy
    )
    assert run.workflow_state == "complete"
    mails = _schedule_mails(engine)
    assert firings(engine, sid)[0].delivery == expected
    if policy == "skip":
        assert mails == []
        return
    assert len(mails) == 2
    if policy == "note":
        assert all("no data" in m.subject and "verifier=" not in m.body for m in mails)
    else:
        assert all("verifier=" in m.body and "(0 rows" in m.body for m in mails)


def test_non_empty_report_ignores_the_empty_policy(engine: Engine, world_db: dict[str, Any],
                                                   tmp_path: Path) -> None:  # fmt: skip
    sid, run = _run_schedule(engine, world_db, tmp_path, empty_report="skip")
    assert run.workflow_state == "complete"
    assert len(_schedule_mails(engine)) == 2
    assert firings(engine, sid)[0].delivery == "sent"


def test_failed_run_mails_no_recipient(engine: Engine, world_db: dict[str, Any],
                                       tmp_path: Path) -> None:  # fmt: skip
    sid = make_schedule(engine, world_db["root"], world_db["users"]["admin"], T)
    (fired,) = dispatch_due(engine, settings_for(tmp_path), T + timedelta(days=1))
    with engine.begin() as conn:
        assert fired.run_id is not None
        fail_run(conn, fired.run_id, "Failed, test;")
    assert _schedule_mails(engine) == []
    assert firings(engine, sid)[0].delivery == "run_failed"


def test_runs_started_through_the_api_are_not_schedule_deliveries(
    engine: Engine, world_db: dict[str, Any], tmp_path: Path
) -> None:
    from reportcard.runs.inline import run_report

    settings = settings_for(tmp_path)
    make_schedule(engine, world_db["root"], world_db["users"]["admin"], T)
    run = run_report(
        engine, LocalStorage(tmp_path / "files"), settings,
        account_id=world_db["root"], report_type=SAMPLE,
    )  # fmt: skip
    assert run.workflow_state == "complete"
    assert _schedule_mails(engine) == []


def test_dispatcher_across_dst_changes(engine: Engine, world_db: dict[str, Any],
                                       tmp_path: Path) -> None:  # fmt: skip
    """America/New_York: 2031-03-09 springs forward, 2031-11-02 falls back."""
    admin = world_db["users"]["admin"]
    settings = settings_for(tmp_path)
    gap = make_schedule(engine, world_db["root"], admin, datetime(2031, 3, 8, 5),
                        recurrence={"frequency": "daily", "time": "02:30"},
                        time_zone="America/New_York", recipients=[])  # fmt: skip
    assert schedule(engine, gap).next_run_at == datetime(2031, 3, 8, 7, 30)  # EST
    assert len(dispatch_due(engine, settings, datetime(2031, 3, 8, 7, 30))) == 1
    # 02:30 does not exist on the 9th: due at 03:00 EDT (07:00 UTC), once
    assert schedule(engine, gap).next_run_at == datetime(2031, 3, 9, 7, 0)
    assert dispatch_due(engine, settings, datetime(2031, 3, 9, 6, 59)) == []
    assert len(dispatch_due(engine, settings, datetime(2031, 3, 9, 7, 0))) == 1
    assert dispatch_due(engine, settings, datetime(2031, 3, 9, 7, 30)) == []
    assert schedule(engine, gap).next_run_at == datetime(2031, 3, 10, 6, 30)  # EDT

    twice = make_schedule(engine, world_db["root"], admin, datetime(2031, 11, 1, 12),
                          recurrence={"frequency": "daily", "time": "01:30"},
                          time_zone="America/New_York", recipients=[])  # fmt: skip
    assert schedule(engine, twice).next_run_at == datetime(2031, 11, 2, 5, 30)  # first 01:30
    fired = dispatch_due(engine, settings, datetime(2031, 11, 2, 5, 30))
    assert [f.schedule_id for f in fired] == [gap, twice]  # gap catches up once, too
    # the second 01:30 (EST, 06:30 UTC) is not another firing
    assert dispatch_due(engine, settings, datetime(2031, 11, 2, 6, 30)) == []
    assert schedule(engine, twice).next_run_at == datetime(2031, 11, 3, 6, 30)
    assert [len(firings(engine, s)) for s in (gap, twice)] == [3, 1]


def test_installed_as_periodic_job_and_listeners() -> None:
    from reportcard.wiring import hooks

    installed = hooks()
    assert {"schedule_dispatcher", "webhook_deliveries"} <= set(installed.jobs)
    names = {f.__name__ for f in installed.listeners}
    assert {"deliver_scheduled_run", "queue_webhook_events"} <= names


def test_account_zone_that_is_not_iana(engine: Engine, world_db: dict[str, Any]) -> None:
    def zone_the_sibling(name: str) -> None:
        with engine.begin() as conn:
            conn.execute(
                update(accounts)
                .where(accounts.c.id == world_db["sibling"])
                .values(default_time_zone=name)
            )

    admin = world_db["users"]["admin"]
    # A Rails name, as Canvas stores it, is the account's zone (06:00 in Denver is 13:00 UTC).
    zone_the_sibling("Mountain Time (US & Canada)")
    sid = make_schedule(engine, world_db["sibling"], admin, T)
    assert schedule(engine, sid).next_run_at == datetime(2031, 1, 6, 13, 0)
    # A stored name no zone answers to cannot be followed: the schedule must name its own.
    zone_the_sibling("Mars/Olympus_Mons")
    with pytest.raises(ScheduleError, match="give the schedule a time_zone"):
        make_schedule(engine, world_db["sibling"], admin, T)
    sid = make_schedule(engine, world_db["sibling"], admin, T, time_zone="America/Denver")
    assert schedule(engine, sid).next_run_at == datetime(2031, 1, 6, 13, 0)
