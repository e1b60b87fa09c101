"""Row generators for users, logins (pseudonyms), email channels and observer links."""

from __future__ import annotations

from collections.abc import Iterator
from random import Random
from typing import Any

from reportcard.names import name_parts

from . import names
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
    TA,
    TEACHER,
    TEST_STUDENT,
    USER_BATCH,
    Plan,
)

Row = tuple[Any, ...]

USER_COLUMNS = (
    "id",
    "name",
    "sortable_name",
    "first_name",
    "last_name",
    "short_name",
    "pronouns",
    "uuid",
    "time_zone",
    "workflow_state",
    "is_test_student",
    "created_at",
    "updated_at",
)
LOGIN_COLUMNS = (
    "id",
    "user_id",
    "account_id",
    "unique_id",
    "sis_user_id",
    "integration_id",
    "authentication_provider_id",
    "workflow_state",
    "position",
    "is_inst_id",
    "password_hash",
    "sis_batch_id",
    "created_at",
    "updated_at",
)
CHANNEL_COLUMNS = ("id", "user_id", "path", "path_type", "position", "workflow_state")
OBSERVER_COLUMNS = (
    "id",
    "root_account_id",
    "user_id",
    "observer_id",
    "workflow_state",
    "sis_batch_id",
    "created_at",
    "updated_at",
)

_STAFF = (ADMIN, TEACHER, TA, DESIGNER)


def uuid_source(plan: Plan, what: str) -> Random:
    """Random source for uuids: seeded with the root id too, so that two institutions from the
    same seed in one database never share a uuid."""
    return Random(f"{plan.seed}:{plan.root_id}:{what}")


def sis_user_id(plan: Plan, u: int) -> str:
    """Employees ``E0000123``, parents ``P0000123``, students a bare number (a CSV trap)."""
    kind = plan.kind[u]
    if kind in _STAFF:
        return f"E{u:07d}"
    if kind == OBSERVER:
        return f"P{u:07d}"
    return str(100_000_000 + u)


def users(plan: Plan) -> Iterator[Row]:
    first_names, last_names, suffixes = names.FIRST_NAMES, names.LAST_NAMES, names.SUFFIXES
    pronouns, zones, times = names.PRONOUNS, names.TIME_ZONES, plan.user_times
    getrandbits = uuid_source(plan, "users").getrandbits
    base = plan.ids("users", 0)
    for u, f in enumerate(plan.flags):
        created = plan.created[u]
        uuid = f"{getrandbits(160):040x}"
        if plan.kind[u] == TEST_STUDENT:
            yield (
                base + u,
                "Test Student",
                "Student, Test",
                *name_parts("Student, Test"),
                None,
                None,
                uuid,
                None,
                "registered",
                True,
                times[created],
                times[created],
            )
            continue
        first, last = first_names[plan.first[u]], last_names[plan.last[u]]
        if f & F_SUFFIX:
            suffix = suffixes[u % len(suffixes)]
            name, sortable = f"{first} {last} {suffix}", f"{last}, {first} {suffix}"
        else:
            name, sortable = f"{first} {last}", f"{last}, {first}"
        state = (
            "deleted"
            if f & F_USER_DELETED
            else "pre_registered"
            if f & F_PRE_REGISTERED
            else "registered"
        )
        yield (
            base + u,
            name,
            sortable,
            *name_parts(sortable),
            first.split()[0] if f & F_SHORT_NAME else None,
            pronouns[u % len(pronouns)] if f & F_PRONOUNS else None,
            uuid,
            zones[u % len(zones)] if f & F_TIME_ZONE else None,
            state,
            False,
            times[created],
            times[min(len(times) - 1, created + (u & 63))],
        )


def login_count(plan: Plan) -> int:
    return sum(0 if f & F_NO_LOGIN else 2 if f & F_TWO_LOGINS else 1 for f in plan.flags)


def logins(plan: Plan, saml_provider_id: int) -> Iterator[Row]:
    """One login per user (two for some, none for a few), all on the new root account.

    Logins are unique per root account: ``admin`` and ``subadmin`` for users 0 and 1, a hex
    token for test students (as Canvas does), ``first.lastN`` for everyone else.
    """
    fslugs, lslugs, times = names.FIRST_SLUGS, names.LAST_SLUGS, plan.user_times
    root, user_base = plan.root_id, plan.ids("users", 0)
    batch_id = plan.ids("sis_batches", USER_BATCH)
    getrandbits = uuid_source(plan, "logins").getrandbits
    lid = plan.ids("pseudonyms", 0)
    for u, f in enumerate(plan.flags):
        if f & F_NO_LOGIN:
            continue
        created = times[plan.created[u]]
        fs, ls = fslugs[plan.first[u]], lslugs[plan.last[u]]
        if u < 2:
            unique = ("admin", "subadmin")[u]
        elif plan.kind[u] == TEST_STUDENT:
            unique = f"{getrandbits(160):040x}"
        else:
            unique = f"{fs}.{ls}{u + 1}"
        if f & (F_USER_DELETED | F_LOGIN_DELETED):
            state = "deleted"
        else:
            state = "suspended" if f & F_SUSPENDED else "active"
        sis = f & F_SIS
        yield (
            lid,
            user_base + u,
            root,
            unique,
            sis_user_id(plan, u) if sis else None,
            f"I{u:07d}" if f & F_INTEGRATION else None,
            saml_provider_id if f & F_SAML else None,
            state,
            1,
            False,
            None,
            batch_id if f & F_SIS_BATCH else None,
            created,
            created,
        )
        lid += 1
        if f & F_TWO_LOGINS:
            yield (
                lid,
                user_base + u,
                root,
                f"{fs}{ls}{u + 1}@example.com",
                None,
                None,
                None,
                "deleted" if f & F_USER_DELETED else "active",
                2,
                False,
                None,
                None,
                created,
                created,
            )
            lid += 1


def channels(plan: Plan) -> Iterator[Row]:
    """An email per user on the institution's domain; a retired older address for some."""
    fslugs, lslugs, domain = names.FIRST_SLUGS, names.LAST_SLUGS, plan.domain
    user_base = plan.ids("users", 0)
    cid = plan.ids("communication_channels", 0)
    for u, f in enumerate(plan.flags):
        if f & F_NO_EMAIL or plan.kind[u] == TEST_STUDENT:
            continue
        fs, ls = fslugs[plan.first[u]], lslugs[plan.last[u]]
        address = f"{fs}.{ls}{u + 1}@{domain}"
        state = "unconfirmed" if f & F_PRE_REGISTERED else "active"
        if f & F_EMAIL_RETIRED:
            yield (
                cid,
                user_base + u,
                f"{fs}{ls}{u + 1}@oldmail.example.com",
                "email",
                1,
                "retired",
            )
            yield (cid + 1, user_base + u, address, "email", 2, state)
            cid += 2
        else:
            yield (cid, user_base + u, address, "email", 1, state)
            cid += 1


def channel_count(plan: Plan) -> int:
    return sum(
        0 if f & F_NO_EMAIL or k == TEST_STUDENT else 2 if f & F_EMAIL_RETIRED else 1
        for f, k in zip(plan.flags, plan.kind, strict=True)
    )


def observer_links(plan: Plan) -> Iterator[Row]:
    user_base, times = plan.ids("users", 0), plan.user_times
    for k, (student, observer, state, batch) in enumerate(plan.observer_links):
        created = times[max(plan.created[student], plan.created[observer])]
        yield (
            plan.ids("user_observers", k),
            plan.root_id,
            user_base + student,
            user_base + observer,
            state,
            None if batch is None else plan.ids("sis_batches", batch),
            created,
            created,
        )
