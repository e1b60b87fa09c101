"""SIS uploads are not kept: a finished import's upload (``password`` column and all) is gone,
and its errors file falls under retention. Each test ends with the storage invariant.

Uploads used to stay in storage forever, plaintext passwords included, although the docs say
passwords are "accepted and discarded".
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from sqlalchemy import Engine, select

from reportcard.clock import utcnow
from reportcard.db.engine import dispose_all, make_engine
from reportcard.db.sis_import_tables import sis_imports
from reportcard.db.tables import attachments
from reportcard.lms.sis_import.job import abort_import, create_import, upload_key
from reportcard.runs.housekeeping import run_all
from reportcard.runs.orphans import grace
from reportcard.runs.retention import sweep_sis_errors
from reportcard.settings import Settings
from reportcard.storage.local import LocalStorage
from tests.api.conftest import build_world
from tests.databases import drop_database, fresh_database_url
from tests.lms.sis_import.helpers import ROOT, do_import
from tests.patience import ANSWER, PATIENCE
from tests.serving import serving_reportcard
from tests.storage.invariant import assert_storage_clean, stored_keys

SECRET = "Tr0ub4dor&3-never-stored"
USERS = "user_id,login_id,full_name,password,status\n"


def files_holding(root: Path, text: str) -> list[str]:
    """Every file under ``root`` whose bytes contain ``text``."""
    found = []
    for folder, _dirs, names in os.walk(root):
        for name in names:
            path = Path(folder) / name
            if text.encode() in path.read_bytes():
                found.append(str(path.relative_to(root)))
    return found


def test_a_finished_import_keeps_no_upload_and_no_password(db: Engine, tmp_path: Path) -> None:
    files = tmp_path / "files"
    result = do_import(db, files, USERS + f"U1,ursula,Ursula U,{SECRET},active\n")
    assert (result.state, result.messages) == ("imported", [])
    assert stored_keys(LocalStorage(files)) == []
    assert files_holding(tmp_path, SECRET) == []  # the storage, and the database file too
    assert list((files / "sis-import-work").iterdir()) == []  # the unpacked files went too
    assert_storage_clean(db, LocalStorage(files))


def test_errors_files_stay_until_retention_then_answer_expired(db: Engine, tmp_path: Path) -> None:
    files = tmp_path / "files"
    storage = LocalStorage(files)
    result = do_import(db, files, USERS + f"U1,,No Login,{SECRET},active\n")
    assert result.state == "imported_with_messages"
    key = f"sis_imports/{result.id}/sis_errors_attachment_{result.id}.csv"
    assert stored_keys(storage) == [key]  # the errors file only: the upload is gone
    assert_storage_clean(db, storage)
    settings = Settings(data_dir=tmp_path, retention_days=7)
    assert sweep_sis_errors(db, storage, settings, utcnow() + timedelta(days=6)) == []
    assert stored_keys(storage) == [key]
    assert sweep_sis_errors(db, storage, settings, utcnow() + timedelta(days=7, hours=1)) == [
        result.id
    ]
    assert stored_keys(storage) == []
    with db.connect() as conn:
        state = conn.execute(
            select(attachments.c.workflow_state)
            .select_from(
                sis_imports.join(
                    attachments, attachments.c.id == sis_imports.c.errors_attachment_id
                )
            )
            .where(sis_imports.c.id == result.id)
        ).scalar_one()
    assert state == "expired"
    assert_storage_clean(db, storage)


def test_the_upload_of_an_import_aborted_before_it_ran_is_swept(db: Engine, tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "files")
    settings = Settings(data_dir=tmp_path)
    key = upload_key("users.csv")
    with storage.open_write(key) as out:
        out.write((USERS + f"U1,ursula,Ursula U,{SECRET},active\n").encode())
    with db.begin() as conn:
        import_id = create_import(
            conn,
            account_id=ROOT,
            user_id=None,
            upload_key=key,
            upload_name="users.csv",
            upload_size=storage.size(key),
        )
    assert_storage_clean(db, storage)  # a queued import's upload is live
    run_all(db, storage, settings, utcnow() + grace(settings) + timedelta(seconds=1))
    assert storage.exists(key)  # still queued: kept, however old
    with db.begin() as conn:
        assert abort_import(conn, import_id)
    run_all(db, storage, settings, utcnow() + grace(settings) + timedelta(seconds=1))
    assert not storage.exists(key)
    assert_storage_clean(db, storage)


# ------------------------------------------------------------------ through the API
@dataclass
class Server:
    base: str
    engine: Engine
    files: Path
    token: str
    root: int


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp: Path = tmp_path_factory.mktemp("sis-uploads")
    url = fresh_database_url(tmp)
    settings = Settings(data_dir=tmp, database_url=url, poll_seconds=0.05)
    engine = make_engine(url)
    made = build_world(engine)
    try:
        with serving_reportcard(settings, workers=1) as base:
            yield Server(
                base,
                engine,
                settings.resolved_storage_dir,
                made["tokens"]["admin"],  # type: ignore[index]
                int(made["root"]),  # type: ignore[call-overload]
            )
    finally:
        dispose_all()
        drop_database(url)


def test_an_api_upload_with_passwords_is_not_kept(server: Server) -> None:
    url = f"{server.base}/api/v1/accounts/{server.root}/sis_imports"
    auth = {"Authorization": f"Bearer {server.token}"}
    body = (USERS + f"APIU1,apiursula,Api Ursula,{SECRET},active\n").encode()
    r = requests.post(
        url, headers=auth, files={"attachment": ("users.csv", body, "text/csv")}, timeout=20
    )
    assert r.status_code == 200, r.text
    import_id = r.json()["id"]
    deadline = time.monotonic() + PATIENCE
    while True:
        done = requests.get(f"{url}/{import_id}", headers=auth, timeout=ANSWER).json()
        if done["workflow_state"] not in ("created", "importing"):
            break
        assert time.monotonic() < deadline, done
        time.sleep(0.05)
    assert done["workflow_state"] == "imported", done
    assert done["data"]["counts"]["users"] == 1
    assert files_holding(server.files, SECRET) == []
    assert_storage_clean(server.engine, LocalStorage(server.files))


def test_the_work_directory_a_killed_import_left_is_removed_once_it_is_not_running(
    db: Engine, tmp_path: Path
) -> None:
    from sqlalchemy import update

    from reportcard.lms.sis_import.workdirs import sweep_work_dirs, work_root

    settings = Settings(data_dir=tmp_path / "instance")
    storage = LocalStorage(settings.resolved_storage_dir)
    key = upload_key("users.csv")
    with storage.open_write(key) as out:
        out.write((USERS + f"U1,ursula,Ursula U,{SECRET},active\n").encode())
    with db.begin() as conn:
        import_id = create_import(
            conn,
            account_id=ROOT,
            user_id=None,
            upload_key=key,
            upload_name="users.csv",
            upload_size=storage.size(key),
            state="importing",
        )
    # What a worker killed while applying the import leaves: its unpacked files.
    left = work_root(settings) / f"{import_id}-k1ll3d" / "files"
    left.mkdir(parents=True)
    (left / "users.csv").write_text(USERS + f"U1,ursula,Ursula U,{SECRET},active\n")
    later = utcnow() + grace(settings) + timedelta(seconds=1)
    assert sweep_work_dirs(db, storage, settings, later) == 0  # still importing: kept
    with db.begin() as conn:  # the reaper sends it back to created; it runs again
        conn.execute(
            update(sis_imports)
            .where(sis_imports.c.id == import_id)
            .values(workflow_state="created", worker_id=None)
        )
    assert sweep_work_dirs(db, storage, settings, utcnow()) == 0  # too recent
    run_all(db, storage, settings, later)
    assert files_holding(tmp_path, SECRET) == [f"instance/files/{key}"]  # the upload only
    assert_storage_clean(db, storage)
