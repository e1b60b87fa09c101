"""Canvas's SIS Imports API under ``/api/v1/accounts/:account_id/sis_imports``.

Every endpoint needs the ``import_sis_data`` permission on the account (through an admin
role there or above) and the account must be a root account: a sub-account answers 400 with
Canvas's own message once the caller is known to hold the permission, 403 otherwise.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import Connection, select
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.responses import Response

from reportcard import audit
from reportcard.api.audit_events import client_ip
from reportcard.api.pagination import counted_page, link_header, page_of
from reportcard.auth.permissions import IMPORT_SIS_DATA, has_permission
from reportcard.db.engine import read_conn
from reportcard.db.sis_import_tables import sis_imports
from reportcard.ids import is_id
from reportcard.lms.sis_import.job import TERMINAL, abort_import, create_import, upload_key
from reportcard.service.deps import CurrentUser, ServicesDep, UserDep, find_account
from reportcard.service.errors import (
    UNAUTHORIZED,
    CanvasError,
    bad_request,
    json_response,
    not_found,
)
from reportcard.service.sis_imports import BOOL_OPTIONS, copy_upload, sis_import_json, too_big
from reportcard.service.urls import base_url
from reportcard.timebounds import OutOfRange, naive_utc

router = APIRouter(prefix="/api/v1/accounts/{account_id}/sis_imports", tags=["sis_imports"])

NOT_ROOT = {"errors": ["SIS imports can only be executed on root accounts"]}
STATES = (
    "initializing",
    "created",
    "importing",
    "cleanup_batch",
    "imported",
    "imported_with_messages",
    "aborted",
    "failed",
    "failed_with_messages",
    "restoring",
    "partially_restored",
    "restored",
)
EXTENSIONS = {"application/zip": "zip", "text/plain": "csv", "text/csv": "csv"}
_TRUE = {"1", "true", "yes", "on"}


def authorize_root(conn: Connection, user: CurrentUser, ref: str) -> Any:
    """The root account ``ref`` names, if ``user`` may import SIS data there."""
    account = find_account(conn, user, ref)
    if not has_permission(conn, user.id, int(account.id), IMPORT_SIS_DATA):
        raise CanvasError(403, UNAUTHORIZED)
    if account.root_account_id is not None:
        raise CanvasError(400, NOT_ROOT)
    return account


def _zone(account: Any) -> str:
    return str(account.default_time_zone or "UTC")


def _find(conn: Connection, account: Any, import_id: str) -> Any:
    if not is_id(import_id):
        raise not_found()
    imp = conn.execute(
        select(sis_imports).where(
            sis_imports.c.id == int(import_id), sis_imports.c.account_id == account.id
        )
    ).first()
    if imp is None:
        raise not_found()
    return imp


def _flag(value: Any) -> bool:
    return isinstance(value, str) and value.strip().lower() in _TRUE


@router.post("", summary="Import SIS data", operation_id="import_sis_data")
async def create(account_id: str, request: Request, svc: ServicesDep, user: UserDep) -> Response:
    def check() -> Any:
        with read_conn(svc.engine) as conn:
            return authorize_root(conn, user, account_id)

    account = await run_in_threadpool(check)
    limit = svc.settings.sis_import_max_bytes
    declared = request.headers.get("content-length", "")
    if is_id(declared) and int(declared) > limit + (1 << 20):
        raise too_big(limit)
    params: dict[str, Any] = dict(request.query_params)
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    storage = svc.storage
    if media == "multipart/form-data":
        try:
            form = await request.form(max_files=1, max_fields=100)
        except Exception as exc:
            raise CanvasError(400, {"errors": [{"message": f"Bad form data: {exc}"}]}) from exc
        params.update({k: v for k, v in form.items() if isinstance(v, str)})
        upload = form.get("attachment")
        if not isinstance(upload, UploadFile):
            raise CanvasError(400, {"error": True, "error_message": "Missing attachment"})
        name = upload.filename or "sis_import.csv"
        key = upload_key(name)
        size = await run_in_threadpool(copy_upload, storage, key, upload, limit)
    else:
        charset = ""
        for part in request.headers.get("content-type", "").split(";")[1:]:
            k, _, v = part.strip().partition("=")
            if k.lower() == "charset":
                charset = v.strip().strip('"').lower()
        if charset and charset not in ("utf-8", "utf8"):
            raise CanvasError(400, {"error": "Invalid content type, UTF-8 required"})
        ext = params.get("extension") or EXTENSIONS.get(media, "zip")
        name = f"sis_import.{ext}"
        key = upload_key(name)
        size = 0
        with storage.open_write(key) as out:
            async for block in request.stream():
                size += len(block)
                if size > limit:
                    raise too_big(limit)
                await run_in_threadpool(out.write, block)
    if size == 0:
        storage.delete(key)
        raise CanvasError(400, {"error": True, "error_message": "Missing attachment"})
    import_type = params.get("import_type") or "instructure_csv"
    unsupported = None
    if import_type != "instructure_csv":
        unsupported = f"Invalid import_type {import_type!r}: only instructure_csv is supported."
    elif _flag(params.get("batch_mode")) or _flag(params.get("multi_term_batch_mode")):
        unsupported = "batch_mode is not supported by this server."
    elif params.get("diffing_data_set_identifier"):
        unsupported = "diffing_data_set_identifier is not supported by this server."
    if unsupported is not None:
        storage.delete(key)
        raise CanvasError(400, {"errors": [{"message": unsupported}]})
    options = {k: True for k in BOOL_OPTIONS if _flag(params.get(k))}

    def store() -> dict[str, Any]:
        with svc.engine.begin() as conn:
            import_id = create_import(
                conn,
                account_id=int(account.id),
                user_id=user.id,
                upload_key=key,
                upload_name=name,
                upload_size=size,
                options=options,
            )
            imp = conn.execute(select(sis_imports).where(sis_imports.c.id == import_id)).one()
            audit.record(
                conn,
                user_id=user.id,
                action="sis_import.create",
                account_id=int(account.id),
                subject_type="sis_import",
                subject_id=int(import_id),
                detail={"filename": name, "size": size, "options": sorted(options)},
                ip=client_ip(request),
            )
            return sis_import_json(conn, base_url(request), imp, _zone(account), svc.links)

    try:
        body = await run_in_threadpool(store)
    except BaseException:
        # No import row names the upload (e.g. the database refused a NUL in its name):
        # the file must not stay behind in storage.
        storage.delete(key)
        raise
    svc.wake()
    return json_response(body)


@router.get("", summary="Get SIS import list", operation_id="list_sis_imports")
def index(account_id: str, request: Request, svc: ServicesDep, user: UserDep) -> Response:
    page = page_of(request)
    q = request.query_params
    states = [s for s in q.getlist("workflow_state[]") + q.getlist("workflow_state") if s in STATES]
    with read_conn(svc.engine) as conn:
        account = authorize_root(conn, user, account_id)
        s = sis_imports.c
        cond = s.account_id == account.id
        if states:
            cond = cond & s.workflow_state.in_(states)
        for param, op in (("created_since", "gt"), ("created_before", "lt")):
            when = _when(q.get(param), param)
            if when is not None:
                cond = cond & (s.created_at > when if op == "gt" else s.created_at < when)
        total, rows = counted_page(
            conn, sis_imports, cond, page, order_by=[s.created_at.desc(), s.id.desc()]
        )
        base = base_url(request)
        body = {
            "sis_imports": [sis_import_json(conn, base, r, _zone(account), svc.links) for r in rows]
        }
    return json_response(body, headers={"Link": link_header(request, page, total)})


def _when(value: str | None, name: str) -> Any:
    """A time filter; an unreadable one is ignored (as Canvas), one out of range is a 400."""
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    try:
        return naive_utc(when)
    except OutOfRange as exc:
        raise bad_request(f"{name} is out of range (years 1 to 9999, in UTC)") from exc


@router.get(
    "/importing", summary="Get the current importing SIS import", operation_id="sis_importing"
)
def importing(account_id: str, request: Request, svc: ServicesDep, user: UserDep) -> Response:
    with read_conn(svc.engine) as conn:
        account = authorize_root(conn, user, account_id)
        rows = conn.execute(
            select(sis_imports)
            .where(
                sis_imports.c.account_id == account.id,
                sis_imports.c.workflow_state == "importing",
            )
            .order_by(sis_imports.c.id)
        ).all()
        base = base_url(request)
        body = {
            "sis_imports": [sis_import_json(conn, base, r, _zone(account), svc.links) for r in rows]
        }
    return json_response(body)


@router.get("/{import_id}", summary="Get SIS import status", operation_id="get_sis_import")
def show(
    account_id: str, import_id: str, request: Request, svc: ServicesDep, user: UserDep
) -> Response:
    with read_conn(svc.engine) as conn:
        account = authorize_root(conn, user, account_id)
        imp = _find(conn, account, import_id)
        body = sis_import_json(conn, base_url(request), imp, _zone(account), svc.links)
    return json_response(body)


@router.put("/{import_id}/abort", summary="Abort SIS import", operation_id="abort_sis_import")
def abort(
    account_id: str, import_id: str, request: Request, svc: ServicesDep, user: UserDep
) -> Response:
    with svc.engine.begin() as conn:
        account = authorize_root(conn, user, account_id)
        imp = _find(conn, account, import_id)
        if imp.workflow_state in TERMINAL or not abort_import(conn, int(imp.id)):
            raise not_found()
        audit.record(
            conn,
            user_id=user.id,
            action="sis_import.abort",
            account_id=int(account.id),
            subject_type="sis_import",
            subject_id=int(imp.id),
            ip=client_ip(request),
        )
        imp = _find(conn, account, import_id)
        body = sis_import_json(conn, base_url(request), imp, _zone(account), svc.links)
    return json_response(body)
