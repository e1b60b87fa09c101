"""Apply the Alembic migrations to a database (``reportcard db upgrade``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"

# The newest revision under migrations/versions (a test keeps it equal to Alembic's head): a
# database already there is found by one query, without loading Alembic and the migrations
# (about 0.3 s of every command's start).
HEAD = "0001"


def alembic_config() -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def _at_head(engine: Engine) -> bool:
    """Whether the database's recorded revision is :data:`HEAD` alone."""
    with engine.connect() as conn:
        try:
            rows = conn.exec_driver_sql("SELECT version_num FROM alembic_version").all()
        except (DBAPIError, conn.dialect.loaded_dbapi.Error):
            return False  # no alembic_version table: a new database
        finally:
            conn.rollback()
    return [tuple(r) for r in rows] == [(HEAD,)]


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema of ``engine`` up to ``revision``."""
    if revision in ("head", HEAD) and _at_head(engine):
        return
    from alembic import command

    cfg = alembic_config()
    with engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
        conn.commit()


def current(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
