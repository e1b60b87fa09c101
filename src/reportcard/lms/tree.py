"""Derived structure kept beside the LMS data: the account closure and user associations.

Loaders (the synthetic generator, the SIS import) call :func:`refresh` after writing, so that
"is in the subtree of X" and "is associated with account X" are single indexed lookups.
"""

from __future__ import annotations

from sqlalchemy import Connection, delete, insert, select, union

from reportcard.db.tables import (
    account_ancestors,
    account_users,
    accounts,
    courses,
    enrollments,
    pseudonyms,
    user_account_associations,
)


def rebuild_account_tree(conn: Connection, root_id: int) -> int:
    """Recompute ``account_ancestors`` for the root account ``root_id``; returns row count."""
    rows = conn.execute(
        select(accounts.c.id, accounts.c.parent_account_id).where(
            (accounts.c.root_account_id == root_id) | (accounts.c.id == root_id)
        )
    ).all()
    parent = {r.id: r.parent_account_id for r in rows}
    ids = list(parent)
    conn.execute(delete(account_ancestors).where(account_ancestors.c.account_id.in_(ids)))
    out = []
    for acct in ids:
        node: int | None = acct
        depth = 0
        seen = set()
        while node is not None and node not in seen:
            seen.add(node)
            out.append({"account_id": acct, "ancestor_id": node, "depth": depth})
            node = parent.get(node)
            depth += 1
    for i in range(0, len(out), 5000):
        conn.execute(insert(account_ancestors), out[i : i + 5000])
    return len(out)


def rebuild_user_associations(conn: Connection, root_id: int) -> None:
    """Recompute which users are associated with which accounts of ``root_id``.

    A user is associated with an account and all its ancestors when they have a non-deleted
    enrollment in a course of that account, or an active admin role there; every user with a
    login on the root account is associated with the root.
    """
    aa = account_ancestors
    account_ids = (
        select(aa.c.account_id)
        .join(accounts, accounts.c.id == aa.c.account_id)
        .where((accounts.c.root_account_id == root_id) | (accounts.c.id == root_id))
    )
    conn.execute(
        delete(user_account_associations).where(
            user_account_associations.c.account_id.in_(account_ids.distinct())
        )
    )
    from_enrollments = (
        select(enrollments.c.user_id, aa.c.ancestor_id)
        .join(courses, courses.c.id == enrollments.c.course_id)
        .join(aa, aa.c.account_id == courses.c.account_id)
        .where(enrollments.c.root_account_id == root_id)
        .where(enrollments.c.workflow_state != "deleted")
    )
    from_admins = (
        select(account_users.c.user_id, aa.c.ancestor_id)
        .join(aa, aa.c.account_id == account_users.c.account_id)
        .where(account_users.c.root_account_id == root_id)
        .where(account_users.c.workflow_state != "deleted")
    )
    from_logins = select(pseudonyms.c.user_id, pseudonyms.c.account_id).where(
        pseudonyms.c.account_id == root_id
    )
    conn.execute(
        insert(user_account_associations).from_select(
            ["user_id", "account_id"], union(from_enrollments, from_admins, from_logins)
        )
    )


def refresh(conn: Connection, root_id: int) -> None:
    """Rebuild everything derived for one root account."""
    rebuild_account_tree(conn, root_id)
    rebuild_user_associations(conn, root_id)
