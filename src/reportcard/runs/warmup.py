"""What a worker process prepares once, before its first report: not in its first run's time.

A worker's first run would otherwise pay for things every later run finds ready in the
process: importing the report catalog's modules, reading the list of the tz database's zones
(``zoneinfo.available_timezones`` walks the whole tzdata tree), and the table of UTC offsets
by which SQL writes the times of a non-UTC zone (``reports.sqlformat.offset_segments``,
about 47,000 offsets read day by day over 1970-2099). Together 0.1-0.2 s of CPU, which for a
report of a few thousand rows is most of its time (docs/decisions/performance.md, "Issue 19:
a report run's fixed cost").

:func:`warm_up` does them at the worker's start: the catalog, the zone list, the offset
table of every zone the database's root accounts use, and the statements a run executes,
compiled into the engine's cache (the run machinery's, the listeners' and every declared
part's: ``runs.prime``; 0.2-0.3 s of CPU once per engine, which a first run of a small part
paid 5-10 ms of). Nothing here is required: a failure
(a database not yet migrated, unreachable) is logged and the first run does the work itself.

A process that is only a worker (``reportcard worker``, a Celery worker) then calls
:func:`freeze_heap`: what the process holds by then (modules, the catalog, SQLAlchemy's tables,
the zone tables) is frozen (``gc.freeze``), so that Python's cyclic collector no longer walks
it in every full collection; a run allocates enough to set one off now and then, 0.1-0.2 s of
wall time at load in whichever run it fell. Frozen objects are never collected: they live as
long as the process anyway. (Not in a process that serves HTTP too, nor in tests: objects
alive there at that moment may become garbage later.)
"""

from __future__ import annotations

import gc
import logging
import threading
from types import SimpleNamespace

from sqlalchemy import Engine, select

from reportcard.clock import utcnow
from reportcard.db.engine import is_sqlite, read_conn
from reportcard.db.tables import accounts
from reportcard.reports.catalog import all_reports
from reportcard.reports.formatting import is_utc, zone
from reportcard.reports.sqlformat import offset_segments
from reportcard.runs.compile import completed, shards_of
from reportcard.runs.context import build_context
from reportcard.runs.execute import (
    CHECKPOINT_RUN,
    CHECKPOINT_VARIABLE,
    add_lines,
    checkpoint_form,
    claim_shard,
    file_count,
    lock_run,
    shard_done,
    shard_row,
    to_compiling,
)
from reportcard.runs.hooks import hooks_of
from reportcard.runs.lifecycle import get_run
from reportcard.runs.pgprogress import pg_form
from reportcard.runs.plan import (
    claim_run,
    has_shards,
    record_plan,
    rows_waiting,
    shards_waiting,
    still_planning,
)
from reportcard.runs.prime import prime_inserts, prime_parts, zone_roots

log = logging.getLogger(__name__)

_frozen = threading.Event()  # the process's heap was frozen once (by any worker)


def root_zones(engine: Engine) -> list[str]:
    """The time zones of the database's root accounts (whose zone a run writes times in)."""
    with read_conn(engine) as conn:
        try:
            zones = conn.execute(
                select(accounts.c.default_time_zone)
                .where(accounts.c.root_account_id.is_(None))
                .distinct()
            ).scalars()
            return sorted({z or "UTC" for z in zones})
        finally:
            conn.rollback()


def prime_statements(engine: Engine) -> None:
    """Compile the run machinery's statements into ``engine``'s cache of compiled SQL.

    SQLAlchemy compiles a statement the first time a process executes it (0.2-0.8 ms each)
    and finds it in the engine's cache afterwards; a worker's first run compiled some twenty
    of them (claims, shard bookkeeping, compile, completion), 6-9 ms of CPU: a few percent of
    a run of a part of 10,000-30,000 rows (docs/decisions/performance.md, "Issue 19: the
    run's bookkeeping around a small part"). Here each is executed once with ids no row has
    (0), in one transaction rolled back: nothing changes, and the first run finds them
    compiled. The INSERTs (a run's shards, its attachment), the run-ended listeners' reads and
    the parts' own statements follow (:func:`prime_reads`), compiled without being executed.
    """
    now = utcnow()
    with engine.connect() as conn:
        conn.begin()
        try:
            root = conn.execute(
                select(accounts.c.id).where(accounts.c.root_account_id.is_(None)).limit(1)
            ).scalar()
            claim_run(conn, 0, 0, 1, "")
            get_run(conn, 0)
            still_planning(conn, 0, None)
            conn.execute(has_shards(0)).scalar_one()
            conn.execute(shards_waiting()).scalar_one()
            conn.execute(record_plan(0, {}, 0))
            claim_shard(conn, 0, "")
            conn.execute(shard_row(0)).first()
            conn.execute(file_count(0)).scalar_one()
            conn.execute(lock_run(0)).first()
            conn.execute(shard_done(0, 0, 0, now))
            conn.execute(add_lines(0, 1))
            conn.execute(to_compiling(0, now))
            conn.execute(shards_of(0)).all()
            conn.execute(completed(0, 0, 0, "", now))
            if root is not None:
                run = SimpleNamespace(id=0, account_id=root, parameters={}, report_type="")
                build_context(conn, run, now)
            if is_sqlite(conn):
                checkpoint_form(conn.dialect)
            else:
                conn.execute(file_count(0, waiting=True)).one()
                conn.execute(rows_waiting()).scalar()
                pg_form(CHECKPOINT_RUN, conn.dialect, CHECKPOINT_VARIABLE)
        finally:
            conn.rollback()
    prime_reads(engine)


# An engine's execution option: its statements are compiled in its cache (set once primed;
# kept on the engine itself, as ``runs.hooks`` keeps its hooks, not in this module).
_PRIMED = "reportcard_primed"
_primed_lock = threading.Lock()


def prime_reads(engine: Engine) -> None:
    """The run-ended listeners' reads (``Hooks.on_warm_up``), the runs' INSERTs and every
    declared part's statements (``runs.prime``), compiled into ``engine``'s cache once per
    engine (the first of a pool's workers to warm up does it), on a read connection: on
    SQLite the write lock is not held while the parts are built and compiled (0.2-0.3 s)."""
    with _primed_lock, read_conn(engine) as conn:  # the pool's other workers wait, then skip
        if engine.get_execution_options().get(_PRIMED):
            return
        try:
            for primer in list(hooks_of(engine).primers):
                primer(conn)
            prime_inserts(conn)
            roots = zone_roots(conn)
            prime_parts(conn, roots)
        finally:
            conn.rollback()
        if roots:  # else a database with no institution yet: the next warm-up primes them
            engine.update_execution_options(**{_PRIMED: True})


def warm_up(engine: Engine) -> list[str]:
    """Prepare this process for its first run; returns the zones whose offsets it read."""
    try:
        all_reports()
        zones = root_zones(engine)
        for name in zones:
            zone(name)  # resolving a name reads the zone list
            if not is_utc(name):
                offset_segments(name)
        prime_statements(engine)
    except Exception as exc:  # one line, no traceback: a worker that waits out its database
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        log.warning("worker warm-up skipped (%s); the first run prepares itself", reason)
        return []
    return zones


def freeze_heap() -> None:
    """Collect garbage, then freeze every object left (once per process; worker processes)."""
    if _frozen.is_set():
        return
    _frozen.set()
    gc.collect()
    gc.freeze()
