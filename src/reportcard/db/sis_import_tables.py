"""Tables of the SIS import: one row per import (Canvas's SisImport) and its messages.

An import's ``id`` is the id of the ``sis_batches`` row created with it, so the
``sis_batch_id`` marker on every row it writes is also the SisImport id, as in Canvas.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from reportcard.db.tables import Id, metadata

__all__ = ["metadata", "sis_import_messages", "sis_imports"]

# workflow_state: created -> importing -> imported | imported_with_messages |
# failed | failed_with_messages, or aborted from created/importing.
sis_imports = Table(
    "sis_imports",
    metadata,
    Column("id", Id, ForeignKey("sis_batches.id"), primary_key=True, autoincrement=False),
    Column("account_id", Id, ForeignKey("accounts.id"), nullable=False),  # a root account
    Column("user_id", Id, ForeignKey("users.id"), nullable=True),
    Column("workflow_state", String(32), nullable=False, default="created"),
    Column("progress", Integer, nullable=False, default=0),
    Column("import_type", String(32), nullable=False, default="instructure_csv"),
    # {"supplied_batches": [...], "counts": {...}} as the SisImport ``data`` shows them.
    Column("data", JSON, nullable=False),
    # Options the request sent (skip_deletes, override_sis_stickiness, ...), echoed back.
    Column("options", JSON, nullable=False),
    Column("upload_key", String(512), nullable=False),  # storage key of the uploaded file
    Column("upload_name", String(255), nullable=False),
    Column("upload_size", BigInteger, nullable=False, default=0),
    Column("total_rows", BigInteger, nullable=True),
    Column("rows_done", BigInteger, nullable=False, default=0),
    Column("error_count", Integer, nullable=False, default=0),
    Column("warning_count", Integer, nullable=False, default=0),
    Column("errors_attachment_id", Id, ForeignKey("attachments.id"), nullable=True),
    Column("attempt", Integer, nullable=False, default=0),
    Column("worker_id", String(128), nullable=True),
    Column("heartbeat_at", DateTime, nullable=True),
    Column("created_at", DateTime, nullable=False),
    Column("started_at", DateTime, nullable=True),
    Column("ended_at", DateTime, nullable=True),
    Column("updated_at", DateTime, nullable=False),
    Index("ix_sis_imports_account", "account_id", "id"),
    Index("ix_sis_imports_state", "workflow_state", "id"),
)

# Errors (``failure``: the import fails) and warnings (a row was skipped), with the file and
# the line of the record they are about. Written in bulk; read back for the JSON and the CSV.
sis_import_messages = Table(
    "sis_import_messages",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column(
        "sis_import_id",
        Id,
        ForeignKey("sis_imports.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("failure", Boolean, nullable=False, default=False),
    Column("file", String(255), nullable=True),
    Column("line", BigInteger, nullable=True),
    Column("message", Text, nullable=False),
    Index("ix_sis_import_messages_import", "sis_import_id", "failure", "id"),
)
