"""A worker's warm-up: the catalog, the zones and their SQL offset tables, before any run."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest
from sqlalchemy import Engine, create_engine

from reportcard.db.engine import dispose_all
from reportcard.reports.sqlformat import offset_segments
from reportcard.runs.warmup import root_zones, warm_up
from tests.factories import add_account


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
