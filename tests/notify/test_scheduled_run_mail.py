"""Who is mailed when a scheduled run ends: the recipients on success, the owner on failure."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from reportcard.db.notify_tables import outbox_messages
from reportcard.notify.dispatcher import dispatch_due
from reportcard.notify.mail import FAILED, GENERATED
from reportcard.runs.inline import run_report
from reportcard.runs.lifecycle import fail_run
from reportcard.storage.local import LocalStorage
from tests.notify.test_schedules_dispatch import (
    T,
    finish,
    make_schedule,
    settings_for,
    world_db,
)
from tests.runs.sample import SAMPLE

__all__ = ["world_db"]  # the fixture, used by name


def _mails(engine: Engine) -> list[tuple[str, str, str]]:
    o = outbox_messages.c
    with engine.connect() as conn:
        rows = conn.execute(select(o.to_address, o.subject, o.kind).order_by(o.id)).all()
    return [(r.to_address, r.subject, r.kind) for r in rows]


def test_a_completed_scheduled_run_mails_only_the_recipients(
    engine: Engine, world_db: dict[str, Any], tmp_path: Path
) -> None:
    owner = world_db["users"]["admin"]  # has ada@example.edu
    make_schedule(engine, world_db["root"], owner, T, recipients=["r1@example.edu"])
    settings = settings_for(tmp_path)
    (fired,) = dispatch_due(engine, settings, T + timedelta(days=1))
    assert fired.run_id is not None
    run = finish(engine, settings, fired.run_id, tmp_path)
    assert run.workflow_state == "complete"
    mails = _mails(engine)
    assert [(to, kind) for to, _, kind in mails] == [("r1@example.edu", "schedule")]
    assert all(subject != GENERATED for _, subject, _ in mails)
    # The same owner starting the same report by hand still gets the standard email.
    manual = run_report(
        engine, LocalStorage(tmp_path / "files"), settings,
        account_id=world_db["root"], report_type=SAMPLE, user_id=owner,
    )  # fmt: skip
    assert manual.workflow_state == "complete"
    assert _mails(engine)[-1] == ("ada@example.edu", GENERATED, "report")


def test_a_failed_scheduled_run_tells_the_owner_once(
    engine: Engine, world_db: dict[str, Any], tmp_path: Path
) -> None:
    make_schedule(engine, world_db["root"], world_db["users"]["admin"], T)
    (fired,) = dispatch_due(engine, settings_for(tmp_path), T + timedelta(days=1))
    assert fired.run_id is not None
    with engine.begin() as conn:
        fail_run(conn, fired.run_id, "Failed, test;")
    assert _mails(engine) == [("ada@example.edu", FAILED, "report")]


def test_skip_message_silences_the_failure_too(
    engine: Engine, world_db: dict[str, Any], tmp_path: Path
) -> None:
    make_schedule(
        engine, world_db["root"], world_db["users"]["admin"], T,
        parameters={"skip_message": "true"},
    )  # fmt: skip
    (fired,) = dispatch_due(engine, settings_for(tmp_path), T + timedelta(days=1))
    assert fired.run_id is not None
    with engine.begin() as conn:
        fail_run(conn, fired.run_id, "Failed, test;")
    assert _mails(engine) == []
