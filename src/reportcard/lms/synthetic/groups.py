"""Planning group categories, groups, memberships and account administrators."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from random import Random

from . import names
from .clock import ANCHOR, ts
from .model import (
    ACCOUNT_BATCH,
    ADMIN,
    F_SIS_BATCH,
    TEACHER,
    USER_BATCH,
    AccountUser,
    Group,
    GroupCategory,
    Plan,
    quota,
    weighted,
)

_ACCEPTED = (("accepted", 96), ("deleted", 4))
_PENDING = (("accepted", 80), ("invited", 10), ("requested", 10))


def groups(rng: Random, plan: Plan) -> None:
    """Root-level clubs (SIS), advising cohorts in a few departments, project groups in 10% of
    courses, student-organized groups in 5%, and one deleted category."""
    cats: list[GroupCategory] = []
    out: list[Group] = []
    students = plan.students
    created = ts(ANCHOR - timedelta(days=400))

    def members(
        pool: Sequence[int], n: int, states: Sequence[tuple[str, int]]
    ) -> list[tuple[int, str]]:
        return [(u, weighted(rng, states)) for u in rng.sample(pool, min(n, len(pool)))]

    cats.append(
        GroupCategory(
            "Account",
            0,
            "Student Clubs",
            created,
            self_signup="enabled",
            sis="GC-CLUBS",
            batch=ACCOUNT_BATCH,
        )
    )
    n_clubs = max(2, min(len(names.CLUBS), plan.size.users // 250))
    for k, club in enumerate(names.CLUBS[:n_clubs]):
        out.append(
            Group(
                0,
                "Account",
                0,
                0,
                club,
                created,
                members(students, rng.randint(3, 30), _ACCEPTED),
                state="deleted" if k == 3 else "available",
                sis=f"CLUB-{k + 1}",
                batch=ACCOUNT_BATCH,
            )
        )

    depts = [i for i, a in enumerate(plan.accounts) if a.leaf]
    for ai in quota(rng, depts, 0.1):
        cats.append(GroupCategory("Account", ai, "Advising Cohorts", created))
        for k in range(2):
            mem = members(students, rng.randint(3, 20), _ACCEPTED)
            out.append(
                Group(
                    len(cats) - 1,
                    "Account",
                    ai,
                    ai,
                    f"Cohort {chr(65 + k)}",
                    created,
                    mem,
                    max_membership=25,
                )
            )

    live = [i for i, c in enumerate(plan.courses) if c.kind == "regular" and c.state != "deleted"]
    project = sorted(quota(rng, live, 0.10))
    organized = sorted(quota(rng, live, 0.05))
    first_project = len(cats)
    for ci in project:
        c = plan.courses[ci]
        roster = plan.roster(c)
        sis = f"GC-{c.sis}" if c.sis and rng.random() < 0.5 else None
        limit = rng.choice((None, 4, 5, 6))
        cats.append(
            GroupCategory(
                "Course",
                ci,
                "Project Groups",
                c.created,
                self_signup=rng.choice((None, "enabled", "restricted")),
                group_limit=limit,
                auto_leader=rng.choice((None, "first", "random")),
                sis=sis,
                batch=c.batch if sis else None,
            )
        )
        n_groups = max(2, min(8, len(roster) // 5))
        assigned = roster[: len(roster) * 4 // 5]
        for g in range(n_groups):
            mem = [(u, weighted(rng, _ACCEPTED)) for u in assigned[g::n_groups]]
            gsis = f"{sis}-G{g + 1}" if sis else None
            out.append(
                Group(
                    len(cats) - 1,
                    "Course",
                    ci,
                    c.account,
                    f"Project Group {g + 1}",
                    c.created,
                    mem,
                    max_membership=limit,
                    sis=gsis,
                    batch=c.batch if gsis else None,
                )
            )
    for ci in organized:
        c = plan.courses[ci]
        roster = plan.roster(c)
        cats.append(
            GroupCategory("Course", ci, "Student Groups", c.created, role="student_organized")
        )
        for g in range(rng.randint(1, 2)):
            mem = members(roster, rng.randint(2, 5), _PENDING)
            out.append(
                Group(
                    len(cats) - 1, "Course", ci, c.account, f"Study Group {g + 1}", c.created, mem
                )
            )

    # One deleted category: its groups and memberships go with it.
    dead = first_project if len(cats) > first_project else len(cats) - 1
    cats[dead].deleted = True
    for group in out:
        if group.category == dead:
            group.state = "deleted"
            group.members = [(u, "deleted") for u, _ in group.members]
    plan.categories = cats
    plan.groups = out


def admins(rng: Random, plan: Plan) -> None:
    """``admin`` (user 0) on the root, ``subadmin`` (user 1) on the first sub-account, the other
    administrators with built-in and custom account roles, and 1% of teachers as department
    admins; the last one is deleted."""
    created = ts(ANCHOR - timedelta(days=700))
    subs = [i for i, a in enumerate(plan.accounts) if i > 0 and a.state == "active"]
    out = [
        AccountUser(0, 0, "AccountAdmin", created),
        AccountUser(1, 1, "AccountAdmin", created),
    ]
    roles = ("AccountAdmin", "Report Viewer", "Help Desk", "AccountAdmin", "Report Viewer")
    for k, u in enumerate(plan.by_kind[ADMIN][2:]):
        role = roles[k % len(roles)]
        acct = 0 if role == "Help Desk" or k % 3 == 0 else subs[rng.randrange(len(subs))]
        batch = USER_BATCH if plan.flags[u] & F_SIS_BATCH else None
        out.append(AccountUser(acct, u, role, created, batch=batch))
    for u in quota(rng, plan.by_kind[TEACHER], 0.01):
        out.append(AccountUser(subs[rng.randrange(len(subs))], u, "AccountAdmin", created))
    out[-1].state = "deleted"
    plan.admins = out
