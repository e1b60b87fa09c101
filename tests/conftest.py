"""Shared fixtures: a fresh, migrated SQLite database per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from reportcard.db.engine import dispose_all, make_engine
from reportcard.db.migrate import upgrade


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """A migrated SQLite database in a temporary directory."""
    eng = make_engine(f"sqlite:///{tmp_path / 'test.sqlite3'}")
    upgrade(eng)
    yield eng
    dispose_all()
