"""change_sis_id.csv: give an existing object a new SIS id or integration id.

Processed before every other file, so the rest of the import already sees the new ids.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, select, update

from reportcard.db.tables import (
    accounts,
    course_sections,
    courses,
    enrollment_terms,
    group_categories,
    groups,
    pseudonyms,
)
from reportcard.lms.sis_import.context import ImportContext
from reportcard.lms.sis_import.handler import Record
from reportcard.lms.sis_import.values import DELETE, Columns

# type -> (table, SIS id column, has integration_id, root column)
TARGETS: dict[str, tuple[Table, str, bool, str]] = {
    "account": (accounts, "sis_source_id", True, "root_account_id"),
    "term": (enrollment_terms, "sis_source_id", True, "root_account_id"),
    "course": (courses, "sis_source_id", True, "root_account_id"),
    "section": (course_sections, "sis_source_id", True, "root_account_id"),
    "group": (groups, "sis_source_id", False, "root_account_id"),
    "group_category": (group_categories, "sis_source_id", False, "root_account_id"),
    "user": (pseudonyms, "sis_user_id", True, "account_id"),
}


class ChangeSisIds:
    def rows(self, ctx: ImportContext, file: str, cols: Columns, batch: Sequence[Record]) -> None:
        g_old, g_new, g_old_int, g_new_int, g_type = (
            cols.getter(c)
            for c in ("old_id", "new_id", "old_integration_id", "new_integration_id", "type")
        )
        for line, f in batch:
            kind = (g_type(f) or "").lower()
            target = TARGETS.get(kind)
            if target is None:
                ctx.warn(file, line, f'Invalid type "{g_type(f)}" for change_sis_id')
                continue
            table, sis_col, has_integration, root_col = target
            old, new, old_int, new_int = g_old(f), g_new(f), g_old_int(f), g_new_int(f)
            if (old is None) != (new is None):
                ctx.warn(file, line, "Both old_id and new_id are needed to change a SIS id")
                continue
            if (old_int is None) != (new_int is None):
                ctx.warn(
                    file,
                    line,
                    "Both old_integration_id and new_integration_id are needed "
                    "to change an integration id",
                )
                continue
            if old is None and old_int is None:
                ctx.warn(file, line, "No old_id or old_integration_id given for change_sis_id")
                continue
            if old_int is not None and not has_integration:
                ctx.warn(file, line, f"A {kind} has no integration id to change")
                continue
            changes: dict[str, Any] = {}
            row_id = None
            problem = None
            for col, before, after in (
                (sis_col, old, new),
                ("integration_id", old_int, new_int),
            ):
                if before is None:
                    continue
                found = self._find(ctx, table, root_col, col, before)
                if found is None:
                    problem = f"An old_id, '{before}', referenced a non-existent {kind}"
                    break
                if row_id is not None and found != row_id:
                    problem = f"old_id {old} and old_integration_id {old_int} are different {kind}s"
                    break
                row_id = found
                value = None if after == DELETE and col == "integration_id" else after
                if value is not None and value != before:
                    taken = self._find(ctx, table, root_col, col, value)
                    if taken is not None:
                        problem = f"A new_id, '{value}', referenced an existing {kind}"
                        break
                if value != before:
                    changes[col] = value
            if problem is not None or row_id is None:
                ctx.warn(file, line, problem or "Nothing to change")
                continue
            ctx.counts["change_sis_ids"] += 1
            if not changes:
                continue
            changes["sis_batch_id"] = ctx.batch_id
            if "updated_at" in table.c:
                changes["updated_at"] = ctx.now
            ctx.conn.execute(update(table).where(table.c.id == row_id).values(**changes))

    @staticmethod
    def _find(ctx: ImportContext, table: Table, root_col: str, col: str, value: str) -> int | None:
        found = ctx.conn.execute(
            select(table.c.id)
            .where(table.c[root_col] == ctx.root_id, table.c[col] == value)
            .order_by(table.c.id)
            .limit(1)
        ).scalar()
        return None if found is None else int(found)

    def finish(self, ctx: ImportContext) -> None:
        ctx.cache.clear()  # every lookup is read again with the new ids
