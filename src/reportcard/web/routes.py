"""Mounting the Reports UI on the app: its routers, static files and HTML error pages."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response
from starlette.staticfiles import StaticFiles

from reportcard.web import reports_page, schedules_page, signin, sis_page
from reportcard.web.base import (
    HERE,
    SECURITY_HEADERS,
    STATIC_URL,
    Refused,
    SignInRequired,
    is_htmx,
    refuse_nul,
    render,
)
from reportcard.web.denials import record_web

router = APIRouter(include_in_schema=False)
router.include_router(signin.router)
router.include_router(reports_page.router)
router.include_router(sis_page.router)
router.include_router(schedules_page.router)


async def _sign_in(request: Request, _: Exception) -> Response:
    if request.method not in ("GET", "HEAD"):
        # A change attempted without a live session (a GET is an ordinary visit).
        await run_in_threadpool(record_web, request, "auth.unauthenticated", detail={"status": 303})
    target = "/login"
    if request.method == "GET" and request.url.path not in ("/", "/accounts"):
        target += "?next=" + quote(request.url.path, safe="/")
    if is_htmx(request):
        return Response(status_code=200, headers={"HX-Redirect": target, **SECURITY_HEADERS})
    return Response(status_code=303, headers={"Location": target, **SECURITY_HEADERS})


async def _refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Refused)
    if exc.denied:
        await run_in_threadpool(
            lambda: record_web(
                request,
                "auth.forbidden",
                user_id=exc.user_id,
                account_id=exc.account_id,
                detail={"status": exc.status, "reason": exc.reason, "message": exc.message},
            )
        )
    return render(request, "error.html", {"message": exc.message}, status=exc.status)


def install(app: FastAPI) -> None:
    """Add the Reports page: pages, static files (htmx, CSS) and its error answers."""
    app.include_router(router, dependencies=[Depends(refuse_nul)])
    app.mount(STATIC_URL, StaticFiles(directory=HERE / "static"), name="ui-static")
    app.add_exception_handler(SignInRequired, _sign_in)
    app.add_exception_handler(Refused, _refused)
