"""The session settings every reportcard connection runs with (docs/decisions/performance.md)."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import Engine

from reportcard.db.engine import allow_parallel_query
from tests.databases import lane


def test_connections_carry_the_report_session_settings(engine: Engine) -> None:
    with engine.connect() as conn:
        if lane() == "postgresql":
            shown = {
                name: conn.exec_driver_sql(f"SHOW {name}").scalar()
                for name in (
                    "jit",
                    "cursor_tuple_fraction",
                    "max_parallel_workers_per_gather",
                    "extra_float_digits",
                )
            }
            assert shown == {
                "jit": "off",
                "cursor_tuple_fraction": "1",
                "max_parallel_workers_per_gather": "0",
                "extra_float_digits": "1",
            }
        else:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 0
            # Bounded memory: 8 MB of cache, and sorts beyond it spill to a file (default).
            assert conn.exec_driver_sql("PRAGMA cache_size").scalar() == -8192
            assert conn.exec_driver_sql("PRAGMA temp_store").scalar() == 0


def test_parallel_query_is_allowed_for_one_transaction_only(engine: Engine) -> None:
    """RESET gives the server's own configuration; the pool's rollback makes it serial again."""
    if lane() != "postgresql":
        pytest.skip("parallel query is PostgreSQL's")
    url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url) as plain:  # the server's own configuration, no reportcard options
        row = plain.execute("SHOW max_parallel_workers_per_gather").fetchone()
        assert row is not None
        configured = row[0]
    raw = engine.raw_connection()
    try:
        allow_parallel_query(raw.driver_connection)
        shown = raw.driver_connection.execute("SHOW max_parallel_workers_per_gather").fetchone()
        assert shown is not None and shown[0] == configured
    finally:
        raw.close()
    for _ in range(3):  # every pooled connection, the one just returned among them
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SHOW max_parallel_workers_per_gather").scalar() == "0"
