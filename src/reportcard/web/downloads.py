"""UI downloads: the run's file streamed through the spreadsheet transform.

CSV files (and the CSV entries of zips) get the byte-order mark and formula neutralisation
the settings ask for; other files (xlsx, parquet) go out unchanged. With both settings off a
CSV or zip goes out byte for byte, as from the API.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from typing import IO, Any
from urllib.parse import quote

from sqlalchemy import select
from starlette.responses import Response, StreamingResponse

from reportcard.api.deps import Services
from reportcard.db.engine import read_conn
from reportcard.db.tables import attachments
from reportcard.web.base import SECURITY_HEADERS, Refused
from reportcard.web.spreadsheet import BLOCK, is_csv_name, read_blocks, transform_csv, transform_zip


def _open_seekable(svc: Services, key: str) -> IO[bytes]:
    path = svc.storage.local_path(key)
    if path is not None:
        return open(path, "rb")
    spool = tempfile.SpooledTemporaryFile(max_size=32 << 20)  # noqa: SIM115
    with svc.storage.open_read(key) as fh:
        shutil.copyfileobj(fh, spool, BLOCK)
    spool.seek(0)
    return spool


def file_kind(name: str, *, bom: bool, formula_safety: bool) -> str:
    """How a file goes out: ``csv`` or ``zip`` (transformed), or ``plain`` (byte for byte)."""
    kind = "csv" if is_csv_name(name) else "zip" if name.lower().endswith(".zip") else "other"
    return "plain" if kind == "other" or not (bom or formula_safety) else kind


def transformed_body(
    svc: Services, storage_key: str, kind: str, *, bom: bool, formula_safety: bool
) -> Iterator[bytes]:
    """The stored file's bytes, through the spreadsheet transform when ``kind`` asks for it."""
    if kind == "zip":
        src = _open_seekable(svc, storage_key)
        try:
            yield from transform_zip(src, bom=bom, formula_safety=formula_safety)
        finally:
            src.close()
        return
    with svc.storage.open_read(storage_key) as fh:
        blocks = read_blocks(fh)
        if kind == "csv":
            blocks = transform_csv(blocks, bom=bom, formula_safety=formula_safety)
        yield from blocks


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
