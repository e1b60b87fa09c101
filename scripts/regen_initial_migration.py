"""Regenerate migration 0001 from the table definitions (pre-release only: no deployed data).

Usage: .venv/bin/python scripts/regen_initial_migration.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from alembic import command

from reportcard.db.engine import make_engine
from reportcard.db.migrate import MIGRATIONS, alembic_config

target = MIGRATIONS / "versions" / "0001_initial_schema.py"
target.unlink(missing_ok=True)
with tempfile.TemporaryDirectory() as tmp:
    engine = make_engine(f"sqlite:///{Path(tmp) / 'gen.sqlite3'}")
    cfg = alembic_config()
    with engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.revision(cfg, message="initial schema", autogenerate=True, rev_id="0001")
        conn.commit()
# The SQL functions the generated columns call come first (autogenerate knows only tables).
source = target.read_text()
source = source.replace(
    "from alembic import op\n", "from alembic import op\n\nfrom reportcard.db import functions\n", 1
)
source = source.replace(
    "def upgrade() -> None:\n",
    "def upgrade() -> None:\n"
    "    # The SQL functions of the generated columns (reportcard.db.functions).\n"
    "    functions.create(op.get_bind())\n",
    1,
)
target.write_text(source)
print(f"wrote {target}")
