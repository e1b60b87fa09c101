"""Files in storage that belong to nothing: found and removed by the storage sweep.

The invariant: every file under ``runs/`` and ``sis_imports/`` belongs to

- a run that is still active (``created``, ``running``, ``compiling``): its shard parts and the
  output being compiled, under ``runs/<id>/``;
- an attachment that is ``processed``: a run's file (whatever the run's state: a soft-deleted
  run keeps its file until retention) or a SIS import's errors file;
- a SIS import that is still ``created`` or ``importing``: its upload;

or it is removed. The sweep lists storage first and reads the database afterwards, so a file
that became live while it listed is seen live; and it leaves alone any file written in the
last :func:`grace` (a write in progress, or a file whose row is about to be committed: a SIS
upload is stored before its import row is inserted).

What it removes: parts of aborted, deleted and failed runs, an output whose run was aborted
while compiling, the first output of a compile that was killed and redone, temporary files of
a write that died (``<key>.tmp-<pid>-<n>`` on local storage), the uploads of finished SIS
imports (they may hold a ``password`` column) and anything else left by a crash.
The worker removes most of these at once (:func:`discard_run_files`); the sweep is the
backstop for what a killed process could not.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from itertools import islice

from sqlalchemy import Connection, Engine, select

from reportcard.db.engine import read_conn
from reportcard.db.sis_import_tables import sis_imports
from reportcard.db.tables import account_reports, attachments
from reportcard.runs.lifecycle import ACTIVE_STATES
from reportcard.settings import Settings
from reportcard.storage.base import Storage, StoredFile

log = logging.getLogger(__name__)

PREFIXES = ("runs/", "sis_imports/")
IMPORT_ACTIVE = ("created", "importing")
MIN_GRACE_SECONDS = 300.0
TMP_MARK = ".tmp-"  # LocalStorage's temp files: <key>.tmp-<pid>-<n>
_CHUNK = 500


def grace(settings: Settings) -> timedelta:
    """How old an unclaimed file must be before it is removed (twice the stale limit, 5 min
    at least)."""
    return timedelta(seconds=max(settings.stale_seconds * 2, MIN_GRACE_SECONDS))


def run_id_of(key: str) -> int | None:
    """``runs/12/...`` -> 12."""
    parts = key.split("/")
    if len(parts) >= 3 and parts[0] == "runs" and parts[1].isascii() and parts[1].isdigit():
        return int(parts[1])
    return None


def _chunks(items: Sequence[str]) -> Iterator[list[str]]:
    it = iter(items)
    while chunk := list(islice(it, _CHUNK)):
        yield chunk


def unclaimed(conn: Connection, files: Iterable[StoredFile]) -> list[StoredFile]:
    """The files among ``files`` that no live run, import or attachment claims."""
    files = list(files)
    run_ids = sorted({i for f in files if (i := run_id_of(f.key)) is not None})
    active_runs: set[int] = set()
    r = account_reports.c
    for start in range(0, len(run_ids), _CHUNK):
        ids = run_ids[start : start + _CHUNK]
        active_runs.update(
            int(x)
            for x in conn.execute(
                select(r.id).where(r.id.in_(ids), r.workflow_state.in_(ACTIVE_STATES))
            ).scalars()
        )
    candidates = [f.key for f in files if run_id_of(f.key) not in active_runs]
    claimed: set[str] = set()
    a, s = attachments.c, sis_imports.c
    for chunk in _chunks(candidates):
        claimed.update(
            conn.execute(
                select(a.storage_key).where(
                    a.storage_key.in_(chunk), a.workflow_state == "processed"
                )
            ).scalars()
        )
        claimed.update(
            conn.execute(
                select(s.upload_key).where(
                    s.upload_key.in_(chunk), s.workflow_state.in_(IMPORT_ACTIVE)
                )
            ).scalars()
        )
    return [f for f in files if run_id_of(f.key) not in active_runs and f.key not in claimed]


def find_orphans(
    engine: Engine, storage: Storage, now: datetime, older_than: timedelta
) -> list[StoredFile]:
    """Unclaimed files last written before ``now - older_than``."""
    cutoff = now - older_than
    listed = [f for p in PREFIXES for f in storage.list(p) if f.modified < cutoff]
    if not listed:
        return []
    with read_conn(engine) as conn:  # after listing: what became live meanwhile is seen live
        found = unclaimed(conn, listed)
        conn.rollback()
    return found


def sweep_orphans(
    engine: Engine, storage: Storage, settings: Settings, now: datetime, *, dry_run: bool = False
) -> list[StoredFile]:
    """Remove every unclaimed file older than the grace period; returns them."""
    found = find_orphans(engine, storage, now, grace(settings))
    if dry_run:
        return found
    removed = []
    for f in found:
        try:
            storage.delete(f.key)
        except Exception:
            log.exception("storage sweep: could not delete %s", f.key)
            continue
        log.info("storage sweep: removed %s (%s bytes), which nothing claims", f.key, f.size)
        removed.append(f)
    if removed:
        log.info(
            "storage sweep: removed %s files, %s bytes", len(removed), sum(f.size for f in removed)
        )
    return removed


def discard_run_files(engine: Engine, storage: Storage, run_id: int) -> int:
    """Remove the files of an ended run that its attachment does not hold (parts, an output
    that never became the attachment); returns how many. Nothing while the run is active."""
    r, a = account_reports.c, attachments.c
    with read_conn(engine) as conn:
        row = conn.execute(
            select(r.workflow_state, a.storage_key, a.workflow_state.label("att_state"))
            .select_from(account_reports.outerjoin(attachments, a.id == r.attachment_id))
            .where(r.id == run_id)
        ).first()
        conn.rollback()
    if row is None or row.workflow_state in ACTIVE_STATES:
        return 0
    keep = row.storage_key if row.att_state == "processed" else None
    try:
        listed = list(storage.list(f"runs/{run_id}/"))
    except Exception:  # storage unreachable: the sweep will try again
        log.exception("could not list the files of run %s", run_id)
        return 0
    n = 0
    for f in listed:
        if f.key == keep or TMP_MARK in f.key.rpartition("/")[2]:
            continue  # a write still in progress removes its own temp file (or the sweep does)
        try:
            storage.delete(f.key)
            n += 1
        except Exception:
            log.exception("could not delete %s of run %s", f.key, run_id)
    if n:
        log.info("run %s (%s): removed %s files it no longer needs", run_id, row.workflow_state, n)
    return n
