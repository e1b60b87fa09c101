"""Settings reportcard gives its own PostgreSQL database (``ALTER DATABASE ... SET``).

reportcard's sessions already run with these (``db.engine.PG_SESSION_OPTIONS``); set on the
database too, every other session on it runs the report statements the same way: ``psql``, a
BI tool, a DBA's copy of a part's statement. ``jit = off``: PostgreSQL compiles a statement
whose estimated cost passes ``jit_above_cost``, and optimizes and inlines it past
``jit_optimize_above_cost``, in every parallel process; for the grade exports and the Student
Competency map that took 9-12 CPU-seconds a run, more than the statement's own work, and
never paid back (docs/decisions/performance.md, "the database's own jit = off").

Applied by every migration's upgrade (``migrations/script.py.mako`` writes the call; until the
first release that is 0001 alone), idempotently. A role that may not alter the database (not
its owner) leaves the setting as it was: the migration logs a warning and goes on. A
downgrade leaves it.
"""

from __future__ import annotations

import logging

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

log = logging.getLogger(__name__)

DATABASE_SETTINGS = (("jit", "off"),)
INSUFFICIENT_PRIVILEGE = "42501"  # SQLSTATE of an ALTER DATABASE by another role


def _database(conn: Connection) -> str:
    return str(conn.exec_driver_sql("SELECT quote_ident(current_database())").scalar_one())


def apply(conn: Connection) -> bool:
    """Set :data:`DATABASE_SETTINGS` on the connection's database (PostgreSQL; nothing
    elsewhere). Returns whether they were set; False when the role may not (any other error
    is raised)."""
    if conn.dialect.name != "postgresql":
        return False
    name = _database(conn)
    try:
        with conn.begin_nested():
            for setting, value in DATABASE_SETTINGS:
                conn.exec_driver_sql(f"ALTER DATABASE {name} SET {setting} = {value}")
    except DBAPIError as exc:
        if getattr(exc.orig, "sqlstate", None) != INSUFFICIENT_PRIVILEGE:
            raise
        log.warning(
            "database %s keeps its settings (%s): %s; set them as its owner: %s",
            name,
            ", ".join(f"{s} = {v}" for s, v in DATABASE_SETTINGS),
            type(exc.orig).__name__,
            "; ".join(f"ALTER DATABASE {name} SET {s} = {v}" for s, v in DATABASE_SETTINGS),
        )
        return False
    return True
