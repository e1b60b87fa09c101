"""reportcard's own PostgreSQL database runs without JIT for every session on it, not only
reportcard's (``db.database_settings``, migration 0002)."""

from __future__ import annotations

import logging
import uuid

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from reportcard.db import database_settings
from reportcard.db.migrate import upgrade
from tests.databases import lane

pytestmark = pytest.mark.skipif(lane() != "postgresql", reason="PostgreSQL's settings")


def _plain_jit(engine: Engine) -> str:
    """``jit`` in a new session opened as psql would (none of reportcard's options)."""
    plain = create_engine(engine.url.set(query={}))
    try:
        with plain.connect() as conn:
            return str(conn.exec_driver_sql("SHOW jit").scalar_one())
    finally:
        plain.dispose()


def test_the_migration_turns_jit_off_for_every_session(engine: Engine) -> None:
    from alembic import command

    from reportcard.db.migrate import alembic_config

    cfg = alembic_config()
    with engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0001")
        conn.commit()
    server_default = _plain_jit(engine)
    assert server_default == "on"  # PostgreSQL's default, what the database had before
    upgrade(engine)
    assert _plain_jit(engine) == "off"
    with engine.connect() as conn:
        settings = conn.exec_driver_sql(
            "SELECT setconfig FROM pg_db_role_setting WHERE setrole = 0"
            " AND setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())"
        ).scalar_one()
    assert settings == ["jit=off"]


def test_a_role_that_may_not_alter_the_database_keeps_it_and_goes_on(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    role = f"rc_t_{uuid.uuid4().hex[:10]}"
    with engine.connect() as conn:
        conn.exec_driver_sql(f"ALTER DATABASE {conn.engine.url.database} RESET jit")
        conn.exec_driver_sql(f"CREATE ROLE {role} LOGIN")
        conn.commit()
    other = create_engine(make_url(str(engine.url)).set(username=role, query={}))
    try:
        with caplog.at_level(logging.WARNING), other.connect() as conn:
            assert database_settings.apply(conn) is False
            # the failed ALTER was rolled back to its savepoint: the transaction goes on
            assert conn.execute(text("SELECT 1")).scalar_one() == 1
            conn.commit()
        assert "ALTER DATABASE" in caplog.text and "InsufficientPrivilege" in caplog.text
        assert _plain_jit(engine) == "on"
    finally:
        other.dispose()
        with engine.connect() as conn:
            conn.exec_driver_sql(f"DROP ROLE {role}")
            conn.commit()
