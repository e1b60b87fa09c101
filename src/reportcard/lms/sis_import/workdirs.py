"""Where an import unpacks its upload, and the sweep of what a killed import left there.

An import unpacks its upload (a zip's CSVs, or on S3 a local copy of the upload) into
``<data_dir>/sis-import-work/<import id>-<random>/``, removed when the import ends. A process
killed mid-import cannot remove it, and the files may hold a ``password`` column: the periodic
job below removes a work directory once its import is no longer ``importing`` (ended, or sent
back to ``created`` to run again from its upload) and the directory is older than the storage
sweep's grace period. Each instance has its own data directory, so it only ever looks at its
own imports' directories.
"""

from __future__ import annotations

import logging
import shutil
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, select

from reportcard.db.engine import read_conn
from reportcard.db.sis_import_tables import sis_imports
from reportcard.runs.hooks import Hooks
from reportcard.runs.orphans import grace
from reportcard.settings import Settings
from reportcard.storage.base import Storage

log = logging.getLogger(__name__)


def work_root(settings: Settings) -> Path:
    root = settings.data_dir / "sis-import-work"
    root.mkdir(parents=True, exist_ok=True)
    return root


def import_id_of(folder: Path) -> int | None:
    head = folder.name.partition("-")[0]
    return int(head) if head.isascii() and head.isdigit() else None


def sweep_work_dirs(engine: Engine, storage: Storage, settings: Settings, now: datetime) -> int:
    """Remove the work directories of imports no longer running; returns how many."""
    root = settings.data_dir / "sis-import-work"
    if not root.is_dir():
        return 0
    cutoff = now - grace(settings)
    candidates: dict[Path, int] = {}
    for folder in root.iterdir():
        import_id = import_id_of(folder)
        if import_id is None or not folder.is_dir():
            continue
        modified = datetime.fromtimestamp(folder.stat().st_mtime, UTC).replace(tzinfo=None)
        if modified < cutoff:
            candidates[folder] = import_id
    if not candidates:
        return 0
    s = sis_imports.c
    with read_conn(engine) as conn:
        running = set(
            conn.execute(
                select(s.id).where(
                    s.id.in_(sorted(set(candidates.values()))), s.workflow_state == "importing"
                )
            ).scalars()
        )
        conn.rollback()
    removed = 0
    for folder, import_id in candidates.items():
        if import_id in running:
            continue
        shutil.rmtree(folder, ignore_errors=True)
        log.info("sis import %s: removed the work directory %s it left", import_id, folder)
        removed += 1
    return removed


def install(hooks: Hooks) -> None:
    hooks.every("sis_import.workdirs", lambda s: s.retention_interval_seconds, sweep_work_dirs)
