"""S3 storage against moto's S3 server on loopback (``s3_endpoint``, tests/storage/conftest.py)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, select

from reportcard.db.tables import attachments
from reportcard.runs.inline import run_report
from reportcard.settings import Settings
from reportcard.storage import storage_from_settings
from reportcard.storage.s3 import S3Storage
from tests.patience import ANSWER
from tests.runs.sample import SAMPLE, make_institution
from tests.serving import free_port
from tests.storage.conftest import CREDS


def s3(endpoint: str, **kw: object) -> S3Storage:
    return S3Storage("reports", prefix="t", endpoint_url=endpoint, **CREDS, **kw)  # type: ignore[arg-type]


def test_write_read_size_delete(s3_endpoint: str) -> None:
    st = s3(s3_endpoint)
    with st.open_write("runs/1/parts/000-00000.csv") as out:
        out.write(b"a,b\n")
        out.write(b"1,2\n")
    assert st.exists("runs/1/parts/000-00000.csv")
    assert st.size("runs/1/parts/000-00000.csv") == 8
    with st.open_read("runs/1/parts/000-00000.csv") as src:
        assert src.read() == b"a,b\n1,2\n"
    st.delete_prefix("runs/1/parts")
    assert not st.exists("runs/1/parts/000-00000.csv")
    with pytest.raises(FileNotFoundError):
        st.open_read("runs/1/parts/000-00000.csv")
    with pytest.raises(ValueError):
        st.open_write("../escape")


def test_a_failed_write_leaves_no_object(s3_endpoint: str) -> None:
    st = s3(s3_endpoint)
    with pytest.raises(RuntimeError), st.open_write("half.csv") as out:
        out.write(b"partial")
        raise RuntimeError("the shard died")
    assert not st.exists("half.csv")


def test_a_report_run_on_s3_gives_the_same_bytes_as_local(
    engine: Engine, tmp_path: Path, s3_endpoint: str
) -> None:
    settings = Settings(
        data_dir=tmp_path,
        shard_rows=700,
        storage_backend="s3",
        s3_bucket="reports",
        s3_prefix="same-bytes",
        s3_endpoint_url=s3_endpoint,
        s3_access_key_id="testing",
        s3_secret_access_key="testing",
        s3_region="us-east-1",
    )
    remote = storage_from_settings(settings)
    assert isinstance(remote, S3Storage)
    local = storage_from_settings(Settings(data_dir=tmp_path))
    with engine.begin() as conn:
        root = make_institution(conn, 2000)
    params = {"logins": "1", "empty": "1"}
    a = run_report(engine, remote, settings, account_id=root, report_type=SAMPLE, parameters=params)
    b = run_report(engine, local, settings, account_id=root, report_type=SAMPLE, parameters=params)
    assert a.workflow_state == b.workflow_state == "complete"
    with engine.connect() as conn:
        keys = {
            r.id: r.storage_key
            for r in conn.execute(
                select(attachments).where(attachments.c.id.in_([a.attachment_id, b.attachment_id]))
            )
        }
    with (
        remote.open_read(keys[a.attachment_id]) as fa,
        local.open_read(keys[b.attachment_id]) as fb,
    ):
        za, zb = zipfile.ZipFile(io.BytesIO(fa.read())), zipfile.ZipFile(io.BytesIO(fb.read()))
    assert za.namelist() == zb.namelist() == ["logins.csv", "empty.csv"]
    for name in za.namelist():
        assert za.read(name) == zb.read(name)
    # the shard parts were cleaned up after compiling
    listed = remote.client.list_objects_v2(
        Bucket="reports", Prefix=f"same-bytes/runs/{a.id}/parts/"
    )
    assert listed.get("KeyCount", 0) == 0
    # a presigned URL downloads the object straight from the store
    url = remote.presigned_url(keys[a.attachment_id], "x.zip", "application/zip")
    assert url is not None
    fetched = httpx.get(url, timeout=ANSWER)
    assert fetched.status_code == 200
    assert fetched.headers["content-disposition"] == 'attachment; filename="x.zip"'


def test_storage_that_keeps_failing_ends_the_run_in_error(engine: Engine, tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    settings = Settings(data_dir=tmp_path, max_attempts=2)
    with engine.begin() as conn:
        root = make_institution(conn, 5)
    run = run_report(
        engine,
        s3(dead, max_attempts=2),
        settings,
        account_id=root,
        report_type=SAMPLE,
    )
    assert run.workflow_state == "error"
    assert run.progress == 100
    assert run.message == "Generating the report, Framework Sample Csv, failed."
    assert "Could not connect to the endpoint URL" in (run.error_detail or "")
