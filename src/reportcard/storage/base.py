"""The storage interface every backend implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import BinaryIO


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

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove ``key`` if present."""

    @abstractmethod
    def delete_prefix(self, prefix: str) -> None:
        """Remove every key under ``prefix``."""

    def local_path(self, key: str) -> str | None:
        """A filesystem path for ``key`` when the backend has one (lets the server sendfile)."""
        return None

    def presigned_url(self, key: str, filename: str, content_type: str) -> str | None:
        """A short-lived URL the client may fetch ``key`` from directly, when offered."""
        return None
