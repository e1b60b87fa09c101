"""Importing from this machine (``reportcard import``): a CSV, a zip or a directory of CSVs.

The upload is copied into storage like an API upload (a directory is zipped, stored, in the
order of its sorted file names), and the import is created already claimed by this process,
so no worker picks it up; it runs here with a heartbeat.
"""

from __future__ import annotations

import os
import shutil
import zipfile
from pathlib import Path

from sqlalchemy import Engine

from reportcard.db.sis_import_tables import sis_imports
from reportcard.lms.sis_import.job import Progress, create_import, run_import, upload_key
from reportcard.runs.worker import keepalive, new_worker_id
from reportcard.settings import Settings
from reportcard.storage.base import Storage


def store_path(storage: Storage, path: Path) -> tuple[str, str, int]:
    """Copy ``path`` into storage; returns (storage key, display name, size)."""
    if path.is_dir():
        name = f"{path.name or 'sis_import'}.zip"
        key = upload_key(name)
        with (
            storage.open_write(key) as out,
            zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as zf,
        ):
            for root, dirs, files in os.walk(path):
                dirs.sort()
                for file in sorted(files):
                    full = Path(root) / file
                    if full.is_file() and not full.is_symlink():
                        zf.write(full, full.relative_to(path).as_posix())
    else:
        name = path.name
        key = upload_key(name)
        with open(path, "rb") as src, storage.open_write(key) as out:
            shutil.copyfileobj(src, out, 1 << 20)
    return key, name, storage.size(key)


def import_path(
    engine: Engine,
    storage: Storage,
    settings: Settings,
    path: Path,
    account_id: int,
    *,
    user_id: int | None = None,
    progress: Progress | None = None,
) -> tuple[int, str]:
    """Import ``path`` into the root account ``account_id`` here; returns (id, final state)."""
    key, name, size = store_path(storage, path)
    worker_id = new_worker_id()
    with engine.begin() as conn:
        import_id = create_import(
            conn,
            account_id=account_id,
            user_id=user_id,
            upload_key=key,
            upload_name=name,
            upload_size=size,
            state="importing",
            worker_id=worker_id,
        )
    with keepalive(engine, sis_imports, import_id, settings.heartbeat_seconds):
        state = run_import(engine, storage, settings, import_id, progress)
    return import_id, state


def copy_root_setup(source: Engine, target: Engine, root_id: int) -> None:
    """Give ``target`` the root account ``root_id`` of ``source`` with what SIS files cannot
    carry: its settings (time zone, pronouns), its roles (and the built-in ones) and its
    authentication providers, with the same ids. A fresh instance prepared so can take the
    SIS export of ``source`` and export it again identically (docs/sis-import.md)."""
    from sqlalchemy import insert, select

    from reportcard.db.tables import accounts, authentication_providers, roles

    with source.connect() as conn:
        root = conn.execute(select(accounts).where(accounts.c.id == root_id)).one()
        role_rows = conn.execute(
            select(roles)
            .where((roles.c.root_account_id == root_id) | roles.c.root_account_id.is_(None))
            .order_by(roles.c.id)
        ).all()
        providers = conn.execute(
            select(authentication_providers)
            .where(authentication_providers.c.root_account_id == root_id)
            .order_by(authentication_providers.c.id)
        ).all()
    with target.begin() as conn:
        conn.execute(insert(accounts).values(**root._mapping))
        for row in role_rows:
            conn.execute(insert(roles).values(**row._mapping))
        for row in providers:
            conn.execute(insert(authentication_providers).values(**row._mapping))
