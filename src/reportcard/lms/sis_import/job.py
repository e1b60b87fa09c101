"""Running an import: create, claim (one at a time per root account), apply, finish, abort.

The database is the queue, as for report runs: the worker loop calls :func:`work_one`, which
claims the oldest ``created`` import of a root account that has none ``importing`` with a
conditional UPDATE, and applies it batch by batch. Each batch (``sis_import_batch_rows``
rows) is one transaction that also moves ``progress`` on, but only while the import is still
``importing``: an abort is seen at the next batch, which is rolled back whole.
"""

from __future__ import annotations

import csv
import functools
import io
import logging
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from itertools import islice
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, and_, delete, exists, func, insert, select, update

from reportcard.clock import utcnow
from reportcard.db.engine import read_conn
from reportcard.db.sis_import_tables import sis_import_messages, sis_imports
from reportcard.db.tables import accounts, attachments, sis_batches
from reportcard.lms import tree
from reportcard.lms.sis_import.accounts import Accounts, Terms
from reportcard.lms.sis_import.change_sis_id import ChangeSisIds
from reportcard.lms.sis_import.context import ImportContext, Stop
from reportcard.lms.sis_import.courses import Courses, Sections, Xlists
from reportcard.lms.sis_import.enrollments import Enrollments
from reportcard.lms.sis_import.formats import COUNT_KEYS, TYPES
from reportcard.lms.sis_import.groups import GroupCategories, Groups
from reportcard.lms.sis_import.handler import Handler, Record
from reportcard.lms.sis_import.links import Admins, GroupMemberships, UserObservers
from reportcard.lms.sis_import.reader import Limits, Problem, Staged, records, stage
from reportcard.lms.sis_import.users import Logins, Users
from reportcard.lms.sis_import.values import Columns
from reportcard.lms.sis_import.workdirs import work_root
from reportcard.settings import Settings
from reportcard.storage.base import Storage

log = logging.getLogger(__name__)

ACTIVE = ("created", "importing")
TERMINAL = ("imported", "imported_with_messages", "failed", "failed_with_messages", "aborted")
Progress = Callable[[int, int, str], None]  # (rows done, total rows, current file)

HANDLERS: dict[str, Callable[[], Handler]] = {
    "change_sis_id": ChangeSisIds,
    "account": Accounts,
    "term": Terms,
    "course": Courses,
    "section": Sections,
    "xlist": Xlists,
    "user": Users,
    "login": Logins,
    "enrollment": Enrollments,
    "admin": Admins,
    "group_category": GroupCategories,
    "group": Groups,
    "group_membership": GroupMemberships,
    "user_observer": UserObservers,
}
assert set(HANDLERS) == {t.key for t in TYPES}


# ---------------------------------------------------------------------------- create
def upload_key(name: str) -> str:
    """Where an upload is kept: a fresh prefix, the (sanitised) client file name."""
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in name)[-100:]
    if not safe.strip("."):  # "", ".", ".." would name the prefix or its parent
        safe = "upload"
    return f"sis_imports/{uuid.uuid4().hex}/{safe}"


def create_import(
    conn: Connection,
    *,
    account_id: int,
    user_id: int | None,
    upload_key: str,
    upload_name: str,
    upload_size: int,
    options: dict[str, Any] | None = None,
    state: str = "created",
    worker_id: str | None = None,
) -> int:
    """A new import (and its SIS batch, whose id it shares) in ``state``."""
    now = utcnow()
    pk = conn.execute(
        insert(sis_batches).values(account_id=account_id, workflow_state=state, created_at=now)
    ).inserted_primary_key
    assert pk is not None
    import_id = int(pk[0])
    conn.execute(
        insert(sis_imports).values(
            id=import_id,
            account_id=account_id,
            user_id=user_id,
            workflow_state=state,
            progress=0,
            import_type="instructure_csv",
            data={"import_type": "instructure_csv"},
            options=options or {},
            upload_key=upload_key,
            upload_name=upload_name,
            upload_size=upload_size,
            rows_done=0,
            error_count=0,
            warning_count=0,
            attempt=1 if state == "importing" else 0,
            worker_id=worker_id,
            heartbeat_at=now if state == "importing" else None,
            started_at=now if state == "importing" else None,
            created_at=now,
            updated_at=now,
        )
    )
    return import_id


