"""bench/cd2.py: the server settles between the snapshot and its incremental.

PostgreSQL: a ``CHECKPOINT`` on the admin's connection (the server then has no page of the
snapshot left to write; the checkpoint counter moves). SQLite: nothing to settle.
"""

from __future__ import annotations

from bench.cd2 import settle_server
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.databases import PG_ADMIN_URL, lane


def _checkpoints(admin: str) -> int:
    engine = create_engine(make_url(admin).set(drivername="postgresql+psycopg"))
    with engine.connect() as conn:
        found = conn.execute(text("SELECT checkpoints_req FROM pg_stat_bgwriter")).scalar()
    engine.dispose()
    return int(found or 0)


def test_the_server_settles_before_the_incremental() -> None:
    if lane() != "postgresql":
        assert settle_server("sqlite:///unused.sqlite3") is None
        return
    before = _checkpoints(PG_ADMIN_URL)
    wall = settle_server("postgresql+psycopg://unused/db", admin_url=PG_ADMIN_URL)
    assert wall is not None and wall >= 0
    assert _checkpoints(PG_ADMIN_URL) > before
