"""The atomic writer every backend's ``open_write`` returns: publish on close, else discard."""

from __future__ import annotations

import io

import pytest

from reportcard.storage.atomic import AtomicWriter


class Recorder(AtomicWriter):
    """Publishes into ``published``; ``fail`` makes publishing raise."""

    def __init__(self, fail: bool = False) -> None:
        super().__init__(io.BytesIO())
        self.fail = fail
        self.published: bytes | None = None
        self.removed = 0

    def _publish(self) -> None:
        if self.fail:
            raise OSError(28, "No space left on device")
        self.published = self.fh.getvalue()  # type: ignore[attr-defined]

    def _remove_staging(self) -> None:
        self.removed += 1


def test_a_clean_close_publishes_once_and_closes_the_staging_file() -> None:
    w = Recorder()
    with w:
        w.write(b"abc")
    assert w.published == b"abc"
    assert w.fh.closed
    assert w.removed == 0
    w.published = None
    w.close()
    assert w.published is None


def test_an_error_in_the_block_discards() -> None:
    w = Recorder()
    with pytest.raises(KeyError), w:
        w.write(b"abc")
        raise KeyError("x")
    assert w.published is None
    assert w.fh.closed
    assert w.removed == 1


def test_a_failed_publish_discards_and_raises() -> None:
    w = Recorder(fail=True)
    w.write(b"abc")
    with pytest.raises(OSError, match="No space left"):
        w.close()
    assert w.fh.closed
    assert w.removed == 1
