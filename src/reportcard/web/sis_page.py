"""The SIS import page of a root account: upload a file, watch it, read counts and messages.

The upload is stored and the import created exactly as ``POST /api/v1/accounts/:id/
sis_imports`` does (the same upload key, size limit, ``create_import`` and job); what the page
shows is the API's own SisImport object.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import Connection, select
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.responses import Response

from reportcard.audit import record
from reportcard.auth.permissions import IMPORT_SIS_DATA
from reportcard.db.engine import read_conn
from reportcard.db.sis_import_tables import sis_imports
from reportcard.ids import parse_id
from reportcard.lms.sis_import.job import ACTIVE, create_import, upload_key
from reportcard.service.errors import CanvasError
from reportcard.service.sis_imports import BOOL_OPTIONS, copy_upload, sis_import_json
from reportcard.service.urls import base_url
from reportcard.web import csrf
from reportcard.web.accounts import breadcrumbs, visible_tree
from reportcard.web.base import (
    Refused,
    SessionDep,
    check_csrf,
    form_data,
    is_htmx,
    page_context,
    redirect,
    render,
    services,
)
from reportcard.web.reports_page import STOP_POLLING, client_ip, find_account
from reportcard.web.sessions import WebSession
from reportcard.web.signin import canvas_text
from reportcard.web.views import local_time

router = APIRouter(include_in_schema=False)

RECENT = 10
# Only the options that change what an import does are offered. The SIS stickiness options and
# update_sis_id_if_login_claimed are accepted and echoed by the API (as Canvas does) but have no
# effect here (docs/sis-import.md), so the page does not show checkboxes that change nothing.
OPTION_LABELS = {
    "skip_deletes": "Skip deletes (rows with status deleted are ignored)",
}
STATE_WORDS = {
    "created": "Queued",
    "initializing": "Queued",
    "importing": "Importing",
    "imported": "Imported",
    "imported_with_messages": "Imported with messages",
    "aborted": "Aborted",
    "failed": "Failed",
    "failed_with_messages": "Failed with messages",
}


def upload_name(filename: str | None) -> str:
    """The name an upload is kept and shown under: the client's base name, printable, and
    never ``.``/``..`` (which would name a directory in the storage key)."""
    base = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(c for c in base if c.isprintable())[-200:]
    return base if base.strip(". ") else "sis_import.csv"


def _root(conn: Connection, session: WebSession, account_id: str) -> Any:
    account = find_account(conn, session, account_id, IMPORT_SIS_DATA)
    if account.root_account_id is not None:
        raise Refused(404, "SIS imports run on root accounts only.")
    return account


def import_view(conn: Connection, request: Request, imp: Any, account: Any) -> dict[str, Any]:
    tz = str(account.default_time_zone or "UTC")
    body = sis_import_json(conn, base_url(request), imp, tz, services(request).links)
    counts = (body.get("data") or {}).get("counts") or {}
    return {
        "id": int(imp.id),
        "account_id": int(account.id),
        "state": imp.workflow_state,
        "state_word": STATE_WORDS.get(imp.workflow_state, imp.workflow_state),
        "active": imp.workflow_state in ACTIVE,
        "progress": max(0, min(100, int(imp.progress or 0))),
        "file": str(imp.upload_name),
        "created": local_time(imp.created_at, tz),
        "ended": local_time(imp.ended_at, tz),
        "counts": [(k.replace("_", " "), v) for k, v in counts.items() if v],
        "errors": body.get("processing_errors") or [],
        "warnings": body.get("processing_warnings") or [],
        "errors_file": (body.get("errors_attachment") or {}).get("url"),
    }


def _recent(conn: Connection, request: Request, account: Any) -> list[dict[str, Any]]:
    s = sis_imports.c
    rows = conn.execute(
        select(sis_imports)
        .where(s.account_id == account.id)
        .order_by(s.created_at.desc(), s.id.desc())
        .limit(RECENT)
    ).all()
    return [import_view(conn, request, r, account) for r in rows]


def _page(
    request: Request, session: WebSession, account_id: str, *, error: str = "", notice: str = ""
) -> dict[str, Any]:
    svc = services(request)
    with read_conn(svc.engine) as conn:
        account = _root(conn, session, account_id)
        return page_context(
            session,
            account=account,
            crumbs=breadcrumbs(conn, int(account.id)),
            choices=visible_tree(conn, session.user_id),
            imports=_recent(conn, request, account),
            options=[(k, OPTION_LABELS[k]) for k in BOOL_OPTIONS if k in OPTION_LABELS],
            max_bytes=svc.settings.sis_import_max_bytes,
            can_import=True,
            page="sis_import",
            error=error,
            notice=notice,
        )


@router.get("/accounts/{account_id}/sis_import")
def sis_page(account_id: str, request: Request, session: SessionDep) -> Response:
    return render(request, "sis_import.html", _page(request, session, account_id))


@router.post("/accounts/{account_id}/sis_import")
async def upload(account_id: str, request: Request, session: SessionDep) -> Response:
    """Start an import from an uploaded file.

    Everything that may refuse the request is decided before a byte of the body is read
    (as the API does): the session, the permission (404 for an account the person may not
    import into), the CSRF proof and the declared size. The CSRF token therefore comes in the
    ``X-CSRF-Token`` header (htmx, scripts) or the ``csrf_token`` query parameter (the page's
    form puts it in its action URL); a token only in the multipart body is not looked at.
    """
    svc = services(request)
    limit = svc.settings.sis_import_max_bytes

    def authorize() -> Any:
        with read_conn(svc.engine) as conn:
            return _root(conn, session, account_id)

    account = await run_in_threadpool(authorize)
    check_csrf(request, session, {csrf.FIELD: [request.query_params.get(csrf.FIELD)]})
    declared = parse_id(request.headers.get("content-length", ""))
    if declared is not None and declared > limit + (1 << 20):
        raise Refused(413, f"The file is larger than the limit of {limit:,} bytes.")
    data = await form_data(request)
    files = [v for v in data.get("attachment", []) if isinstance(v, UploadFile)]
    chosen = files[0] if files and files[0].filename else None

    def store() -> tuple[str, str]:
        if chosen is None:
            return "", "Choose a CSV or zip file to import."
        name = upload_name(chosen.filename)
        key = upload_key(name)
        try:
            size = copy_upload(svc.storage, key, chosen, limit)
        except CanvasError as exc:
            svc.storage.delete(key)
            return "", canvas_text(exc.body)
        if size == 0:
            svc.storage.delete(key)
            return "", "The file is empty."
        options = {k: True for k in BOOL_OPTIONS if (data.get(k) or [""])[0] == "true"}
        with svc.engine.begin() as conn:
            import_id = create_import(
                conn,
                account_id=int(account.id),
                user_id=session.user_id,
                upload_key=key,
                upload_name=name,
                upload_size=size,
                options=options,
            )
            record(
                conn,
                user_id=session.user_id,
                action="sis_import.create",
                account_id=int(account.id),
                subject_type="SisImport",
                subject_id=import_id,
                detail={"file": name, "size": size, "via": "web"},
                ip=client_ip(request),
            )
        return f"Import {import_id} of {name} started.", ""

    notice, error = await run_in_threadpool(store)
    if notice:
        svc.wake()
    if not error and not is_htmx(request):
        return redirect(f"/accounts/{account_id}/sis_import")
    context = await run_in_threadpool(
        lambda: _page(request, session, account_id, error=error, notice=notice)
    )
    return render(request, "sis_import.html", context, status=422 if error else 200)


@router.get("/accounts/{account_id}/sis_import/{import_id}")
def import_status(
    account_id: str, import_id: str, request: Request, session: SessionDep
) -> Response:
    svc = services(request)
    with read_conn(svc.engine) as conn:
        account = _root(conn, session, account_id)
        imp = None
        wanted = parse_id(import_id)
        if wanted is not None:
            imp = conn.execute(
                select(sis_imports).where(
                    sis_imports.c.id == wanted, sis_imports.c.account_id == account.id
                )
            ).first()
        if imp is None:
            other = (
                wanted is not None
                and conn.execute(select(sis_imports.c.id).where(sis_imports.c.id == wanted)).first()
            )
            raise Refused(
                404,
                "There is no such SIS import.",
                denied=bool(other),
                reason="SIS import of another account",
                user_id=session.user_id,
                account_id=int(account.id),
            )
        view = import_view(conn, request, imp, account)
    status = 200 if view["active"] or not is_htmx(request) else STOP_POLLING
    return render(request, "_sis_import.html", page_context(session, imp=view), status)
