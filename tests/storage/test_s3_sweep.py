"""The storage invariant on S3 (moto's server on loopback): listing, the sweep, stopped runs."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine

from reportcard.clock import utcnow
from reportcard.runs.housekeeping import run_all
from reportcard.runs.lifecycle import abort_run, get_run
from reportcard.runs.orphans import grace, sweep_orphans
from reportcard.settings import Settings
from reportcard.storage.s3 import S3Storage
from tests.runs.test_storage_faults import _compile_racing_an_abort, planned, run_shards
from tests.storage.conftest import CREDS
from tests.storage.invariant import assert_storage_clean, stored_keys


def fresh(endpoint: str) -> S3Storage:
    """An S3 storage under a prefix of its own (the bucket is shared by the module)."""
    return S3Storage(
        "reports",
        prefix=f"sweep-{uuid.uuid4().hex[:8]}",
        endpoint_url=endpoint,
        **CREDS,  # type: ignore[arg-type]
    )


def test_list_gives_keys_sizes_and_times_under_the_prefix(s3_endpoint: str) -> None:
    st = fresh(s3_endpoint)
    for key, data in [("runs/1/parts/000-00000.csv", b"ab\n"), ("sis_imports/x/u.csv", b"a\n")]:
        with st.open_write(key) as out:
            out.write(data)
    listed = {f.key: f.size for f in st.list()}
    assert listed == {"runs/1/parts/000-00000.csv": 3, "sis_imports/x/u.csv": 2}
    assert [f.key for f in st.list("runs/")] == ["runs/1/parts/000-00000.csv"]
    assert all(abs(f.modified - utcnow()) < timedelta(hours=1) for f in st.list())


def test_parts_of_an_aborted_run_are_swept_from_s3(
    engine: Engine, tmp_path: Path, s3_endpoint: str
) -> None:
    st = fresh(s3_endpoint)
    settings = Settings(data_dir=tmp_path, shard_rows=1000)
    run_id = planned(engine, st, settings, 2500)  # type: ignore[arg-type]
    run_shards(engine, st, run_id, 2)  # type: ignore[arg-type]
    assert len(stored_keys(st)) == 2
    with engine.begin() as conn:
        assert abort_run(conn, run_id)
    assert sweep_orphans(engine, st, settings, utcnow()) == []  # within the grace period
    run_all(engine, st, settings, utcnow() + grace(settings) + timedelta(seconds=1))
    assert stored_keys(st) == []
    assert_storage_clean(engine, st)


def test_an_abort_while_compiling_leaves_no_object(
    engine: Engine, tmp_path: Path, s3_endpoint: str
) -> None:
    st = fresh(s3_endpoint)
    settings = Settings(data_dir=tmp_path, shard_rows=1000)
    run_id = planned(engine, st, settings, 2500)  # type: ignore[arg-type]
    assert run_shards(engine, st, run_id, 3)  # type: ignore[arg-type]
    _compile_racing_an_abort(engine, st, run_id)  # type: ignore[arg-type]
    with engine.connect() as conn:
        assert get_run(conn, run_id).workflow_state == "aborted"
    assert stored_keys(st) == []
    assert_storage_clean(engine, st)
