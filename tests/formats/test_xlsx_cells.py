"""The xlsx writer keeps every CSV cell as text: no formula, number or link is made of it."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from pathlib import Path

import openpyxl
from openpyxl.utils.escape import unescape

from reportcard.runs.formats import write_xlsx
from reportcard.runs.package import FilePart
from reportcard.storage.local import LocalStorage

TRICKY = [
    "=1+1",  # a formula in CSV injection's sense
    "+SUM(A1:A2)",
    "-2+3",
    "@cmd",
    "007",  # leading zeros
    "12345678901234567890",  # an id longer than a float holds
    "1e5",
    "TRUE",
    "2026-01-15",
    "https://example.edu/x",
    "_x0041_",  # OOXML's escape syntax, written escaped so that Excel shows it as is
    "tab\there",
    "bell\x07",  # a control character XML cannot carry raw
    'Ünïcode <b>&amp; "quoted",\nnew line  ',
    "\U0001d11e clef",
]


def book(tmp_path: Path, parts: list[tuple[str, list[str], list[list[str]]]]) -> bytes:
    storage = LocalStorage(tmp_path / "files")
    file_parts = []
    for n, (name, headers, rows) in enumerate(parts):
        key = f"runs/1/parts/{n:03d}-00000.csv"
        with storage.open_write(key) as out:
            text = io.StringIO()
            csv.writer(text, lineterminator="\n").writerows(rows)
            out.write(text.getvalue().encode("utf-8"))
        file_parts.append(FilePart(name=name, headers=headers, keys=[key]))
    with storage.open_write("out.xlsx") as out:
        write_xlsx(out, storage, file_parts)
    with storage.open_read("out.xlsx") as fh:
        return fh.read()


def test_every_cell_is_the_csv_text(tmp_path: Path) -> None:
    rows = [[v, str(i), ""] for i, v in enumerate(TRICKY)]
    data = book(tmp_path, [("users", ["value", "id", "blank"], rows)])
    # the sheet XML has inline strings only: no formula, no number, no shared string
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        sheet = zf.read("xl/worksheets/sheet1.xml").decode("utf-8")
    assert "<f>" not in sheet and "<v>" not in sheet
    cell_types = set(re.findall(r'<c r="[A-Z]+\d+"(?: s="\d+")? t="(\w+)"', sheet))
    assert cell_types == {"inlineStr"}
    wb = openpyxl.load_workbook(io.BytesIO(data))
    ws = wb["users"]
    assert ws.freeze_panes == "A2"
    assert [c.font.b for c in ws[1]] == [True, True, True]
    got = [[c.value for c in row] for row in ws.iter_rows(min_row=2)]
    # openpyxl shows OOXML's _xHHHH_ escapes as written; Excel reads them back as the text
    assert [[unescape(v) if isinstance(v, str) else v for v in r] for r in got] == [
        [v, str(i), None] for i, v in enumerate(TRICKY)
    ]
    assert all(c.data_type == "s" for row in ws.iter_rows(min_row=2, max_col=2) for c in row)


def test_sheet_names_are_made_valid_and_unique(tmp_path: Path) -> None:
    long = "\U0001d11e" * 20 + "x"  # 41 UTF-16 units
    data = book(
        tmp_path,
        [
            ("a/b:c", ["h"], [["1"]]),
            ("A_B_C", ["h"], [["2"]]),
            ("'quoted'", ["h"], [["3"]]),
            (long, ["h"], [["4"]]),
        ],
    )
    wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    assert wb.sheetnames == ["a_b_c", "A_B_C (2)", "quoted", "\U0001d11e" * 15]
    assert [wb[n]["A2"].value for n in wb.sheetnames] == ["1", "2", "3", "4"]


def test_a_cell_longer_than_excel_holds_is_cut(tmp_path: Path) -> None:
    data = book(tmp_path, [("long", ["h"], [["y" * 40_000, "z"]])])
    ws = openpyxl.load_workbook(io.BytesIO(data), read_only=True)["long"]
    rows = list(ws.iter_rows(values_only=True))
    assert rows[1] == ("y" * 32_767, "z")
