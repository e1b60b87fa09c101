"""``eportfolio_report_csv`` (spec ``other-reports.md`` §4.17).

The report is root-scoped: run from a sub-account it lists what its root lists. One row per
(ePortfolio, author login on the root account), so an author with two logins gives two rows.
"""

from __future__ import annotations

from sqlalchemy import exists

from reportcard.db.activity_tables import eportfolios
from reportcard.db.tables import enrollments, pseudonyms, users
from reportcard.reports.aliases import named_alias
from reportcard.reports.basics import include_deleted_text, raw_utc, single_file
from reportcard.reports.catalog import Col, Parameter, PartQuery, RunContext
from reportcard.reports.formatting import sql_bool

NO_ENROLLMENTS_TEXT = "Only users with no enrollments"


def eportfolio_rows(ctx: RunContext) -> PartQuery:
    ep, u = eportfolios, users
    login = named_alias(pseudonyms, "author_login")
    # include_deleted means *only* deleted ePortfolios (§7.7).
    state = "deleted" if ctx.flag("include_deleted") else "active"
    where = [
        ep.c.workflow_state == state,
        u.c.workflow_state != "deleted",
        login.c.account_id == ctx.root_account_id,
    ]
    if ctx.flag("no_enrollments"):
        e = named_alias(enrollments, "any_enrollment")
        where.append(~exists().where(e.c.user_id == ep.c.user_id).correlate_except(e))
    cols = [
        Col("eportfolio_name", ep.c.name),
        Col("eportfolio_id", ep.c.id),
        Col("author_name", u.c.name),
        Col("author_id", ep.c.user_id),
        Col("author_sis_id", login.c.sis_user_id),
        Col("author_login_id", login.c.unique_id),
        Col("created_at", ep.c.created_at, raw_utc),
        Col("updated_at", ep.c.updated_at, raw_utc),
        Col("is_public", sql_bool(ep.c.public)),
        Col("workflow_state", ep.c.workflow_state),
    ]
    frm = ep.join(u, u.c.id == ep.c.user_id).join(login, login.c.user_id == ep.c.user_id)
    return PartQuery(
        cols,
        frm,
        where,
        ep.c.id,
        bounds_from=ep,
        bounds_where=[ep.c.workflow_state == state],
        then_by=[login.c.id],
    )


def _settings(ctx: RunContext) -> list[str]:
    return [
        include_deleted_text(ctx),
        NO_ENROLLMENTS_TEXT if ctx.flag("no_enrollments") else "",
    ]


single_file(
    "eportfolio_report_csv",
    "Eportfolio Report",
    "The ePortfolios of users with a login in the account, with their authors.",
    {
        "no_enrollments": Parameter("Only ePortfolios of users with no enrollments at all"),
        "include_deleted": Parameter("Only deleted ePortfolios (instead of active ones)"),
    },
    eportfolio_rows,
    _settings,
)
