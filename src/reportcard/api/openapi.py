"""The OpenAPI document as clients (and the schemathesis fuzz tests) should read it.

FastAPI declares only ``200`` and a ``422`` no route ever sends (validation errors answer 400
here, as in Canvas). :func:`install` rewrites each operation's responses to what the server
really answers: the Canvas error body for 400/401/403/404/409/410/413/429/503, ``Retry-After``
on 429 and 503, binary bodies and redirects for the download routes, and the bearer-token
security schemes.
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


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(t: str) -> dict[str, Any]:
    return {"type": [t, "null"]}


_STR, _INT = {"type": "string"}, {"type": "integer"}
# The 200 bodies of the Canvas endpoints (keys the clients rely on; more may appear).
SCHEMAS: dict[str, dict[str, Any]] = {
    "File": {
        "type": "object",
        "required": ["id", "uuid", "display_name", "filename", "content-type", "url", "size"],
        "properties": {
            "id": _INT,
            "uuid": _STR,
            "display_name": _STR,
            "filename": _STR,
            "content-type": _STR,
            "url": _STR,
            "size": _INT,
            "workflow_state": _STR,
        },
    },
    "Report": {
        "type": "object",
        "required": [
            "id",
            "progress",
            "parameters",
            "current_line",
            "status",
            "report",
            "created_at",
            "started_at",
            "ended_at",
            "run_time",
            "file_url",
            "message",
            "user",
        ],
        "properties": {
            "id": _INT,
            "progress": {"type": "integer", "minimum": 0, "maximum": 100},
            "parameters": _nullable("object"),
            "current_line": _nullable("integer"),
            "status": {
                "enum": [
                    "created",
                    "running",
                    "compiling",
                    "complete",
                    "error",
                    "aborted",
                    "deleted",
                ]
            },
            "report": _STR,
            "created_at": _STR,
            "started_at": _nullable("string"),
            "ended_at": _nullable("string"),
            "run_time": {"type": "number"},
            "file_url": _nullable("string"),
            "message": _nullable("string"),
            "user": {"type": "object"},
            "attachment": _ref("File"),
        },
    },
    "AvailableReport": {
        "type": "object",
        "required": ["title", "parameters", "report", "last_run"],
        "properties": {
            "title": _STR,
            "parameters": _nullable("object"),
            "report": _STR,
            "last_run": {"anyOf": [_ref("Report"), {"type": "null"}]},
        },
    },
    "Account": {
        "type": "object",
        "required": ["id", "name", "workflow_state", "parent_account_id", "root_account_id"],
        "properties": {
            "id": _INT,
            "name": _STR,
            "workflow_state": _STR,
            "parent_account_id": _nullable("integer"),
            "root_account_id": _nullable("integer"),
        },
    },
    "SisImport": {
        "type": "object",
        "required": ["id", "created_at", "progress", "workflow_state"],
        "properties": {"id": _INT, "progress": _INT, "workflow_state": _STR},
    },
    "AuditEvent": {
        "type": "object",
        "required": ["id", "created_at", "user_id", "account_id", "action", "detail"],
        "properties": {
            "id": _INT,
            "created_at": _STR,
            "user_id": _nullable("integer"),
            "account_id": _nullable("integer"),
            "action": _STR,
            "subject_type": _nullable("string"),
            "subject_id": _nullable("integer"),
            "detail": {"type": "object"},
            "ip": _nullable("string"),
        },
    },
}


def _array(name: str) -> dict[str, Any]:
    return {"type": "array", "items": _ref(name)}


OK_BODIES: dict[str, dict[str, Any]] = {
    "list_available_reports": _array("AvailableReport"),
    "start_report": _ref("Report"),
    "index_of_reports": _array("Report"),
    "report_status": _ref("Report"),
    "delete_report": _ref("Report"),
    "abort_report": _ref("Report"),
    "list_accounts": _array("Account"),
    "get_account": _ref("Account"),
    "list_sub_accounts": _array("Account"),
    "list_enrollment_terms": {
        "type": "object",
        "required": ["enrollment_terms"],
        "properties": {"enrollment_terms": {"type": "array", "items": {"type": "object"}}},
    },
    "get_file": _ref("File"),
    "import_sis_data": _ref("SisImport"),
    "get_sis_import": _ref("SisImport"),
    "abort_sis_import": _ref("SisImport"),
    "list_sis_imports": {
        "type": "object",
        "required": ["sis_imports"],
        "properties": {"sis_imports": _array("SisImport")},
    },
    "list_audit_events": _array("AuditEvent"),
}
_DESCRIPTIONS = {
    "400": "Bad request (invalid parameters or body).",
    "401": "No, an invalid, a revoked or an expired access token.",
    "403": "The token's user lacks the permission on this account.",
    "404": "No such resource (or not visible to this user).",
    "409": "A run of the same report and parameters is active: its Report JSON; Location names it.",
    "410": "The report file expired and was deleted by retention.",
    "413": "The request body is larger than the limit.",
    "429": "A limit was reached; Retry-After gives the seconds to wait.",
    "503": "The database is locked or unreachable for now; Retry-After gives the seconds to wait.",
}
_DOWNLOADS = {"download_file", "download_account_file"}


def _error(code: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "description": _DESCRIPTIONS[code],
        "content": {"application/json": {"schema": _ERROR}},
    }
    if code in ("429", "503"):
        out["headers"] = {
            "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}
        }
    return out


def _fix(op: dict[str, Any]) -> None:
    responses: dict[str, Any] = op.setdefault("responses", {})
    responses.pop("422", None)
    codes = ["400", "401", "403", "404", "413", "503"]
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
    body = OK_BODIES.get(op_id)
    if body is not None:
        ok = responses.setdefault("200", {"description": "Success"})
        ok["content"] = {"application/json": {"schema": body}}
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


def _report_parameters() -> dict[str, Any]:
    """Each report's declared parameters: kind, label, required, choices, description."""
    from reportcard.reports.catalog import all_reports

    out: dict[str, Any] = {}
    for name, report in sorted(all_reports().items()):
        params: dict[str, Any] = {}
        for key, p in report.parameters.items():
            spec: dict[str, Any] = {
                "kind": p.kind,
                "label": p.title,
                "required": p.required,
                "description": p.description,
            }
            if p.choices:
                spec["choices"] = [value for value, _ in p.choices]
            params[key] = spec
        out[name] = params
    return out


