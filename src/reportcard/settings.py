"""The one place configuration is read: environment variables prefixed ``REPORTCARD_``."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every setting, its default and its meaning (docs/configuration.md lists them all)."""

    model_config = SettingsConfigDict(env_prefix="REPORTCARD_", extra="ignore")

    data_dir: Path = Field(
        Path("./var"), description="Directory for the SQLite database and files."
    )
    database_url: str = Field(
        "",
        description="SQLAlchemy URL of the database; default: an SQLite file in data_dir.",
    )
    storage_backend: Literal["local", "s3"] = Field(
        "local", description="Where report files live: a local directory or S3."
    )
    s3_bucket: str = Field("", description="S3 bucket for report files (storage_backend=s3).")
    s3_prefix: str = Field("reportcard", description="Key prefix inside the bucket.")
    s3_endpoint_url: str = Field(
        "", description="S3 endpoint URL for MinIO, Ceph, etc.; empty: AWS."
    )
    s3_region: str = Field("", description="S3 region; empty: boto3's default.")
    s3_access_key_id: str = Field("", description="S3 access key; empty: boto3's chain.")
    s3_secret_access_key: str = Field("", description="S3 secret key; empty: boto3's chain.")
    s3_max_attempts: int = Field(5, ge=1, description="Attempts per S3 call (botocore retries).")
    s3_presign_seconds: int = Field(
        300,
        ge=0,
        description="Downloads redirect to a presigned URL valid this long; 0: stream instead.",
    )
    storage_dir: Path | None = Field(
        None, description="Directory for report files; default: <data_dir>/files."
    )
    queue: Literal["embedded", "celery"] = Field(
        "embedded",
        description="embedded: worker threads poll the database; celery: a Celery broker.",
    )
    broker_url: str = Field(
        "redis://127.0.0.1:6379/0",
        description="Celery broker (redis://... or amqp://...) when queue=celery.",
    )
    queue_prefix: str = Field(
        "reportcard",
        description="Celery queue names are <prefix>.short and <prefix>.long.",
    )
    long_report_rows: int = Field(
        500_000,
        ge=1,
        description="Runs planned with at least this many rows go to the long Celery queue.",
    )
    extra_report_modules: str = Field(
        "",
        description="Comma-separated Python modules whose import registers more reports.",
    )
    workers: int = Field(2, ge=0, description="Embedded worker threads started by `serve`.")
    concurrency_per_root: int = Field(
        2, ge=1, description="Most runs of one root account executing at once."
    )
    shard_rows: int = Field(
        250_000, ge=1, description="Target number of driving-table rows in one shard."
    )
    heartbeat_seconds: float = Field(
        5.0, gt=0, description="How often a worker marks the shard it holds as alive."
    )
    stale_seconds: float = Field(
        60.0, gt=0, description="A shard whose heartbeat is older than this is retried."
    )
    max_attempts: int = Field(3, ge=1, description="Attempts at one shard before the run errors.")
    poll_seconds: float = Field(0.5, gt=0, description="Idle worker poll interval.")
    duplicate_window_hours: float = Field(
        12.0,
        ge=0,
        description="Canvas's 409 duplicate guard window; 0 turns the guard off.",
    )
    sis_import_max_bytes: int = Field(
        1 << 30, ge=1, description="Largest SIS import upload (CSV or zip) accepted, in bytes."
    )
    sis_import_max_unpacked_bytes: int = Field(
        8 << 30, ge=1, description="Most bytes the files of one SIS import zip may unpack to."
    )
    sis_import_max_ratio: int = Field(
        100, ge=1, description="Most a SIS import zip may unpack to, as a multiple of its size."
    )
    sis_import_max_files: int = Field(
        1000, ge=1, description="Most entries a SIS import zip may hold."
    )
    sis_import_batch_rows: int = Field(
        5000, ge=1, description="CSV rows the SIS import applies in one transaction."
    )

    @field_validator("data_dir", mode="after")
    @classmethod
    def _absolute(cls, v: Path) -> Path:
        return v.expanduser().resolve()

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'reportcard.sqlite3'}"

    @property
    def resolved_storage_dir(self) -> Path:
        return (self.storage_dir or self.data_dir / "files").expanduser().resolve()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
