"""The storage invariant, checked after fault tests: every file belongs to something live.

A file under ``runs/`` or ``sis_imports/`` must be one of: a file of a run still active
(``created``, ``running``, ``compiling``: under ``runs/<id>/``), the file of a ``processed``
attachment, or the upload of a SIS import still ``created`` or ``importing``. Anything else is
a leak (a part of an ended run, an output no attachment holds, a temp file, a finished import's
upload).

This is the test's own oracle: it lists storage without the ``Storage.list`` under test (the
directory tree on disk; ``list_objects_v2`` through the S3 client) and asks the database itself.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import Engine, select

from reportcard.db.sis_import_tables import sis_imports
from reportcard.db.tables import account_reports, attachments
from reportcard.storage.base import Storage
from reportcard.storage.local import LocalStorage
from reportcard.storage.s3 import S3Storage


def stored_keys(storage: Storage) -> list[str]:
    """Every key in storage, listed independently of ``Storage.list``."""
    if isinstance(storage, LocalStorage):
        root = Path(storage.root)
        return sorted(
            (Path(folder) / name).relative_to(root).as_posix()
            for folder, _dirs, files in os.walk(root)
            for name in files
        )
    if isinstance(storage, S3Storage):
        base = f"{storage.prefix}/" if storage.prefix else ""
        keys: list[str] = []
        token: dict[str, str] = {}
        while True:
            page = storage.client.list_objects_v2(Bucket=storage.bucket, Prefix=base, **token)
            keys += [o["Key"][len(base) :] for o in page.get("Contents", [])]
            if not page.get("IsTruncated"):
                return sorted(keys)
            token = {"ContinuationToken": page["NextContinuationToken"]}
    raise TypeError(f"no independent listing for {type(storage).__name__}")


def stray_files(engine: Engine, storage: Storage) -> list[str]:
    """The keys under ``runs/`` and ``sis_imports/`` that nothing live claims."""
    keys = [k for k in stored_keys(storage) if k.startswith(("runs/", "sis_imports/"))]
    r, a, s = account_reports.c, attachments.c, sis_imports.c
    with engine.connect() as conn:
        active = {
            str(i)
            for i in conn.execute(
                select(r.id).where(r.workflow_state.in_(("created", "running", "compiling")))
            ).scalars()
        }
        files = set(
            conn.execute(select(a.storage_key).where(a.workflow_state == "processed")).scalars()
        )
        uploads = set(
            conn.execute(
                select(s.upload_key).where(s.workflow_state.in_(("created", "importing")))
            ).scalars()
        )
    stray = []
    for key in keys:
        parts = key.split("/")
        if parts[0] == "runs" and len(parts) > 2 and parts[1] in active:
            continue
        if key in files or key in uploads:
            continue
        stray.append(key)
    return stray


def assert_storage_clean(engine: Engine, storage: Storage) -> None:
    stray = stray_files(engine, storage)
    assert stray == [], f"files in storage that nothing claims: {stray}"
