"""admins.csv, groups_membership.csv and user_observers.csv: links between users and things.

Each link is identified by what it joins (account + user + role; group + user; student +
observer); a row for an existing link sets its state.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table

from reportcard.db.tables import account_users, group_memberships, user_observers
from reportcard.lms.sis_import.context import ImportContext, Rec
from reportcard.lms.sis_import.formats import BY_KEY
from reportcard.lms.sis_import.handler import Record
from reportcard.lms.sis_import.values import Columns


def _existing(
    ctx: ImportContext, table: Table, user_col: str, user_ids: set[int], key_cols: Sequence[str]
) -> dict[tuple[Any, ...], Rec]:
    """Rows of ``table`` (of this root, when it has the column) whose ``user_col`` is one of
    ``user_ids``, by ``key_cols``."""
    out: dict[tuple[Any, ...], Rec] = {}
    cols = ("id", "workflow_state", "sis_batch_id", *key_cols)
    where, params = (
        ("root_account_id = ?", [ctx.root_id]) if "root_account_id" in table.c else ("", [])
    )
    for rec in ctx.rows_in(table.name, cols, user_col, user_ids, where, params):
        out.setdefault(tuple(rec[k] for k in key_cols), rec)
    return out


class Admins:
    def rows(self, ctx: ImportContext, file: str, cols: Columns, batch: Sequence[Record]) -> None:
        kind = BY_KEY["admin"]
        g_user, g_account, g_role, g_role_id, g_status = (
            cols.getter(c) for c in ("user_id", "account_id", "role", "role_id", "status")
        )
        parsed = []
        for line, f in batch:
            user = g_user(f)
            if user is None:
                ctx.warn(file, line, "No user_id given for an admin")
                continue
            account_sis = g_account(f)
            what = f"admin {user} on account {account_sis or '(root)'}"
            status = ctx.status(kind, file, line, g_status(f), what)
            if status is None or (ctx.skip_deletes and status == "deleted"):
                continue
            account_id = ctx.account_of(account_sis)
            if account_id is None:
                ctx.warn(file, line, f"Invalid account_id {account_sis} for {what}")
                continue
            role_name, role_id = g_role(f), g_role_id(f)
            if role_name is None and role_id is None:
                ctx.warn(file, line, f"No role given for {what}")
                continue
            role = ctx.role(role_name, role_id, account_role=True)
            if role is None:
                ctx.warn(file, line, f'Invalid role "{role_name or role_id}" for {what}')
                continue
            parsed.append((line, what, user, account_id, role, status))
        logins = ctx.logins({p[2] for p in parsed})
        found = [(p, logins.get(p[2])) for p in parsed]
        users = {int(login["user_id"]) for _, login in found if login is not None}
        existing = _existing(
            ctx, account_users, "user_id", users, ("account_id", "user_id", "role_id")
        )
        for (line, what, user, account_id, role, status), login in found:
            if login is None:
                ctx.warn(file, line, f"Invalid or unknown user_id {user} for {what}")
                continue
            user_id = int(login["user_id"])
            if status == "deleted" and ctx.user_id is not None and user_id == ctx.user_id:
                ctx.warn(file, line, f"Can't remove yourself: {what}")
                continue
            key = (account_id, user_id, int(role["id"]))
            rec = ctx.save(
                "account_users",
                existing.get(key),
                {"workflow_state": status},
                extra={
                    "root_account_id": ctx.root_id,
                    "account_id": account_id,
                    "user_id": user_id,
                    "role_id": role["id"],
                },
            )
            existing[key] = rec
            ctx.counts["admins"] += 1

    def finish(self, ctx: ImportContext) -> None:
        return None


class GroupMemberships:
    def rows(self, ctx: ImportContext, file: str, cols: Columns, batch: Sequence[Record]) -> None:
        kind = BY_KEY["group_membership"]
        g_group, g_user, g_status = (cols.getter(c) for c in ("group_id", "user_id", "status"))
        groups = ctx.groups()
        parsed = []
        for line, f in batch:
            group_sis, user = g_group(f), g_user(f)
            if group_sis is None:
                ctx.warn(file, line, "No group_id given for a group membership")
                continue
            if user is None:
                ctx.warn(file, line, f"No user_id given for a membership in group {group_sis}")
                continue
            what = f"membership of {user} in group {group_sis}"
            status = ctx.status(kind, file, line, g_status(f), what)
            if status is None or (ctx.skip_deletes and status == "deleted"):
                continue
            group = groups.get(group_sis)
            if group is None:
                ctx.warn(file, line, f"Group {group_sis} not found for {what}")
                continue
            parsed.append((line, what, user, group, status))
        logins = ctx.logins({p[2] for p in parsed})
        users = {int(v["user_id"]) for v in logins.values()}
        existing = _existing(ctx, group_memberships, "user_id", users, ("group_id", "user_id"))
        for line, what, user, group, status in parsed:
            login = logins.get(user)
            if login is None:
                ctx.warn(file, line, f"User {user} not found for {what}")
                continue
            key = (int(group["id"]), int(login["user_id"]))
            existing[key] = ctx.save(
                "group_memberships",
                existing.get(key),
                {"workflow_state": status},
                extra={"group_id": key[0], "user_id": key[1]},
            )
            ctx.counts["group_memberships"] += 1

    def finish(self, ctx: ImportContext) -> None:
        return None


class UserObservers:
    """The observer link only: no observer enrollments are added to the student's courses."""

    def rows(self, ctx: ImportContext, file: str, cols: Columns, batch: Sequence[Record]) -> None:
        kind = BY_KEY["user_observer"]
        g_observer, g_student, g_status = (
            cols.getter(c) for c in ("observer_id", "student_id", "status")
        )
        parsed = []
        for line, f in batch:
            observer, student = g_observer(f), g_student(f)
            if observer is None:
                ctx.warn(file, line, "No observer_id given for a user observer")
                continue
            if student is None:
                ctx.warn(file, line, f"No student_id given for observer {observer}")
                continue
            what = f"observer {observer} of student {student}"
            status = ctx.status(kind, file, line, g_status(f), what)
            if status is None or (ctx.skip_deletes and status == "deleted"):
                continue
            parsed.append((line, what, observer, student, status))
        logins = ctx.logins({p[2] for p in parsed} | {p[3] for p in parsed})
        students = {int(logins[p[3]]["user_id"]) for p in parsed if p[3] in logins}
        existing = _existing(ctx, user_observers, "user_id", students, ("user_id", "observer_id"))
        for line, what, observer, student, status in parsed:
            o, s = logins.get(observer), logins.get(student)
            if o is None:
                ctx.warn(file, line, f"An observer referenced a non-existent user {observer}")
                continue
            if s is None:
                ctx.warn(file, line, f"A student referenced a non-existent user {student}")
                continue
            key = (int(s["user_id"]), int(o["user_id"]))
            if key[0] == key[1]:
                ctx.warn(file, line, f"A user cannot observe themselves ({what})")
                continue
            existing[key] = ctx.save(
                "user_observers",
                existing.get(key),
                {"workflow_state": status},
                extra={"root_account_id": ctx.root_id, "user_id": key[0], "observer_id": key[1]},
            )
            ctx.counts["user_observers"] += 1

    def finish(self, ctx: ImportContext) -> None:
        return None
