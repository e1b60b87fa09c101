"""Planning the users: who is what, their names, their login layout and who observes whom."""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from datetime import timedelta
from random import Random

from . import names
from .clock import ANCHOR, pool
from .model import (
    ADMIN,
    DESIGNER,
    F_EMAIL_RETIRED,
    F_INTEGRATION,
    F_LOGIN_DELETED,
    F_NO_EMAIL,
    F_NO_LOGIN,
    F_PRE_REGISTERED,
    F_PRONOUNS,
    F_SAML,
    F_SHORT_NAME,
    F_SIS,
    F_SIS_BATCH,
    F_SUFFIX,
    F_SUSPENDED,
    F_TIME_ZONE,
    F_TWO_LOGINS,
    F_USER_DELETED,
    OBSERVER,
    STUDENT,
    TA,
    TEACHER,
    TEST_STUDENT,
    USER_BATCH,
    Plan,
    quota,
)

# Share of each kind of user without a SIS id.
_NO_SIS_RATE = {ADMIN: 0.5, TEACHER: 0.03, TA: 0.05, DESIGNER: 0.3, OBSERVER: 0.3, STUDENT: 0.04}


def users(rng: Random, plan: Plan) -> None:
    """Fill the per-user arrays of ``plan``.

    Users 0 and 1 are the ``admin`` and ``subadmin`` administrators; the other kinds are
    shuffled over the remaining indexes. Flags are handed out by quota, so even the tiny size
    has at least one user of each special case (no login, two logins, suspended, deleted...).
    """
    size = plan.size
    u_n, c_n = size.users, size.courses
    counts = {
        ADMIN: max(4, u_n // 1000),
        TEACHER: max(2, min(u_n // 10, c_n // 3)),
        TA: max(1, c_n // 5),
        DESIGNER: max(1, c_n // 40),
        OBSERVER: max(1, u_n // 50),
        TEST_STUDENT: max(1, c_n // 20),
    }
    counts[STUDENT] = u_n - sum(counts.values())
    if counts[STUDENT] < 10:
        raise ValueError(f"size {size.name!r} leaves too few students")
    kinds: list[int] = []
    for kind, n in counts.items():
        kinds.extend([kind] * (n - 2 if kind == ADMIN else n))
    rng.shuffle(kinds)
    plan.kind = bytearray([ADMIN, ADMIN, *kinds])
    n_first, n_last = len(names.FIRST_NAMES), len(names.LAST_NAMES)
    plan.first = array("H", (rng.randrange(n_first) for _ in range(u_n)))
    plan.last = array("H", (rng.randrange(n_last) for _ in range(u_n)))
    plan.user_times = pool(rng, ANCHOR - timedelta(days=1800), ANCHOR - timedelta(days=2), 2048)
    plan.created = array("H", sorted(rng.randrange(2048) for _ in range(u_n)))
    plan.created[0] = plan.created[1] = 0

    by_kind: dict[int, list[int]] = {k: [] for k in range(TEST_STUDENT + 1)}
    for u, k in enumerate(plan.kind):
        by_kind[k].append(u)
    plan.by_kind = by_kind
    plan.students = by_kind[STUDENT]
    plan.flags = array("I", bytes(4 * u_n))
    _flags(rng, plan)
    _login_ids(plan)
    _observers(rng, plan)


def _flags(rng: Random, plan: Plan) -> None:
    flags, kind, by_kind = plan.flags, plan.kind, plan.by_kind
    u_n = len(kind)

    def mark(members: Sequence[int], rate: float, bit: int, minimum: int = 1) -> set[int]:
        chosen = quota(rng, members, rate, minimum)
        for u in chosen:
            flags[u] |= bit
        return set(chosen)

    regular = [u for u in range(2, u_n) if kind[u] != TEST_STUDENT]
    mark(by_kind[STUDENT], 0.005, F_NO_LOGIN)
    for k, rate in _NO_SIS_RATE.items():
        mark([u for u in by_kind[k] if u >= 2], 1.0 - rate, F_SIS, minimum=0)
    flags[1] |= F_SIS  # subadmin has a SIS id; admin has none
    sis_users = [u for u in regular if flags[u] & F_SIS]
    mark(sis_users, 0.93, F_SIS_BATCH)
    mark(sis_users, 0.25, F_INTEGRATION)
    mark(sis_users, 0.60, F_SAML)
    with_login = [u for u in regular if not flags[u] & F_NO_LOGIN]
    mark(with_login, 0.03, F_TWO_LOGINS)
    learners = [u for u in with_login if kind[u] in (STUDENT, OBSERVER)]
    gone = mark(learners, 0.007, F_USER_DELETED)
    live = [u for u in with_login if u not in gone]
    suspended = mark(live, 0.015, F_SUSPENDED)
    mark([u for u in live if u not in suspended], 0.015, F_LOGIN_DELETED)
    mark([u for u in regular if u not in gone], 0.02, F_PRE_REGISTERED)
    people = [u for u in range(u_n) if kind[u] != TEST_STUDENT]
    mark(people, 0.015, F_SUFFIX)
    mark(people, 0.10, F_SHORT_NAME)
    mark(people, 0.15, F_PRONOUNS)
    mark(people, 0.05, F_TIME_ZONE)
    retired = mark(people, 0.03, F_EMAIL_RETIRED)
    mark([u for u in people if u not in retired and u >= 2], 0.01, F_NO_EMAIL)


def _login_ids(plan: Plan) -> None:
    """Logins are written user by user (0, 1 or 2 each); record each SIS login's id."""
    flags = plan.flags
    sis_login = array("q", bytes(8 * len(flags)))
    next_id = plan.ids("pseudonyms", 0)
    for u, f in enumerate(flags):
        if f & F_NO_LOGIN:
            continue
        if f & F_SIS:
            sis_login[u] = next_id
        next_id += 2 if f & F_TWO_LOGINS else 1
    plan.sis_login = sis_login


def _observers(rng: Random, plan: Plan) -> None:
    """Each observer watches one or two students; a few links are deleted."""
    observer_of: dict[int, int] = {}
    links: list[tuple[int, int, str, int | None]] = []
    for obs in plan.by_kind[OBSERVER]:
        for student in rng.sample(plan.students, 1 if rng.random() < 0.7 else 2):
            if student in observer_of:
                continue
            observer_of[student] = obs
            state = "deleted" if rng.random() < 0.03 else "active"
            batch = USER_BATCH if plan.flags[obs] & F_SIS_BATCH else None
            links.append((student, obs, state, batch))
    if len(links) > 2 and all(state == "active" for _, _, state, _ in links):
        s, o, _, b = links[-1]
        links[-1] = (s, o, "deleted", b)
    plan.observer_of = {s: o for s, o, state, _ in links if state == "active"}
    plan.observer_links = links
