"""The synthetic institution generator behind ``reportcard seed``.

``seed(engine, "small", seed=1)`` adds one new root account with a whole, realistic
institution (sub-accounts, terms, courses, sections, users, logins, enrollments, groups,
admins...), deterministic for a given seed and size, written with bulk inserts in a single
transaction. See :data:`SIZES` for the sizes.

Layout: :mod:`.sizes` (the size table), :mod:`.names` (name lists), :mod:`.model` and the
planners (:mod:`.plan`, :mod:`.catalog`, :mod:`.people`, :mod:`.courses`, :mod:`.groups`)
decide the structure; :mod:`.build` and friends stream rows; :mod:`.load` writes them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from time import perf_counter

from sqlalchemy import Connection, Engine, func, select

from reportcard.db.schema import metadata
from reportcard.db.tables import account_ancestors, user_account_associations
from reportcard.lms import tree
from reportcard.lms.institution import (
    builtin_role_ids,
    create_root_account,
    ensure_builtin_roles,
)

from .activity import fill_activity
from .build import root_uuid, tables
from .learning import fill_learning
from .load import BulkLoader
from .model import TABLES, IdBase, Plan
from .plan import make_plan
from .sizes import SIZES, Size

__all__ = ["SIZES", "SeedResult", "Size", "seed"]

# Tables expected to get at least this many rows have their secondary indexes (and on
# PostgreSQL their foreign keys) dropped during the load and restored afterwards; only for
# sizes flagged ``bulk``.
_REINDEX_ROWS = 50_000


@dataclass
class SeedResult:
    """What :func:`seed` created."""

    root_account_id: int
    counts: dict[str, int]  # rows written per table, including the derived tree tables
    seconds: float


def seed(
    engine: Engine,
    size: str = "small",
    seed: int = 1,
    *,
    progress: Callable[[str, int, int], None] | None = None,
    root_name: str | None = None,
) -> SeedResult:
    """Add a new root account with a whole synthetic institution; returns its id and counts.

    Every call adds another root account; ids continue after the existing ones. The same
    ``size`` and ``seed`` give the same rows (ids and uuids aside, when the database already
    holds data). ``progress(table, done, total)`` is called as each table loads; ``total`` is
    an estimate until the table's last call, where ``done == total``. ``root_name`` replaces
    the generated institution name.

    The whole load, including :func:`reportcard.lms.tree.refresh`, is one transaction.
    """
    try:
        spec = SIZES[size]
    except KeyError:
        raise ValueError(f"unknown size {size!r}; choose from {', '.join(SIZES)}") from None
    started = perf_counter()
    counts: dict[str, int] = {}
    with engine.connect() as conn:
        loader = BulkLoader(conn)
        with loader.fast_session(spec.bulk), conn.begin():
            # The shared built-in roles first (before the id bases, which then include them).
            had = len(builtin_role_ids(conn))
            builtin = ensure_builtin_roles(conn)
            plan = make_plan(spec, seed, IdBase(loader.max_ids(TABLES)), builtin, root_name)
            _create_root(conn, plan)
            specs = tables(plan)
            reindex = [s.table for s in specs if spec.bulk and s.estimate >= _REINDEX_ROWS]
            restore = loader.relax(reindex)
            for table_rows in specs:
                counts[table_rows.table] = loader.write(table_rows, progress)
            counts["roles"] += len(builtin) - had
            for made in ("accounts", "enrollment_terms", "authentication_providers"):
                counts[made] += 1  # the root's own, from _create_root
            # Activity columns and tables; before the indexes return, so its UPDATEs touch none.
            counts.update(fill_activity(loader, plan.root_id, spec, seed, progress))
            counts.update(fill_learning(loader, plan.root_id, spec, seed, progress))
            loader.restore(restore)
            loader.analyze(reindex)
            loader.fix_sequences(TABLES)
            root_id = plan.root_id
            counts.update(_refresh_tree(loader, root_id, spec.bulk, progress, counts["users"]))
            if loader.dialect == "postgresql":
                # Fresh statistics for every table, or the planner guesses badly on new data.
                loader.analyze(sorted(metadata.tables))
    return SeedResult(root_id, counts, perf_counter() - started)


def _create_root(conn: Connection, plan: Plan) -> None:
    """The root account with Canvas's defaults, through the setup every root goes through."""
    root, default_term = plan.accounts[0], plan.terms[0]
    create_root_account(
        conn,
        name=plan.root_name,
        time_zone=plan.time_zone,
        account_id=plan.root_id,
        uuid=root_uuid(plan),
        domain=plan.domain,
        sis_source_id=root.sis,
        workflow_state=root.state,
        created_at=datetime.fromisoformat(root.created),
        can_add_pronouns=True,
        default_term_id=plan.ids("enrollment_terms", 0),
        default_term_created_at=datetime.fromisoformat(default_term.created),
        canvas_provider_id=plan.ids("authentication_providers", 0),
    )


def _refresh_tree(
    loader: BulkLoader,
    root_id: int,
    bulk: bool,
    progress: Callable[[str, int, int], None] | None,
    estimate: int,
) -> dict[str, int]:
    """Run :func:`reportcard.lms.tree.refresh` for the new root; returns the derived counts."""
    conn = loader.conn
    if progress:
        progress("user_account_associations", 0, estimate)
    # PostgreSQL inserts millions of association rows several times faster without keys and
    # indexes (43 s against 9 s on large); SQLite was no faster (and cannot drop its key).
    relax = bulk and loader.dialect == "postgresql"
    restore = loader.relax(["user_account_associations"], primary_keys=True) if relax else []
    tree.refresh(conn, root_id)
    loader.restore(restore)
    counts = _tree_counts(conn, root_id)
    if progress:
        n = counts["user_account_associations"]
        progress("user_account_associations", n, n)
    loader.analyze(["account_ancestors", "user_account_associations"] if bulk else [])
    return counts


def _tree_counts(conn: Connection, root_id: int) -> dict[str, int]:
    """Rows of the derived tables for the accounts under ``root_id``."""
    subtree = select(account_ancestors.c.account_id).where(
        account_ancestors.c.ancestor_id == root_id
    )
    out = {}
    for table in (account_ancestors, user_account_associations):
        query = select(func.count()).select_from(table).where(table.c.account_id.in_(subtree))
        out[table.name] = int(conn.execute(query).scalar_one())
    return out
