"""Where report files live: a local directory (default); object storage when scaled out."""

from __future__ import annotations

from reportcard.settings import Settings
from reportcard.storage.base import Storage
from reportcard.storage.local import LocalStorage


def storage_from_settings(settings: Settings) -> Storage:
    """The configured backend: ``local`` (default) or ``s3``."""
    if settings.storage_backend == "s3":
        from reportcard.storage.s3 import S3Storage

        if not settings.s3_bucket:
            raise ValueError("REPORTCARD_S3_BUCKET is required with REPORTCARD_STORAGE_BACKEND=s3")
        return S3Storage(
            settings.s3_bucket,
            prefix=settings.s3_prefix,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=settings.s3_secret_access_key,
            max_attempts=settings.s3_max_attempts,
            presign_seconds=settings.s3_presign_seconds,
        )
    return LocalStorage(settings.resolved_storage_dir)


__all__ = ["LocalStorage", "Storage", "storage_from_settings"]
