"""Report files in a local directory; writes go to a temp name and are renamed on close."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from reportcard.storage.base import Storage, StoredFile


class _AtomicFile:
    """Writes to ``<path>.tmp-<pid>`` and renames onto ``path`` when closed without error."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}-{id(self)}")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.fh = open(self.tmp, "wb")  # noqa: SIM115 - closed in close()/__exit__

    def write(self, data: bytes) -> int:
        return self.fh.write(data)

    def flush(self) -> None:
        self.fh.flush()

    def tell(self) -> int:
        return self.fh.tell()

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.fh.seek(offset, whence)

    def seekable(self) -> bool:
        return True

    def writable(self) -> bool:
        return True

    def close(self) -> None:
        if not self.fh.closed:
            try:
                # Closing flushes the last buffered bytes: on a full disk this is where
                # ENOSPC is raised, and the temp file must not stay behind.
                self.fh.close()
                os.replace(self.tmp, self.path)
            except BaseException:
                self.tmp.unlink(missing_ok=True)
                raise

    def abort(self) -> None:
        if not self.fh.closed:
            self.fh.close()
        self.tmp.unlink(missing_ok=True)

    def __enter__(self) -> _AtomicFile:
        return self

    def __exit__(self, exc_type: Any, *_: Any) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


class LocalStorage(Storage):
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise ValueError(f"storage key escapes the storage root: {key!r}")
        return path

    def open_write(self, key: str) -> BinaryIO:
        return _AtomicFile(self._path(key))  # type: ignore[return-value]

    def open_read(self, key: str) -> BinaryIO:
        return open(self._path(key), "rb")

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
        root = self.root.resolve()
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
