"""The status endpoint below the framework: what pollers hit most, answered in plain ASGI.

``GET /api/v1/accounts/:id/reports/:report/:id`` with a bearer token is recognised before
FastAPI's routing, dependency injection and response classes. The one combined query of
:mod:`reportcard.api.status` runs straight on a pooled DBAPI connection with its SQL compiled
once, and the answer is sent in two ASGI messages. Anything unusual (another path shape, no
token or a bad one, no permission, an unknown run, a database error) is passed on untouched to
the application, whose general path gives the exact Canvas answer or error; so this layer can
only ever produce the same 200 body the application would.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any
from urllib.parse import unquote

import orjson
from sqlalchemy import Engine
from starlette.types import ASGIApp, Receive, Scope, Send

from reportcard.api.status import STATUS, TABLES
from reportcard.auth.links import LinkSigner
from reportcard.auth.tokens import hash_token, note_used
from reportcard.clock import utcnow
from reportcard.service.serializers import report_json

_PATH = re.compile(r"^/api/v1/accounts/(\d{1,18})/reports/([A-Za-z0-9_]{1,100})/(\d{1,18})$")
_CONTENT_TYPE = (b"content-type", b"application/json; charset=utf-8")


class StatusQuery:
    """The combined status SELECT, compiled once for an engine and run on a raw connection."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        dialect = engine.dialect
        compiled = STATUS.compile(dialect=dialect)
        self.sql = str(compiled)
        self.defaults = dict(compiled.params)
        self.order: tuple[str, ...] | None = (
            tuple(compiled.positiontup or ()) if compiled.positional else None
        )
        self.names = [c.name for c in STATUS.selected_columns]
        self.processors: list[Callable[[Any], Any] | None] = [
            c.type.dialect_impl(dialect).result_processor(dialect, None)
            for c in STATUS.selected_columns
        ]
        self.groups = {
            prefix: [(c.name, self.names.index(f"{prefix}__{c.name}")) for c in table.c]
            for prefix, table in TABLES.items()
        }

    def params(self, token_hash: str, account: int, report: str, run: int) -> Any:
        values = dict(self.defaults)
        values.update(hash=token_hash, account=account, report=report, run=run)
        if self.order is None:
            return values
        return tuple(values[k] for k in self.order)

    def fetch(
        self, token_hash: str, account: int, report: str, run: int
    ) -> tuple[dict[str, Any], dict[str, Any | None]] | None:
        raw = self.engine.raw_connection()
        try:
            cur = raw.cursor()
            cur.execute(self.sql, self.params(token_hash, account, report, run))
            found = cur.fetchone()
            cur.close()
        finally:
            raw.close()
        if found is None:
            return None
        values = [
            v if proc is None or v is None else proc(v)
            for v, proc in zip(found, self.processors, strict=True)
        ]
        row = dict(zip(self.names, values, strict=True))
        parts: dict[str, Any | None] = {}
        for prefix, cols in self.groups.items():
            if row[f"{prefix}__id"] is None:
                parts[prefix] = None
            else:
                parts[prefix] = SimpleNamespace(**{name: values[i] for name, i in cols})
        return row, parts


def _bearer(scope: Scope) -> tuple[str | None, str | None]:
    """The bearer token and the Host header (None when absent)."""
    token = host = None
    for key, value in scope["headers"]:
        if key == b"authorization":
            scheme, _, rest = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and rest.strip():
                token = rest.strip()
        elif key == b"host":
            host = value.decode("latin-1")
    return token, host


def _base(scope: Scope, host: str | None) -> str:
    """``scheme://host[:port][root_path]``, as :func:`reportcard.service.urls.base_url` gives."""
    scheme = scope.get("scheme", "http")
    if host is None:
        server = scope.get("server")
        if server is None:
            host = ""
        else:
            name, port = server
            default = {"http": 80, "https": 443}.get(scheme)
            host = name if port == default else f"{name}:{port}"
    root = scope.get("root_path", "") or ""
    return f"{scheme}://{host}{root}".rstrip("/")


class StatusFastPath:
    """ASGI middleware answering the common, successful status poll in one query."""

    def __init__(self, app: ASGIApp, engine: Engine, links: LinkSigner) -> None:
        self.app = app
        self.query = StatusQuery(engine)
        self.links = links

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and not scope["query_string"]:
            match = _PATH.match(scope["path"])
            if match is not None:
                body = self.answer(scope, match)
                if body is not None:
                    headers = [(b"content-length", str(len(body)).encode()), _CONTENT_TYPE]
                    await send({"type": "http.response.start", "status": 200, "headers": headers})
                    await send({"type": "http.response.body", "body": body})
                    return
        await self.app(scope, receive, send)

    def answer(self, scope: Scope, match: re.Match[str]) -> bytes | None:
        """The 200 body, or None to let the application answer."""
        token, host = _bearer(scope)
        if token is None:
            return None
        account, report, run_id = int(match[1]), unquote(match[2]), int(match[3])
        digest = hash_token(token)
        try:
            found = self.query.fetch(digest, account, report, run_id)
        except Exception:  # the application's path reports database trouble properly
            return None
        if found is None:
            return None
        row, parts = found
        now = utcnow()
        fine = (
            row["tok_state"] == "active"
            and (row["tok_expires_at"] is None or row["tok_expires_at"] > now)
            and row["acct_id"] is not None
            and row["acct_state"] != "deleted"
            and row["allowed"]
            and parts["run"] is not None
        )
        if not fine:
            return None
        note_used(self.query.engine, digest)  # at most once a minute per token, off-thread
        user = parts["ru"]
        tz = (user.time_zone if user is not None else None) or row["zone"] or "UTC"
        body = report_json(
            _base(scope, host),
            parts["run"],
            tz=tz,
            attachment=parts["att"],
            user=user,
            now=now,
            links=self.links,
        )
        return orjson.dumps(body)
