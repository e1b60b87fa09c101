"""Where report files live: a local directory (default); object storage when scaled out."""

from __future__ import annotations

from reportcard.settings import Settings
from reportcard.storage.base import Storage
from reportcard.storage.local import LocalStorage


def storage_from_settings(settings: Settings) -> Storage:
    return LocalStorage(settings.resolved_storage_dir)


__all__ = ["LocalStorage", "Storage", "storage_from_settings"]
