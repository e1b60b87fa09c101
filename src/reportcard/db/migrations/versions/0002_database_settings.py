"""the database's own settings: jit = off (PostgreSQL)

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07 01:40:00.000000
"""

from __future__ import annotations

from alembic import op

from reportcard.db import database_settings

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # reportcard.db.database_settings: what and why; a role that may not alter the database
    # leaves it as it was (a warning).
    database_settings.apply(op.get_bind())
    # The audit log is append-only in the database too (idempotent; see db/audit_tables.py).
    from reportcard.db.audit_tables import install_guards

    install_guards(op)


def downgrade() -> None:
    database_settings.reset(op.get_bind())
