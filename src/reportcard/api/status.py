"""The status endpoint's one-query path: it is what pollers hit, so it does one round trip.

Token, user, account, permission, run, attachment, the run's user and the root account's zone
come back in a single SELECT; the answer is identical to the general path's (which handles
``self`` and ``sis_account_id:`` references and every error in detail).
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection, String, and_, bindparam, exists, func, literal_column, select

from reportcard.auth.permissions import READ_REPORTS, grants
from reportcard.db.tables import (
    access_tokens,
    account_ancestors,
    account_reports,
    account_users,
    accounts,
    attachments,
    roles,
    users,
)

TABLES = {
    "run": account_reports,
    "att": attachments.alias("att"),
    "ru": users.alias("ru"),
}


def _build() -> Any:
    tok = access_tokens
    me = users.alias("me")
    acct = accounts.alias("acct")
    root = accounts.alias("root")
    run, att, ru = TABLES["run"], TABLES["att"], TABLES["ru"]
    allowed = (
        exists()
        .select_from(
            account_ancestors.join(
                account_users, account_users.c.account_id == account_ancestors.c.ancestor_id
            ).join(roles, roles.c.id == account_users.c.role_id)
        )
        .where(
            account_ancestors.c.account_id == bindparam("account"),
            account_users.c.user_id == me.c.id,
            account_users.c.workflow_state == literal_column("'active'", String),
            grants(READ_REPORTS),
        )
    )
    cols = [
        tok.c.workflow_state.label("tok_state"),
        tok.c.expires_at.label("tok_expires_at"),
        me.c.time_zone.label("me_time_zone"),
        acct.c.id.label("acct_id"),
        acct.c.workflow_state.label("acct_state"),
        func.coalesce(root.c.default_time_zone, acct.c.default_time_zone).label("zone"),
        allowed.label("allowed"),
    ]
    for prefix, table in TABLES.items():
        cols += [c.label(f"{prefix}__{c.name}") for c in table.c]
    frm = (
        tok.join(me, me.c.id == tok.c.user_id)
        .outerjoin(acct, acct.c.id == bindparam("account"))
        .outerjoin(root, root.c.id == acct.c.root_account_id)
        .outerjoin(
            run,
            and_(
                run.c.id == bindparam("run"),
                run.c.account_id == acct.c.id,
                run.c.report_type == bindparam("report"),
                run.c.workflow_state != "deleted",
            ),
        )
        .outerjoin(att, att.c.id == run.c.attachment_id)
        .outerjoin(ru, ru.c.id == run.c.user_id)
    )
    return select(*cols).select_from(frm).where(tok.c.token_hash == bindparam("hash"))


STATUS = _build()


def fetch(
    conn: Connection, token_hash: str, account_id: int, report: str, run_id: int
) -> tuple[Any, dict[str, Any | None]] | None:
    """The combined row (None for an unknown token) and the run, attachment and user rows."""
    row = conn.execute(
        STATUS, {"hash": token_hash, "account": account_id, "report": report, "run": run_id}
    ).first()
    if row is None:
        return None
    m = row._mapping
    parts: dict[str, Any | None] = {}
    for prefix, table in TABLES.items():
        if m[f"{prefix}__id"] is None:
            parts[prefix] = None
        else:
            parts[prefix] = SimpleNamespace(**{c.name: m[f"{prefix}__{c.name}"] for c in table.c})
    return row, parts
