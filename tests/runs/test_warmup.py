"""A worker's warm-up: the catalog, the zones and their SQL offset tables, before any run."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, event

from reportcard.db.engine import dispose_all
from reportcard.reports.sqlformat import offset_segments
from reportcard.runs.lifecycle import get_run
from reportcard.runs.warmup import root_zones, warm_up
from reportcard.runs.worker import Worker
from reportcard.settings import Settings
from reportcard.storage.local import LocalStorage
from tests.factories import add_account
from tests.runs.sample import make_institution, sample_run


def test_warm_up_reads_the_offsets_of_every_root_accounts_zone(engine: Engine) -> None:
    with engine.begin() as conn:
        root = add_account(conn, "Root", uuid="r1", time_zone="Pacific/Chatham")
        add_account(conn, "Sub", uuid="s1", parent=root, root=root, time_zone="Asia/Kathmandu")
        add_account(conn, "Other root", uuid="r2", time_zone="Etc/UTC")
    offset_segments.cache_clear()
    assert root_zones(engine) == ["Etc/UTC", "Pacific/Chatham"]  # a sub-account's is not read
    assert warm_up(engine) == ["Etc/UTC", "Pacific/Chatham"]
    info = offset_segments.cache_info()
    assert (info.misses, info.currsize) == (1, 1)  # Chatham's; UTC has none
    offset_segments("Pacific/Chatham")
    assert offset_segments.cache_info().hits == info.hits + 1


def test_a_warm_up_that_fails_leaves_the_work_to_the_first_run(
    tmp_path: object, caplog: pytest.LogCaptureFixture
) -> None:
    bare = create_engine(f"sqlite:///{tmp_path}/empty.sqlite3")  # no tables at all
    try:
        with caplog.at_level(logging.WARNING, logger="reportcard.runs.warmup"):
            assert warm_up(bare) == []
        (record,) = caplog.records
        assert "no such table: accounts" in record.getMessage()
        assert record.exc_info is None  # one line in the worker's log, no traceback
    finally:
        bare.dispose()
        dispose_all()


def test_freeze_heap_freezes_the_process_once() -> None:
    code = (
        "import gc\n"
        "from reportcard.runs.warmup import freeze_heap\n"
        "assert gc.get_freeze_count() == 0\n"
        "freeze_heap()\n"
        "frozen = gc.get_freeze_count()\n"
        "assert frozen > 0\n"
        "gc.unfreeze()\n"
        "freeze_heap()\n"  # the second call does nothing
        "assert gc.get_freeze_count() == 0\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.stdout.strip() == "ok", out.stderr


def test_after_the_warm_up_a_first_run_compiles_nothing(engine: Engine, tmp_path: Path) -> None:
    """The run machinery's statements, its INSERTs, the run-ended listeners' reads and every
    declared part's bounds and rows are in the engine's compiled cache before the first run
    (``prime_statements``, ``runs.prime``): the first run of a part compiles none of them."""
    with engine.begin() as conn:
        root = make_institution(conn, 10)
    assert warm_up(engine) == ["America/Denver"]
    worker = Worker(engine, LocalStorage(tmp_path / "files"), Settings(data_dir=tmp_path))
    while worker.step():  # the idle steps a started worker takes before any run
        pass
    with engine.begin() as conn:
        run_id = sample_run(conn, root)
    compiled: list[str] = []

    def record(
        conn: object, cursor: object, statement: str, params: object, context: Any, *a: object
    ) -> None:
        if context is not None and context.cache_hit == engine.dialect.CACHE_MISS:
            compiled.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", record)
    try:
        while worker.step():
            pass
    finally:
        event.remove(engine, "before_cursor_execute", record)
    with engine.connect() as conn:
        assert get_run(conn, run_id).workflow_state == "complete"
    assert compiled == []
