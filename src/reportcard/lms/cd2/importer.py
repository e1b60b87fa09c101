"""``reportcard cd2 import``: files to tables, one all-or-nothing transaction per table.

:func:`plan` turns the paths into (table, files) in reference order; :func:`import_paths`
stages and applies each table, records its state, then rebuilds what is derived.
"""

from __future__ import annotations

import collections
import contextlib
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, select, text
from sqlalchemy.exc import DBAPIError

from reportcard.db.tables import accounts
from reportcard.lms.cd2 import derived, state
from reportcard.lms.cd2.apply import (
    BULK_SETTINGS,
    StagedUnordered,
    TableSummary,
    apply_staged,
    first_load_ahead,
    prepare_staged,
)
from reportcard.lms.cd2.convert import convert_record
from reportcard.lms.cd2.errors import Cd2Error
from reportcard.lms.cd2.formats import read_records
from reportcard.lms.cd2.indexes import DEFER, build, restore_missing, take_pending
from reportcard.lms.cd2.locks import lock_set
from reportcard.lms.cd2.mapping import BY_NAME, Cd2Table, order
from reportcard.lms.cd2.staging import create_stage, drop_stage, stage_file, stage_name
from reportcard.lms.cd2.statistics import analyze_changed, changed_tables

# progress(description, bytes done, bytes in all)
Progress = Callable[[str, int, int], None]


@dataclass
class ImportResult:
    root_id: int
    tables: list[TableSummary] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path or table, why)
    derived: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "root_account_id": self.root_id,
            "tables": [t.as_dict() for t in self.tables],
            "skipped": [{"path": p, "reason": r} for p, r in self.skipped],
            "derived": self.derived,
        }


def _data_files(directory: Path) -> list[Path]:
    return sorted(
        p
        for p in directory.rglob("*")
        if p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(directory).parts)
        and "_schema_version_" not in p.name
    )


def _table_of_file(path: Path) -> str | None:
    stem = path.name.split(".", 1)[0]
    if stem in BY_NAME:
        return stem
    for parent in path.parents:
        if parent.name in BY_NAME:
            return parent.name
    return None


def plan(
    paths: Sequence[Path], table: str | None = None
) -> tuple[list[tuple[Cd2Table, list[Path]]], list[tuple[str, str]]]:
    """(table, files) in reference order, and what was skipped (unknown tables)."""
    found: dict[str, list[Path]] = {}
    skipped: list[tuple[str, str]] = []
    if table is not None:
        if table not in BY_NAME:
            raise Cd2Error(
                f"reportcard does not read the CD2 table {table!r} (tables it reads: "
                + ", ".join(sorted(BY_NAME))
                + ")"
            )
        for p in paths:
            found.setdefault(table, []).extend(_data_files(p) if p.is_dir() else [p])
    else:
        for p in paths:
            if p.is_file():
                name = _table_of_file(p)
                if name is None:
                    raise Cd2Error(
                        "cannot tell which CD2 table this file holds: name its folder after"
                        " the table or give --table",
                        file=p,
                    )
                found.setdefault(name, []).append(p)
            elif p.name in BY_NAME:
                found.setdefault(p.name, []).extend(_data_files(p))
            else:
                for sub in sorted(q for q in p.iterdir() if q.is_dir()):
                    if sub.name in BY_NAME:
                        found.setdefault(sub.name, []).extend(_data_files(sub))
                    elif not sub.name.startswith("."):
                        skipped.append((str(sub), "not a CD2 table reportcard reads"))
                for f in sorted(q for q in p.iterdir() if q.is_file()):
                    if f.name.startswith(".") or "_schema_version_" in f.name:
                        continue
                    name = _table_of_file(f)
                    if name is None:
                        skipped.append((str(f), "not in a folder named after a CD2 table"))
                    else:
                        found.setdefault(name, []).append(f)
    return [(BY_NAME[n], found[n]) for n in order(list(found)) if found[n]], skipped


def diagnose(t: Cd2Table, files: Sequence[Path]) -> Cd2Error | None:
    """Read the files in Python to find the first record that cannot be applied."""
    for f in files:
        try:
            for rec in read_records(f):
                convert_record(t, rec, f)
        except Cd2Error as exc:
            exc.table = exc.table or t.name
            return exc
    return None


