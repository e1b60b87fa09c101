"""Report files: Canvas's Files API entry and the two download routes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from sqlalchemy import Connection, select
from starlette.responses import FileResponse, RedirectResponse, Response, StreamingResponse

from reportcard import audit
from reportcard.api.audit_events import client_ip
from reportcard.auth.permissions import IMPORT_SIS_DATA, READ_REPORTS, has_permission
from reportcard.db.engine import read_conn
from reportcard.db.sis_import_tables import sis_imports
from reportcard.db.tables import account_reports, attachments
from reportcard.ids import is_id
from reportcard.reports.params import value_to_boolean
from reportcard.service.deps import ServicesDep, UserDep, authenticate, presented_token
from reportcard.service.errors import UNAUTHORIZED, CanvasError, json_response, not_found
from reportcard.service.serializers import attachment_json
from reportcard.service.spreadsheet import file_kind, transformed_body
from reportcard.service.urls import base_url

router = APIRouter(tags=["files"])


def _attachment(conn: Connection, file_id: str) -> Any:
    """The live file ``file_id`` names: 404 when unknown, deleted, or its run was deleted."""
    if not is_id(file_id):
        raise not_found()
    att = conn.execute(select(attachments).where(attachments.c.id == int(file_id))).first()
    if att is None or att.workflow_state == "deleted":
        raise not_found()
    run_deleted = conn.execute(
        select(account_reports.c.id).where(
            account_reports.c.attachment_id == att.id,
            account_reports.c.workflow_state == "deleted",
        )
    ).first()
    if run_deleted is not None:
        raise not_found()
    return att


def _run_of(conn: Connection, att: Any) -> tuple[int | None, bool]:
    """The run that made the file, and whether it asked for ``parameters[formula_safety]``."""
    run = conn.execute(
        select(account_reports.c.id, account_reports.c.parameters)
        .where(account_reports.c.attachment_id == att.id)
        .limit(1)
    ).first()
    if run is None:
        return None, False
    params = run.parameters if isinstance(run.parameters, dict) else {}
    return int(run.id), value_to_boolean(params.get("formula_safety"))


EXPIRED = {
    "errors": [
        {
            "message": "The file of this report has expired and was deleted; "
            "run the report again to get a new one."
        }
    ]
}


def _not_expired(att: Any) -> None:
    """A report file removed by the retention sweep answers 410 Gone (docs/delivery.md)."""
    if att.workflow_state == "expired":
        raise CanvasError(410, EXPIRED)


def permission_for(conn: Connection, att: Any) -> str:
    """What reading ``att`` needs: a SIS import's file (its errors attachment) needs what the
    SIS Imports API needs, ``import_sis_data``; a report file needs ``read_reports``."""
    of_import = conn.execute(
        select(sis_imports.c.id).where(sis_imports.c.errors_attachment_id == att.id).limit(1)
    ).first()
    return IMPORT_SIS_DATA if of_import is not None else READ_REPORTS


def _may_read(conn: Connection, user_id: int, att: Any) -> bool:
    return att.context_type == "Account" and has_permission(
        conn, user_id, int(att.context_id), permission_for(conn, att)
    )


@router.get("/api/v1/files/{file_id}", summary="Get file", operation_id="get_file")
def get_file(file_id: str, request: Request, svc: ServicesDep, user: UserDep) -> Response:
    with read_conn(svc.engine) as conn:
        att = _attachment(conn, file_id)
        if not _may_read(conn, user.id, att):
            raise CanvasError(403, UNAUTHORIZED)
        _not_expired(att)
        return json_response(attachment_json(base_url(request), att, svc.links))


def _serve(request: Request, svc: Any, file_id: str, account_id: str | None) -> Response:
    """A verifier in the query lets anyone holding the link in; otherwise a token must."""
    user_id: int | None = None
    with read_conn(svc.engine) as conn:
        att = _attachment(conn, file_id)
        if account_id is not None and str(att.context_id) != account_id:
            raise not_found()
        verifier = request.query_params.get("verifier")
        if verifier is None:
            user = authenticate(conn, presented_token(request), svc.engine)
            if not _may_read(conn, user.id, att):
                raise CanvasError(403, UNAUTHORIZED)
            user_id = user.id
        elif not svc.links.verify(int(att.id), att.uuid, verifier):
            raise not_found()  # altered, expired or for another file: nothing to see
        _not_expired(att)
        run_id, run_safety = _run_of(conn, att)
    audit.record_now(
        svc.engine,
        user_id=user_id,
        action="report.download",
        account_id=int(att.context_id) if att.context_type == "Account" else None,
        subject_type="account_report" if run_id is not None else "attachment",
        subject_id=run_id if run_id is not None else int(att.id),
        detail={"attachment_id": int(att.id), "via": "token" if user_id else "link"},
        ip=client_ip(request),
    )
    disposition = f"attachment; filename=\"{att.filename}\"; filename*=UTF-8''{quote(att.filename)}"
    headers = {"Content-Disposition": disposition}
    safety = bool(svc.settings.api_formula_safety) or run_safety
    kind = file_kind(str(att.filename), bom=False, formula_safety=safety)
    if kind != "plain":
        # Formula safety (docs/api.md): CSV cells neutralised on the fly, no BOM added.
        body = transformed_body(svc, str(att.storage_key), kind, bom=False, formula_safety=True)
        return StreamingResponse(body, media_type=att.content_type, headers=headers)
    presigned = svc.storage.presigned_url(att.storage_key, att.filename, att.content_type)
    if presigned is not None:
        return RedirectResponse(presigned, status_code=302)
    path = svc.storage.local_path(att.storage_key)
    if path is not None:
        return FileResponse(path, media_type=att.content_type, headers=headers)

    def chunks() -> Iterator[bytes]:
        with svc.storage.open_read(att.storage_key) as fh:
            while block := fh.read(1 << 20):
                yield block

    headers["Content-Length"] = str(att.size)
    return StreamingResponse(chunks(), media_type=att.content_type, headers=headers)


@router.get("/files/{file_id}/download", summary="Download a file", operation_id="download_file")
def download(file_id: str, request: Request, svc: ServicesDep) -> Response:
    return _serve(request, svc, file_id, None)


@router.get(
    "/accounts/{account_id}/files/{file_id}/download",
    summary="Download an account file",
    operation_id="download_account_file",
)
def download_account_file(
    account_id: str, file_id: str, request: Request, svc: ServicesDep
) -> Response:
    return _serve(request, svc, file_id, account_id)
