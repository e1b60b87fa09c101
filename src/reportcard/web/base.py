"""What every page of the Reports UI shares: templates, the signed-in session, CSRF, headers."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, RedirectResponse, Response

from reportcard.service.deps import Services
from reportcard.web import csrf
from reportcard.web.sessions import COOKIE, WebSession, load_session
from reportcard.web.views import human_size

HERE = Path(__file__).parent
STATIC_URL = "/ui-static"
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

env = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
env.filters["size"] = human_size
env.globals["static"] = STATIC_URL


class SignInRequired(Exception):
    """No live session: pages redirect to the sign-in form, htmx requests are told to."""


class Refused(Exception):
    """A request the page will not act on (CSRF, permission): answered as an HTML page.

    ``denied`` marks a failed authorization (a bad CSRF proof, or an account the person may
    not see, answered 404 like one that does not exist): it is recorded in the audit log as
    ``auth.forbidden`` with ``reason``, the user ``user_id`` and the answer's status.
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        denied: bool = False,
        reason: str = "",
        user_id: int | None = None,
        account_id: int | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.denied = denied
        self.reason = reason
        self.user_id = user_id
        self.account_id = account_id


def services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any],
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    html = env.get_template(template).render(request=request, **context)
    merged = dict(SECURITY_HEADERS)
    merged.update(headers or {})
    return HTMLResponse(html, status_code=status, headers=merged)


def redirect(url: str) -> Response:
    return RedirectResponse(url, status_code=303, headers=SECURITY_HEADERS)


async def current_session(request: Request) -> WebSession:
    svc = services(request)
    secret = request.cookies.get(COOKIE)
    settings = svc.settings
    found = await run_in_threadpool(
        load_session,
        svc.engine,
        secret,
        idle_hours=settings.ui_session_hours,
        max_hours=settings.ui_session_max_hours,
    )
    if found is None:
        raise SignInRequired()
    return found


SessionDep = Annotated[WebSession, Depends(current_session)]


NUL_REFUSED = "The request contains a character that is not allowed (NUL)."


def refuse_nul(request: Request) -> None:
    """No page takes a NUL in its path or query (PostgreSQL text cannot hold one): 400."""
    query = request.query_params.multi_items()
    if "\x00" in request.url.path or any("\x00" in k + v for k, v in query):
        raise Refused(400, NUL_REFUSED)


async def form_data(request: Request) -> dict[str, list[Any]]:
    """The submitted form, every field as a list of its values (400 for a NUL in any)."""
    form = await request.form(max_files=1, max_fields=200)
    out: dict[str, list[Any]] = {}
    for key, value in form.multi_items():
        if "\x00" in key or (isinstance(value, str) and "\x00" in value):
            raise Refused(400, NUL_REFUSED)
        out.setdefault(key, []).append(value)
    return out


def check_csrf(request: Request, session: WebSession, data: Mapping[str, list[Any]]) -> None:
    given = data.get(csrf.FIELD) or [None]
    value = given[0] if isinstance(given[0], str) else None
    try:
        csrf.check(request, session.csrf_token, value)
    except csrf.CsrfError as exc:
        raise Refused(
            403,
            "This form has expired or did not come from this site. Reload the page.",
            denied=True,
            reason=str(exc),
            user_id=session.user_id,
        ) from exc


def page_context(session: WebSession, **extra: Any) -> dict[str, Any]:
    return {"session": session, "csrf_token": session.csrf_token, **extra}
