"""Resolving a run's parameters once: the account, its root's zone, terms, course."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, or_, select

from reportcard.clock import utcnow
from reportcard.db.tables import accounts, courses, enrollment_terms
from reportcard.ids import is_id
from reportcard.reports.catalog import RunContext, get_report
from reportcard.reports.params import param, split_reference


def term_value(params: dict[str, Any]) -> Any:
    return param(params, "enrollment_term_id", "enrollment_term")


def resolve_terms(conn: Connection, root_id: int, value: Any, now: datetime) -> list[int] | None:
    """Term ids for a term parameter (ids, ``sis_term_id:X``, comma lists, ``active_terms``).

    Returns None when no term was given, and an empty list when none of the entries matches.
    """
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    t = enrollment_terms
    if text == "active_terms":
        rows = conn.execute(
            select(t.c.id).where(
                t.c.root_account_id == root_id,
                t.c.workflow_state == "active",
                or_(t.c.start_at.is_(None), t.c.start_at <= now),
                or_(t.c.end_at.is_(None), t.c.end_at >= now),
            )
        ).scalars()
        return sorted(rows)
    found: list[int] = []
    for entry in text.split(","):
        kind, ref = split_reference(entry, "sis_term_id")
        if kind == "sis":
            cond = t.c.sis_source_id == ref
        else:
            if not is_id(ref):
                continue
            cond = t.c.id == int(ref)
        row = conn.execute(select(t.c.id).where(and_(t.c.root_account_id == root_id, cond))).first()
        if row is not None and row.id not in found:
            found.append(row.id)
    return found


def resolve_course(conn: Connection, root_id: int, value: Any) -> int | None:
    """A course id for ``12`` or ``sis_course_id:X`` in the root account, else None."""
    if value is None or str(value).strip() == "":
        return None
    kind, ref = split_reference(value, "sis_course_id")
    if kind == "sis":
        cond = courses.c.sis_source_id == ref
    else:
        if not is_id(ref):
            return None
        cond = courses.c.id == int(ref)
    row = conn.execute(
        select(courses.c.id).where(courses.c.root_account_id == root_id, cond)
    ).first()
    return None if row is None else int(row.id)


def build_context(conn: Connection, run: Any, now: datetime | None = None) -> RunContext:
    """The RunContext of an ``account_reports`` row."""
    now = now or utcnow()
    acct = conn.execute(select(accounts).where(accounts.c.id == run.account_id)).one()
    root_id = int(acct.root_account_id or acct.id)
    root = (
        acct
        if root_id == acct.id
        else conn.execute(select(accounts).where(accounts.c.id == root_id)).one()
    )
    params: dict[str, Any] = dict(run.parameters or {})
    term_ids = resolve_terms(conn, root_id, term_value(params), now)
    term_name = None
    if term_ids:
        term_name = conn.execute(
            select(enrollment_terms.c.name).where(enrollment_terms.c.id == term_ids[0])
        ).scalar_one()
    course_id = resolve_course(conn, root_id, param(params, "course_id", "course"))
    ctx = RunContext(
        report_id=int(run.id),
        report_type=run.report_type,
        account_id=int(acct.id),
        root_account_id=root_id,
        account_name=acct.name,
        time_zone=root.default_time_zone or "UTC",
        params=params,
        is_root=root_id == acct.id,
        term_ids=term_ids,
        term_name=term_name,
        course_id=course_id,
        now=now,
        settings={"can_add_pronouns": bool(root.can_add_pronouns)},
        dialect=conn.dialect.name,
    )
    report = get_report(run.report_type)
    if report is not None and report.resolve is not None:
        report.resolve(conn, ctx)
    return ctx
