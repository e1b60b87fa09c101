"""Backends by name: REPORTCARD_STORAGE_BACKEND picks one, which reads its own settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from reportcard.settings import Settings
from reportcard.storage import BACKENDS, LocalStorage, storage_from_settings
from reportcard.storage.s3 import S3Storage


def test_the_backends_are_local_and_s3() -> None:
    assert sorted(BACKENDS) == ["local", "s3"]


def test_local_is_the_default_under_the_data_dir(tmp_path: Path) -> None:
    storage = storage_from_settings(Settings(data_dir=tmp_path))
    assert isinstance(storage, LocalStorage)
    assert storage.root == tmp_path.resolve() / "files"


def test_local_reads_the_storage_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REPORTCARD_STORAGE_BACKEND", "local")
    monkeypatch.setenv("REPORTCARD_STORAGE_DIR", str(tmp_path / "elsewhere"))
    storage = storage_from_settings(Settings(data_dir=tmp_path))
    assert isinstance(storage, LocalStorage)
    assert storage.root == tmp_path / "elsewhere"


def test_s3_reads_its_environment_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {
        "STORAGE_BACKEND": "s3",
        "S3_BUCKET": "bucket-1",
        "S3_PREFIX": "/tenant/",
        "S3_ENDPOINT_URL": "http://127.0.0.1:9",
        "S3_REGION": "eu-west-3",
        "S3_ACCESS_KEY_ID": "key-id",
        "S3_SECRET_ACCESS_KEY": "secret",
        "S3_MAX_ATTEMPTS": "7",
        "S3_PRESIGN_SECONDS": "60",
    }
    for name, value in env.items():
        monkeypatch.setenv(f"REPORTCARD_{name}", value)
    storage = storage_from_settings(Settings(data_dir=tmp_path))
    assert isinstance(storage, S3Storage)
    assert (storage.bucket, storage.prefix, storage.presign_seconds) == ("bucket-1", "tenant", 60)
    assert storage.client.meta.endpoint_url == "http://127.0.0.1:9"
    assert storage.client.meta.region_name == "eu-west-3"
    # botocore counts the first call too: max_attempts=7 retries 7 times, 8 calls in all
    assert storage.client.meta.config.retries == {"mode": "standard", "total_max_attempts": 8}
    credentials = storage.client._request_signer._credentials
    assert (credentials.access_key, credentials.secret_key) == ("key-id", "secret")


def test_s3_without_a_bucket_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="REPORTCARD_S3_BUCKET is required"):
        storage_from_settings(Settings(data_dir=tmp_path, storage_backend="s3"))


def test_an_unknown_backend_is_refused_with_the_known_names(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"'gcs' is not a storage backend \(one of: local, s3\)"):
        storage_from_settings(Settings(data_dir=tmp_path, storage_backend="gcs"))


def test_a_local_copy_is_a_link_to_the_same_file(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    with storage.open_write("runs/1/parts/000-00000.head.csv") as out:
        out.write(b"a\n1\n")
    storage.copy("runs/1/parts/000-00000.head.csv", "runs/1/x.csv")
    src, dst = (
        (tmp_path / "runs/1/parts/000-00000.head.csv").stat(),
        (tmp_path / "runs/1/x.csv").stat(),
    )
    assert (src.st_ino, src.st_nlink) == (dst.st_ino, 2)  # no byte copied
    assert sorted(p.name for p in (tmp_path / "runs/1").iterdir()) == ["parts", "x.csv"]
