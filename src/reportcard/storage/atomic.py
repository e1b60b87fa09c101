"""The one way a backend writes: bytes go to a staging file and become the object on close.

Every backend's ``open_write`` returns an :class:`AtomicWriter`. Writes, seeks and ``tell`` go
to a real local file (so the zip writer and the CSV writers may seek back); closing without an
error *publishes* the staged bytes as the object (a rename, an upload, ...), in one step, so a
reader sees the whole object or none of it; leaving a ``with`` block by an exception, calling
``abort()``, or a publish that fails *discards* the staging file and leaves any earlier object
of that key as it was.

A backend subclasses it with two methods: ``_publish`` (turn the staging file into the object;
it may close the staging file, and must when the object is the staging file itself) and
``_remove_staging`` (remove what the staging file left behind once it is closed).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import IO, Any, Self


class AtomicWriter(ABC):
    """A binary file whose bytes become the stored object only when it is closed cleanly."""

    def __init__(self, staging: IO[bytes]) -> None:
        self.fh = staging

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
        """Publish the staged bytes (once; closing again does nothing)."""
        if self.fh.closed:
            return
        try:
            self._publish()
        except BaseException:
            # e.g. a full disk (closing flushes the last buffered bytes) or a failed upload:
            # nothing is published and the staging file must not stay behind.
            self._discard()
            raise
        if not self.fh.closed:
            self.fh.close()

    def abort(self) -> None:
        """Discard the staged bytes: the key keeps what it held before this write."""
        self._discard()

    def _discard(self) -> None:
        try:
            if not self.fh.closed:
                self.fh.close()
        finally:
            self._remove_staging()

    @abstractmethod
    def _publish(self) -> None:
        """Make the staged bytes the object, in one step."""

    def _remove_staging(self) -> None:  # noqa: B027 - optional hook
        """Remove what a closed staging file leaves behind (nothing, for a temporary file)."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: Any, *_: Any) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
