"""UI downloads: the run's file streamed through the spreadsheet transform.

CSV files (and the CSV entries of zips) get the byte-order mark and formula neutralisation
the settings ask for; other files (xlsx, parquet) go out unchanged. With both settings off a
CSV or zip goes out byte for byte, as from the API.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from sqlalchemy import select
from starlette.responses import Response, StreamingResponse

from reportcard.db.engine import read_conn
from reportcard.db.tables import attachments
from reportcard.service.deps import Services
from reportcard.service.spreadsheet import file_kind, transformed_body
from reportcard.web.base import SECURITY_HEADERS, Refused


def download_response(svc: Services, attachment_id: int) -> Response:
    with read_conn(svc.engine) as conn:
        att = conn.execute(select(attachments).where(attachments.c.id == attachment_id)).first()
    if att is None or att.workflow_state == "deleted":
        raise Refused(404, "This run's file is gone.")
    if att.workflow_state == "expired":  # removed by the retention sweep, as the API's 410
        raise Refused(
            410, "The file of this report has expired and was deleted; run the report again."
        )
    bom, safety = svc.settings.ui_csv_bom, svc.settings.ui_formula_safety
    name = str(att.filename)
    kind = file_kind(name, bom=bom, formula_safety=safety)
    body = transformed_body(svc, str(att.storage_key), kind, bom=bom, formula_safety=safety)
    headers: dict[str, Any] = dict(SECURITY_HEADERS)
    headers["Content-Disposition"] = (
        f"attachment; filename=\"{name}\"; filename*=UTF-8''{quote(name)}"
    )
    if kind == "plain":
        headers["Content-Length"] = str(att.size)
    return StreamingResponse(body, media_type=str(att.content_type), headers=headers)
