"""A small report used to test the framework on its own, and the data it reads."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Connection, Engine, insert, select, update

from reportcard.clock import utcnow
from reportcard.db.tables import accounts, attachments, pseudonyms, report_shards, users
from reportcard.lms.tree import refresh
from reportcard.reports.catalog import (
    TIME,
    Col,
    Parameter,
    Part,
    PartQuery,
    Report,
    RunContext,
    get_report,
    register,
)
from reportcard.reports.formatting import sql_present
from reportcard.runs.execute import claim_shard
from reportcard.storage.local import LocalStorage
from tests.clocks import T0


def _logins(ctx: RunContext) -> PartQuery:
    p, u = pseudonyms, users
    return PartQuery(
        columns=[
            Col("canvas_user_id", u.c.id),
            Col("login_id", p.c.unique_id),
            Col("full_name", u.c.name),
            Col("created_at", p.c.created_at, TIME),
            Col("created_by_sis", sql_present(p.c.sis_batch_id)),
        ],
        select_from=p.join(u, u.c.id == p.c.user_id),
        where=[p.c.account_id == ctx.root_account_id],
        key=p.c.id,
    )


def _empty(ctx: RunContext) -> PartQuery:
    return PartQuery(columns=[], select_from=users, where=[], key=users.c.id)


def _select(ctx: RunContext) -> list[str]:
    # ``sleep`` holds the run in "running" while it plans, so tests can act on a live run.
    time.sleep(float(ctx.params.get("sleep", 0)))
    # ``gate`` (a file path) holds it until the test creates that file (at most 60 s), so a
    # test acts on a live run however slow the machine; ``<gate>.passed`` then says it went on.
    gate = ctx.params.get("gate")
    if gate:
        deadline = time.monotonic() + 60
        while not Path(gate).exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        Path(f"{gate}.passed").touch()
    names = [n for n in ("logins", "empty") if ctx.flag(n)]
    return names or ["logins"]


SAMPLE = "framework_sample_csv"
if get_report(SAMPLE) is None:
    register(
        Report(
            name=SAMPLE,
            title="Framework Sample",
            description="Logins of the root account (tests only).",
            parameters={"logins": Parameter("logins"), "empty": Parameter("an empty file")},
            parts=[Part("logins", _logins), Part("empty", _empty)],
            select_parts=_select,
            extra_text=lambda ctx: "Sample;",
        )
    )


def make_institution(conn: Connection, n_users: int, *, name: str = "Sample U") -> int:
    """A root account with ``n_users`` users, one login each; returns the root id."""
    root = conn.execute(
        insert(accounts).values(
            name=name,
            uuid=f"uuid-{name}",
            workflow_state="active",
            default_time_zone="America/Denver",
            can_add_pronouns=False,
            created_at=T0,
            updated_at=T0,
        )
    ).inserted_primary_key
    assert root is not None
    root_id = int(root[0])
    user_rows = [
        {
            "name": f'User "{i}", Jr' if i % 10 == 0 else f"User {i}",
            "sortable_name": f"{i}, User",
            "uuid": f"u{root_id}-{i}",
            "workflow_state": "registered",
            "is_test_student": False,
            "created_at": T0,
            "updated_at": T0,
        }
        for i in range(n_users)
    ]
    if user_rows:
        conn.execute(insert(users), user_rows)
    ids = conn.execute(
        users.select().with_only_columns(users.c.id).order_by(users.c.id.desc()).limit(n_users)
    ).scalars()
    login_rows = [
        {
            "user_id": uid,
            "account_id": root_id,
            "unique_id": f"login{root_id}-{uid}",
            "workflow_state": "active",
            "position": 1,
            "is_inst_id": False,
            "sis_batch_id": 1 if uid % 3 else None,
            "created_at": T0,
            "updated_at": T0,
        }
        for uid in sorted(ids)
    ]
    if login_rows:
        conn.execute(insert(pseudonyms), login_rows)
    refresh(conn, root_id)
    return root_id


def sample_run(conn: Connection, root: int, **parameters: object) -> int:
    """A created run of the sample report on root account ``root``."""
    from reportcard.runs.lifecycle import create_run

    return create_run(
        conn,
        account_id=root,
        root_account_id=root,
        user_id=None,
        report_type=SAMPLE,
        parameters=dict(parameters),
    )


def file_bytes(engine: Engine, storage: LocalStorage, run_id: int) -> bytes:
    """The bytes of the file attached to run ``run_id``."""
    from reportcard.runs.lifecycle import get_run

    with engine.connect() as conn:
        run = get_run(conn, run_id)
        att = conn.execute(select(attachments).where(attachments.c.id == run.attachment_id)).one()
    with storage.open_read(att.storage_key) as fh:
        return fh.read()


def expected_csv(root_id: int, first_user: int, n: int) -> bytes:
    """The sample report's logins file for ``make_institution(conn, n)`` (users from 1)."""
    lines = ["canvas_user_id,login_id,full_name,created_at,created_by_sis"]
    for uid in range(first_user, first_user + n):
        i = uid - first_user
        name = f'"User ""{i}"", Jr"' if i % 10 == 0 else f"User {i}"
        sis = "true" if uid % 3 else "false"
        lines.append(f"{uid},login{root_id}-{uid},{name},2024-01-15T01:00:00-07:00,{sis}")
    return ("\n".join(lines) + "\n").encode()


def abandon_first_shard(conn: Connection, run_id: int) -> int:
    """Run ``run_id``'s first shard (file 0, seq 0) as claimed by a worker that died: its
    heartbeat is stale, so a live worker retries it. Returns the shard's id."""
    first = (
        conn.execute(
            select(report_shards.c.id)
            .where(report_shards.c.report_id == run_id)
            .order_by(report_shards.c.part_index, report_shards.c.seq)
        )
        .scalars()
        .first()
    )
    assert first is not None
    assert claim_shard(conn, first, "dead-worker")
    conn.execute(
        update(report_shards)
        .where(report_shards.c.id == first)
        .values(heartbeat_at=utcnow() - timedelta(minutes=5))
    )
    return int(first)
