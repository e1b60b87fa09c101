"""group_categories.csv and groups.csv."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import exists, select

from reportcard.db.tables import groups
from reportcard.lms.sis_import.context import ImportContext, Rec
from reportcard.lms.sis_import.formats import BY_KEY
from reportcard.lms.sis_import.handler import Record
from reportcard.lms.sis_import.values import Columns, Getter


def context_of(
    ctx: ImportContext,
    g_account: Getter,
    g_course: Getter,
    f: list[str],
    current: Rec | None = None,
) -> tuple[str, int, int] | str:
    """(context_type, context_id, account_id) a row names, or the warning text when it can't.

    Neither account_id nor course_id names the root account (Canvas), except for an existing
    ``current`` row of a sub-account without a SIS id, which stays there: a blank is what the
    SIS export writes for that account, and re-importing the export must not move the row.
    """
    account_sis, course_sis = g_account(f), g_course(f)
    stays = account_sis is None and course_sis is None and current is not None
    if stays and current is not None and current["context_type"] == "Account":
        here = ctx.account_ids().get(int(current["context_id"]))
        if here is not None and here["sis_source_id"] is None:
            return "Account", int(here["id"]), int(here["id"])
    if account_sis is not None and course_sis is not None:
        return "Only one context is allowed: give account_id or course_id, not both"
    if course_sis is not None:
        course = ctx.courses().get(course_sis)
        if course is None:
            return f"Course {course_sis} not found"
        return "Course", int(course["id"]), int(course["account_id"])
    account_id = ctx.account_of(account_sis)
    if account_id is None:
        return f"Account {account_sis} not found"
    return "Account", account_id, account_id


class GroupCategories:
    def rows(self, ctx: ImportContext, file: str, cols: Columns, batch: Sequence[Record]) -> None:
        kind = BY_KEY["group_category"]
        g_id, g_name, g_status = (
            cols.getter(c) for c in ("group_category_id", "category_name", "status")
        )
        g_account, g_course = cols.getter("account_id"), cols.getter("course_id")
        categories = ctx.categories()
        for line, f in batch:
            sis = g_id(f)
            status = ctx.keyed_status(kind, file, line, sis, g_status(f), "group_category_id")
            if sis is None or status is None:
                continue
            what = f"group category {sis}"
            name = g_name(f)
            if name is None:
                ctx.warn(file, line, f"No category_name given for {what}")
                continue
            rec = categories.get(sis)
            where = context_of(ctx, g_account, g_course, f, rec)
            if isinstance(where, str):
                ctx.warn(file, line, f"{where} for {what}")
                continue
            context_type, context_id, _ = where
            if rec is not None and (rec["context_type"], rec["context_id"]) != (
                context_type,
                context_id,
            ):
                has_groups = ctx.conn.execute(
                    select(exists().where(groups.c.group_category_id == rec["id"]))
                ).scalar()
                if has_groups:
                    ctx.warn(file, line, f"Cannot move {what} because it has groups in it")
                    continue
            deleted_at = None
            if status == "deleted":
                deleted_at = rec["deleted_at"] if rec and rec["deleted_at"] else ctx.now_db
            values: dict[str, Any] = {
                "context_type": context_type,
                "context_id": context_id,
                "name": name,
                "deleted_at": deleted_at,
            }
            new = rec is None
            rec = ctx.save(
                "group_categories",
                rec,
                values,
                extra={
                    "root_account_id": ctx.root_id,
                    "role": None,
                    "self_signup": None,
                    "group_limit": None,
                    "auto_leader": None,
                    "sis_source_id": sis,
                },
            )
            if new:
                ctx.remember("categories", sis, rec)
            ctx.counts["group_categories"] += 1

    def finish(self, ctx: ImportContext) -> None:
        return None


class Groups:
    def rows(self, ctx: ImportContext, file: str, cols: Columns, batch: Sequence[Record]) -> None:
        kind = BY_KEY["group"]
        g_id, g_name, g_status, g_cat = (
            cols.getter(c) for c in ("group_id", "name", "status", "group_category_id")
        )
        g_account, g_course = cols.getter("account_id"), cols.getter("course_id")
        all_groups, categories = ctx.groups(), ctx.categories()
        for line, f in batch:
            sis = g_id(f)
            status = ctx.keyed_status(kind, file, line, sis, g_status(f), "group_id")
            if sis is None or status is None:
                continue
            what = f"group {sis}"
            name = g_name(f)
            if name is None:
                ctx.warn(file, line, f"No name given for {what}")
                continue
            where = context_of(ctx, g_account, g_course, f, all_groups.get(sis))
            if isinstance(where, str):
                ctx.warn(file, line, f"{where} for {what}")
                continue
            context_type, context_id, account_id = where
            category_id = None
            category_sis = g_cat(f)
            if category_sis is not None:
                category: Rec | None = categories.get(category_sis)
                if category is None:
                    ctx.warn(file, line, f"Group category {category_sis} not found for {what}")
                    continue
                if (category["context_type"], category["context_id"]) != (context_type, context_id):
                    ctx.warn(
                        file,
                        line,
                        f"Group category {category_sis} belongs to another context than {what}",
                    )
                    continue
                category_id = category["id"]
            rec = all_groups.get(sis)
            values: dict[str, Any] = {
                "group_category_id": category_id,
                "context_type": context_type,
                "context_id": context_id,
                "account_id": account_id,
                "name": name,
                "workflow_state": status,
            }
            new = rec is None
            rec = ctx.save(
                "groups",
                rec,
                values,
                extra={
                    "root_account_id": ctx.root_id,
                    "max_membership": None,
                    "sis_source_id": sis,
                },
            )
            if new:
                ctx.remember("groups", sis, rec)
            ctx.counts["groups"] += 1

    def finish(self, ctx: ImportContext) -> None:
        return None
