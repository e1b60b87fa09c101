"""Planning the account tree, the terms, the SIS batches and the roles."""

from __future__ import annotations

from datetime import datetime, timedelta
from random import Random

from . import names
from .clock import ANCHOR, pool, ts
from .model import BUILTIN_ROLES, CUSTOM_ROLES, Account, IdBase, Term
from .sizes import Size


def accounts(rng: Random, size: Size, root_name: str, batch: int) -> list[Account]:
    """The root, then colleges → departments → programs, then two special accounts.

    Departments and programs are the leaves regular courses live in. A few accounts have no
    SIS id; with enough accounts there is also a "Sandbox Courses" account (no SIS id) and a
    deleted "Legacy Extension Division".
    """
    created = pool(rng, ANCHOR - timedelta(days=3650), ANCHOR - timedelta(days=1500), 4)
    out = [Account(root_name, None, created[0])]
    specials = size.sub_accounts >= 6
    rest = size.sub_accounts - (2 if specials else 0)
    n_col = min(len(names.COLLEGES), max(1, rest // 10))
    n_dept = min(8 * n_col, max(2 * n_col, (rest - n_col) * 2 // 3))
    n_prog = max(0, rest - n_col - n_dept)

    colleges = rng.sample(range(len(names.COLLEGES)), n_col)
    col_index: list[int] = []
    for k, c in enumerate(colleges):
        cname = names.COLLEGES[c][0]
        short = names.slug(cname.replace("College of ", "").replace("School of ", ""))
        sis = f"COL-{short.upper()[:10]}" if k == 0 or rng.random() > 0.1 else None
        out.append(Account(cname, 0, created[1], sis=sis, batch=batch if sis else None))
        col_index.append(len(out) - 1)

    per_college = [list(names.COLLEGES[c][1]) for c in colleges]
    for departments in per_college:
        rng.shuffle(departments)
    depts: list[int] = []
    for k in range(n_dept):
        ci = k % n_col
        dname, subject = per_college[ci][k // n_col]
        sis = f"DEPT-{subject}" if k == 0 or rng.random() > 0.05 else None
        out.append(
            Account(
                dname,
                col_index[ci],
                created[2],
                sis=sis,
                batch=batch if sis else None,
                subject=subject,
                dept=dname,
                leaf=True,
            )
        )
        depts.append(len(out) - 1)

    for k in range(n_prog):
        parent = depts[k % len(depts)]
        p = out[parent]
        prog = names.PROGRAMS[(k // len(depts)) % len(names.PROGRAMS)]
        sis = f"{p.sis}-{names.slug(prog)[:4].upper()}" if p.sis and rng.random() > 0.1 else None
        out.append(
            Account(
                f"{p.name} {prog}",
                parent,
                created[3],
                sis=sis,
                batch=batch if sis else None,
                subject=p.subject,
                dept=p.dept,
                leaf=True,
            )
        )

    if specials:
        out.append(Account("Sandbox Courses", 0, created[1]))
        out.append(
            Account(
                "Legacy Extension Division",
                0,
                created[1],
                sis="LEGACY-EXT",
                batch=batch,
                state="deleted",
            )
        )
    return out


_SEASONS = (
    ("Spring", "SP", (1, 12), (5, 8)),
    ("Summer", "SU", (5, 26), (8, 7)),
    ("Fall", "FA", (8, 24), (12, 18)),
)


def terms(rng: Random, size: Size, first_batch: int) -> list[Term]:
    """The Default Term, ``size.sis_terms`` SIS terms around the anchor date, and with four or
    more SIS terms a deleted one. SIS term ``k`` owns batches ``first_batch + 3k .. + 2``.

    Dates are naive UTC: a term starts at 07:00 UTC on its first day (midnight in Denver).
    """
    out = [Term("Default Term", "default", ts(ANCHOR - timedelta(days=1600)))]
    seq: list[tuple[str, str, datetime, datetime]] = []
    for year in range(ANCHOR.year - 4, ANCHOR.year + 2):
        for name, code, (sm, sd), (em, ed) in _SEASONS:
            start = datetime(year, sm, sd, 7, 0, 0)
            end = datetime(year, em, ed, 6, 59, 59) + timedelta(days=1)
            seq.append((f"{name} {year}", f"{year}{code}", start, end))
    current = next(i for i, (_, _, _, end) in enumerate(seq) if end > ANCHOR)
    n = size.sis_terms
    last = current + 1 if n >= 3 else current  # with three or more, include the next term
    for k, (name, code, start, end) in enumerate(seq[last - n + 1 : last + 1]):
        kind = "past" if end <= ANCHOR else ("current" if start <= ANCHOR else "future")
        created = ts(start - timedelta(days=120 + rng.randrange(30)))
        out.append(
            Term(name, kind, created, sis=code, batch=first_batch + 3 * k, start=start, end=end)
        )
    if n >= 4:
        name, code, start, end = seq[last - n]
        out.append(
            Term(
                f"{name} (cancelled)",
                "deleted",
                ts(start - timedelta(days=150)),
                sis=f"{code}-X",
                batch=first_batch,
                start=start,
                end=end,
                state="deleted",
            )
        )
    return out


def batches(rng: Random, size: Size) -> list[tuple[str, str]]:
    """``(workflow_state, created_at)`` of the SIS batches: users, accounts, three per term."""
    n = 2 + 3 * size.sis_terms
    times = pool(rng, ANCHOR - timedelta(days=1500), ANCHOR - timedelta(days=1), n)
    return [("imported_with_messages" if k == 3 else "imported", t) for k, t in enumerate(times)]


def roles(
    ids: IdBase, existing: dict[str, int]
) -> tuple[dict[str, int], list[tuple[str, str, bool, str]]]:
    """Role ids by name, and the role rows to create.

    Built-in roles are shared by all root accounts (``root_account_id`` NULL): those already in
    the database (``existing``: name → id) are reused. Custom roles are per root account.
    """
    new: list[tuple[str, str, bool, str]] = []
    role_ids: dict[str, int] = {}
    for name, base in BUILTIN_ROLES:
        if name in existing:
            role_ids[name] = existing[name]
        else:
            role_ids[name] = ids("roles", len(new))
            new.append((name, base, True, ""))
    for name, base, perms in CUSTOM_ROLES:
        role_ids[name] = ids("roles", len(new))
        new.append((name, base, False, perms))
    return role_ids, new
