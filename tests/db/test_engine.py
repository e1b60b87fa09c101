"""The session settings every reportcard connection runs with (docs/decisions/performance.md)."""

from __future__ import annotations

from sqlalchemy import Engine

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