def get_import(conn: Connection, import_id: int) -> Any:
    return conn.execute(select(sis_imports).where(sis_imports.c.id == import_id)).first()


def abort_import(conn: Connection, import_id: int) -> bool:
    """``created``/``importing`` -> ``aborted``; False when it had already finished."""
    now = utcnow()
    res = conn.execute(
        update(sis_imports)
        .where(sis_imports.c.id == import_id, sis_imports.c.workflow_state.in_(ACTIVE))
        .values(workflow_state="aborted", progress=100, ended_at=now, updated_at=now)
    )
    if res.rowcount == 1:
        conn.execute(
            update(sis_batches)
            .where(sis_batches.c.id == import_id)
            .values(workflow_state="aborted")
        )
        return True
    return False


# ---------------------------------------------------------------------------- the queue
def claim_next(engine: Engine, worker_id: str) -> int | None:
    """Claim the oldest created import of a root account with no import under way."""
    s = sis_imports.c
    with read_conn(engine) as conn:
        waiting = conn.execute(
            select(s.id, s.account_id).where(s.workflow_state == "created").order_by(s.id).limit(16)
        ).all()
        conn.rollback()
    other = sis_imports.alias("other")
    for import_id, account_id in waiting:
        busy = exists().where(
            other.c.account_id == account_id,
            (other.c.workflow_state == "importing")
            | and_(other.c.workflow_state == "created", other.c.id < import_id),
        )
        now = utcnow()
        with engine.begin() as conn:
            res = conn.execute(
                update(sis_imports)
                .where(s.id == import_id, s.workflow_state == "created", ~busy)
                .values(
                    workflow_state="importing",
                    started_at=now,
                    heartbeat_at=now,
                    worker_id=worker_id,
                    attempt=s.attempt + 1,
                    updated_at=now,
                )
            )
        if res.rowcount == 1:
            return int(import_id)
    return None


def reap(engine: Engine, settings: Settings) -> int:
    """Imports whose worker stopped beating: back to ``created`` (re-applying is safe: every
    row is an upsert), or ``failed`` after ``max_attempts``."""
    s = sis_imports.c
    cutoff = utcnow() - timedelta(seconds=settings.stale_seconds)
    stale = and_(s.workflow_state == "importing", s.heartbeat_at < cutoff)
    with read_conn(engine) as conn:
        any_stale = conn.execute(select(exists().where(stale))).scalar()
        conn.rollback()
    if not any_stale:
        return 0
    with engine.begin() as conn:
        again = conn.execute(
            update(sis_imports)
            .where(stale, s.attempt < settings.max_attempts)
            .values(workflow_state="created", worker_id=None)
        ).rowcount
        lost = conn.execute(select(s.id).where(stale)).scalars().all()
    for import_id in lost:
        with engine.begin() as conn:
            conn.execute(
                insert(sis_import_messages).values(
                    sis_import_id=import_id,
                    failure=True,
                    file=None,
                    line=None,
                    message="The import's worker stopped responding too many times.",
                )
            )
            _set_final(conn, import_id, "failed", ("importing",))
    return int(again) + len(lost)


def work_one(engine: Engine, storage: Storage, settings: Settings, worker_id: str) -> bool:
    """The worker loop's hook: reap, then claim and run one import; False when idle."""
    from reportcard.runs.worker import keepalive

    reap(engine, settings)
    import_id = claim_next(engine, worker_id)
    if import_id is None:
        return False
    with keepalive(engine, sis_imports, import_id, settings.heartbeat_seconds):
        run_import(engine, storage, settings, import_id)
    return True


# ---------------------------------------------------------------------------- running
def _batches(path: Path, size: int) -> Iterator[list[Record]]:
    rows = records(path)
    next(rows, None)  # the header
    while batch := list(islice(rows, size)):
        yield batch


