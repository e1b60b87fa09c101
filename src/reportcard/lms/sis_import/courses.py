"""courses.csv, sections.csv and xlists.csv (cross-listing)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from reportcard.db.tables import blueprint_subscriptions
from reportcard.lms.sis_import.accounts import integration
from reportcard.lms.sis_import.context import ImportContext, Rec
from reportcard.lms.sis_import.formats import BY_KEY
from reportcard.lms.sis_import.handler import Record
from reportcard.lms.sis_import.values import DELETE, Columns

COURSE_FORMATS = frozenset({"on_campus", "online", "blended"})
MOVE_ENROLLMENTS = "UPDATE enrollments SET course_id = ? WHERE course_section_id = ?"


def _course_state(status: str, current: str | None) -> str:
    """Canvas's course states for an import status.

    ``active`` publishes nothing: a new (or concluded or deleted) course becomes ``claimed``
    (unpublished) and a live one keeps its state; ``published`` makes it ``available``.
    """
    if status == "active":
        if current is None or current in ("completed", "deleted"):
            return "claimed"
        return current
    if status == "published":
        return "available"
    return status


class Courses:
    def __init__(self) -> None:
        self.blueprints: list[tuple[str, int, str, str]] = []

    def rows(self, ctx: ImportContext, file: str, cols: Columns, batch: Sequence[Record]) -> None:
        kind = BY_KEY["course"]
        names = [
            "course_id",
            "short_name",
            "long_name",
            "account_id",
            "term_id",
            "status",
            "integration_id",
            "start_date",
            "end_date",
            "course_format",
            "blueprint_course_id",
        ]
        g = {n: cols.getter(n) for n in names}
        courses = ctx.courses()
        terms = ctx.terms()
        for line, f in batch:
            sis = g["course_id"](f)
            status = ctx.keyed_status(kind, file, line, sis, g["status"](f), "course_id")
            if sis is None or status is None:
                continue
            what = f"course {sis}"
            short, long = g["short_name"](f), g["long_name"](f)
            if short is None:
                ctx.warn(file, line, f"No short_name given for course {sis}")
                continue
            if long is None:
                ctx.warn(file, line, f"No long_name given for course {sis}")
                continue
            rec = courses.get(sis)
            values: dict[str, Any] = {
                "name": long,
                "course_code": short,
                "workflow_state": _course_state(
                    status, None if rec is None else rec["workflow_state"]
                ),
            }
            account_sis = g["account_id"](f)
            if account_sis is not None:
                account_id = ctx.account_of(account_sis)
                if account_id is None:
                    ctx.warn(file, line, f"Account {account_sis} not found for course {sis}")
                    continue
                values["account_id"] = account_id
            elif rec is None:
                values["account_id"] = ctx.root_id
            term_sis = g["term_id"](f)
            if term_sis is not None:
                term = terms.get(term_sis)
                if term is None:
                    ctx.warn(file, line, f"Term {term_sis} not found for course {sis}")
                    continue
                values["enrollment_term_id"] = term["id"]
            elif rec is None:
                values["enrollment_term_id"] = ctx.default_term()
            fmt = g["course_format"](f)
            if fmt is not None:
                if fmt == DELETE:
                    values["course_format"] = None
                elif fmt.lower() in COURSE_FORMATS:
                    values["course_format"] = fmt.lower()
                else:
                    ctx.warn(file, line, f'Invalid course_format "{fmt}" for course {sis}')
                    continue
            if not self._dates(ctx, file, line, what, g, f, rec, values):
                continue
            integration(values, g["integration_id"](f))
            new = rec is None
            rec = ctx.save(
                "courses",
                rec,
                values,
                extra={
                    "root_account_id": ctx.root_id,
                    "course_format": None,
                    "start_at": None,
                    "conclude_at": None,
                    "restrict_enrollments_to_course_dates": False,
                    "is_public": False,
                    "sis_source_id": sis,
                    "integration_id": None,
                },
            )
            if new:
                ctx.remember("courses", sis, rec)
            bp = g["blueprint_course_id"](f)
            if bp is not None:
                self.blueprints.append((file, line, sis, bp))
            ctx.counts["courses"] += 1

    @staticmethod
    def _dates(
        ctx: ImportContext,
        file: str,
        line: int,
        what: str,
        g: dict[str, Any],
        f: list[str],
        rec: Rec | None,
        values: Rec,
    ) -> bool:
        """Course dates: blank keeps, ``<delete>`` clears; given dates restrict enrollments to
        them (that flag is what makes the SIS export write them)."""
        given = False
        for column, field in (("start_date", "start_at"), ("end_date", "conclude_at")):
            raw = g[column](f)
            if raw is None:
                continue
            ok, value = ctx.time_value(raw, file, line, column, what)
            if not ok:
                return False
            values[field] = value
            given = given or value is not None
        if given:
            values["restrict_enrollments_to_course_dates"] = True
        elif "start_at" in values or "conclude_at" in values:
            start = values.get("start_at", None if rec is None else rec["start_at"])
            end = values.get("conclude_at", None if rec is None else rec["conclude_at"])
            values["restrict_enrollments_to_course_dates"] = start is not None or end is not None
        return True

    def finish(self, ctx: ImportContext) -> None:
        """Blueprint links, once every course of the import exists."""
        courses = ctx.courses()
        bs = blueprint_subscriptions.c
        for file, line, child_sis, bp_sis in self.blueprints:
            child = courses[child_sis]
            subs = [
                dict(r._mapping)
                for r in ctx.conn.execute(
                    select(bs.id, bs.blueprint_course_id, bs.workflow_state).where(
                        bs.child_course_id == child["id"], bs.workflow_state == "active"
                    )
                )
            ]
            if bp_sis.lower() == "dissociate":
                for sub in subs:
                    ctx.save(
                        "blueprint_subscriptions",
                        sub,
                        {"workflow_state": "deleted"},
                        mark=False,
                        stamps=False,
                    )
                continue
            bp = courses.get(bp_sis)
            if bp is None or bp["workflow_state"] == "deleted":
                ctx.warn(file, line, f"Blueprint course {bp_sis} not found for course {child_sis}")
                continue
            if bp["id"] == child["id"]:
                ctx.warn(file, line, f"Course {child_sis} cannot be its own blueprint")
                continue
            if any(sub["blueprint_course_id"] == bp["id"] for sub in subs):
                continue
            for sub in subs:
                ctx.save(
                    "blueprint_subscriptions",
                    sub,
                    {"workflow_state": "deleted"},
                    mark=False,
                    stamps=False,
                )
            ctx.save(
                "blueprint_subscriptions",
                None,
                {
                    "blueprint_course_id": bp["id"],
                    "child_course_id": child["id"],
                    "workflow_state": "active",
                },
                mark=False,
                stamps=False,
            )
        self.blueprints = []


class Sections:
    def rows(self, ctx: ImportContext, file: str, cols: Columns, batch: Sequence[Record]) -> None:
        kind = BY_KEY["section"]
        names = [
            "section_id",
            "course_id",
            "name",
            "status",
            "integration_id",
            "start_date",
            "end_date",
        ]
        g = {n: cols.getter(n) for n in names}
        courses = ctx.courses()
        sections = ctx.sections()
        for line, f in batch:
            sis = g["section_id"](f)
            status = ctx.keyed_status(kind, file, line, sis, g["status"](f), "section_id")
            if sis is None or status is None:
                continue
            what = f"section {sis}"
            course_sis, name = g["course_id"](f), g["name"](f)
            if course_sis is None:
                ctx.warn(file, line, f"No course_id given for section {sis}")
                continue
            if name is None:
                ctx.warn(file, line, f"No name given for section {sis}")
                continue
            course = courses.get(course_sis)
            if course is None:
                ctx.warn(
                    file, line, f"Section {sis} references course {course_sis} which doesn't exist"
                )
                continue
            ok1, start = ctx.time_value(g["start_date"](f), file, line, "start_date", what)
            ok2, end = ctx.time_value(g["end_date"](f), file, line, "end_date", what)
            if not (ok1 and ok2):
                continue
            rec = sections.get(sis)
            values: dict[str, Any] = {
                "name": name,
                "workflow_state": status,
                "start_at": start,
                "end_at": end,
                "restrict_enrollments_to_section_dates": start is not None or end is not None,
            }
            moved = False
            if rec is None:
                values["course_id"] = course["id"]
            elif course["id"] not in (rec["course_id"], rec["nonxlist_course_id"]):
                # Another course altogether: the section leaves any cross-listing and moves.
                values["course_id"] = course["id"]
                values["nonxlist_course_id"] = None
                moved = True
            integration(values, g["integration_id"](f))
            new = rec is None
            rec = ctx.save(
                "course_sections",
                rec,
                values,
                extra={
                    "root_account_id": ctx.root_id,
                    "nonxlist_course_id": None,
                    "default_section": False,
                    "sis_source_id": sis,
                    "integration_id": None,
                },
            )
            if new:
                ctx.remember("sections", sis, rec)
            if moved:
                ctx.bulk.execute_many(MOVE_ENROLLMENTS, [(course["id"], rec["id"])])
            ctx.counts["sections"] += 1

    def finish(self, ctx: ImportContext) -> None:
        return None


class Xlists:
    def rows(self, ctx: ImportContext, file: str, cols: Columns, batch: Sequence[Record]) -> None:
        kind = BY_KEY["xlist"]
        g_course, g_section, g_status = (
            cols.getter(c) for c in ("xlist_course_id", "section_id", "status")
        )
        courses = ctx.courses()
        sections = ctx.sections()
        for line, f in batch:
            course_sis, section_sis = g_course(f), g_section(f)
            if course_sis is None:
                ctx.warn(file, line, "No xlist_course_id given for a cross-listing")
                continue
            if section_sis is None:
                ctx.warn(file, line, f"No section_id given for cross-listing into {course_sis}")
                continue
            what = f"cross-listing of section {section_sis} into {course_sis}"
            status = ctx.status(kind, file, line, g_status(f), what)
            if status is None or (ctx.skip_deletes and status == "deleted"):
                continue
            course = courses.get(course_sis)
            if course is None:
                ctx.warn(
                    file, line, f"A cross-listing referenced a non-existent course {course_sis}"
                )
                continue
            section = sections.get(section_sis)
            if section is None:
                ctx.warn(
                    file, line, f"A cross-listing referenced a non-existent section {section_sis}"
                )
                continue
            current, original = section["course_id"], section["nonxlist_course_id"]
            target: tuple[Any, Any] | None = None
            if status == "active":
                if current != course["id"]:
                    if course["workflow_state"] == "deleted":
                        ctx.warn(
                            file,
                            line,
                            f"Section {section_sis} cannot be cross-listed "
                            f"into the deleted course {course_sis}",
                        )
                        continue
                    home = original if original is not None else current
                    target = (course["id"], None if home == course["id"] else home)
            elif original is not None and current == course["id"]:
                target = (original, None)
            if target is not None:
                ctx.save(
                    "course_sections",
                    section,
                    {"course_id": target[0], "nonxlist_course_id": target[1]},
                )
                ctx.bulk.execute_many(MOVE_ENROLLMENTS, [(target[0], section["id"])])
            ctx.counts["xlists"] += 1

    def finish(self, ctx: ImportContext) -> None:
        return None
