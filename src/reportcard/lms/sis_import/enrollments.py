"""enrollments.csv: a user's role in a section (or a course's default section).

An enrollment is identified by (user, section, role, associated user), as in Canvas; a row
for an existing one updates it, including bringing a deleted one back.
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
                section_id = int(section["id"])
            else:
                assert course_sis is not None
                course = courses.get(course_sis)
                if course is None:
                    ctx.warn(
                        file, line, f"An enrollment referenced a non-existent course {course_sis}"
                    )
                    continue
                section_id = ctx.default_section(course)
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
                )
            )
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
        ) in resolved:
            user_id = int(login["user_id"])
            key: Key = (user_id, section_id, int(role["id"]), assoc_user)
            rec = existing.get(key)
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
    def _existing(ctx: ImportContext, resolved: list[tuple[Any, ...]]) -> dict[Key, Rec]:
        """Enrollments already there for the batch's (user, section) pairs."""
        users = sorted({int(r[2]["user_id"]) for r in resolved})
        sections = {int(r[3]) for r in resolved}
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
