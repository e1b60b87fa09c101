"""Planning courses, their rosters, blueprint subscriptions and sections."""

from __future__ import annotations

from datetime import timedelta
from math import gcd
from random import Random

from . import names
from .clock import ANCHOR, ts
from .model import (
    DESIGNER,
    TA,
    TEACHER,
    TEST_STUDENT,
    Account,
    Course,
    Plan,
    Section,
    pick_index,
    quota,
    weighted,
)

# Course workflow states by the kind of term the course is in.
_STATES = {
    "past": (("completed", 70), ("available", 24), ("deleted", 6)),
    "current": (
        ("available", 85),
        ("created", 4),
        ("claimed", 4),
        ("deleted", 3),
        ("completed", 4),
    ),
    "future": (("created", 45), ("claimed", 20), ("available", 30), ("deleted", 5)),
    "default": (("available", 50), ("created", 30), ("claimed", 10), ("deleted", 10)),
}
_FORMATS = (("on_campus", 50), ("online", 25), ("blended", 15), ("", 10))


def _title(acct: Account, num: int) -> str:
    """The same subject and number always get the same title."""
    subject = acct.subject or "GEN"
    patterns = names.TITLE_PATTERNS
    pattern = patterns[(num * 7 + sum(map(ord, subject))) % len(patterns)]
    return pattern.format(d=acct.dept or "General Studies")


