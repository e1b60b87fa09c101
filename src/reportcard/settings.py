"""The one place configuration is read: environment variables prefixed ``REPORTCARD_``."""

from __future__ import annotations

import json
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
    storage_backend: str = Field(
        "local",
        description="Where report files live: a backend of reportcard.storage.BACKENDS by name"
        " (local: a directory; s3: S3-compatible object storage).",
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
    zip_level: int = Field(
        1,
        ge=0,
        le=9,
        description="Deflate level of a zipped report's entries (0 stores, 9 is smallest;"
        " 1, the default, costs a third of 6's CPU for about a fifth more bytes).",
    )
    heartbeat_seconds: float = Field(
        5.0, gt=0, description="How often a worker marks the shard it holds as alive."
    )
    stale_seconds: float = Field(
        60.0, gt=0, description="A shard whose heartbeat is older than this is retried."
    )
    max_attempts: int = Field(3, ge=1, description="Attempts at one shard before the run errors.")
    poll_seconds: float = Field(0.5, gt=0, description="Idle worker poll interval.")
    pg_notify: bool = Field(
        True,
        description="PostgreSQL, embedded queue: a new run or new shards wake the workers of "
        "every process at once (LISTEN/NOTIFY); off: other processes' workers find work at "
        "their next poll.",
    )
    status_fast_path: bool = Field(
        True,
        description="Answer successful status polls below the framework, in one query.",
    )
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
    sis_import_max_line_chars: int = Field(
        1 << 20,
        ge=1,
        description="Longest CSV record (characters) a SIS import may hold; bounds the memory "
        "one upload can take whatever its shape.",
    )
    sis_import_max_files: int = Field(
        1000, ge=1, description="Most entries a SIS import zip may hold."
    )
    sis_import_batch_rows: int = Field(
        5000, ge=1, description="CSV rows the SIS import applies in one transaction."
    )

    public_url: str = Field(
        "",
        description="Base URL of this server for links in emails and webhooks; "
        "empty: http://127.0.0.1:8000.",
    )
    schedule_poll_seconds: float = Field(
        30.0, gt=0, description="How often each worker process looks for due schedules."
    )
    webhook_poll_seconds: float = Field(
        5.0, gt=0, description="How often each worker process sends due webhook deliveries."
    )
    webhook_max_attempts: int = Field(
        8, ge=1, description="Attempts at one webhook delivery before it is marked failed."
    )
    webhook_retry_seconds: float = Field(
        30.0, gt=0, description="Wait before the 2nd webhook attempt; doubles each time (max 6 h)."
    )
    webhook_timeout_seconds: float = Field(
        10.0, gt=0, description="Timeout of one webhook POST (connect and read)."
    )
    webhook_allowed_hosts: str = Field(
        "",
        description="Comma-separated hosts, IPs or CIDR networks webhooks may reach even though "
        "they are loopback, private or link-local.",
    )

    ui_cookie_secure: bool = Field(
        True,
        description="Mark the Reports page's session cookie Secure (HTTPS, or loopback); "
        "false only for plain HTTP to another address.",
    )
    ui_session_hours: float = Field(
        12.0, gt=0, description="A Reports page sign-in lasts this long without use."
    )
    ui_session_max_hours: float = Field(
        168.0, gt=0, description="A Reports page sign-in ends this long after it began."
    )
    ui_csv_bom: bool = Field(
        True, description="UI downloads of CSV files (and CSV entries of zips) start with a BOM."
    )
    ui_formula_safety: bool = Field(
        True,
        description="UI downloads prefix cells starting with = + - @ tab or CR with a quote.",
    )
    api_formula_safety: bool = Field(
        False,
        description="API downloads of CSV files (and zips of CSVs) get the same formula "
        "neutralisation; off: byte-identical files, as Canvas.",
    )

    # ---- delivery: email (docs/delivery.md); public_url above gives the links' address
    smtp_host: str = Field(
        "", description="SMTP server for report emails; empty: mail stays in the outbox."
    )
    smtp_port: int = Field(
        0, ge=0, le=65535, description="SMTP port; 0: 25, 587 (starttls) or 465 (tls)."
    )
    smtp_security: Literal["none", "starttls", "tls"] = Field(
        "none", description="none (plain), starttls (upgrade), or tls (TLS from the start)."
    )
    smtp_username: str = Field("", description="SMTP login; empty: no authentication.")
    smtp_password: str = Field("", description="SMTP password (with smtp_username).")
    smtp_sender: str = Field(
        "reportcard@localhost", description="The From address of report emails."
    )
    smtp_timeout: float = Field(10.0, gt=0, description="Seconds to wait on the SMTP server.")
    mail_interval_seconds: float = Field(
        10.0, gt=0, description="How often each worker process delivers due emails."
    )
    mail_max_attempts: int = Field(
        20, ge=1, description="Delivery attempts before an email is marked failed."
    )
    mail_retry_seconds: float = Field(
        60.0, gt=0, description="First retry delay of an email; doubles each time, up to 1 h."
    )
    # ---- delivery: retention (docs/delivery.md)
    retention_days: float = Field(
        30.0, ge=0, description="Days a finished run's file is kept; 0 keeps files forever."
    )
    retention_days_by_report: str = Field(
        "",
        description="Per-report overrides: 'type=days,...' or a JSON object {type: days}.",
    )
    retention_interval_seconds: float = Field(
        3600.0, gt=0, description="How often each worker process runs the retention sweep."
    )

    @field_validator("retention_days_by_report", mode="after")
    @classmethod
    def _retention_overrides(cls, v: str) -> str:
        parse_overrides(v)  # raises ValueError on a malformed list
        return v

    # ---- hardening: links, limits (SECURITY.md, docs/configuration.md)
    link_secret: str = Field(
        "",
        description="Extra key mixed into signed download links; the same on every server "
        "process. Changing it invalidates links already handed out.",
    )
    download_link_seconds: int = Field(
        86400, ge=1, description="A file's signed download link stays valid this long."
    )
    download_uuid_verifier: bool = Field(
        False,
        description="Also accept Canvas's bare attachment-uuid verifier (links never expire).",
    )
    max_body_bytes: int = Field(
        1 << 20,
        ge=1,
        description="Largest request body accepted (413 beyond); SIS import uploads have "
        "sis_import_max_bytes instead.",
    )
    report_start_rate: float = Field(
        10.0,
        ge=0,
        description="Reports one token may start per minute on average (429 beyond); 0: no limit.",
    )
    report_start_burst: int = Field(
        20, ge=1, description="Reports one token may start in a burst before the rate applies."
    )
    max_queued_runs: int = Field(
        50,
        ge=0,
        description="Most created or running report runs of one account (429 beyond); 0: no limit.",
    )
    max_run_seconds: float = Field(
        21600.0,
        ge=0,
        description="A run executing longer than this ends in error; 0: no limit.",
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


def parse_overrides(text: str) -> dict[str, float]:
    """``retention_days_by_report``: ``"provisioning_csv=7,grade_export_csv=90"`` or
    ``{"provisioning_csv": 7}``, as report type -> days."""
    text = text.strip()
    if not text:
        return {}
    if text.startswith("{"):
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("retention_days_by_report must be a JSON object")
        items = list(data.items())
    else:
        items = []
        for pair in text.split(","):
            if not pair.strip():
                continue
            name, sep, days = pair.partition("=")
            if not sep:
                raise ValueError(f"retention_days_by_report: expected type=days, got {pair!r}")
            items.append((name, days))
    out: dict[str, float] = {}
    for name, days in items:
        value = float(days)
        if value < 0 or value != value:
            raise ValueError(f"retention_days_by_report: bad number of days for {name!r}")
        out[str(name).strip()] = value
    return out


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
