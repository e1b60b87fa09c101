"""The queue side: abort between batches, the reaper, one import at a time per root."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine, update

from reportcard.clock import utcnow
from reportcard.db.sis_import_tables import sis_imports
from reportcard.db.tables import accounts
from reportcard.lms.sis_import.job import abort_import, claim_next, create_import, reap, run_import
from reportcard.settings import Settings
from reportcard.storage.local import LocalStorage
from tests.lms.sis_import.helpers import rows

ACCOUNTS = "account_id,parent_account_id,name,status\n" + "".join(
    f"A{i},,Account {i},active\n" for i in range(10)
)


def _stored(engine: Engine, tmp_path: Path, state: str = "importing") -> tuple[int, LocalStorage]:
    storage = LocalStorage(tmp_path / "files")
    with storage.open_write("up/a.csv") as fh:
        fh.write(ACCOUNTS.encode())
    with engine.begin() as conn:
        import_id = create_import(
            conn,
            account_id=1,
            user_id=None,
            upload_key="up/a.csv",
            upload_name="a.csv",
            upload_size=len(ACCOUNTS),
            state=state,
        )
    return import_id, storage


def test_abort_stops_at_the_next_batch_and_rolls_it_back(db: Engine, tmp_path: Path) -> None:
    import_id, storage = _stored(db, tmp_path)
    settings = Settings(data_dir=tmp_path, sis_import_batch_rows=3)
    seen: list[int] = []

    def progress(done: int, total: int, file: str) -> None:
        seen.append(done)
        if done == 3:
            with db.begin() as conn:
                assert abort_import(conn, import_id)

    assert run_import(db, storage, settings, import_id, progress) == "aborted"
    assert seen == [3]
    # The first batch stays (committed before the abort); the second was rolled back whole.
    assert rows(db, accounts, "sis_source_id", accounts.c.id > 1) == [("A0",), ("A1",), ("A2",)]
    with db.connect() as conn:
        imp = conn.execute(sis_imports.select()).one()
    assert (imp.workflow_state, imp.progress, imp.data["counts"]["accounts"]) == ("aborted", 100, 3)


def test_reaper_and_one_import_at_a_time(db: Engine, tmp_path: Path) -> None:
    first, _ = _stored(db, tmp_path, state="created")
    second, _ = _stored(db, tmp_path, state="created")
    assert claim_next(db, "w1") == first
    assert claim_next(db, "w2") is None  # the root account already has one importing
    settings = Settings(data_dir=tmp_path, stale_seconds=10, max_attempts=2)
    assert reap(db, settings) == 0
    old = utcnow() - timedelta(seconds=60)
    with db.begin() as conn:
        conn.execute(update(sis_imports).where(sis_imports.c.id == first).values(heartbeat_at=old))
    assert reap(db, settings) == 1  # back to created, attempt 1 of 2
    assert claim_next(db, "w3") == first
    with db.begin() as conn:
        conn.execute(update(sis_imports).where(sis_imports.c.id == first).values(heartbeat_at=old))
    assert reap(db, settings) == 1  # out of attempts: failed
    with db.connect() as conn:
        states = dict(
            conn.execute(
                sis_imports.select().with_only_columns(
                    sis_imports.c.id, sis_imports.c.workflow_state
                )
            ).all()
        )
    assert states == {first: "failed", second: "created"}
    assert claim_next(db, "w4") == second