def _describe_start(op: dict[str, Any]) -> None:
    """List every report's parameters, with their kinds, on Start a Report."""
    reports = _report_parameters()
    lines = [
        op.get("description", "").rstrip(),
        "",
        "Parameters go as `parameters[name]=value` (a list: `parameters[name][]=v`). Kinds: "
        "`boolean` (true/false, yes/no, on/off, 1/0), `term` (a term id or "
        "`sis_term_id:X`), `date` (ISO 8601 date or date-time), `id` (a canvas id or "
        "`sis_<kind>_id:X`), `choice` (one of the values), `list` (any of the values, "
        "comma-separated or repeated). As in Canvas, a parameter a report does not take is "
        "ignored. `x-report-parameters` holds the same as data.",
        "",
    ]
    for name, params in reports.items():
        given = ", ".join(
            f"`{k}`{'*' if v['required'] else ''} ({v['kind']})" for k, v in params.items()
        )
        lines.append(f"- `{name}`: {given or 'none'}")
    op["description"] = "\n".join(lines).lstrip("\n")
    op["x-report-parameters"] = reports


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
        components["schemas"].update(SCHEMAS)
        components["securitySchemes"] = {
            "bearer": {"type": "http", "scheme": "bearer", "description": "An access token."},
            "access_token": {"type": "apiKey", "in": "query", "name": "access_token"},
        }
        doc["security"] = [{"bearer": []}, {"access_token": []}]
        for path in doc.get("paths", {}).values():
            for method, op in path.items():
                if method in ("get", "put", "post", "delete", "patch"):
                    _fix(op)
        for path in doc.get("paths", {}).values():
            start = path.get("post")
            if start is not None and start.get("operationId") == "start_report":
                _describe_start(start)
        for name in ("HTTPValidationError", "ValidationError"):
            components["schemas"].pop(name, None)
        app.openapi_schema = doc
        return doc

    app.openapi = openapi  # type: ignore[method-assign]