def _db_message(exc: Exception) -> str:
    orig = getattr(exc, "orig", exc)
    diag = getattr(orig, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag is not None else None
    detail = getattr(diag, "message_detail", None) if diag is not None else None
    text_ = primary or str(orig).splitlines()[0]
    return text_ + (f" ({detail})" if detail else "")


def _staged_root(conn: Connection) -> list[int]:
    rows = conn.exec_driver_sql(
        f"SELECT DISTINCT key FROM {stage_name('accounts')} WHERE"
        " \"value.parent_account_id\" IS NULL AND COALESCE(action, 'U') = 'U'"
    ).all()
    return sorted(int(r[0]) for r in rows)


def find_root(conn: Connection, account_id: int | None, staged: list[int] | None) -> int:
    """The root account the data belongs to (see docs/canvas-data-2.md, Decisions)."""
    if staged is not None and len(staged) > 1:
        raise Cd2Error(
            f"the accounts files hold {len(staged)} root accounts ({', '.join(map(str, staged))}):"
            " a CD2 credential exports one root account",
            table="accounts",
        )
    if account_id is not None:
        if staged and staged[0] != account_id:
            raise Cd2Error(
                f"the accounts files' root account is {staged[0]}, not --account {account_id}",
                table="accounts",
            )
        return account_id
    if staged:
        return staged[0]
    roots = state.known_roots(conn)
    if len(roots) == 1:
        return roots[0]
    a = accounts.c
    db_roots = [int(r[0]) for r in conn.execute(select(a.id).where(a.parent_account_id.is_(None)))]
    if len(db_roots) == 1 and not roots:
        return db_roots[0]
    raise Cd2Error(
        "cannot tell which root account the data belongs to: import the accounts table"
        " with it, or give --account ROOT_ID"
    )


def _check_time_zones(conn: Connection, root: int) -> None:
    from reportcard.timezones import UnknownTimeZone, canonical_zone_name

    rows = conn.execute(
        text("SELECT id, default_time_zone FROM accounts WHERE id = :r OR root_account_id = :r"),
        {"r": root},
    ).all()
    for acct_id, zone in rows:
        try:
            canonical_zone_name(zone)
        except UnknownTimeZone as exc:
            raise Cd2Error(
                f"account {acct_id}: {exc}", table="accounts", field="value.default_time_zone"
            ) from None


def _staged_any(conn: Connection, t: Cd2Table) -> bool:
    """Whether the staging table of ``t`` holds a record (the staging counts them)."""
    records = conn.info.get("cd2_stage", {}).get("records")
    if records is not None:
        return int(records) > 0
    return conn.exec_driver_sql(f"SELECT 1 FROM {stage_name(t)} LIMIT 1").first() is not None


@dataclass
class _Loaded:
    summary: TableSummary
    root_id: int
    indexes: list[str] = field(default_factory=list)  # deferred, to build (see .indexes)


class _Abandoned(Exception):
    """A pipelined table load stopped because a table before it failed (nothing applied)."""


@dataclass
class Turn:
    """When a pipelined table load may apply (``apply(first_load)``) and commit (see
    :func:`_load_table`)."""

    apply: Callable[[bool], None]
    commit: Callable[[], None]


def _load_table(
    conn: Connection,
    t: Cd2Table,
    files: list[Path],
    account_id: int | None,
    root: int | None,
    snapshot: bool,
    progress: Progress | None,
    done: int,
    total: int,
    turn: Turn | None = None,
) -> _Loaded:
    """Stage and apply one table in its own transaction; errors name file, line and field.

    ``turn`` (pipelined loads, see :func:`_pipelined`): after staging and
    :func:`prepare_staged`, which touch only the table's own staging and bookkeeping,
    ``turn.apply`` waits until the table may be applied: the table before this one is
    committed (raising :class:`_Abandoned` when that one failed), so the rest of the load sees
    it as a load one after the other does; or (``APPLY_APART``) until no table before it
    that is not committed yet shares a table with it (:mod:`.locks`). ``turn.commit`` then
    waits for the table before this one to be committed before this one commits. The indexes
    the table's load deferred (:mod:`.indexes`) come with its result."""
    try:
        with conn.begin():

            def stage(ordered: bool) -> None:
                # a first load's staging is typed as well (create_stage)
                create_stage(conn, t, ordered=ordered, typed=not ordered)
                at = done
                for f in files:
                    if progress:
                        progress(f"{t.name}: {f.name}", at, total)
                    stage_file(conn, t, f)
                    at += f.stat().st_size

            # A snapshot's first load of a table stages without arrival order (see
            # create_stage); in the rare load that needs it, the files are staged again.
            stage(not (snapshot and first_load_ahead(conn, t)))
            if t.name == "accounts":
                root = find_root(conn, account_id, _staged_root(conn))
            assert root is not None
            apply = snapshot or _staged_any(conn, t)
            if apply:
                try:
                    prepare_staged(conn, t, root_id=root, snapshot=snapshot)
                except StagedUnordered:
                    stage(True)
                    prepare_staged(conn, t, root_id=root, snapshot=snapshot)
            if turn is not None:
                prepared = conn.info.get("cd2_prepared")
                turn.apply(bool(prepared and prepared[2]))  # a first load's bookkeeping
            if apply:
                settle = None if turn is None else turn.commit
                summary = apply_staged(conn, t, root_id=root, snapshot=snapshot, settle=settle)
            else:  # an incremental's empty files (most tables, most of the time): nothing to do
                summary = TableSummary(t.name, lacks=t.lacks)
            summary.files = [str(f) for f in files]
            if t.name == "accounts":
                _check_time_zones(conn, root)
            state.record(
                conn,
                summary,
                root_id=root,
                snapshot=snapshot,
                source=", ".join(str(f) for f in files),
            )
            drop_stage(conn, t)
            if turn is not None:
                turn.commit()
        return _Loaded(summary, root, take_pending(conn))
    except Cd2Error as exc:
        take_pending(conn)  # rolled back: the indexes were not dropped
        exc.table = exc.table or t.name
        found = diagnose(t, files) if exc.file is None else None
        raise (found or exc) from None
    except (DBAPIError, conn.dialect.loaded_dbapi.Error) as exc:
        take_pending(conn)
        found = diagnose(t, files)
        if found is not None:
            raise found from None
        raise Cd2Error(
            "the database refused the records: " + _db_message(exc), table=t.name
        ) from None
    except BaseException:
        take_pending(conn)
        raise


def _note(
    result: ImportResult | None,
    loaded: _Loaded,
    t: Cd2Table,
    which: set[str],
    skipped: list[tuple[str, str]],
) -> ImportResult:
    """Add one table's load to the import's result (made by the first)."""
    if result is None:
        result = ImportResult(root_id=loaded.root_id, skipped=skipped)
    result.tables.append(loaded.summary)
    if loaded.summary.upserted or loaded.summary.deleted:
        which.update(t.derived)
    return result


# Memory for the staging and winners tables of one table's load: PostgreSQL's temporary
# tables live in the session's own buffers (8MB by default, then files); SQLite's page caches
# (main and temp: each counts in the importer's peak RSS).
TEMP_BUFFERS = "256MB"
SQLITE_CACHE_KIB = 32768


def _session_settings(conn: Connection) -> None:
    """Bulk-load settings of the import's session (before any temporary table is used)."""
    try:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(f"SELECT set_config('temp_buffers', '{TEMP_BUFFERS}', false)")
        else:
            conn.exec_driver_sql(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
            conn.exec_driver_sql(f"PRAGMA temp.cache_size = -{SQLITE_CACHE_KIB}")
    except (DBAPIError, conn.dialect.loaded_dbapi.Error):
        pass  # a pooled session that used temporary tables already: its settings stay
    conn.rollback()


def _pipelined(
    conns: Sequence[Connection],
    plans: Sequence[tuple[Cd2Table, list[Path]]],
    account_id: int | None,
    root: int,
    snapshot: bool,
    progress: Progress | None,
    done: int,
    total: int,
) -> Iterator[tuple[Cd2Table, _Loaded]]:
    """Load the tables on several connections, each table in its own transaction as
    :func:`_load_table` does, yielding them in plan order.

    Connection k takes the next table not taken yet, stages it (``COPY``) and prepares it
    (a first load's bookkeeping, an incremental's winners) while the other applies the table
    before it. An apply waits until no table before it still loading shares a table with it
    (:func:`.locks.lock_set`: the tables it references, and those whose locks it may take,
    foreign keys dropped and added back locking their referenced tables), so every table sees
    the tables it references and the locks of two applies never meet (``APPLY_APART``; else
    it waits for the commit of the table before it). Every table
    commits after the one before it. A failure stops the tables after it: those staged or
    applied meanwhile are rolled back, and it is raised once the tables before it are
    yielded.
    """
    n = len(plans)
    ended = [threading.Event() for _ in range(n)]
    outcome: list[_Loaded | BaseException | None] = [None] * n
    offsets, sizes = [], []
    for _, files in plans:
        offsets.append(done)
        sizes.append(sum(f.stat().st_size for f in files))
        done += sizes[-1]
    untaken = list(range(n))
    # The table each worker holds (None: none): a worker holds a table ahead of its turn while
    # a table before it is not taken yet; fewer workers than the connections may, so that the
    # first table not taken always has one.
    holding: list[int | None] = [None] * len(conns)
    take = threading.Lock()
    # The first table that failed (n: none yet): the tables after it are abandoned, the ones
    # before it (a table taken ahead can fail before them) are still loaded.
    failed = [n]
    locks = [lock_set(t.name) for t, _ in plans]
    all_bytes = sum(sizes)

    def pick(worker: int) -> int | None:
        """The next table not taken (in plan order), or a big table further on while the
        next ones are small: its staging then runs beside the applies of the tables before
        it, which the other connections take one after the other. Of the big tables of the
        next AHEAD_TABLES, the biggest whose apply would not wait for another of them (none
        before it shares a table with it, :func:`.locks.lock_set`): on large, enrollments
        first, then scores while enrollments is applied (scores waits for enrollments)."""
        with take:
            holding[worker] = None
            if not untaken:
                return None
            i = untaken[0]
            held_ahead = sum(1 for h in holding if h is not None and h > i)
            if held_ahead < len(conns) - 1 and failed[0] == n:
                big = [
                    j
                    for j in untaken[1 : 1 + AHEAD_TABLES]
                    if taken_ahead(sizes[j], sizes[i], all_bytes)
                ]
                free = [j for j in big if not any(locks[k] & locks[j] for k in big if k < j)]
                if free:
                    i = max(free, key=lambda j: sizes[j])
            untaken.remove(i)
            holding[worker] = i
            return i

    changed = threading.Condition(take)  # notified whenever a table's load ends

    def apart(i: int) -> bool:
        """Whether every table before ``i`` not loaded yet shares no table with it."""
        return all(ended[k].is_set() or not locks[k] & locks[i] for k in range(i))

    def committed(i: int) -> None:
        if i > 0:
            ended[i - 1].wait()
            if not isinstance(outcome[i - 1], _Loaded):
                raise _Abandoned

    def turn(i: int) -> Turn:
        def apply(first_load: bool) -> None:
            if not (APPLY_APART and (first_load or INCREMENTALS_APART)):
                committed(i)
                return
            with changed:
                while failed[0] >= i and not apart(i):
                    changed.wait()
                if failed[0] < i:
                    raise _Abandoned

        return Turn(apply=apply, commit=lambda: committed(i))

    def work(worker: int, conn: Connection) -> None:
        while True:
            i = pick(worker)
            if i is None:
                return
            t, files = plans[i]
            try:
                if i > failed[0]:
                    raise _Abandoned
                outcome[i] = _load_table(
                    conn,
                    t,
                    files,
                    account_id,
                    root,
                    snapshot,
                    progress,
                    offsets[i],
                    total,
                    turn=turn(i),
                )
            except BaseException as exc:  # handed to the caller's thread
                outcome[i] = exc
                with take:
                    failed[0] = min(failed[0], i)
            finally:
                with take:
                    holding[worker] = None
                    ended[i].set()
                    changed.notify_all()

    threads = [
        threading.Thread(target=work, args=(k, c), name=f"cd2-import-{k}", daemon=True)
        for k, c in enumerate(conns)
    ]
    for th in threads:
        th.start()
    try:
        for i in range(n):
            ended[i].wait()
            got = outcome[i]
            if not isinstance(got, _Loaded):
                assert got is not None
                raise got
            yield plans[i][0], got
    finally:
        with take:
            failed[0] = -1  # nothing more (the caller stopped reading)
            changed.notify_all()
        for th in threads:
            th.join()


# A first load applies while tables before it are still loading when none of them shares a
# table with it (see _pipelined; they still commit in order): large's scores beside the
# submissions. INCREMENTALS_APART: so does a load of a table applied before (an incremental's
# apply locks no more than a first load's: its targets' rows, and when its upserts are a big
# share of a target, the foreign keys dropped and added back, all in its lock set).
APPLY_APART = True
INCREMENTALS_APART = True

# A pipelined worker takes a table ahead of the next one (see _pipelined's pick) when, within
# the next AHEAD_TABLES tables, one's files are at least AHEAD_BYTES, AHEAD_SHARE of all the
# import's bytes and AHEAD_RATIO times the next table's: large's enrollments, submissions and
# scores come after small tables whose applies are too short to hide their staging (and, in
# an incremental, their winners' bookkeeping probes: large's 1% incremental has 0.24-0.6 MB
# files of them, 2 MB in all).
AHEAD_TABLES = 32
AHEAD_BYTES = 1 << 16
AHEAD_SHARE = 0.1
AHEAD_RATIO = 8


def taken_ahead(size: int, next_size: int, all_bytes: int) -> bool:
    """Whether a table whose files hold ``size`` bytes may be taken ahead of the next table
    (``next_size`` bytes) in a load of ``all_bytes`` (see AHEAD_BYTES)."""
    return size >= max(AHEAD_BYTES, AHEAD_SHARE * all_bytes) and size >= AHEAD_RATIO * next_size


def _merge_sessions(helper: Connection, conn: Connection) -> None:
    """What a helper connection's loads left for the derived rebuild in its session (users
    noted in ``cd2_touched``, the whole-root flag), moved to ``conn``'s."""
    if helper.info.pop("cd2_whole_associations", False):
        conn.info["cd2_whole_associations"] = True
    if conn.dialect.name != "postgresql":
        return
    with helper.begin():
        if helper.exec_driver_sql("SELECT to_regclass('pg_temp.cd2_touched')").scalar() is None:
            return
        users = [r[0] for r in helper.exec_driver_sql("SELECT user_id FROM cd2_touched")]
        helper.exec_driver_sql("DELETE FROM cd2_touched")
    if users:
        with conn.begin():
            conn.exec_driver_sql("CREATE TEMP TABLE IF NOT EXISTS cd2_touched (user_id BIGINT)")
            conn.execute(
                text("INSERT INTO cd2_touched (user_id) SELECT unnest(CAST(:u AS bigint[]))"),
                {"u": users},
            )


def import_paths(
    engine: Engine,
    paths: Sequence[Path],
    *,
    table: str | None = None,
    snapshot: bool = False,
    account_id: int | None = None,
    progress: Progress | None = None,
    connections: int = 2,
) -> ImportResult:
    """Import CD2 files (see the CLI's ``cd2 import``); raises :class:`Cd2Error`.

    ``connections`` > 1 on PostgreSQL: the tables are staged on that many connections while
    the one before is applied (:func:`_pipelined`); SQLite loads one table after the other.
    """
    plans, skipped = plan(paths, table)
    if not plans:
        raise Cd2Error("no CD2 files found in " + ", ".join(map(str, paths)))
    total = sum(f.stat().st_size for _, files in plans for f in files)
    done = 0
    result: ImportResult | None = None
    which: set[str] = set()
    helpers: list[Connection] = []
    pg = engine.dialect.name == "postgresql"
    if not pg or len(plans) < 3:
        connections = 1
    # Built after the tables (.indexes): the deferred indexes of the tables committed.
    pending: list[str] = []
    with engine.connect() as conn, contextlib.ExitStack() as stack:
        _session_settings(conn)
        for _ in range(connections - 1):
            helper = stack.enter_context(engine.connect())
            _session_settings(helper)
            helpers.append(helper)
        stack.callback(_no_deferring, [conn, *helpers])
        if pg:  # what an import stopped before its deferred builds left
            restore_missing(conn, [g.table for t, _ in plans for g in t.targets])
        root: int | None = None
        if plans[0][0].name != "accounts":
            root = find_root(conn, account_id, None)
            conn.rollback()
        try:
            first = plans
            if helpers:  # the first table alone: it may be the accounts, which tell the root
                first, rest = plans[:1], plans[1:]
            for t, files in first:
                assert root is not None or t.name == "accounts"
                loaded = _load_table(
                    conn, t, files, account_id, root, snapshot, progress, done, total
                )
                done += sum(f.stat().st_size for f in files)
                root = loaded.root_id
                result = _note(result, loaded, t, which, skipped)
            if helpers:
                assert root is not None
                for c in (conn, *helpers):
                    c.info[DEFER] = KEEP_INDEXES
                try:
                    for t, loaded in _pipelined(
                        [conn, *helpers], rest, account_id, root, snapshot, progress, done, total
                    ):
                        result = _note(result, loaded, t, which, skipped)
                        pending.extend(loaded.indexes)
                finally:  # the helpers' sessions noted users of the tables they applied
                    for helper in helpers:
                        _merge_sessions(helper, conn)
        except Cd2Error as exc:
            if result is not None and which:
                # What was applied before the failing table stays: keep it consistent.
                with conn.begin():
                    derived.rebuild(conn, result.root_id, which)
                applied = ", ".join(s.table for s in result.tables)
                exc.message += (
                    f" (nothing of {exc.table} was applied; applied before it: {applied})"
                )
            build(conn, pending, _DEFERRED_SETTINGS)
            raise
        assert result is not None
        if progress:
            progress("rebuilding derived tables", total, total)
        if not helpers:
            with conn.begin():
                result.derived = derived.rebuild(conn, result.root_id, which)
            analyze_changed(conn, result.tables)  # cd2 sync's helper: fresh plans on PostgreSQL
            return result
        # A helper builds the deferred indexes and then analyzes the loaded tables while the
        # derived ones are rebuilt; the main connection, once the rebuild is done, analyzes
        # those the helper has not started (from the other end of the queue: the tables
        # without deferred builds, whose ANALYZE would not wait for one). The tables the
        # rebuild locks or rewrites are analyzed after it.
        names = changed_tables(conn, result.tables)
        late = [n for n in names if n in REBUILT]
        built = {_indexed_table(d) for d in pending}
        queue = collections.deque(
            sorted((n for n in names if n not in late), key=lambda n: n not in built)
        )
        analyzing = _Background(_build_and_analyze, helpers[0], pending, queue)
        try:
            with conn.begin():
                result.derived = derived.rebuild(conn, result.root_id, which)
            _analyze_queued(conn, queue, collections.deque.pop)
        finally:
            analyzing.join()
        _analyze(conn, late)
    return result


# Tables the derived rebuild rewrites or locks (a rebuilt account tree, the associations,
# whose foreign keys it drops and adds back, locking users and accounts; the test students).
REBUILT = ("account_ancestors", "accounts", "user_account_associations", "users")

# Tables whose indexes a pipelined first load builds in its own transaction (see .indexes):
# those the derived rebuild locks or writes (the default term, the built-in roles too).
KEEP_INDEXES = frozenset((*REBUILT, "enrollment_terms", "roles"))


# The deferred builds run beside the derived rebuild, whose sort takes the parallel workers:
# one process each (no parallel maintenance workers), with the applies' memory.
_DEFERRED_SETTINGS = (
    f"SELECT {BULK_SETTINGS}, set_config('max_parallel_maintenance_workers', '0', true)"
)


def _no_deferring(conns: Sequence[Connection]) -> None:
    for c in conns:  # the connections go back to the pool
        c.info.pop(DEFER, None)
        take_pending(c)


def _indexed_table(definition: str) -> str:
    """The table of a ``CREATE INDEX ... ON [schema.]table ...`` statement."""
    return definition.split(" ON ", 1)[1].split()[0].rsplit(".", 1)[-1].strip('"')


def _build_and_analyze(
    conn: Connection, pending: Sequence[str], queue: collections.deque[str]
) -> None:
    """The helper's work beside the derived rebuild: the deferred indexes (.indexes), then
    the loaded tables' statistics, from the front of ``queue`` (shared with the main
    connection, which takes from the back once the rebuild is done)."""
    build(conn, pending, _DEFERRED_SETTINGS)
    _analyze_queued(conn, queue, collections.deque.popleft)


def _analyze_queued(
    conn: Connection,
    queue: collections.deque[str],
    take: Callable[[collections.deque[str]], str],
) -> None:
    while True:
        try:
            name = take(queue)  # atomic: each table is analyzed once
        except IndexError:
            return
        _analyze(conn, [name])


def _analyze(conn: Connection, names: Sequence[str]) -> None:
    for name in names:  # one transaction each: no lock is kept while waiting for another
        with conn.begin():
            conn.exec_driver_sql(f'ANALYZE "{name}"')


class _Background:
    """``fn(*args)`` in a thread; :meth:`join` waits for it and raises what it raised."""

    def __init__(self, fn: Callable[..., None], *args: Any) -> None:
        self.error: BaseException | None = None

        def run() -> None:
            try:
                fn(*args)
            except BaseException as exc:  # handed to the joining thread
                self.error = exc

        self.thread = threading.Thread(target=run, name="cd2-import-analyze", daemon=True)
        self.thread.start()

    def join(self) -> None:
        self.thread.join()
        if self.error is not None:
            raise self.error
