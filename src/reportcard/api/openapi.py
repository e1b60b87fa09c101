"""The OpenAPI document as clients (and the schemathesis fuzz tests) should read it.

FastAPI declares only ``200`` and a ``422`` no route ever sends (validation errors answer 400
here, as in Canvas). :func:`install` rewrites each operation's responses to what the server
really answers: the Canvas error body for 400/401/403/404/409/410/413/429, ``Retry-After`` on
429, binary bodies and redirects for the download routes, and the bearer-token security schemes.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

ERROR_SCHEMA: dict[str, Any] = {
    "title": "CanvasError",
    "description": "Canvas's error body; its exact keys vary with the endpoint, as in Canvas.",
    "type": "object",
    "properties": {
        "errors": {
            "type": "array",
            "items": {
                "anyOf": [
                    {
                        "type": "object",
                        "properties": {"message": {"type": "string"}},
                        "required": ["message"],
                    },
                    {"type": "string"},
                ]
            },
        },
        "status": {"type": "string"},
        "error": {"anyOf": [{"type": "string"}, {"type": "boolean"}]},
        "error_message": {"type": "string"},
    },
    "anyOf": [{"required": ["errors"]}, {"required": ["error"]}],
}

_ERROR = {"$ref": "#/components/schemas/CanvasError"}
_DESCRIPTIONS = {
    "400": "Bad request (invalid parameters or body).",
    "401": "No, an invalid, a revoked or an expired access token.",
    "403": "The token's user lacks the permission on this account.",
    "404": "No such resource (or not visible to this user).",
    "409": "A run of the same report and parameters is active: its Report JSON; Location names it.",
    "410": "The report file expired and was deleted by retention.",
    "413": "The request body is larger than the limit.",
    "429": "A limit was reached; Retry-After gives the seconds to wait.",
}
_DOWNLOADS = {"download_file", "download_account_file"}


def _error(code: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "description": _DESCRIPTIONS[code],
        "content": {"application/json": {"schema": _ERROR}},
    }
    if code == "429":
        out["headers"] = {
            "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}
        }
    return out


def _fix(op: dict[str, Any]) -> None:
    responses: dict[str, Any] = op.setdefault("responses", {})
    responses.pop("422", None)
    codes = ["400", "401", "403", "404", "413"]
    op_id = op.get("operationId", "")
    if op_id == "start_report":
        codes += ["409", "429"]
    if op_id in _DOWNLOADS or op_id == "get_file":
        codes.append("410")
    for code in codes:
        responses.setdefault(code, _error(code))
    if op_id == "start_report":
        responses["409"] = {
            "description": _DESCRIPTIONS["409"],
            "content": {"application/json": {"schema": {"type": "object"}}},
            "headers": {"Location": {"schema": {"type": "string"}, "description": "The run."}},
        }
    if op_id in _DOWNLOADS:
        responses["200"] = {
            "description": "The file's bytes (with a signed verifier, or a token).",
            "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
        }
        responses["302"] = {"description": "Redirect to a presigned object-store URL."}
        op["security"] = [{"bearer": []}, {"access_token": []}, {}]
        params = op.setdefault("parameters", [])
        if not any(p.get("name") == "verifier" for p in params):
            params.append(
                {
                    "name": "verifier",
                    "in": "query",
                    "required": False,
                    "description": "The signed verifier of the file's download link.",
                    "schema": {"type": "string"},
                }
            )


def install(app: FastAPI) -> None:
    """Serve the corrected document at ``/openapi.json``."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        doc = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        components = doc.setdefault("components", {})
        components.setdefault("schemas", {})["CanvasError"] = ERROR_SCHEMA
        components["securitySchemes"] = {
            "bearer": {"type": "http", "scheme": "bearer", "description": "An access token."},
            "access_token": {"type": "apiKey", "in": "query", "name": "access_token"},
        }
        doc["security"] = [{"bearer": []}, {"access_token": []}]
        for path in doc.get("paths", {}).values():
            for method, op in path.items():
                if method in ("get", "put", "post", "delete", "patch"):
                    _fix(op)
        for name in ("HTTPValidationError", "ValidationError"):
            components["schemas"].pop(name, None)
        app.openapi_schema = doc
        return doc

    app.openapi = openapi  # type: ignore[method-assign]
