"""The backends under test: every storage backend, built by name from its settings.

``s3_endpoint`` is moto's S3 server on loopback (the real S3 protocol, not a mock object), one
per module, holding the bucket ``reports``. ``backend_settings`` gives each backend's settings
for a test (an S3 key prefix of its own, so tests sharing the server never see each other's
keys); ``storage`` is parametrized over every name in ``reportcard.storage.BACKENDS``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

from reportcard.settings import Settings
from reportcard.storage import BACKENDS, Storage, storage_from_settings
from tests.serving import HOST, free_port

CREDS = {"access_key_id": "testing", "secret_access_key": "testing", "region": "us-east-1"}
BUCKET = "reports"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address=HOST, port=port, verbose=False)
    server.start()
    endpoint = f"http://{HOST}:{port}"
    boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    ).create_bucket(Bucket=BUCKET)
    yield endpoint
    server.stop()


def s3_settings(tmp_path: Path, endpoint: str, **values: object) -> Settings:
    """Settings of the ``s3`` backend on moto's server, under a key prefix of their own."""
    return Settings(
        data_dir=tmp_path,
        storage_backend="s3",
        s3_bucket=BUCKET,
        s3_prefix=f"t-{uuid.uuid4().hex[:8]}",
        s3_endpoint_url=endpoint,
        s3_access_key_id=CREDS["access_key_id"],
        s3_secret_access_key=CREDS["secret_access_key"],
        s3_region=CREDS["region"],
        **values,  # type: ignore[arg-type]
    )


@pytest.fixture
def backend_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[..., Settings]:
    """``backend_settings(name, **values)``: the settings of backend ``name`` for this test."""

    def make(name: str, **values: object) -> Settings:
        if name == "s3":
            return s3_settings(tmp_path, request.getfixturevalue("s3_endpoint"), **values)
        return Settings(data_dir=tmp_path, storage_backend=name, **values)  # type: ignore[arg-type]

    return make


@pytest.fixture(params=sorted(BACKENDS))
def storage(request: pytest.FixtureRequest, backend_settings: Callable[..., Settings]) -> Storage:
    """Each test taking ``storage`` runs once on every backend."""
    return storage_from_settings(backend_settings(request.param))
