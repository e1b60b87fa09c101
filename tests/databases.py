"""Fresh databases for tests: SQLite files, or PostgreSQL databases cloned from a template.

The lane is chosen by ``REPORTCARD_TEST_POSTGRES`` (a PostgreSQL URL of a role that may create
databases, e.g. ``postgresql://postgres@127.0.0.1/postgres``); unset means SQLite.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Executable, Row, create_engine, text
from sqlalchemy.engine import make_url

from reportcard.db.engine import make_engine
from reportcard.db.migrate import upgrade

PG_ADMIN_URL = os.environ.get("REPORTCARD_TEST_POSTGRES", "")
_TEMPLATE = f"reportcard_tpl_{os.getpid()}"
_template_ready = False
# Seeded institutions, made once per session and copied for each module that asks:
# (size, seed) -> (template database URL, what seed() returned).
_seeded: dict[tuple[str, int], tuple[str, Any]] = {}


def lane() -> str:
    return "postgresql" if PG_ADMIN_URL else "sqlite"


def _admin_engine():  # type: ignore[no-untyped-def]
    url = make_url(PG_ADMIN_URL).set(drivername="postgresql+psycopg")
    return create_engine(url, isolation_level="AUTOCOMMIT", pool_size=1, max_overflow=0)


def _url_for(name: str) -> str:
    return str(make_url(PG_ADMIN_URL).set(drivername="postgresql+psycopg", database=name))


def _ensure_template() -> None:
    global _template_ready
    if _template_ready:
        return
    admin = _admin_engine()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{_TEMPLATE}"'))
        conn.execute(text(f'CREATE DATABASE "{_TEMPLATE}"'))
    admin.dispose()
    engine = create_engine(_url_for(_TEMPLATE))
    upgrade(engine)
    engine.dispose()
    _template_ready = True


def empty_database_url() -> str:
    """A URL of a new PostgreSQL database, unmigrated and not cloned from the template (a
    clone does not carry the template's database settings); drop it with
    :func:`drop_database`."""
    return _create_database(None)


def _create_database(template: str | None) -> str:
    """The URL of a new PostgreSQL test database, a copy of ``template`` when given."""
    name = f"reportcard_t_{uuid.uuid4().hex[:12]}"
    copy = f' TEMPLATE "{template}"' if template else ""
    admin = _admin_engine()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"{copy}'))
    admin.dispose()
    return _url_for(name)


def fresh_database_url(tmp_path: Path) -> str:
    """A URL of a new, migrated, empty database for one test (or one server fixture)."""
    if not PG_ADMIN_URL:
        url = f"sqlite:///{tmp_path / f'test-{uuid.uuid4().hex[:8]}.sqlite3'}"
        upgrade(make_engine(url))
        return url
    _ensure_template()
    return _create_database(_TEMPLATE)


def drop_database(url: str) -> None:
    """Drop a PostgreSQL test database (SQLite files go with their temp directory)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql" or not PG_ADMIN_URL:
        return
    admin = _admin_engine()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
    admin.dispose()


def seeded_database_url(tmp_path: Path, size: str, seed_number: int) -> tuple[str, Any]:
    """A new database holding the synthetic institution ``size``/``seed_number``.

    The institution is seeded once per test session into a template (a SQLite file, or a
    PostgreSQL template database) and copied for each caller, so modules sharing an
    institution never see each other's runs. Returns the URL and what ``seed()`` returned.
    """
    from reportcard.lms.synthetic import seed

    key = (size, seed_number)
    if key not in _seeded:
        if PG_ADMIN_URL:
            template_url = fresh_database_url(tmp_path)
        else:
            folder = Path(tempfile.mkdtemp(prefix=f"reportcard-{size}-{seed_number}-"))
            template_url = f"sqlite:///{folder / 'template.sqlite3'}"
            upgrade(make_engine(template_url))
        result = seed(make_engine(template_url), size, seed_number)
        # Closing every connection: a PostgreSQL template must have none, and SQLite folds
        # its write-ahead log into the file when the last one closes.
        make_engine(template_url).dispose()
        _seeded[key] = (template_url, result)
    template_url, result = _seeded[key]
    parsed = make_url(template_url)
    if not PG_ADMIN_URL:
        copy = tmp_path / f"{size}-{uuid.uuid4().hex[:8]}.sqlite3"
        shutil.copyfile(str(parsed.database), copy)
        return f"sqlite:///{copy}", result
    return _create_database(str(parsed.database)), result


def drop_template() -> None:
    for template_url, _result in _seeded.values():
        if PG_ADMIN_URL:
            drop_database(template_url)
        else:
            shutil.rmtree(Path(str(make_url(template_url).database)).parent, ignore_errors=True)
    _seeded.clear()
    if PG_ADMIN_URL and _template_ready:
        admin = _admin_engine()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{_TEMPLATE}" WITH (FORCE)'))
        admin.dispose()


def rows_of(bind: Engine | Connection, query: Executable) -> list[Row[Any]]:
    """Every row of ``query``, on a connection of its own when ``bind`` is an engine."""
    if isinstance(bind, Engine):
        with bind.connect() as conn:
            return list(conn.execute(query).all())
    return list(bind.execute(query).all())
