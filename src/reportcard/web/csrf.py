"""CSRF protection of the Reports page's forms.

Signed-in forms carry the session's token (a hidden ``csrf_token`` field, or the
``X-CSRF-Token`` header that htmx sends for every request); the sign-in form, which has no
session yet, uses a double-submit cookie. Every comparison is constant-time. A request whose
``Origin`` (or, without one, ``Referer``) names another site is refused before the token is
even looked at.
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from starlette.requests import Request

FIELD = "csrf_token"
HEADER = "x-csrf-token"
PRE_COOKIE = "reportcard_csrf"  # the sign-in form's double-submit cookie


class CsrfError(Exception):
    """The request's CSRF proof is missing or wrong."""


def new_token() -> str:
    return secrets.token_urlsafe(32)


def tokens_match(expected: str | None, given: str | None) -> bool:
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8"))


def same_origin(request: Request) -> bool:
    """False when the browser says the request came from a page of another origin."""
    source = request.headers.get("origin") or request.headers.get("referer")
    if not source or source == "null":
        return source is None
    try:
        netloc = urlsplit(source).netloc
    except ValueError:  # not a URL at all (e.g. "http://[::1"): not from our page
        return False
    host = request.headers.get("host", "")
    return netloc.lower() == host.lower()


def check(request: Request, expected: str | None, form_value: str | None) -> None:
    """Raise CsrfError unless the request proves it came from our own page."""
    if not same_origin(request):
        raise CsrfError("cross-origin request")
    given = request.headers.get(HEADER) or form_value
    if not tokens_match(expected, given):
        raise CsrfError("missing or wrong CSRF token")
