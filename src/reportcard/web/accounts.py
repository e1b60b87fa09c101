"""Which accounts a signed-in person may see on the Reports page, and the account switcher.

An account is visible when the person holds the permission (``read_reports``, or
``import_sis_data`` for the SIS import page) there or on an ancestor, exactly the API's rule
(:func:`reportcard.auth.permissions.has_permission`). The switcher lists the accounts where the
person holds such a role and their sub-accounts, as a tree, up to ``LIMIT`` entries.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, select

from reportcard.auth.permissions import READ_REPORTS, admin_account_ids, has_permission
from reportcard.db.tables import account_ancestors, accounts

LIMIT = 500


@dataclass(frozen=True)
class AccountChoice:
    id: int
    name: str
    depth: int

    @property
    def label(self) -> str:
        return "\u2003" * self.depth + self.name  # em spaces: indentation a select keeps


def top_accounts(conn: Connection, user_id: int, permission: str = READ_REPORTS) -> list[int]:
    """Accounts where the person holds ``permission`` directly, minus those under another."""
    granted = [
        a for a in admin_account_ids(conn, user_id) if has_permission(conn, user_id, a, permission)
    ]
    if not granted:
        return []
    covered = set(
        conn.execute(
            select(account_ancestors.c.account_id).where(
                account_ancestors.c.ancestor_id.in_(granted),
                account_ancestors.c.account_id.in_(granted),
                account_ancestors.c.depth > 0,
            )
        ).scalars()
    )
    return [a for a in granted if a not in covered]


def visible_tree(
    conn: Connection, user_id: int, permission: str = READ_REPORTS
) -> list[AccountChoice]:
    """The switcher's entries: each top account, then its sub-accounts depth first by name."""
    tops = top_accounts(conn, user_id, permission)
    if not tops:
        return []
    a, aa = accounts.c, account_ancestors.c
    rows = conn.execute(
        select(a.id, a.name, a.parent_account_id)
        .join(account_ancestors, aa.account_id == a.id)
        .where(aa.ancestor_id.in_(tops), a.workflow_state != "deleted")
        .distinct()
        .order_by(a.id)
        .limit(LIMIT * 4)
    ).all()
    by_parent: dict[int | None, list[tuple[int, str]]] = {}
    ids = {int(r.id) for r in rows}
    for r in rows:
        parent = int(r.parent_account_id) if r.parent_account_id is not None else None
        by_parent.setdefault(parent, []).append((int(r.id), str(r.name)))
    out: list[AccountChoice] = []

    def walk(account_id: int, name: str, depth: int) -> None:
        if len(out) >= LIMIT:
            return
        out.append(AccountChoice(account_id, name, depth))
        for child_id, child_name in sorted(by_parent.get(account_id, []), key=lambda c: c[1]):
            walk(child_id, child_name, depth + 1)

    names = {int(r.id): str(r.name) for r in rows}
    for top in tops:
        if top in ids:
            walk(top, names[top], 0)
    return out


def breadcrumbs(conn: Connection, account_id: int) -> list[tuple[int, str]]:
    """The account's chain from its root down to itself."""
    a, aa = accounts.c, account_ancestors.c
    rows = conn.execute(
        select(a.id, a.name)
        .join(account_ancestors, aa.ancestor_id == a.id)
        .where(aa.account_id == account_id)
        .order_by(aa.depth.desc())
    ).all()
    return [(int(r.id), str(r.name)) for r in rows]
