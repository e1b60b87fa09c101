"""The audit log: an append-only record of who did what to which run, import or token.

Rows are only ever inserted (``reportcard.audit.record``); no code path updates or deletes
them, and the initial migration installs triggers (``GUARD_SQL``) that make the database refuse
UPDATE and DELETE on the table, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from sqlalchemy import JSON, Column, DateTime, Index, String, Table

from reportcard.db.tables import Id, metadata

__all__ = ["GUARD_SQL", "audit_events", "install_guards", "metadata"]

audit_events = Table(
    "audit_events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("created_at", DateTime, nullable=False),
    # No foreign keys: the trail outlives the users, accounts and runs it names.
    Column("user_id", Id, nullable=True),  # NULL: no (valid) token was presented
    Column("account_id", Id, nullable=True),
    Column("action", String(64), nullable=False),
    Column("subject_type", String(64), nullable=True),
    Column("subject_id", Id, nullable=True),
    Column("detail", JSON, nullable=True),
    Column("ip", String(64), nullable=True),
    Index("ix_audit_events_account_created", "account_id", "created_at"),
    Index("ix_audit_events_action_created", "action", "created_at"),
    Index("ix_audit_events_created", "created_at"),
)

_MESSAGE = "audit_events is append-only"

# Triggers that make the table append-only in the database itself, per dialect.
GUARD_SQL: dict[str, list[str]] = {
    "sqlite": [
        "CREATE TRIGGER IF NOT EXISTS audit_events_no_update BEFORE UPDATE ON audit_events "
        f"BEGIN SELECT RAISE(ABORT, '{_MESSAGE}'); END",
        "CREATE TRIGGER IF NOT EXISTS audit_events_no_delete BEFORE DELETE ON audit_events "
        f"BEGIN SELECT RAISE(ABORT, '{_MESSAGE}'); END",
    ],
    "postgresql": [
        "CREATE OR REPLACE FUNCTION audit_events_refuse() RETURNS trigger LANGUAGE plpgsql AS "
        f"$$ BEGIN RAISE EXCEPTION '{_MESSAGE}'; END $$",
        "DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events",
        "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events "
        "FOR EACH ROW EXECUTE FUNCTION audit_events_refuse()",
        "DROP TRIGGER IF EXISTS audit_events_no_truncate ON audit_events",
        "CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_events_refuse()",
    ],
}


def install_guards(op: object) -> None:
    """Create the append-only triggers (called from the migration with Alembic's ``op``)."""
    bind = op.get_bind()  # type: ignore[attr-defined]
    for statement in GUARD_SQL.get(bind.dialect.name, []):
        op.execute(statement)  # type: ignore[attr-defined]
