"""Report files in S3-compatible object storage (AWS S3, MinIO, Ceph, ...), through boto3.

Writes are spooled to a local temporary file and uploaded when closed (multipart for big
files), so an object appears whole or not at all. Every call is retried by botocore's standard
retry mode; a write that still fails raises, and the shard or compile that made it is retried
by the framework and then ends its run in ``error`` with the reason.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from datetime import UTC
from typing import Any, BinaryIO

from reportcard.settings import Settings
from reportcard.storage.atomic import AtomicWriter
from reportcard.storage.base import Storage, StoredFile


class _Upload(AtomicWriter):
    """A local spool uploaded to ``key`` on a clean close; discarded after an exception."""

    def __init__(self, storage: S3Storage, key: str) -> None:
        self.storage = storage
        self.key = storage.full_key(key)  # validates before anything is written
        super().__init__(tempfile.TemporaryFile())  # noqa: SIM115 - closed in close()/abort()

    def _publish(self) -> None:
        self.fh.seek(0)
        self.storage.client.upload_fileobj(self.fh, self.storage.bucket, self.key)


class _Download:
    """The streaming body of an object, usable as a context manager."""

    def __init__(self, body: Any) -> None:
        self.body = body

    def read(self, n: int = -1) -> bytes:
        data: bytes = self.body.read() if n is None or n < 0 else self.body.read(n)
        return data

    def close(self) -> None:
        self.body.close()

    def __enter__(self) -> _Download:
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()


class S3Storage(Storage):
    def __init__(
        self,
        bucket: str,
        *,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        max_attempts: int = 5,
        presign_seconds: int = 0,
    ) -> None:
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.presign_seconds = presign_seconds
        self.client = boto3.client(
            "s3",
            endpoint_url=endpoint_url or None,
            region_name=region or None,
            aws_access_key_id=access_key_id or None,
            aws_secret_access_key=secret_access_key or None,
            config=Config(
                retries={"mode": "standard", "max_attempts": max_attempts},
                connect_timeout=5,
                read_timeout=60,
            ),
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> S3Storage:
        """The ``s3`` backend, from the ``REPORTCARD_S3_*`` settings (the bucket is required)."""
        if not settings.s3_bucket:
            raise ValueError("REPORTCARD_S3_BUCKET is required with REPORTCARD_STORAGE_BACKEND=s3")
        return cls(
            settings.s3_bucket,
            prefix=settings.s3_prefix,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=settings.s3_secret_access_key,
            max_attempts=settings.s3_max_attempts,
            presign_seconds=settings.s3_presign_seconds,
        )

    def full_key(self, key: str) -> str:
        if ".." in key.split("/") or key.startswith("/"):
            raise ValueError(f"invalid storage key: {key!r}")
        return f"{self.prefix}/{key}" if self.prefix else key

    def open_write(self, key: str) -> BinaryIO:
        return _Upload(self, key)  # type: ignore[return-value]

    def open_read(self, key: str) -> BinaryIO:
        from botocore.exceptions import ClientError

        try:
            obj = self.client.get_object(Bucket=self.bucket, Key=self.full_key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise FileNotFoundError(key) from exc
            raise
        return _Download(obj["Body"])  # type: ignore[return-value]

    def copy(self, src: str, dst: str) -> None:
        """A server-side copy (``CopyObject``, in parts past boto3's multipart threshold)."""
        from botocore.exceptions import ClientError

        source = {"Bucket": self.bucket, "Key": self.full_key(src)}
        try:
            self.client.copy(source, self.bucket, self.full_key(dst))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                raise FileNotFoundError(src) from exc
            raise

    def _head(self, key: str) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        try:
            head: dict[str, Any] = self.client.head_object(
                Bucket=self.bucket, Key=self.full_key(key)
            )
            return head
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise

    def size(self, key: str) -> int:
        head = self._head(key)
        if head is None:
            raise FileNotFoundError(key)
        return int(head["ContentLength"])

    def exists(self, key: str) -> bool:
        return self._head(key) is not None

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.full_key(key))

    def delete_prefix(self, prefix: str) -> None:
        full = self.full_key(prefix.rstrip("/")) + "/"
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=full):
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if keys:
                self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": keys})

    def list(self, prefix: str = "") -> Iterator[StoredFile]:
        base = f"{self.prefix}/" if self.prefix else ""
        # A prefix is whole path segments, as a folder of the local backend: ``runs/1`` is run
        # 1's folder (or a key of that name), never ``runs/10/...``.
        stem = prefix.strip("/")
        exact = self.full_key(stem) if stem else None
        full = exact + "/" if exact else base
        paginator = self.client.get_paginator("list_objects_v2")
        pages = [paginator.paginate(Bucket=self.bucket, Prefix=full)]
        if exact:  # the key itself, when ``prefix`` names one
            pages.insert(0, paginator.paginate(Bucket=self.bucket, Prefix=exact, Delimiter="/"))
        for page in (p for paginated in pages for p in paginated):
            for obj in page.get("Contents", []):
                if exact and obj["Key"] != exact and not obj["Key"].startswith(full):
                    continue
                modified = obj["LastModified"]
                if modified.tzinfo is not None:
                    modified = modified.astimezone(UTC).replace(tzinfo=None)
                yield StoredFile(obj["Key"][len(base) :], int(obj["Size"]), modified)

    def presigned_url(self, key: str, filename: str, content_type: str) -> str | None:
        if self.presign_seconds <= 0:
            return None
        url: str = self.client.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self.bucket,
                "Key": self.full_key(key),
                "ResponseContentType": content_type,
                "ResponseContentDisposition": f'attachment; filename="{filename}"',
            },
            ExpiresIn=self.presign_seconds,
        )
        return url
