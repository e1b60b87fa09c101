"""The storage interface every backend implements."""

from __future__ import annotations

import shutil
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO


@dataclass(frozen=True)
class StoredFile:
    """One key in storage, its size and when it was last written (naive UTC)."""

    key: str
    size: int
    modified: datetime


class Storage(ABC):
    """A flat namespace of keys (``runs/12/parts/0-0.csv``) holding bytes."""

    @abstractmethod
    def open_write(self, key: str) -> BinaryIO:
        """A binary file to write ``key``; the object appears atomically when it is closed."""

    @abstractmethod
    def open_read(self, key: str) -> BinaryIO:
        """The bytes of ``key``; FileNotFoundError when missing."""

    @abstractmethod
    def size(self, key: str) -> int: ...

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    def copy(self, src: str, dst: str) -> None:
        """``dst`` becomes an object with ``src``'s bytes, atomically (``src`` stays).

        This default streams the bytes through ``open_write``; a backend may do better (the
        local backend links the file: no byte is copied; S3 copies on the server).
        FileNotFoundError when ``src`` is missing.
        """
        with self.open_read(src) as data, self.open_write(dst) as out:
            shutil.copyfileobj(data, out, 1 << 20)

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove ``key`` if present."""

    @abstractmethod
    def delete_prefix(self, prefix: str) -> None:
        """Remove every key under ``prefix``."""

    @abstractmethod
    def list(self, prefix: str = "") -> Iterator[StoredFile]:
        """Every key under ``prefix`` (``runs/``), unfinished writes included.

        A write still in progress may show up under a name of its own (the local backend's
        ``<key>.tmp-<pid>-<n>``): the storage sweep (``runs/orphans.py``) removes such files
        once they are older than its grace period.
        """

    def local_path(self, key: str) -> str | None:
        """A filesystem path for ``key`` when the backend has one (lets the server sendfile)."""
        return None

    def presigned_url(self, key: str, filename: str, content_type: str) -> str | None:
        """A short-lived URL the client may fetch ``key`` from directly, when offered."""
        return None
