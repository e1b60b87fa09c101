"""Report files in a local directory; writes go to a temp name and are renamed on close."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from reportcard.settings import Settings
from reportcard.storage.atomic import AtomicWriter
from reportcard.storage.base import Storage, StoredFile


class _AtomicFile(AtomicWriter):
    """Writes to ``<path>.tmp-<pid>-<n>`` beside ``path`` and renames it onto ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}-{id(self)}")
        path.parent.mkdir(parents=True, exist_ok=True)
        super().__init__(open(self.tmp, "wb"))  # noqa: SIM115 - closed in close()/abort()

    def _publish(self) -> None:
        # Closing flushes the last buffered bytes: on a full disk this is where ENOSPC is
        # raised (and the temp file is then removed).
        self.fh.close()
        os.replace(self.tmp, self.path)

    def _remove_staging(self) -> None:
        self.tmp.unlink(missing_ok=True)


class LocalStorage(Storage):
    """Keys are paths under ``root``; nothing may escape it."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        # Resolved once: every key's path is checked against it (a run resolves a dozen).
        self._resolved = self.root.resolve()

    @classmethod
    def from_settings(cls, settings: Settings) -> LocalStorage:
        """The ``local`` backend: ``REPORTCARD_STORAGE_DIR`` (default ``<data_dir>/files``)."""
        return cls(settings.resolved_storage_dir)

    def _path(self, key: str) -> Path:
        path = (self._resolved / key).resolve()
        if self._resolved not in path.parents:
            raise ValueError(f"storage key escapes the storage root: {key!r}")
        return path

    def open_write(self, key: str) -> BinaryIO:
        return _AtomicFile(self._path(key))  # type: ignore[return-value]

    def open_read(self, key: str) -> BinaryIO:
        return open(self._path(key), "rb")

    def copy(self, src: str, dst: str) -> None:
        """A hard link to ``src``'s file under a temp name, renamed onto ``dst``: no byte is
        copied, and ``dst`` keeps its bytes when ``src`` is deleted (both are one file: neither
        is written again, every write goes to a new file renamed into place)."""
        source, path = self._path(src), self._path(dst)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}-{id(path)}")
        os.link(source, tmp)
        try:
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def size(self, key: str) -> int:
        return self._path(key).stat().st_size

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def delete_prefix(self, prefix: str) -> None:
        path = self._path(prefix.rstrip("/"))
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)

    def list(self, prefix: str = "") -> Iterator[StoredFile]:
        root = self._resolved
        start = self._path(prefix.rstrip("/")) if prefix.strip("/") else root
        if start.is_file():
            paths: Iterator[tuple[str, list[str], list[str]]] = iter(
                [(str(start.parent), [], [start.name])]
            )
        else:
            paths = os.walk(start)
        for folder, _dirs, files in paths:
            for name in sorted(files):
                path = Path(folder) / name
                try:
                    st = path.stat()
                except FileNotFoundError:  # removed while listing
                    continue
                modified = datetime.fromtimestamp(st.st_mtime, UTC).replace(tzinfo=None)
                yield StoredFile(path.relative_to(root).as_posix(), st.st_size, modified)

    def local_path(self, key: str) -> str | None:
        return str(self._path(key))
