"""Per-test run settings and storage of the format tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from reportcard.settings import Settings
from reportcard.storage.local import LocalStorage


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, shard_rows=40, stale_seconds=30)


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "files")
