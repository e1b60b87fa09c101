"""``/docs`` (Swagger UI) and ``/redoc`` (ReDoc) from assets installed with the package.

FastAPI's own pages load their scripts and styles from a CDN, so they are blank without the
internet and tell a third party who reads the API docs. The same pages are served here with
the assets that the ``fastapi-offline`` package ships (Swagger UI's bundle and CSS, ReDoc's
standalone bundle, a favicon), mounted under :data:`ASSETS`: every ``src`` and ``href`` of the
two pages is on this server, and Swagger UI's online validator badge is off.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.staticfiles import StaticFiles
from starlette.responses import HTMLResponse

ASSETS = "/docs-assets"
DOCS = "/docs"
REDOC = "/redoc"
OAUTH2_REDIRECT = "/docs/oauth2-redirect"


def assets_dir() -> Path:
    """The folder of the packaged Swagger UI and ReDoc assets."""
    return Path(str(files("fastapi_offline") / "static"))


# Module-level pages: they read the app from the request. Closures made in ``install`` would
# capture the app, and FastAPI keeps every endpoint it classifies in module-level caches
# (4,096 entries each), so every app a process ever made stayed alive with its engine and its
# compiled statements (about 180 MB each): a test process that serves many apps grew by
# gigabytes, and its garbage collections stalled its servers for seconds.
router = APIRouter(include_in_schema=False)


def _openapi_url(request: Request) -> str:
    root = request.scope.get("root_path", "")
    return f"{root}{request.app.openapi_url or '/openapi.json'}"


@router.get(DOCS)
async def swagger_ui(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "")
    return get_swagger_ui_html(
        openapi_url=_openapi_url(request),
        title=f"{request.app.title} - Swagger UI",
        oauth2_redirect_url=f"{root}{OAUTH2_REDIRECT}",
        swagger_js_url=f"{root}{ASSETS}/swagger-ui-bundle.js",
        swagger_css_url=f"{root}{ASSETS}/swagger-ui.css",
        swagger_favicon_url=f"{root}{ASSETS}/favicon.png",
        swagger_ui_parameters={"validatorUrl": None},  # no badge from validator.swagger.io
    )


@router.get(OAUTH2_REDIRECT)
async def swagger_ui_redirect() -> HTMLResponse:
    return get_swagger_ui_oauth2_redirect_html()


@router.get(REDOC)
async def redoc(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "")
    return get_redoc_html(
        openapi_url=_openapi_url(request),
        title=f"{request.app.title} - ReDoc",
        redoc_js_url=f"{root}{ASSETS}/redoc.standalone.js",
        redoc_favicon_url=f"{root}{ASSETS}/favicon.png",
        with_google_fonts=False,
    )


def install(app: FastAPI) -> None:
    """Serve the two pages and their assets (create the app with ``docs_url=None`` and
    ``redoc_url=None`` so that FastAPI's CDN pages are not registered)."""
    app.mount(ASSETS, StaticFiles(directory=assets_dir()), name="docs-assets")
    app.include_router(router)
