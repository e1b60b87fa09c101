"""The JSON shapes Canvas clients read: Report, attachment (File), user display, account, term."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from reportcard.auth.links import LinkSigner
from reportcard.reports.formatting import iso_in_zone, to_utc, zone


def utc_z(value: datetime | None) -> str | None:
    return None if value is None else to_utc(value).strftime("%Y-%m-%dT%H:%M:%SZ")


def base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out


def download_url(base: str, attachment: Any, links: LinkSigner, seconds: int | None = None) -> str:
    """The file's signed link (``reportcard.auth.links``), valid ``seconds`` (default: setting)."""
    verifier = links.sign(int(attachment.id), attachment.uuid, seconds)
    return f"{base}/files/{attachment.id}/download?download_frd=1&verifier={verifier}"


def attachment_json(base: str, att: Any, links: LinkSigner) -> dict[str, Any]:
    """Canvas's File JSON for a report attachment (keys in Canvas's order)."""
    created = utc_z(att.created_at)
    updated = utc_z(att.updated_at)
    return {
        "id": int(att.id),
        "uuid": att.uuid,
        "folder_id": None,
        "display_name": att.display_name,
        "filename": att.filename,
        "upload_status": "success",
        "content-type": att.content_type,
        "url": download_url(base, att, links),
        "size": int(att.size),
        "created_at": created,
        "updated_at": updated,
        "unlock_at": None,
        "locked": False,
        "hidden": False,
        "lock_at": None,
        "hidden_for_user": False,
        "thumbnail_url": None,
        "modified_at": updated,
        "mime_class": "zip" if att.content_type == "application/zip" else "file",
        "media_entry_id": None,
        "category": "uncategorized",
        "locked_for_user": False,
        "workflow_state": att.workflow_state,
    }


def user_display_json(base: str, user: Any) -> dict[str, Any]:
    if user is None:
        return {}
    return {
        "id": int(user.id),
        "anonymous_id": base36(int(user.id)),
        "display_name": user.short_name or user.name,
        "avatar_image_url": f"{base}/images/messages/avatar-50.png",
        "html_url": f"{base}/users/{user.id}",
        "pronouns": user.pronouns,
    }


def run_time(run: Any, now: datetime) -> float:
    end = run.end_at or now
    start = run.start_at or run.created_at or now
    return max(0.0, round((end - start).total_seconds(), 3))


def report_json(
    base: str,
    run: Any,
    *,
    tz: str,
    attachment: Any | None,
    user: Any | None,
    now: datetime,
    links: LinkSigner,
) -> dict[str, Any]:
    """Canvas's Report object; ``attachment`` appears only when a file exists."""
    out: dict[str, Any] = {
        "id": int(run.id),
        "progress": int(run.progress),
        "parameters": run.parameters or {},
        "current_line": None if run.current_line is None else int(run.current_line),
        "status": run.workflow_state,
        "report": run.report_type,
        "created_at": iso_in_zone(run.created_at, tz),
        "started_at": iso_in_zone(run.start_at, tz),
        "ended_at": iso_in_zone(run.end_at, tz),
        "run_time": run_time(run, now),
        "file_url": None,
        "message": run.message,
        "user": user_display_json(base, user),
    }
    if attachment is not None:
        out["file_url"] = f"{base}/accounts/{run.account_id}/files/{attachment.id}/download"
        out["attachment"] = attachment_json(base, attachment, links)
    return out


def account_json(acct: Any) -> dict[str, Any]:
    return {
        "id": int(acct.id),
        "name": acct.name,
        "workflow_state": acct.workflow_state,
        "parent_account_id": acct.parent_account_id,
        "root_account_id": acct.root_account_id,
        "uuid": acct.uuid,
        "default_storage_quota_mb": 500,
        "default_user_storage_quota_mb": 50,
        "default_group_storage_quota_mb": 50,
        # Canvas answers with the zone's IANA name, whichever name it was given.
        "default_time_zone": zone(str(acct.default_time_zone or "UTC")).key,
        "sis_account_id": acct.sis_source_id,
        "integration_id": acct.integration_id,
        "sis_import_id": acct.sis_batch_id,
        "course_template_id": None,
    }


def term_json(term: Any, tz: str) -> dict[str, Any]:
    return {
        "id": int(term.id),
        "name": term.name,
        "start_at": iso_in_zone(term.start_at, tz),
        "end_at": iso_in_zone(term.end_at, tz),
        "created_at": iso_in_zone(term.created_at, tz),
        "workflow_state": term.workflow_state,
        "grading_period_group_id": None,
        "sis_term_id": term.sis_source_id,
        "sis_import_id": term.sis_batch_id,
        "integration_id": term.integration_id,
    }
