"""parameters[format] and parameters[bom] on real runs: the cells are the CSV's cells."""

from __future__ import annotations

import csv
import io
import zipfile
from typing import Any

import openpyxl
import pyarrow.parquet as pq
import pytest
from sqlalchemy import Engine, select

from reportcard.db.tables import attachments
from reportcard.runs import formats
from reportcard.runs.formats import BOM, PARQUET_TYPE, XLSX_TYPE, column_letter
from reportcard.runs.inline import run_report
from reportcard.runs.lifecycle import get_run
from reportcard.settings import Settings
from reportcard.storage.local import LocalStorage
from tests.factories import add_login, add_user
from tests.runs.sample import SAMPLE, make_institution


def attachment(engine: Engine, run_id: int) -> Any:
    with engine.connect() as conn:
        run = get_run(conn, run_id)
        return conn.execute(select(attachments).where(attachments.c.id == run.attachment_id)).one()


def file_bytes(engine: Engine, storage: LocalStorage, run_id: int) -> bytes:
    with storage.open_read(attachment(engine, run_id).storage_key) as fh:
        return fh.read()


def csv_cells(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def sheet_cells(ws: Any) -> list[list[str]]:
    """A sheet's rows as text, blank cells as "" (as the CSV has them)."""
    rows = list(ws.iter_rows(values_only=True))
    width = max((len(r) for r in rows), default=0)
    out = []
    for row in rows:
        cells = ["" if v is None else v for v in row]
        cells += [""] * (width - len(cells))
        assert all(isinstance(v, str) for v in cells), cells
        out.append(cells)
    return out


def parquet_cells(data: bytes) -> list[list[str]]:
    table = pq.read_table(io.BytesIO(data))
    rows = [list(table.column_names)]
    cols = [table.column(i).to_pylist() for i in range(table.num_columns)]
    for i in range(table.num_rows):
        rows.append(["" if c[i] is None else c[i] for c in cols])
    return rows


@pytest.fixture
def root(engine: Engine) -> int:
    """150 logins (4 shards of 40), with names that need quoting, XML escaping and more."""
    with engine.begin() as conn:
        root_id = make_institution(conn, 150)
        uid = add_user(
            conn, 'Ünïcode <b>&amp; "quoted",\nnew line  ', uuid="odd", sortable_name="x"
        )
        add_login(conn, uid, root_id, " =1+1 ")
    return root_id


def run(engine: Engine, storage: LocalStorage, settings: Settings, root: int, **params: Any) -> Any:
    done = run_report(
        engine, storage, settings, account_id=root, report_type=SAMPLE, parameters=params
    )
    assert done.workflow_state == "complete", done.parameters
    return done


def test_xlsx_has_the_csv_cells_in_one_sheet(
    engine: Engine, storage: LocalStorage, settings: Settings, root: int
) -> None:
    plain = run(engine, storage, settings, root)
    book = run(engine, storage, settings, root, format="xlsx")
    att = attachment(engine, book.id)
    assert att.content_type == XLSX_TYPE
    assert att.filename == att.display_name
    assert att.filename.startswith(f"{SAMPLE}_") and att.filename.endswith(f"_{book.id}.xlsx")
    expected = csv_cells(file_bytes(engine, storage, plain.id))
    assert len(expected) == 152
    wb = openpyxl.load_workbook(io.BytesIO(file_bytes(engine, storage, book.id)), read_only=True)
    assert wb.sheetnames == ["logins"]
    assert sheet_cells(wb["logins"]) == expected
    assert book.current_line == plain.current_line
    assert book.message == plain.message


def test_xlsx_of_several_parts_has_a_sheet_per_part(
    engine: Engine, storage: LocalStorage, settings: Settings, root: int
) -> None:
    plain = run(engine, storage, settings, root, logins="1", empty="1")
    book = run(engine, storage, settings, root, logins="1", empty="1", format="XLSX")
    assert attachment(engine, book.id).filename.endswith(".xlsx")
    zf = zipfile.ZipFile(io.BytesIO(file_bytes(engine, storage, plain.id)))
    wb = openpyxl.load_workbook(io.BytesIO(file_bytes(engine, storage, book.id)))
    assert wb.sheetnames == ["logins", "empty"]
    assert sheet_cells(wb["logins"]) == csv_cells(zf.read("logins.csv"))
    assert zf.read("empty.csv") == b"\n"
    assert sheet_cells(wb["empty"]) == []


def test_a_part_longer_than_a_sheet_continues_on_the_next(
    engine: Engine,
    storage: LocalStorage,
    settings: Settings,
    root: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(formats, "XLSX_MAX_ROWS", 60)  # 59 data rows a sheet
    plain = run(engine, storage, settings, root, logins="yes")
    book = run(engine, storage, settings, root, logins="yes", format="xlsx")
    wb = openpyxl.load_workbook(io.BytesIO(file_bytes(engine, storage, book.id)))
    assert wb.sheetnames == ["logins", "logins (2)", "logins (3)"]
    expected = csv_cells(file_bytes(engine, storage, plain.id))
    header, rows = expected[0], expected[1:]
    got = [sheet_cells(wb[n]) for n in wb.sheetnames]
    assert all(s[0] == header for s in got)
    assert [len(s) for s in got] == [60, 60, 151 - 2 * 59 + 1]
    assert [r for s in got for r in s[1:]] == rows


def test_parquet_has_the_csv_cells(
    engine: Engine, storage: LocalStorage, settings: Settings, root: int
) -> None:
    plain = run(engine, storage, settings, root)
    table = run(engine, storage, settings, root, format="parquet")
    att = attachment(engine, table.id)
    assert att.content_type == PARQUET_TYPE
    assert att.filename.endswith(f"_{table.id}.parquet")
    expected = csv_cells(file_bytes(engine, storage, plain.id))
    assert parquet_cells(file_bytes(engine, storage, table.id)) == expected
    schema = pq.read_schema(io.BytesIO(file_bytes(engine, storage, table.id)))
    assert {str(t) for t in schema.types} == {"string"}


def test_parquet_of_several_parts_is_a_zip_of_parquet_files(
    engine: Engine, storage: LocalStorage, settings: Settings, root: int
) -> None:
    plain = run(engine, storage, settings, root, logins="on", empty="on")
    table = run(engine, storage, settings, root, logins="on", empty="on", format="parquet")
    att = attachment(engine, table.id)
    assert att.content_type == "application/zip" and att.filename.endswith(".zip")
    csvs = zipfile.ZipFile(io.BytesIO(file_bytes(engine, storage, plain.id)))
    zf = zipfile.ZipFile(io.BytesIO(file_bytes(engine, storage, table.id)))
    assert zf.namelist() == ["logins.parquet", "empty.parquet"]
    assert parquet_cells(zf.read("logins.parquet")) == csv_cells(csvs.read("logins.csv"))
    assert pq.read_table(io.BytesIO(zf.read("empty.parquet"))).num_columns == 0


def test_bom_puts_a_byte_order_mark_before_each_csv(
    engine: Engine, storage: LocalStorage, settings: Settings, root: int
) -> None:
    plain = run(engine, storage, settings, root)
    marked = run(engine, storage, settings, root, bom="true")
    unmarked = run(engine, storage, settings, root, bom="false")
    assert file_bytes(engine, storage, marked.id) == BOM + file_bytes(engine, storage, plain.id)
    assert file_bytes(engine, storage, unmarked.id) == file_bytes(engine, storage, plain.id)
    assert attachment(engine, marked.id).filename.endswith(".csv")
    pair = run(engine, storage, settings, root, logins="t", empty="t", bom=True)
    zf = zipfile.ZipFile(io.BytesIO(file_bytes(engine, storage, pair.id)))
    assert zf.read("empty.csv") == BOM + b"\n"
    assert zf.read("logins.csv").startswith(BOM + b"canvas_user_id,")


def test_an_unknown_format_ends_a_run_started_outside_the_api_in_error(
    engine: Engine, storage: LocalStorage, settings: Settings, root: int
) -> None:
    failed = run_report(
        engine,
        storage,
        settings,
        account_id=root,
        report_type=SAMPLE,
        parameters={"format": "pdf"},
    )
    assert failed.workflow_state == "error"
    assert failed.attachment_id is None
    assert failed.parameters["extra_text"] == "invalid format 'pdf': use one of csv, xlsx, parquet"


def test_column_letters() -> None:
    assert [column_letter(i) for i in (0, 25, 26, 51, 52, 701, 702)] == [
        "A",
        "Z",
        "AA",
        "AZ",
        "BA",
        "ZZ",
        "AAA",
    ]
