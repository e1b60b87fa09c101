"""reportcard's own PostgreSQL database runs without JIT for every session on it, not only
reportcard's (``db.database_settings``, applied by the migration)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from reportcard.db import database_settings
from reportcard.db.engine import make_engine
from reportcard.db.migrate import upgrade
from tests.databases import drop_database, empty_database_url, lane

pytestmark = pytest.mark.skipif(lane() != "postgresql", reason="PostgreSQL's settings")


def _plain_jit(url: str) -> str:
    """``jit`` in a new session opened as psql would (none of reportcard's options)."""
    plain = create_engine(make_url(url).set(drivername="postgresql+psycopg"))
    try:
        with plain.connect() as conn:
            return str(conn.exec_driver_sql("SHOW jit").scalar_one())
    finally:
        plain.dispose()


@pytest.fixture
def empty_url() -> Iterator[str]:
    url = empty_database_url()
    yield url
    drop_database(url)


def test_the_migration_turns_jit_off_for_every_session(empty_url: str) -> None:
    assert _plain_jit(empty_url) == "on"  # the server's default, before the migration
    engine = make_engine(empty_url)
    try:
        upgrade(engine)
        with engine.connect() as conn:
            settings = conn.exec_driver_sql(
                "SELECT setconfig FROM pg_db_role_setting WHERE setrole = 0 AND setdatabase ="
                " (SELECT oid FROM pg_database WHERE datname = current_database())"
            ).scalar_one()
    finally:
        engine.dispose()
    assert settings == ["jit=off"]
    assert _plain_jit(empty_url) == "off"


def test_a_role_that_may_not_alter_the_database_keeps_it_and_goes_on(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    role = f"rc_t_{uuid.uuid4().hex[:10]}"
    with engine.connect() as conn:
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
        assert _plain_jit(str(engine.url)) == "on"  # a clone of the template: never set
    finally:
        other.dispose()
        with engine.connect() as conn:
            conn.exec_driver_sql(f"DROP ROLE {role}")
            conn.commit()


def test_another_error_is_not_taken_for_a_missing_privilege(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the owner's privilege is forgiven: a setting the server refuses fails the
    migration rather than leaving a warning."""
    from sqlalchemy.exc import ProgrammingError

    monkeypatch.setattr(database_settings, "DATABASE_SETTINGS", (("no_such_setting", "1"),))
    with engine.connect() as conn, pytest.raises(ProgrammingError):
        database_settings.apply(conn)
