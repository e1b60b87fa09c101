"""Making the whole plan for one institution from a seed (see :mod:`.model`)."""

from __future__ import annotations

from random import Random

from . import catalog, courses, groups, names, people
from .model import ACCOUNT_BATCH, IdBase, Plan
from .sizes import Size


def make_plan(
    size: Size,
    seed: int,
    ids: IdBase,
    existing_roles: dict[str, int],
    root_name: str | None = None,
) -> Plan:
    """Decide everything about one institution.

    All choices come from one ``random.Random(seed)`` drawn in a fixed order, so a seed always
    gives the same plan; only the ids depend on what the database already holds.
    ``existing_roles`` maps built-in role names already in the database to their ids.
    """
    rng = Random(seed)
    institution = names.INSTITUTIONS[rng.randrange(len(names.INSTITUTIONS))]
    name = root_name or institution
    time_zone = names.TIME_ZONES[rng.randrange(len(names.TIME_ZONES))]
    role_ids, new_roles = catalog.roles(ids, existing_roles)
    plan = Plan(
        size=size,
        seed=seed,
        ids=ids,
        root_name=name,
        domain=f"{names.slug(name)[:24]}.example.edu",
        time_zone=time_zone,
        batches=catalog.batches(rng, size),
        role_ids=role_ids,
        new_roles=new_roles,
    )
    plan.accounts = catalog.accounts(rng, size, name, ACCOUNT_BATCH)
    plan.terms = catalog.terms(rng, size, ACCOUNT_BATCH + 1)
    people.users(rng, plan)
    courses.courses(rng, plan)
    groups.groups(rng, plan)
    groups.admins(rng, plan)
    return plan