def run_import(
    engine: Engine,
    storage: Storage,
    settings: Settings,
    import_id: int,
    progress: Progress | None = None,
) -> str:
    """Apply a claimed (``importing``) import to the end; returns its final state."""
    with read_conn(engine) as conn:
        imp = get_import(conn, import_id)
        root = conn.execute(select(accounts).where(accounts.c.id == imp.account_id)).one()
        conn.rollback()
    if imp.workflow_state != "importing":
        return str(imp.workflow_state)
    state = _run_claimed(engine, storage, settings, imp, root, progress)
    _discard_upload(storage, imp, state)
    return state


def _run_claimed(
    engine: Engine,
    storage: Storage,
    settings: Settings,
    imp: Any,
    root: Any,
    progress: Progress | None,
) -> str:
    import_id = int(imp.id)
    with engine.begin() as conn:
        conn.execute(
            delete(sis_import_messages).where(sis_import_messages.c.sis_import_id == import_id)
        )
    options = imp.options or {}
    ctx = ImportContext(
        import_id=import_id,
        root=root,
        user_id=imp.user_id,
        now=utcnow(),
        skip_deletes=bool(options.get("skip_deletes")),
    )
    # Removed when the import ends; what a killed import leaves, workdirs' job removes.
    with tempfile.TemporaryDirectory(prefix=f"{import_id}-", dir=work_root(settings)) as tmp:
        work = Path(tmp)
        try:
            staged = _stage(storage, imp, settings, work)
        except Exception:
            log.exception("sis import %s: the upload could not be read", import_id)
            staged = Staged()
            staged.problems.append(Problem(imp.upload_name, "The uploaded file could not be read."))
        for p in staged.problems:
            (ctx.error if p.failure else ctx.warn)(p.file, p.line, p.message)
        if staged.failed:
            return _finish(engine, storage, ctx, import_id, staged)
        total = staged.total_rows
        with engine.begin() as conn:
            conn.execute(
                update(sis_imports)
                .where(sis_imports.c.id == import_id)
                .values(total_rows=total, data=_data(ctx, staged))
            )
        try:
            _apply(engine, settings, ctx, staged, progress)
        except Stop:
            log.info("sis import %s was aborted", import_id)
            ctx.rollback()
        except Exception:
            log.exception("sis import %s failed", import_id)
            ctx.rollback()
            ctx.error(
                None,
                None,
                f"Error while importing CSV. Please contact support. (Error report {import_id})",
            )
        with engine.begin() as conn:
            tree.refresh(conn, ctx.root_id)
        return _finish(engine, storage, ctx, import_id, staged)


def _discard_upload(storage: Storage, imp: Any, state: str) -> None:
    """An import that has ended needs its upload no more: it goes, ``password`` column and
    all (the storage sweep removes those of imports that ended elsewhere, e.g. aborted while
    queued). An import sent back to ``created`` by the reaper keeps it to run again."""
    if state not in TERMINAL:
        return
    try:
        storage.delete(imp.upload_key)
    except Exception:
        log.exception("sis import %s: could not delete its upload %s", imp.id, imp.upload_key)


