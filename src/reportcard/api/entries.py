"""The Report JSON of a stored run and the List Available Reports entries, from a base URL.

The API passes the base URL its client addressed (``reportcard.service.urls.base_url``); the
CLI's direct backend passes ``public_url``. Both answer with the same JSON.
"""

from __future__ import annotations

from collections.abc import Set
from typing import Any

from sqlalchemy import Connection, select

from reportcard.auth.links import LinkSigner
from reportcard.clock import utcnow
from reportcard.db.tables import account_reports, attachments, users
from reportcard.reports.catalog import Report, all_reports
from reportcard.service.serializers import report_json


def run_entry(conn: Connection, base: str, run: Any, tz: str, links: LinkSigner) -> dict[str, Any]:
    """The Report JSON of one run row (times in its user's zone, else ``tz``)."""
    att = None
    if run.attachment_id is not None:
        att = conn.execute(select(attachments).where(attachments.c.id == run.attachment_id)).first()
    user = None
    if run.user_id is not None:
        user = conn.execute(select(users).where(users.c.id == run.user_id)).first()
    if user is not None and user.time_zone:
        tz = user.time_zone
    return report_json(base, run, tz=tz, attachment=att, user=user, now=utcnow(), links=links)


def report_entry(
    conn: Connection,
    base: str,
    report: Report,
    account: Any,
    tz: str,
    links: LinkSigner,
    include: Set[str] = frozenset(),
) -> dict[str, Any]:
    """One report of the catalog as List Available Reports shows it, with its last run."""
    last = conn.execute(
        select(account_reports)
        .where(
            account_reports.c.account_id == account.id,
            account_reports.c.report_type == report.name,
            account_reports.c.workflow_state != "deleted",
        )
        .order_by(account_reports.c.created_at.desc(), account_reports.c.id.desc())
        .limit(1)
    ).first()
    params = (
        {
            name: {"required": p.required, "description": p.description}
            for name, p in report.parameters.items()
        }
        if report.parameters
        else None
    )
    entry: dict[str, Any] = {
        "title": report.title,
        "parameters": params,
        "report": report.name,
        "last_run": None if last is None else run_entry(conn, base, last, tz, links),
    }
    if "description_html" in include:
        entry["description_html"] = f"<p>{report.description}</p>"
    if "parameters_html" in include:
        from reportcard.api.forms import parameters_html

        entry["parameters_html"] = parameters_html(report, int(account.id))
    return entry


def catalog_entries(
    conn: Connection,
    base: str,
    account: Any,
    tz: str,
    links: LinkSigner,
    include: Set[str] = frozenset(),
) -> list[dict[str, Any]]:
    """Every report of the catalog, by title: the List Available Reports answer."""
    return [
        report_entry(conn, base, report, account, tz, links, include)
        for report in sorted(all_reports().values(), key=lambda r: r.title)
    ]
