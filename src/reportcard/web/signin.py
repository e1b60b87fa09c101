"""Sign-in (login and password, or an access token) and sign-out of the Reports page."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from reportcard.auth.passwords import login_for_password
from reportcard.auth.tokens import token_id
from reportcard.db.engine import read_conn
from reportcard.service.deps import authenticate
from reportcard.service.errors import CanvasError
from reportcard.web import csrf
from reportcard.web.base import (
    SessionDep,
    SignInRequired,
    check_csrf,
    current_session,
    form_data,
    redirect,
    render,
    services,
)
from reportcard.web.denials import record_web
from reportcard.web.sessions import COOKIE, create_session, end_session
from reportcard.web.throttle import SIGN_INS

router = APIRouter(include_in_schema=False)

WRONG_PASSWORD = "The login or password is incorrect."


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a path on this site only (never ``//host``)."""
    if (
        value
        and value.startswith("/")
        and not value.startswith("//")
        and "\\" not in value
        and all(c.isprintable() and not c.isspace() for c in value)
    ):
        return value
    return "/accounts"


def _login_page(
    request: Request, *, error: str = "", status: int = 200, login: str = "", tab: str = ""
) -> Response:
    token = csrf.new_token()
    response = render(
        request,
        "login.html",
        {
            "csrf_token": token,
            "error": error,
            "login": login,
            "next": safe_next(request.query_params.get("next")),
            "signed_out": request.query_params.get("signed_out") == "1",
            "tab": tab,
        },
        status=status,
    )
    secure = services(request).settings.ui_cookie_secure
    response.set_cookie(
        csrf.PRE_COOKIE, token, httponly=True, secure=secure, samesite="strict", path="/login"
    )
    return response


@router.get("/login")
async def login_form(request: Request) -> Response:
    try:
        await current_session(request)
    except SignInRequired:
        return _login_page(request)
    return redirect("/accounts")


@router.post("/login")
async def login(request: Request) -> Response:
    svc = services(request)
    data = await form_data(request)

    def field(name: str) -> str:
        values = data.get(name) or [""]
        return values[0] if isinstance(values[0], str) else ""

    try:
        csrf.check(request, request.cookies.get(csrf.PRE_COOKIE), field(csrf.FIELD))
    except csrf.CsrfError as exc:
        reason = str(exc)
        await run_in_threadpool(
            lambda: record_web(request, "auth.forbidden", detail={"status": 403, "reason": reason})
        )
        return _login_page(request, error="The sign-in form expired. Please try again.", status=403)
    method = "token" if field("method") == "token" else "password"
    address = request.client.host if request.client else ""
    # Who tried, for the audit log: the login typed, or the token's id part (never a secret).
    token = field("access_token").strip()
    who: dict[str, Any] = {"method": method}
    if method == "token":
        who["token"] = (token_id(token) or "malformed") if token else None
    else:
        who["login"] = field("login").strip()[:200]

    def verify() -> tuple[int, int | None, int | None, str | None] | str:
        """The user, and what vouches for the session: (user, login, token, password hash)."""
        with read_conn(svc.engine) as conn:
            if method == "token":
                try:
                    user = authenticate(conn, token or None)
                except CanvasError as exc:
                    who["reason"] = "token not valid"
                    return canvas_text(exc.body) or "The access token is not valid."
                return user.id, None, user.token_id, None
            login_name = field("login").strip()
            wait = SIGN_INS.wait(login_name, address)
            if wait > 0:
                who["reason"] = "throttled"
                minutes = max(1, round(wait / 60))
                return f"Too many failed sign-ins for this login. Try again in {minutes} min."
            row = login_for_password(conn, login_name, field("password"))
            if row is None:
                who["reason"] = "wrong login or password"
                SIGN_INS.failed(login_name, address)
                return WRONG_PASSWORD
            SIGN_INS.succeeded(login_name, address)
            return int(row.user_id), int(row.id), None, str(row.password_hash)

    found = await run_in_threadpool(verify)
    if isinstance(found, str):
        await run_in_threadpool(
            lambda: record_web(request, "auth.signin_failed", detail={**who, "status": 401})
        )
        return _login_page(
            request, error=found, status=401, login=field("login").strip(), tab=method
        )
    user_id, login_id, access_token_id, password_hash = found

    def start() -> str:
        with svc.engine.begin() as conn:
            end_session(conn, request.cookies.get(COOKIE))  # never keep an older session
            return create_session(
                conn,
                user_id,
                method=method,
                login_id=login_id,
                access_token_id=access_token_id,
                password_hash=password_hash,
                idle_hours=svc.settings.ui_session_hours,
                max_hours=svc.settings.ui_session_max_hours,
            )

    secret = await run_in_threadpool(start)
    await run_in_threadpool(lambda: record_web(request, "auth.signin", user_id=user_id, detail=who))
    response = redirect(safe_next(field("next")))
    response.set_cookie(
        COOKIE,
        secret,
        httponly=True,
        secure=svc.settings.ui_cookie_secure,
        samesite="lax",
        path="/",
    )
    response.delete_cookie(csrf.PRE_COOKIE, path="/login")
    return response


def canvas_text(body: Any) -> str:
    """The human text of a Canvas error body, whatever its shape."""
    if isinstance(body, dict):
        errors = body.get("errors")
        if isinstance(errors, list) and errors:
            first = errors[0]
            if isinstance(first, dict):
                return str(first.get("message", ""))
            return str(first)
        if isinstance(body.get("error"), str):
            return str(body["error"])
        if isinstance(body.get("message"), str):
            return str(body["message"])
    return ""


@router.post("/logout")
async def logout(request: Request, session: SessionDep) -> Response:
    svc = services(request)
    data = await form_data(request)
    check_csrf(request, session, data)

    def end() -> None:
        with svc.engine.begin() as conn:
            end_session(conn, request.cookies.get(COOKIE))
        record_web(request, "auth.signout", user_id=session.user_id)

    await run_in_threadpool(end)
    response = redirect("/login?signed_out=1")
    response.delete_cookie(COOKIE, path="/")
    return response
