"""A full disk: the run says so, leaves nothing behind, and the next run has its space back.

The storage directory is a real, small tmpfs (mounting one needs root, as on the development
machine and in the project's CI container; the test is skipped elsewhere). It used to be that
after one disk-full failure the parts and ``*.tmp-*`` files stayed, free space stayed at zero,
every later run failed too, and the run said only ``ErrorReport:<id>``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from reportcard.runs.inline import run_report
from reportcard.settings import Settings
from reportcard.storage.local import LocalStorage
from tests.runs.sample import SAMPLE, make_institution
from tests.storage.invariant import assert_storage_clean, stored_keys

SIZE = 256 * 1024  # the sample report of 8,000 users is about 420 KB


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "small-disk"
    mount.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={SIZE}", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace')}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def free_bytes(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def test_a_full_disk_fails_the_run_with_the_reason_and_frees_the_space(
    engine: Engine, tmp_path: Path, small_disk: Path
) -> None:
    storage = LocalStorage(small_disk / "files")
    settings = Settings(data_dir=tmp_path, shard_rows=2000, max_attempts=2)
    with engine.begin() as conn:
        big = make_institution(conn, 8000, name="Big U")
        small = make_institution(conn, 20, name="Small U")
    empty = free_bytes(small_disk)
    run = run_report(engine, storage, settings, account_id=big, report_type=SAMPLE)
    assert run.workflow_state == "error"
    assert run.message == "Generating the report, Framework Sample Csv, failed."
    assert run.parameters["extra_text"] == (
        "Failed, the report file could not be written: No space left on device. Please report "
        f"the following error code to your system administrator: ErrorReport:{run.id};"
    )
    assert "No space left on device" in (run.error_detail or "")
    # Nothing of the failed run is left: no part, no temp file; the space is free again.
    assert stored_keys(storage) == []
    assert free_bytes(small_disk) == empty
    assert_storage_clean(engine, storage)
    # So the next run, which fits, completes.
    after = run_report(engine, storage, settings, account_id=small, report_type=SAMPLE)
    assert after.workflow_state == "complete"
    assert_storage_clean(engine, storage)
