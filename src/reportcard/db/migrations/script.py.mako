"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
${imports if imports else ""}

revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}
branch_labels = ${repr(branch_labels)}
depends_on = ${repr(depends_on)}


def upgrade() -> None:
    ${upgrades if upgrades else "pass"}
    # The audit log is append-only in the database too (idempotent; see db/audit_tables.py).
    from reportcard.db.audit_tables import install_guards

    install_guards(op)
    # The database's own settings, jit = off (PostgreSQL; see db/database_settings.py): a
    # role that may not alter the database leaves it as it was, with a warning.
    from reportcard.db import database_settings

    database_settings.apply(op.get_bind())


def downgrade() -> None:
    ${downgrades if downgrades else "pass"}
