"""Canvas's SisImport object and the copy of an uploaded SIS file into storage: what the API's
SIS Imports endpoints and the Reports page's SIS import form share."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, select
from starlette.datastructures import UploadFile

from reportcard.auth.links import LinkSigner
from reportcard.db.sis_import_tables import sis_import_messages
from reportcard.db.tables import attachments, users
from reportcard.reports.formatting import iso_in_zone
from reportcard.service.errors import CanvasError
from reportcard.service.serializers import attachment_json
from reportcard.storage.base import Storage

SHOWN_MESSAGES = 24  # as Canvas: the rest are in the errors attachment
BOOL_OPTIONS = (
    "skip_deletes",
    "override_sis_stickiness",
    "add_sis_stickiness",
    "clear_sis_stickiness",
    "update_sis_id_if_login_claimed",
    "multi_term_batch_mode",
)


def _messages(conn: Connection, imp: Any, failure: bool, total: int) -> list[list[str]] | None:
    if not total:
        return None
    m = sis_import_messages.c
    rows = conn.execute(
        select(m.file, m.line, m.message)
        .where(m.sis_import_id == imp.id, m.failure == failure)
        .order_by(m.id)
        .limit(SHOWN_MESSAGES)
    ).all()
    out = [
        [file or "", message if line is None else f"{message} (line {line})"]
        for file, line, message in rows
    ]
    if total > SHOWN_MESSAGES:
        what = "errors" if failure else "warnings"
        out.append(
            [
                f"and {total - SHOWN_MESSAGES} more {what} that were not included",
                f"Download the error file to see all {what}.",
            ]
        )
    return out


def sis_import_json(
    conn: Connection, base: str, imp: Any, tz: str, links: LinkSigner
) -> dict[str, Any]:
    """Canvas's SisImport object (keys in Canvas's order)."""
    user = None
    if imp.user_id is not None:
        user = conn.execute(select(users).where(users.c.id == imp.user_id)).first()
        if user is not None and user.time_zone:
            tz = user.time_zone
    opts = imp.options or {}
    m = sis_import_messages.c
    tally: dict[Any, int] = dict(
        conn.execute(
            select(m.failure, func.count()).where(m.sis_import_id == imp.id).group_by(m.failure)
        ).all()
    )
    out: dict[str, Any] = {
        "id": int(imp.id),
        "created_at": iso_in_zone(imp.created_at, tz),
        "started_at": iso_in_zone(imp.started_at, tz),
        "ended_at": iso_in_zone(imp.ended_at, tz),
        "updated_at": iso_in_zone(imp.updated_at, tz),
        "progress": int(imp.progress),
        "workflow_state": imp.workflow_state,
        "data": imp.data or {"import_type": imp.import_type},
        "batch_mode": None,
        "batch_mode_term_id": None,
        "multi_term_batch_mode": opts.get("multi_term_batch_mode"),
        "override_sis_stickiness": opts.get("override_sis_stickiness"),
        "add_sis_stickiness": opts.get("add_sis_stickiness"),
        "update_sis_id_if_login_claimed": opts.get("update_sis_id_if_login_claimed"),
        "clear_sis_stickiness": opts.get("clear_sis_stickiness"),
        "diffing_data_set_identifier": None,
        "diffing_remaster": None,
        "diffed_against_import_id": None,
        "diffing_drop_status": None,
        "diffing_user_remove_status": None,
        "skip_deletes": bool(opts.get("skip_deletes", False)),
        "change_threshold": None,
        "diff_row_count_threshold": None,
    }
    errors = _messages(conn, imp, True, int(tally.get(True, 0)))
    warnings = _messages(conn, imp, False, int(tally.get(False, 0)))
    if errors:
        out["processing_errors"] = errors
    if warnings:
        out["processing_warnings"] = warnings
    if imp.errors_attachment_id is not None:
        att = conn.execute(
            select(attachments).where(attachments.c.id == imp.errors_attachment_id)
        ).first()
        if att is not None:
            out["errors_attachment"] = attachment_json(base, att, links)
    if user is not None:
        out["user"] = {
            "id": int(user.id),
            "name": user.name,
            "created_at": iso_in_zone(user.created_at, tz),
            "sortable_name": user.sortable_name,
            "short_name": user.short_name or user.name,
        }
    return out


def too_big(limit: int) -> CanvasError:
    return CanvasError(
        413, {"errors": [{"message": f"The file is larger than the limit of {limit} bytes."}]}
    )


def copy_upload(storage: Storage, key: str, upload: UploadFile, limit: int) -> int:
    size = 0
    with storage.open_write(key) as out:
        while block := upload.file.read(1 << 20):
            size += len(block)
            if size > limit:
                raise too_big(limit)
            out.write(block)
    return size
