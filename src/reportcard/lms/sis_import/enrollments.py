"""enrollments.csv: a user's role in a section (or a course's default section).

An enrollment is identified by (user, section, role, associated user), as in Canvas; a row
for an existing one updates it, including bringing a deleted one back.

Two rules make re-importing the institution's own SIS export change nothing (issue #17):

- A blank ``section_id`` is what the export writes for a section without a SIS id. It names
  the course's default section (Canvas's rule), unless the user holds no such enrollment
  there but does in another section of the course without a SIS id: that enrollment is the
  one the row is about, and no second one is made in the default section.
- The export writes ``deleted`` for every enrollment of a deleted section or course (Canvas's
  rule). A row deleting an enrollment whose section or course was already deleted before this
  import leaves it as it is; a section or course this import deletes is not concerned.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select

from reportcard.db.tables import enrollments
from reportcard.lms.sis_import.context import ImportContext, Rec
from reportcard.lms.sis_import.formats import BY_KEY
from reportcard.lms.sis_import.handler import Record
from reportcard.lms.sis_import.values import BadValue, Columns, parse_bool

STATES = {
    "active": "active",
    "deleted": "deleted",
    "completed": "completed",
    "concluded": "completed",  # what the SIS export writes for completed enrollments
    "inactive": "inactive",
}
Key = tuple[int, int, int, int | None]  # user, section, role, associated user
_COLS = (
    "id",
    "user_id",
    "course_id",
    "course_section_id",
    "role_id",
    "associated_user_id",
    "workflow_state",
    "limit_privileges_to_course_section",
    "sis_pseudonym_id",
    "start_at",
    "end_at",
    "sis_batch_id",
)


class Enrollments:
    def rows(self, ctx: ImportContext, file: str, cols: Columns, batch: Sequence[Record]) -> None:
        kind = BY_KEY["enrollment"]
        g_course, g_section, g_user, g_user_int = (
            cols.getter(c) for c in ("course_id", "section_id", "user_id", "user_integration_id")
        )
        g_role, g_role_id, g_status, g_assoc = (
            cols.getter(c) for c in ("role", "role_id", "status", "associated_user_id")
        )
        g_limit, g_start, g_end = (
            cols.getter(c) for c in ("limit_section_privileges", "start_date", "end_date")
        )
        courses, sections = ctx.courses(), ctx.sections()
        roles: dict[tuple[str | None, str | None], Rec | None] = {}
        parsed: list[tuple[Any, ...]] = []
        user_sis: set[str] = set()
        user_ints: set[str] = set()
        for line, f in batch:
            course_sis, section_sis = g_course(f), g_section(f)
            user, user_int = g_user(f), g_user_int(f)
            what = f"enrollment of {user or user_int} in {section_sis or course_sis}"
            if course_sis is None and section_sis is None:
                ctx.warn(file, line, "No course_id or section_id given for an enrollment")
                continue
            if user is None and user_int is None:
                ctx.warn(file, line, "No user_id or user_integration_id given for an enrollment")
                continue
            status = ctx.status(kind, file, line, g_status(f), what)
            if status is None or (ctx.skip_deletes and status.startswith("deleted")):
                continue
            role_name, role_id = g_role(f), g_role_id(f)
            if role_name is None and role_id is None:
                ctx.warn(file, line, f"No role given for {what}")
                continue
            if (role_name, role_id) not in roles:
                roles[(role_name, role_id)] = ctx.role(role_name, role_id, account_role=False)
            role = roles[(role_name, role_id)]
            if role is None:
                ctx.warn(file, line, f'Improper role "{role_name or role_id}" for {what}')
                continue
            if section_sis is not None:
                section = sections.get(section_sis)
                if section is None:
                    ctx.warn(
                        file, line, f"An enrollment referenced a non-existent section {section_sis}"
                    )
                    continue
                if course_sis is not None:
                    course = courses.get(course_sis)
                    if course is None or course["id"] not in (
                        section["course_id"],
                        section["nonxlist_course_id"],
                    ):
                        ctx.warn(
                            file,
                            line,
                            f"An enrollment listed a section ({section_sis}) and "
                            f"a course ({course_sis}) that are unrelated",
                        )
                        continue
                section_id: int | None = int(section["id"])
                blank_course: Rec | None = None
            else:
                assert course_sis is not None
                course = courses.get(course_sis)
                if course is None:
                    ctx.warn(
                        file, line, f"An enrollment referenced a non-existent course {course_sis}"
                    )
                    continue
                section_id, blank_course = None, course  # placed once the user is known
            limit = g_limit(f)
            limit_value: bool | None = None
            if limit is not None:
                try:
                    limit_value = parse_bool(limit)
                except BadValue:
                    ctx.warn(file, line, f'Bad limit_section_privileges "{limit}" for {what}')
                    continue
            ok1, start = ctx.time_value(g_start(f), file, line, "start_date", what)
            ok2, end = ctx.time_value(g_end(f), file, line, "end_date", what)
            if not (ok1 and ok2):
                continue
            assoc = g_assoc(f) if role["base_role_type"] == "ObserverEnrollment" else None
            if user is not None:
                user_sis.add(user)
            elif user_int is not None:
                user_ints.add(user_int)
            if assoc is not None:
                user_sis.add(assoc)
            parsed.append(
                (
                    line,
                    what,
                    user,
                    user_int,
                    section_id,
                    role,
                    status,
                    assoc,
                    limit_value,
                    start,
                    end,
                    g_start(f) is not None,
                    g_end(f) is not None,
                    blank_course,
                )
            )
        by_sis = ctx.logins(user_sis)
        by_int = ctx.logins_by_integration(user_ints) if user_ints else {}
        resolved = []
        for (
            line,
            what,
            user,
            user_int,
            section_id,
            role,
            status,
            assoc,
            limit,
            start,
            end,
            has_start,
            has_end,
            blank_course,
        ) in parsed:
            login = by_sis.get(user) if user is not None else by_int.get(user_int)
            if login is None:
                ref = user if user is not None else f"integration id {user_int}"
                ctx.warn(file, line, f"User not found for enrollment (User ID: {ref})")
                continue
            assoc_user = None
            if assoc is not None:
                observed = by_sis.get(assoc)
                if observed is None:
                    ctx.warn(file, line, f"Associated user {assoc} not found for {what}")
                    continue
                assoc_user = int(observed["user_id"])
            resolved.append(
                (
                    line,
                    what,
                    login,
                    section_id,
                    role,
                    status,
                    assoc_user,
                    limit,
                    start,
                    end,
                    has_start,
                    has_end,
                    blank_course,
                )
            )
        resolved = self._place(ctx, resolved)
        existing = self._existing(ctx, resolved)
        section_ids = ctx.section_ids()
        for (
            _line,
            _what,
            login,
            section_id,
            role,
            status,
            assoc_user,
            limit,
            start,
            end,
            has_start,
            has_end,
            _blank_course,
        ) in resolved:
            user_id = int(login["user_id"])
            key: Key = (user_id, section_id, int(role["id"]), assoc_user)
            rec = existing.get(key)
            if (
                status.startswith("deleted")
                and rec is not None
                and rec["workflow_state"] != "deleted"
                and self._gone_before(ctx, section_ids[section_id])
            ):
                ctx.counts["enrollments"] += 1  # as the export wrote it: nothing to change
                continue
            state = STATES.get(status)
            if state is None:  # deleted_last_completed
                state = self._last_completed(ctx, rec, user_id, section_ids[section_id])
            values: dict[str, Any] = {
                "course_id": section_ids[section_id]["course_id"],
                "workflow_state": state,
                "sis_pseudonym_id": login["id"],
            }
            if limit is not None:
                values["limit_privileges_to_course_section"] = limit
            if has_start:
                values["start_at"] = start
            if has_end:
                values["end_at"] = end
            rec = ctx.save(
                "enrollments",
                rec,
                values,
                extra={
                    "root_account_id": ctx.root_id,
                    "user_id": user_id,
                    "course_section_id": section_id,
                    "role_id": role["id"],
                    "type": role["base_role_type"],
                    "associated_user_id": assoc_user,
                    "limit_privileges_to_course_section": False,
                    "start_at": None,
                    "end_at": None,
                },
            )
            existing[key] = rec
            ctx.counts["enrollments"] += 1

    @staticmethod
    def _gone_before(ctx: ImportContext, section: Rec) -> bool:
        """The section, or its current course, was deleted before this import began."""
        course = ctx.course_ids().get(int(section["course_id"]))
        return any(
            rec is not None
            and rec["workflow_state"] == "deleted"
            and rec.get("sis_batch_id") != ctx.batch_id
            for rec in (section, course)
        )

    @classmethod
    def _place(cls, ctx: ImportContext, resolved: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        """Give rows with a blank section_id their section (see the module's docstring)."""
        blank = [r for r in resolved if r[3] is None]
        if not blank:
            return resolved
        no_sis: dict[int, list[int]] | None = ctx.cache.get("sections_without_sis_id")
        if no_sis is None:
            no_sis = {}
            recs = sorted(
                (r for r in ctx.section_ids().values() if r["sis_source_id"] is None),
                key=lambda r: (
                    not (r["default_section"] and r["workflow_state"] != "deleted"),
                    r["id"],
                ),
            )
            for rec in recs:
                no_sis.setdefault(int(rec["course_id"]), []).append(int(rec["id"]))
            ctx.cache["sections_without_sis_id"] = no_sis
        candidates = {s for r in blank for s in no_sis.get(int(r[-1]["id"]), [])}
        there = cls._existing_in(ctx, {int(r[2]["user_id"]) for r in blank}, candidates)
        out = []
        for r in resolved:
            if r[3] is None:
                course_id, user_id = int(r[-1]["id"]), int(r[2]["user_id"])
                key = (int(r[4]["id"]), r[6])  # role, associated user
                here = no_sis.setdefault(course_id, [])
                # Default section first: Canvas's choice whenever the enrollment is there.
                held = [s for s in here if (user_id, s, *key) in there]
                if held:
                    section_id = held[0]
                else:
                    section_id = ctx.default_section(r[-1])
                    if section_id not in here:
                        here.insert(0, section_id)  # a default section this import made
                r = (*r[:3], section_id, *r[4:])
            out.append(r)
        return out

    @staticmethod
    def _existing(ctx: ImportContext, resolved: list[tuple[Any, ...]]) -> dict[Key, Rec]:
        """Enrollments already there for the batch's (user, section) pairs."""
        return Enrollments._existing_in(
            ctx, {int(r[2]["user_id"]) for r in resolved}, {int(r[3]) for r in resolved}
        )

    @staticmethod
    def _existing_in(ctx: ImportContext, user_ids: set[int], sections: set[int]) -> dict[Key, Rec]:
        """Enrollments of ``user_ids`` in ``sections``, by (user, section, role, associated)."""
        users = sorted(user_ids)
        out: dict[Key, Rec] = {}
        # Sections belong to one root: no root filter, which could lead the planner to the
        # (root_account_id, id) index and a scan of every enrollment of the root.
        for j in range(0, len(users), 5000):
            part = users[j : j + 5000]
            where = f"user_id IN ({', '.join('?' * len(part))})"
            for rec in ctx.rows_in(
                "enrollments", _COLS, "course_section_id", sections, where, part
            ):
                key = (
                    rec["user_id"],
                    rec["course_section_id"],
                    rec["role_id"],
                    rec["associated_user_id"],
                )
                out.setdefault(key, rec)
        return out

    @staticmethod
    def _last_completed(ctx: ImportContext, rec: Rec | None, user_id: int, section: Rec) -> str:
        """``deleted_last_completed``: deleted, unless it is the user's last enrollment in the
        course, which is completed instead."""
        e = enrollments.c
        others = select(func.count()).where(
            e.user_id == user_id,
            e.course_id == section["course_id"],
            e.workflow_state.not_in(["deleted", "completed"]),
        )
        if rec is not None:
            others = others.where(e.id != rec["id"])
        return "deleted" if ctx.conn.execute(others).scalar_one() > 0 else "completed"

    def finish(self, ctx: ImportContext) -> None:
        return None
