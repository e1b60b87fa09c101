"""Where report files live: a local directory (default); object storage when scaled out."""

from __future__ import annotations

from reportcard.storage.backends import BACKENDS, storage_from_settings
from reportcard.storage.base import Storage
from reportcard.storage.local import LocalStorage

__all__ = ["BACKENDS", "LocalStorage", "Storage", "storage_from_settings"]
