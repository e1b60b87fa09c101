"""The migration matches the table declarations: a declaration changed without ``make migration``
fails here.

A freshly migrated database (SQLite, or PostgreSQL in its lane) is compared with the declared
tables by Alembic's autogenerate comparison, types and server defaults included: anything it
would write into a new migration is drift.
"""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Column, Engine, Index, MetaData, String

from reportcard.db.functions import comparable
from reportcard.db.schema import metadata

OPTIONS = {"compare_type": True, "compare_server_default": True}


def drift(engine: Engine, declared: MetaData) -> list[Any]:
    """What autogenerate would put in a migration from ``engine``'s schema to ``declared``."""
    with engine.connect() as conn:
        include = comparable(conn.dialect.name)  # scores' text: SQLite's alone
        context = MigrationContext.configure(conn, opts={**OPTIONS, "include_object": include})
        return list(compare_metadata(context, declared))


def test_the_migrated_schema_is_the_declared_schema(engine: Engine) -> None:
    found = drift(engine, metadata)
    assert found == [], (
        "the table declarations differ from the migrated schema; run `make migration` "
        f"and commit the migration with the declaration: {found}"
    )


def test_a_declaration_without_its_migration_is_found(engine: Engine) -> None:
    """The comparison sees a column and an index declared but never migrated."""
    changed = MetaData()
    for table in metadata.sorted_tables:
        table.to_metadata(changed)
    accounts = changed.tables["accounts"]
    accounts.append_column(Column("drift_probe", String(64), nullable=True))
    Index("ix_accounts_drift_probe", accounts.c.drift_probe)
    found = drift(engine, changed)
    assert [(d[0], d[2], d[3].name) for d in found if d[0] == "add_column"] == [
        ("add_column", "accounts", "drift_probe")
    ]
    assert [d[1].name for d in found if d[0] == "add_index"] == ["ix_accounts_drift_probe"]
    assert len(found) == 2


def test_head_is_the_newest_migration() -> None:
    """``migrate.HEAD`` (an up-to-date database is found without loading Alembic) is the
    revision Alembic would upgrade to."""
    from alembic.script import ScriptDirectory

    from reportcard.db.migrate import HEAD, alembic_config

    assert ScriptDirectory.from_config(alembic_config()).get_heads() == [HEAD]


def test_a_database_not_at_head_goes_through_alembic(tmp_path: Any) -> None:
    """Only a database recording exactly ``HEAD`` skips Alembic: another revision is handed to
    it (which refuses one it does not know), and a new database is migrated."""
    import pytest
    from alembic.util.exc import CommandError
    from sqlalchemy import create_engine, inspect

    from reportcard.db.migrate import upgrade

    fresh = create_engine(f"sqlite:///{tmp_path / 'fresh.sqlite3'}")
    upgrade(fresh)
    assert "accounts" in inspect(fresh).get_table_names()
    upgrade(fresh)  # at head: nothing to do
    fresh.dispose()
    other = create_engine(f"sqlite:///{tmp_path / 'other.sqlite3'}")
    with other.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
        conn.exec_driver_sql("INSERT INTO alembic_version VALUES ('0000unknown')")
    with pytest.raises(CommandError):
        upgrade(other)
    other.dispose()
