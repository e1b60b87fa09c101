"""The xlsx writer keeps every CSV cell as text: no formula, number or link is made of it."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from pathlib import Path

import openpyxl
import xlsxwriter
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
    # XlsxWriter writes a string between <r> and </r> unescaped (a rich string): from a CSV
    # cell that would be markup, here a formula, in the sheet
    '<r></r></is></c><c r="Z1"><f>HYPERLINK("http://x.test","go")</f></c><c><is><r></r>',
    "<r><t>not rich</t></r>",
]


def book(tmp_path: Path, parts: list[tuple[str, list[str], list[list[str]]]]) -> bytes:
    storage = LocalStorage(tmp_path / "files")
    file_parts = []
    for n, (name, headers, rows) in enumerate(parts):
        key = f"runs/1/parts/{n:03d}-00000.csv"
        with storage.open_write(key) as out:
            text = io.StringIO()
            # every field quoted: Python's writer leaves a lone \r unquoted with this terminator
            csv.writer(text, lineterminator="\n", quoting=csv.QUOTE_ALL).writerows(rows)
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
    assert "<f>" not in sheet and "<v>" not in sheet and "<r>" not in sheet
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


# Rows that take each of the writer's two paths: plain rows written as they are, and rows with
# something to escape, drop, cut or preserve, written cell by cell with XlsxWriter's helpers.
SAME_AS_XLSXWRITER = [
    ["Amanda Smith", "15374", "", "Études avancées", "82.45", "B-"],
    ["a|b", "_x", "x_", "pipe| ", " |", "x" * 16_000],
    [" lead", "trail ", "\tTab", "nl\n", "cr\r", "\xa0nbsp", "ideo\u3000", "in side"],
    ["a & b", "<i>", "x > y", '"q"', "_x0041_", "_X004a_", "bell\x07", "\x00", "\x1f"],
    ["\ufffeab\uffff", "emoji \U0001f600", "\u2028ls", "soft\xadhyphen", "zwj\u200d"],
    ["y" * 40_000, "\U0001d11e" * 20_000, "z" * 16_383 + "\U0001d11e" * 9_000],
    ["", "", "only the third"],
    [],
    ["last"],
]


def test_the_sheet_xml_is_xlsxwriters_own(tmp_path: Path) -> None:
    """Cell for cell, the bytes XlsxWriter's ``write_string`` writes in constant-memory mode."""
    headers = ["h1", "", " h3"]
    ours = book(tmp_path, [("s", headers, SAME_AS_XLSXWRITER)])
    stock_path = tmp_path / "stock.xlsx"
    stock = xlsxwriter.Workbook(
        str(stock_path),
        {"constant_memory": True, "strings_to_numbers": False, "strings_to_formulas": False},
    )
    bold = stock.add_format({"bold": True})
    ws = stock.add_worksheet("s")
    ws.freeze_panes(1, 0)
    for r, row in enumerate([headers, *SAME_AS_XLSXWRITER]):
        for c, v in enumerate(row):
            if v:
                text = re.sub("[\ufffe\uffff]", "", v)  # dropped by ours, as documented
                ws.write_string(r, c, text, bold if r == 0 else None)
    stock.close()
    with zipfile.ZipFile(io.BytesIO(ours)) as a, zipfile.ZipFile(stock_path) as b:
        assert a.read("xl/worksheets/sheet1.xml") == b.read("xl/worksheets/sheet1.xml")
        assert a.read("xl/styles.xml") == b.read("xl/styles.xml")
