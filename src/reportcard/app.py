"""The server's FastAPI application: the API's routers and errors, the Reports page, the
middleware, and the embedded worker pool's lifetime, on the runtime of :mod:`reportcard.wiring`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from reportcard import __version__
from reportcard.api import (
    accounts,
    audit_events,
    docs_pages,
    errors,
    files,
    openapi,
    report_schedules,
    report_webhooks,
    reports,
    sis_imports,
)
from reportcard.api.head import HeadAsGet
from reportcard.api.middleware import NormalizePath, RefuseNul
from reportcard.api.status_fast import StatusFastPath
from reportcard.db.busy import retry_while_unavailable
from reportcard.db.migrate import upgrade
from reportcard.service.limits import BodySizeLimit
from reportcard.settings import Settings
from reportcard.web.routes import install as install_web
from reportcard.wiring import build


def create_app(settings: Settings | None = None, *, workers: int | None = None) -> FastAPI:
    """The app; ``workers`` embedded worker threads run while it serves (default: settings)."""
    runtime = build(settings)
    settings, engine = runtime.settings, runtime.engine
    _ = runtime.storage  # made now: storage settings that cannot work stop the start
    n = settings.workers if workers is None else workers
    if settings.queue == "celery":
        n = 0  # Celery workers do the work

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # A locked (SQLite) or unreachable database at start-up is waited out, logged, never
        # a traceback and exit (reportcard.db.busy); nothing is served before it answers.
        pause = max(settings.poll_seconds, 1.0)
        retry_while_unavailable(lambda: upgrade(engine), what="server start", pause=pause)
        if n > 0:
            retry_while_unavailable(lambda: runtime.start_pool(n), what="worker start", pause=pause)
        try:
            yield
        finally:
            runtime.stop_pool()

    app = FastAPI(
        title="reportcard",
        version=__version__,
        description="Canvas LMS Account Reports API, self-hosted.",
        lifespan=lifespan,
        docs_url=None,  # /docs and /redoc come from packaged assets (api.docs_pages), no CDN
        redoc_url=None,
    )
    app.state.services = runtime
    errors.install(app)
    openapi.install(app)
    docs_pages.install(app)
    app.include_router(accounts.router)
    app.include_router(reports.router)
    app.include_router(files.router)
    app.include_router(sis_imports.router)
    app.include_router(audit_events.router)
    app.include_router(report_schedules.router)
    app.include_router(report_webhooks.router)
    install_web(app)  # the Reports page (reportcard.web)
    app.add_middleware(NormalizePath)
    if settings.status_fast_path:
        app.add_middleware(StatusFastPath, engine=engine, links=runtime.links)
    app.add_middleware(RefuseNul)
    app.add_middleware(
        BodySizeLimit,
        max_bytes=settings.max_body_bytes,
        upload_max_bytes=settings.sis_import_max_bytes,
    )
    app.add_middleware(HeadAsGet)  # outermost: HEAD is the GET without its body
    return app
