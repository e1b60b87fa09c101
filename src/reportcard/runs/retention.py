"""Retention: a finished run's file is deleted after a number of days; the run record stays.

The sweep (a housekeeping job in every worker process, and ``reportcard retention sweep``)
finds report attachments older than their report type's limit (``retention_days``, or an entry
of ``retention_days_by_report``), marks each ``expired`` with a conditional UPDATE, so one
process alone deletes a file, then deletes the stored file and logs it. The run keeps its
status, message and attachment JSON (``workflow_state: "expired"``); downloading the file
answers 410 Gone. A limit of 0 keeps that type's files forever.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, select, update

from reportcard.db.sis_import_tables import sis_imports
from reportcard.db.tables import account_reports, attachments
from reportcard.runs.hooks import Hooks
from reportcard.runs.lifecycle import ACTIVE_STATES
from reportcard.settings import Settings, parse_overrides
from reportcard.storage.base import Storage

log = logging.getLogger(__name__)

EXPIRED = "expired"
BATCH = 500


def days_for(settings: Settings, report_type: str) -> float:
    """The retention limit of a report type in days (0: forever)."""
    return parse_overrides(settings.retention_days_by_report).get(
        report_type, settings.retention_days
    )


@dataclass(frozen=True)
class Expired:
    """One file the sweep removed (or, in a dry run, would remove)."""

    run_id: int
    report_type: str
    attachment_id: int
    filename: str
    size: int
    created_at: datetime


def sweep(
    engine: Engine,
    storage: Storage,
    settings: Settings,
    now: datetime,
    *,
    dry_run: bool = False,
) -> list[Expired]:
    """Expire every report file past its limit at ``now``; returns what was removed."""
    overrides = parse_overrides(settings.retention_days_by_report)
    limits = [d for d in [settings.retention_days, *overrides.values()] if d > 0]
    if not limits:
        return []
    oldest_limit = now - timedelta(days=min(limits))
    r, a = account_reports.c, attachments.c
    removed: list[Expired] = []
    after = 0
    while True:
        with engine.connect() as conn:
            rows = conn.execute(
                select(r.id, r.report_type, a.id.label("att_id"), a.filename, a.size)
                .add_columns(a.created_at, a.storage_key)
                .select_from(account_reports.join(attachments, a.id == r.attachment_id))
                .where(
                    a.workflow_state == "processed",
                    a.created_at < oldest_limit,
                    r.workflow_state.not_in(ACTIVE_STATES),
                    a.id > after,
                )
                .order_by(a.id)
                .limit(BATCH)
            ).all()
            conn.rollback()
        if not rows:
            break
        for row in rows:
            after = int(row.att_id)
            days = overrides.get(row.report_type, settings.retention_days)
            if days <= 0 or row.created_at >= now - timedelta(days=days):
                continue
            item = Expired(
                run_id=int(row.id),
                report_type=row.report_type,
                attachment_id=int(row.att_id),
                filename=row.filename,
                size=int(row.size),
                created_at=row.created_at,
            )
            if dry_run:
                removed.append(item)
                continue
            with engine.begin() as conn:
                claimed = conn.execute(
                    update(attachments)
                    .where(a.id == row.att_id, a.workflow_state == "processed")
                    .values(workflow_state=EXPIRED, updated_at=now)
                ).rowcount
            if claimed != 1:
                continue  # another process expired it
            try:
                storage.delete(row.storage_key)
            except Exception:
                log.exception("retention: could not delete %s (run %s)", row.storage_key, row.id)
            log.info(
                "retention: removed %s (%s bytes) of run %s (%s, created %s, kept %s days)",
                row.filename,
                row.size,
                row.id,
                row.report_type,
                row.created_at.isoformat(),
                days,
            )
            removed.append(item)
    if removed and not dry_run:
        log.info(
            "retention: removed %s files, %s bytes",
            len(removed),
            sum(i.size for i in removed),
        )
    return removed


SIS_IMPORTS = "sis_imports"  # the key of SIS errors files in retention_days_by_report


def sweep_sis_errors(
    engine: Engine, storage: Storage, settings: Settings, now: datetime
) -> list[int]:
    """Expire SIS import errors files (``sis_errors_attachment_<id>.csv``) past the limit.

    The limit is ``retention_days``, or the ``sis_imports`` entry of
    ``retention_days_by_report``; the import keeps its messages and counts, and its
    ``errors_attachment`` answers 410 Gone like an expired report file. Returns the import ids.
    """
    days = days_for(settings, SIS_IMPORTS)
    if days <= 0:
        return []
    a, s = attachments.c, sis_imports.c
    with engine.connect() as conn:
        rows = conn.execute(
            select(s.id, a.id.label("att_id"), a.storage_key, a.size)
            .select_from(sis_imports.join(attachments, a.id == s.errors_attachment_id))
            .where(
                a.workflow_state == "processed",
                a.created_at < now - timedelta(days=days),
                s.workflow_state.not_in(("created", "importing")),
            )
            .order_by(a.id)
        ).all()
        conn.rollback()
    removed = []
    for row in rows:
        with engine.begin() as conn:
            claimed = conn.execute(
                update(attachments)
                .where(a.id == row.att_id, a.workflow_state == "processed")
                .values(workflow_state=EXPIRED, updated_at=now)
            ).rowcount
        if claimed != 1:
            continue
        try:
            storage.delete(row.storage_key)
        except Exception:
            log.exception("retention: could not delete %s (sis import %s)", row.storage_key, row.id)
        log.info("retention: removed the errors file of sis import %s (%s bytes)", row.id, row.size)
        removed.append(int(row.id))
    return removed


def _job(engine: Engine, storage: Storage, settings: Settings, now: datetime) -> int:
    """Report files and SIS errors files past their limit, then the files nothing claims."""
    from reportcard.runs.orphans import sweep_orphans

    handled = len(sweep(engine, storage, settings, now))
    handled += len(sweep_sis_errors(engine, storage, settings, now))
    return handled + len(sweep_orphans(engine, storage, settings, now))


def install(hooks: Hooks) -> None:
    hooks.every("retention", lambda s: s.retention_interval_seconds, _job)