def _stage(storage: Storage, imp: Any, settings: Settings, work: Path) -> Staged:
    local = storage.local_path(imp.upload_key)
    if local is None:
        local_path = work / "upload"
        with storage.open_read(imp.upload_key) as src, open(local_path, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
    else:
        local_path = Path(local)
    unpack = work / "files"
    unpack.mkdir()
    return stage(local_path, imp.upload_name, Limits.from_settings(settings), unpack)


def _apply(
    engine: Engine,
    settings: Settings,
    ctx: ImportContext,
    staged: Staged,
    progress: Progress | None,
) -> None:
    """Every file in order, batch by batch, on one connection (one SQLite page cache)."""
    total = staged.total_rows
    done = 0
    current: tuple[str, Handler] | None = None
    with engine.connect() as conn:
        for file in [*staged.files, None]:
            if current is not None and (file is None or file.type.key != current[0]):
                _in_batch(conn, ctx, current[1].finish, None, total)
                current = None
            if file is None:
                break
            if current is None:
                current = (file.type.key, HANDLERS[file.type.key]())
            handler = current[1]
            cols = Columns(file.headers)
            for batch in _batches(file.path, settings.sis_import_batch_rows):
                done += len(batch)
                step = functools.partial(_rows, handler, file.name, cols, batch)
                _in_batch(conn, ctx, step, done, total)
                if progress is not None:
                    progress(done, total, file.name)


def _rows(
    handler: Handler, file: str, cols: Columns, batch: list[Record], ctx: ImportContext
) -> None:
    handler.rows(ctx, file, cols, _fitting(ctx, file, cols, batch))


# The longest value a column the import stores holds (the tables' String(255), pronouns'
# String(64)). A longer one is a row warning, as a bad date is: PostgreSQL would refuse the
# whole batch and the import would end failed with the batches before it applied. Columns the
# import does not read (``notes``, ``password``, ...) may be as long as a line allows.
MAX_VALUE = 255
MAX_VALUE_BY_COLUMN = {"pronouns": 64}
_SHORTEST_LIMIT = min(MAX_VALUE, *MAX_VALUE_BY_COLUMN.values())
STORED_COLUMNS = frozenset(
    [
        "account_id",
        "parent_account_id",
        "name",
        "status",
        "integration_id",
        "term_id",
        "course_id",
        "short_name",
        "long_name",
        "course_format",
        "blueprint_course_id",
        "section_id",
        "xlist_course_id",
        "user_id",
        "login_id",
        "authentication_provider_id",
        "email",
        "first_name",
        "last_name",
        "full_name",
        "sortable_name",
        "pronouns",
        "existing_user_id",
        "existing_integration_id",
        "existing_canvas_user_id",
        "user_integration_id",
        "role",
        "role_id",
        "associated_user_id",
        "group_category_id",
        "category_name",
        "group_id",
        "observer_id",
        "student_id",
        "old_id",
        "new_id",
        "old_integration_id",
        "new_integration_id",
    ]
)


def _fitting(ctx: ImportContext, file: str, cols: Columns, batch: list[Record]) -> list[Record]:
    """The rows of ``batch`` whose values fit their columns; a warning for each other one."""
    names: dict[int, str] | None = None
    kept: list[Record] = []
    for record in batch:
        line, fields = record
        if max(map(len, fields), default=0) <= _SHORTEST_LIMIT:
            kept.append(record)
            continue
        if names is None:
            names = {i: h for h, i in cols.index.items()}
        for i, value in enumerate(fields):
            name = names.get(i, "")
            if name not in STORED_COLUMNS:
                continue
            limit = MAX_VALUE_BY_COLUMN.get(name, MAX_VALUE)
            if len(value.strip()) > limit:
                ctx.warn(
                    file,
                    line,
                    f"The value in {name} is longer than {limit} characters; row skipped",
                )
                break
        else:
            kept.append(record)
    return kept


def _in_batch(
    conn: Connection,
    ctx: ImportContext,
    step: Callable[[ImportContext], None],
    done: int | None,
    total: int,
) -> None:
    """One transaction: ``step``, its buffered writes, and the progress (or :class:`Stop`)."""
    with conn.begin():
        ctx.begin(conn)
        step(ctx)
        ctx.flush()
        if not _advance(conn, ctx.import_id, done, total):
            raise Stop
    ctx.commit()


def _advance(conn: Connection, import_id: int, done: int | None, total: int | None) -> bool:
    """Progress (at most 99 until the end) and heartbeat; False when no longer importing."""
    now = utcnow()
    values: dict[str, Any] = {"heartbeat_at": now, "updated_at": now}
    if done is not None and total:
        values["rows_done"] = done
        values["progress"] = min(99, done * 100 // total)
    res = conn.execute(
        update(sis_imports)
        .where(sis_imports.c.id == import_id, sis_imports.c.workflow_state == "importing")
        .values(**values)
    )
    return res.rowcount == 1


def _data(ctx: ImportContext, staged: Staged) -> dict[str, Any]:
    supplied: list[str] = []
    for f in staged.files:
        if f.type.key not in supplied:
            supplied.append(f.type.key)
    counts = {k: int(ctx.counts.get(k, 0)) for k in COUNT_KEYS}
    counts["error_count"] = ctx.error_count
    counts["warning_count"] = ctx.warning_count
    return {"import_type": "instructure_csv", "supplied_batches": supplied, "counts": counts}


def _set_final(conn: Connection, import_id: int, state: str, current: tuple[str, ...]) -> bool:
    now = utcnow()
    res = conn.execute(
        update(sis_imports)
        .where(sis_imports.c.id == import_id, sis_imports.c.workflow_state.in_(current))
        .values(workflow_state=state, progress=100, ended_at=now, updated_at=now)
    )
    if res.rowcount == 1:
        conn.execute(
            update(sis_batches).where(sis_batches.c.id == import_id).values(workflow_state=state)
        )
    return bool(res.rowcount == 1)


def _finish(
    engine: Engine, storage: Storage, ctx: ImportContext, import_id: int, staged: Staged
) -> str:
    """Record counts and messages, attach the errors CSV, set the final state."""
    with engine.begin() as conn:
        if ctx.messages:
            conn.execute(
                insert(sis_import_messages),
                [
                    {
                        "sis_import_id": import_id,
                        "failure": m.failure,
                        "file": m.file,
                        "line": m.line,
                        "message": m.message,
                    }
                    for m in ctx.messages
                ],
            )
            ctx.messages = []
        m = sis_import_messages.c
        tally: dict[Any, int] = dict(
            conn.execute(
                select(m.failure, func.count())
                .where(m.sis_import_id == import_id)
                .group_by(m.failure)
            ).all()
        )
        ctx.error_count = int(tally.get(True, 0))
        ctx.warning_count = int(tally.get(False, 0))
        root_id = ctx.root_id
        attachment_id = None
        if ctx.error_count or ctx.warning_count:
            attachment_id = _errors_attachment(conn, storage, import_id, root_id)
        conn.execute(
            update(sis_imports)
            .where(sis_imports.c.id == import_id)
            .values(
                data=_data(ctx, staged),
                error_count=ctx.error_count,
                warning_count=ctx.warning_count,
                errors_attachment_id=attachment_id,
            )
        )
        if ctx.error_count:
            state = "failed_with_messages"
        elif ctx.warning_count:
            state = "imported_with_messages"
        else:
            state = "imported"
        if not _set_final(conn, import_id, state, ("importing",)):
            state = str(get_import(conn, import_id).workflow_state)
    return state


def _errors_attachment(conn: Connection, storage: Storage, import_id: int, root_id: int) -> int:
    """``sis_errors_attachment_<id>.csv``: ``sis_import_id,file,message,row`` per message."""
    m = sis_import_messages.c
    name = f"sis_errors_attachment_{import_id}.csv"
    key = f"sis_imports/{import_id}/{name}"
    rows = conn.execute(
        select(m.file, m.message, m.line).where(m.sis_import_id == import_id).order_by(m.id)
    )
    with storage.open_write(key) as out:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["sis_import_id", "file", "message", "row"])
        for file, message, line in rows:
            writer.writerow([import_id, file, message, line])
            if buf.tell() > 1 << 16:
                out.write(buf.getvalue().encode("utf-8"))
                buf.seek(0)
                buf.truncate()
        out.write(buf.getvalue().encode("utf-8"))
    now = utcnow()
    pk = conn.execute(
        insert(attachments).values(
            uuid=uuid.uuid4().hex,
            context_type="Account",
            context_id=root_id,
            user_id=None,
            filename=name,
            display_name=name,
            content_type="text/csv",
            size=storage.size(key),
            storage_key=key,
            workflow_state="processed",
            created_at=now,
            updated_at=now,
        )
    ).inserted_primary_key
    assert pk is not None
    return int(pk[0])