def _term_weights(plan: Plan, sis_terms: list[int]) -> list[int]:
    """Current term 40, next term 10, past terms share 50 (recent ones more)."""
    past = [i for i in sis_terms if plan.terms[i].kind == "past"]
    out = []
    for i in sis_terms:
        kind = plan.terms[i].kind
        if kind == "past":
            rank = len(past) - past.index(i)  # 1 for the oldest
            out.append(max(1, 100 * rank // (len(past) * (len(past) + 1))))
        else:
            out.append(40 if kind == "current" else 10)
    return out


def courses(rng: Random, plan: Plan) -> None:
    """Blueprints and sandboxes in the Default Term, regular courses spread over SIS terms."""
    c_n = plan.size.courses
    n_bp = max(1, c_n // 200)
    n_sandbox = max(1, c_n * 4 // 100)
    n_regular = c_n - n_bp - n_sandbox
    leaves = [i for i, a in enumerate(plan.accounts) if a.leaf]
    sandbox_acct = next((i for i, a in enumerate(plan.accounts) if a.name == "Sandbox Courses"), 0)
    teachers, tas, designers = (plan.by_kind[k] for k in (TEACHER, TA, DESIGNER))
    out: list[Course] = []
    epoch = ANCHOR - timedelta(days=900)

    def teacher() -> int:
        return teachers[rng.randrange(len(teachers))]

    for k in range(n_bp):
        ai = leaves[rng.randrange(len(leaves))]
        acct = plan.accounts[ai]
        num = 100 * rng.randint(1, 4) + rng.randrange(1, 60)
        subject = acct.subject or "GEN"
        created = ts(epoch + timedelta(seconds=rng.randrange(86400 * 300)))
        sis = f"BP-{subject}-{num}" if k % 2 == 0 else None
        out.append(
            Course(
                "blueprint",
                0,
                ai,
                f"Blueprint: {_title(acct, num)}",
                f"{subject} {num} BP",
                "available",
                created,
                created,
                teacher(),
                sis=sis,
                batch=plan.terms[1].batch if sis else None,
                designer=designers[k % len(designers)],
            )
        )

    sis_terms = [i for i, t in enumerate(plan.terms) if t.kind in ("past", "current", "future")]
    per_term = [0] * len(sis_terms)
    weights = _term_weights(plan, sis_terms)
    for _ in range(n_regular):
        per_term[pick_index(rng, weights)] += 1
    no_sis = set(quota(rng, range(n_regular), 0.06))
    restricted = set(quota(rng, range(n_regular), 0.05))
    counter: dict[tuple[int, str, int], int] = {}
    r = 0
    for ti, n in zip(sis_terms, per_term, strict=True):
        term = plan.terms[ti]
        assert term.start is not None and term.end is not None
        for _ in range(n):
            ai = leaves[rng.randrange(len(leaves))]
            acct = plan.accounts[ai]
            subject = acct.subject or "GEN"
            num = 100 * rng.randint(1, 4) + rng.randrange(1, 60)
            counter[ti, subject, num] = seq = counter.get((ti, subject, num), 0) + 1
            c0 = term.start - timedelta(days=30 + rng.randrange(40), seconds=rng.randrange(86400))
            c0 = min(c0, ANCHOR - timedelta(days=2, seconds=rng.randrange(86400)))
            upd = c0 + timedelta(seconds=rng.randrange(int((ANCHOR - c0).total_seconds())))
            course = Course(
                "regular",
                ti,
                ai,
                _title(acct, num) + (f" ({seq:03d})" if seq > 1 else ""),
                f"{subject} {num}",
                weighted(rng, _STATES[term.kind]),
                ts(c0),
                ts(upd),
                teacher(),
                course_format=weighted(rng, _FORMATS) or None,
                public=rng.random() < 0.01,
            )
            if r not in no_sis:
                course.sis = f"{term.sis}-{subject}-{num}-{seq:03d}"
                course.integration = f"CRN-{term.sis}-{10000 + r}" if rng.random() < 0.2 else None
                course.batch = term.batch if rng.random() < 0.95 else None
            if r in restricted:
                s = term.start + timedelta(days=7 * rng.randrange(5))
                course.start, course.end = ts(s), ts(s + timedelta(days=56))
                course.restrict = True
            elif rng.random() < 0.2:  # dates set, but not enforced: reports leave them empty
                course.start, course.end = ts(term.start), ts(term.end)
            n_ta = pick_index(rng, (50, 35, 15))
            picked = rng.sample(tas, min(n_ta, len(tas)))
            course.tas = tuple((u, rng.random() < 0.15) for u in picked)
            if rng.random() < 0.05:
                course.designer = designers[rng.randrange(len(designers))]
            out.append(course)
            r += 1

    for _ in range(n_sandbox):
        t = teacher()
        created = ts(epoch + timedelta(seconds=rng.randrange(86400 * 800)))
        owner = f"{names.FIRST_NAMES[plan.first[t]]} {names.LAST_NAMES[plan.last[t]]}"
        state = weighted(rng, _STATES["default"])
        out.append(
            Course(
                "sandbox",
                0,
                sandbox_acct,
                f"Sandbox - {owner}",
                "Sandbox",
                state,
                created,
                created,
                t,
            )
        )
    plan.courses = out
    _rosters(rng, plan)
    _blueprints(rng, plan)
    _sections(rng, plan)


def _college(plan: Plan, account: int) -> int:
    """The level-1 ancestor (college) of an account; the root for the root itself."""
    while True:
        parent = plan.accounts[account].parent
        if parent is None or parent == 0:
            return account
        account = parent


def _segments(plan: Plan) -> dict[int, tuple[int, int]]:
    """Split the student pool into one slice per college, sized by its course count."""
    n_pool = len(plan.students)
    per_college: dict[int, int] = {}
    for c in plan.courses:
        if c.kind == "regular":
            college = _college(plan, c.account)
            per_college[college] = per_college.get(college, 0) + 1
    total = sum(per_college.values())
    out: dict[int, tuple[int, int]] = {}
    offset = 0
    for k, (college, n) in enumerate(sorted(per_college.items())):
        span = n_pool - offset if k == len(per_college) - 1 else max(1, n_pool * n // total)
        out[college] = (offset, span)
        offset += span
    return out


def _rosters(rng: Random, plan: Plan) -> None:
    """Size each roster so the institution lands near ``size.enrollments``.

    Students "major" in a college: three quarters of a regular course's roster slots are drawn
    from its college's slice of the student pool, the rest (and sandboxes) from everyone. So
    a college's subtree has mostly its own students, as in a real institution.
    """
    n_pool = len(plan.students)
    segments = _segments(plan)
    regular = [c for c in plan.courses if c.kind == "regular"]
    overhead = sum(1 + len(c.tas) + (c.designer is not None) for c in plan.courses)
    overhead += len(plan.by_kind[TEST_STUDENT]) + len(plan.courses) // 5
    obs_factor = 0.7 * len(plan.observer_of) / n_pool
    mean = max(1.0, (plan.size.enrollments - overhead) / (len(regular) * (1 + obs_factor)))
    for c in plan.courses:
        if c.kind == "blueprint":
            c.roster_span = n_pool  # no students, but a valid roster all the same
            continue
        n = rng.randrange(4) if c.kind == "sandbox" else int(mean * (0.4 + 1.2 * rng.random()))
        offset, span = 0, n_pool
        if c.kind == "regular" and rng.random() < 0.75:
            offset, span = segments[_college(plan, c.account)]
        c.n_students = max(1 if c.kind == "regular" else 0, min(span, n))
        c.roster_offset, c.roster_span = offset, span
        c.roster_start = rng.randrange(span)
        stride = rng.randrange(1, span) if span > 1 else 1
        while gcd(stride, span) != 1:
            stride += 1
        c.roster_stride = stride
    live = [c for c in regular if c.state != "deleted"] or regular
    testers = plan.by_kind[TEST_STUDENT]
    for u, c in zip(testers, rng.sample(live, min(len(live), len(testers))), strict=False):
        c.test_student = u


def _blueprints(rng: Random, plan: Plan) -> None:
    """Each blueprint gets 2 to 8 child courses from the current and next terms."""
    candidates = [
        i
        for i, c in enumerate(plan.courses)
        if c.kind == "regular" and plan.terms[c.term].kind in ("current", "future")
    ]
    rng.shuffle(candidates)
    out: list[tuple[int, int, str]] = []
    for bp, c in enumerate(plan.courses):
        if c.kind != "blueprint":
            continue
        for _ in range(rng.randint(2, 8)):
            if candidates:
                out.append((bp, candidates.pop(), "deleted" if rng.random() < 0.1 else "active"))
    plan.blueprints = out


def _sections(rng: Random, plan: Plan) -> None:
    """One to three sections per course; section 0 is the default section. A few of the others are
    deleted, have their own dates, or are cross-listed into another course of the same term.
    """
    sections: list[Section] = []
    extra: list[int] = []
    for ci, c in enumerate(plan.courses):
        n = 1 + pick_index(rng, (60, 30, 10)) if c.kind == "regular" else 1
        if c.kind == "regular" and len(extra) < 3:
            n = max(n, 2)  # tiny institutions still get cross-listing and deleted sections
        for k in range(n):
            name = c.name if k == 0 else f"{names.SECTION_KINDS[rng.randrange(4)]} {k + 1:02d}"
            sec = Section(ci, ci, name, c.created, default=k == 0)
            if c.sis and (k > 0 or rng.random() < 0.9) and rng.random() < 0.97:
                sec.sis = f"{c.sis}-S{k + 1}"
                sec.integration = f"SEC-{c.sis}-{k + 1}" if rng.random() < 0.1 else None
                sec.batch = c.batch
            sections.append(sec)
            if k > 0:
                extra.append(len(sections) - 1)

    dead = set(quota(rng, extra, 0.01))
    for si in dead:
        sections[si].state = "deleted"
    for si in quota(rng, [s for s in extra if s not in dead], 0.02):
        sec = sections[si]
        start = plan.terms[plan.courses[sec.course].term].start
        if start is not None:
            sec.restrict = True
            sec.start = ts(start + timedelta(days=14))
            sec.end = ts(start + timedelta(days=70))
    by_term: dict[int, list[int]] = {}
    for ci, c in enumerate(plan.courses):
        if c.kind == "regular" and c.sis:
            by_term.setdefault(c.term, []).append(ci)
    crosslistable = [s for s in extra if s not in dead and sections[s].sis]
    for si in quota(rng, crosslistable, 0.03):
        sec = sections[si]
        targets = [t for t in by_term[plan.courses[sec.course].term] if t != sec.course]
        if targets:
            sec.current = targets[rng.randrange(len(targets))]
    # A course's own sections first (its default section leads), then those cross-listed in.
    order = sorted(range(len(sections)), key=lambda si: sections[si].course != sections[si].current)
    for si in order:
        sec = sections[si]
        course = plan.courses[sec.current]
        (course.sections if sec.state == "active" else course.dead_sections).append(si)
    plan.sections = sections
