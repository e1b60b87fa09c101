"""Fixtures: a migrated SQLite database holding root account 1 (see helpers.make_root)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from tests.lms.sis_import.helpers import Result, do_import, make_root


@pytest.fixture
def db(engine: Engine) -> Engine:
    make_root(engine)
    return engine


@pytest.fixture
def sis(db: Engine, tmp_path: Path) -> Callable[..., Result]:
    """``sis(data, name=None, **kw)`` imports into root 1 and returns the Result."""

    def run(data: Any, name: str | None = None, **kw: Any) -> Result:
        return do_import(db, tmp_path / "files", data, name, **kw)

    return run
