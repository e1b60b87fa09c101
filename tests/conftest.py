"""Shared fixtures: a fresh, migrated database per test (SQLite, or PostgreSQL in its lane)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from reportcard.db.engine import dispose_all, make_engine
from reportcard.wiring import hooks
from tests.databases import drop_database, drop_template, fresh_database_url, lane


def pytest_report_header() -> str:
    return f"reportcard database lane: {lane()}"


def pytest_sessionfinish() -> None:
    dispose_all()
    drop_template()


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    url = fresh_database_url(tmp_path)
    yield url
    dispose_all()
    drop_database(url)


@pytest.fixture
def engine(database_url: str) -> Engine:
    """A migrated database for one test, with every package's hooks bound to it (run-ended
    listeners, periodic jobs, SIS imports as worker work), as a runtime's engine has them."""
    return hooks().bind(make_engine(database_url))
