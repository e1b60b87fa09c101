"""accounts.csv and terms.csv."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from reportcard.lms.sis_import.context import ImportContext, Rec
from reportcard.lms.sis_import.formats import BY_KEY
from reportcard.lms.sis_import.handler import Record
from reportcard.lms.sis_import.values import DELETE, Columns


def integration(values: Rec, raw: str | None) -> None:
    """``integration_id``: set when given, cleared by ``<delete>``, kept when blank."""
    if raw is not None:
        values["integration_id"] = None if raw == DELETE else raw


@dataclass
class _Account:
    file: str
    line: int
    sis: str
    parent: str | None
    name: str | None
    status: str
    integration: str | None


class Accounts:
    """Accounts are upserted by ``account_id``; a child may come before its parent (it waits)."""

    def __init__(self) -> None:
        self.waiting: list[_Account] = []

    def rows(self, ctx: ImportContext, file: str, cols: Columns, batch: Sequence[Record]) -> None:
        kind = BY_KEY["account"]
        g_id, g_parent, g_name = (
            cols.getter(c) for c in ("account_id", "parent_account_id", "name")
        )
        g_status, g_int = cols.getter("status"), cols.getter("integration_id")
        for line, f in batch:
            sis = g_id(f)
            status = ctx.keyed_status(kind, file, line, sis, g_status(f), "account_id")
            if sis is None or status is None:
                continue
            row = _Account(file, line, sis, g_parent(f), g_name(f), status, g_int(f))
            if not self.apply(ctx, row):
                self.waiting.append(row)
        self.retry(ctx)

    def apply(self, ctx: ImportContext, row: _Account) -> bool:
        """Write one account; False when its parent does not exist (yet)."""
        accounts = ctx.accounts()
        if ctx.root_sis is not None and row.sis == ctx.root_sis:
            ctx.warn(row.file, row.line, f"account_id {row.sis} is the root account's own SIS id")
            return True
        rec = accounts.get(row.sis)
        if rec is None and row.name is None:
            ctx.warn(row.file, row.line, f"No name given for account {row.sis}")
            return True
        parent_id = ctx.account_of(row.parent)
        if parent_id is None:
            return False
        if row.parent is None and rec is not None:
            # A blank parent is the root (Canvas), but it is also what the SIS export writes
            # for a parent without a SIS id: an account under such a parent stays there, so
            # that re-importing the export does not move it (issue #17).
            current = ctx.account_ids().get(rec["parent_account_id"])
            if current is not None and current["sis_source_id"] is None:
                parent_id = int(current["id"])
        if rec is not None and _is_below(ctx, parent_id, int(rec["id"])):
            ctx.warn(
                row.file,
                row.line,
                f"Account {row.sis} cannot be moved under {row.parent}, which is inside it",
            )
            return True
        values: dict[str, Any] = {"parent_account_id": parent_id, "workflow_state": row.status}
        if row.name is not None:
            values["name"] = row.name
        integration(values, row.integration)
        new = rec is None
        rec = ctx.save(
            "accounts",
            rec,
            values,
            extra={
                "root_account_id": ctx.root_id,
                "uuid": secrets.token_hex(20),
                "default_time_zone": ctx.root_zone,
                "domain": None,
                "can_add_pronouns": False,
                "sis_source_id": row.sis,
                "integration_id": None,
            },
        )
        if new:
            ctx.remember("accounts", row.sis, rec)
        ctx.counts["accounts"] += 1
        return True

    def retry(self, ctx: ImportContext) -> None:
        progress = True
        while progress and self.waiting:
            progress = False
            for row in list(self.waiting):
                if self.apply(ctx, row):
                    self.waiting.remove(row)
                    progress = True

    def finish(self, ctx: ImportContext) -> None:
        self.retry(ctx)
        for row in self.waiting:
            ctx.warn(row.file, row.line, f"Parent account didn't exist for {row.sis}")
        self.waiting = []


def _is_below(ctx: ImportContext, account_id: int, ancestor: int) -> bool:
    """True when ``account_id`` is ``ancestor`` or lies under it."""
    by_id = ctx.account_ids()
    node: int | None = account_id
    seen: set[int] = set()
    while node is not None and node not in seen:
        if node == ancestor:
            return True
        seen.add(node)
        rec = by_id.get(node)
        node = None if rec is None else rec["parent_account_id"]
    return False


class Terms:
    def rows(self, ctx: ImportContext, file: str, cols: Columns, batch: Sequence[Record]) -> None:
        kind = BY_KEY["term"]
        g_id, g_name, g_status = (cols.getter(c) for c in ("term_id", "name", "status"))
        g_start, g_end, g_int = (
            cols.getter(c) for c in ("start_date", "end_date", "integration_id")
        )
        g_override = cols.getter("date_override_enrollment_type")
        terms = ctx.terms()
        for line, f in batch:
            sis = g_id(f)
            # skip_deletes after the date override's warning
            status = ctx.keyed_status(kind, file, line, sis, g_status(f), "term_id", False)
            if sis is None or status is None:
                continue
            what = f"term {sis}"
            if g_override(f) is not None:
                ctx.warn(
                    file,
                    line,
                    f"Term date overrides (date_override_enrollment_type) are not supported: "
                    f"row for term {sis} skipped",
                )
                continue
            if ctx.skip_deletes and status == "deleted":
                continue
            name = g_name(f)
            rec = terms.get(sis)
            if name is None and rec is None:
                ctx.warn(file, line, f"No name given for term {sis}")
                continue
            ok1, start = ctx.time_value(g_start(f), file, line, "start_date", what)
            ok2, end = ctx.time_value(g_end(f), file, line, "end_date", what)
            if not (ok1 and ok2):
                continue
            values: dict[str, Any] = {"workflow_state": status, "start_at": start, "end_at": end}
            if name is not None:
                values["name"] = name
            integration(values, g_int(f))
            new = rec is None
            rec = ctx.save(
                "enrollment_terms",
                rec,
                values,
                extra={
                    "root_account_id": ctx.root_id,
                    "is_default": False,
                    "sis_source_id": sis,
                    "integration_id": None,
                },
            )
            if new:
                ctx.remember("terms", sis, rec)
            ctx.counts["terms"] += 1

    def finish(self, ctx: ImportContext) -> None:
        return None
