"""Output formats besides Canvas's CSV: ``parameters[format]`` and ``parameters[bom]``.

``csv`` (the default) is Canvas's file, byte for byte. ``xlsx`` is one workbook with one sheet
per part (a report that Canvas ships as a zip of CSVs becomes one workbook), written by a small
streaming writer of our own (inline strings, no shared-string table), so memory stays flat
whatever the number of rows. ``parquet`` (the optional ``parquet`` extra, pyarrow) is one
``.parquet`` file, or a zip of ``<part>.parquet`` files when the report has several parts.
``bom=true`` puts a UTF-8 byte-order mark before every CSV (Excel on Windows reads the file
as UTF-8 then); it has no effect on the other formats.

The conversion happens when a run is compiled, from the CSV parts the shards wrote, so the
shard and COPY paths stay the same for every format. Every cell is text, exactly the text of
the CSV cell; an empty CSV cell is an empty cell in xlsx and null in parquet.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import itertools
import re
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any, BinaryIO
from xml.sax.saxutils import quoteattr

from reportcard.reports.params import ReportInputError, param, value_to_boolean
from reportcard.runs.package import (
    FilePart,
    base_name,
    csv_file_name,
    rows_bytes,
    write_csv,
    write_zip,
    zip_file_name,
)
from reportcard.storage.base import Storage

FORMATS = ("csv", "xlsx", "parquet")
CSV_TYPE = "text/csv"
ZIP_TYPE = "application/zip"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PARQUET_TYPE = "application/vnd.apache.parquet"
BOM = b"\xef\xbb\xbf"

XLSX_MAX_ROWS = 1_048_576  # rows in one sheet, the header included
XLSX_MAX_CELL = 32_767  # characters in one cell
PARQUET_BATCH_ROWS = 65_536


def parquet_available() -> bool:
    return importlib.util.find_spec("pyarrow") is not None


def output_format(params: Mapping[str, Any]) -> str:
    """The format a run asks for (``csv`` when absent); ReportInputError when unusable."""
    value = param(params, "format")
    if value is None:
        return "csv"
    fmt = str(value).strip().lower()
    if fmt not in FORMATS:
        raise ReportInputError(
            f"invalid format '{value}': use one of {', '.join(FORMATS)}"
            if isinstance(value, str)
            else "invalid format: use one of " + ", ".join(FORMATS)
        )
    if fmt == "parquet" and not parquet_available():
        raise ReportInputError(
            "the parquet format is not available on this server "
            "(install reportcard with its parquet extra: pip install 'reportcard[parquet]')"
        )
    return fmt


def wants_bom(params: Mapping[str, Any]) -> bool:
    return value_to_boolean(params.get("bom"))


@dataclass(frozen=True)
class Output:
    """The compiled file: its name, content type, storage key and size in bytes."""

    filename: str
    content_type: str
    key: str
    size: int


def write_output(
    storage: Storage,
    *,
    report_type: str,
    run_id: int,
    parts: Sequence[FilePart],
    always_zip: bool,
    params: Mapping[str, Any],
    now: datetime,
) -> Output:
    """Write a run's file from its CSV parts in the format its parameters ask for."""
    fmt = output_format(params)
    prefix = f"runs/{run_id}/"
    if fmt == "xlsx":
        filename = f"{base_name(report_type, run_id, now)}.xlsx"
        with storage.open_write(prefix + filename) as out:
            write_xlsx(out, storage, parts)
        return Output(filename, XLSX_TYPE, prefix + filename, storage.size(prefix + filename))
    if fmt == "parquet":
        if len(parts) == 1 and not always_zip:
            filename = f"{base_name(report_type, run_id, now)}.parquet"
            with storage.open_write(prefix + filename) as out:
                write_parquet(out, parts[0].headers, part_rows(storage, parts[0]))
            content_type = PARQUET_TYPE
        else:
            filename = zip_file_name(report_type, run_id, now)
            with (
                storage.open_write(prefix + filename) as out,
                zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as zf,
            ):
                for part in parts:
                    with zf.open(f"{part.name}.parquet", "w", force_zip64=True) as entry:
                        write_parquet(entry, part.headers, part_rows(storage, part))
            content_type = ZIP_TYPE
        return Output(filename, content_type, prefix + filename, storage.size(prefix + filename))
    bom = BOM if wants_bom(params) else b""
    if len(parts) == 1 and not always_zip:
        filename = csv_file_name(report_type, run_id, now)
        size = write_csv(storage, prefix + filename, parts[0], bom=bom)
        return Output(filename, CSV_TYPE, prefix + filename, size)
    filename = zip_file_name(report_type, run_id, now)
    size = write_zip(storage, prefix + filename, parts, bom=bom)
    return Output(filename, ZIP_TYPE, prefix + filename, size)


# ------------------------------------------------------------------------ reading the parts
def part_rows(storage: Storage, part: FilePart) -> Iterator[list[str]]:
    """The data rows of one part (header excluded) as the CSV's cells, in file order."""
    for key in part.keys:
        with storage.open_read(key) as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
            yield from csv.reader(text)
    if part.empty_rows:
        yield from csv.reader(io.StringIO(rows_bytes(part.empty_rows).decode("utf-8"), newline=""))


# ------------------------------------------------------------------------------- xlsx
_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_SHEET_BAD = re.compile(r"[\[\]:*?/\\]")

_CONTENT_TYPES_HEAD = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" '
    'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/styles.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
)
_SHEET_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>'
)
_STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)
_SHEET_HEAD = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<sheetViews><sheetView workbookViewId="0">'
    '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
    "</sheetView></sheetViews><sheetData>"
)
_SHEET_TAIL = "</sheetData></worksheet>"


def column_letter(index: int) -> str:
    """``0 -> A``, ``25 -> Z``, ``26 -> AA``."""
    out = ""
    n = index + 1
    while n:
        n, r = divmod(n - 1, 26)
        out = chr(65 + r) + out
    return out


def _cell_text(value: str) -> str:
    if len(value) > XLSX_MAX_CELL:
        value = value[:XLSX_MAX_CELL]
    value = _ILLEGAL_XML.sub("", value)
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class _Sheets:
    """Hands out sheet names: a part's own name, then ``name (2)``... for continuations."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def take(self, raw: str) -> str:
        base = _SHEET_BAD.sub("_", raw).strip("'").strip() or "Sheet"
        name = base[:31]
        n = 1
        while name.lower() in self.seen:
            n += 1
            suffix = f" ({n})"
            name = base[: 31 - len(suffix)] + suffix
        self.seen.add(name.lower())
        return name


def _row_xml(r: int, cells: Sequence[str], letters: list[str], style: str) -> str:
    while len(letters) < len(cells):
        letters.append(column_letter(len(letters)))
    body = "".join(
        f'<c r="{letters[i]}{r}" t="inlineStr"{style}><is><t xml:space="preserve">'
        f"{_cell_text(v)}</t></is></c>"
        for i, v in enumerate(cells)
        if v != ""
    )
    return f'<row r="{r}">{body}</row>'


def write_xlsx(out: BinaryIO, storage: Storage, parts: Sequence[FilePart]) -> None:
    """A workbook with one sheet per part, streamed into ``out`` (constant memory).

    A part longer than a sheet holds continues on ``<name> (2)``, ``<name> (3)``, ... each
    starting with the header row again. Cells longer than 32,767 characters (Excel's limit)
    are cut to that length, and characters XML cannot carry are dropped.
    """
    names = _Sheets()
    sheets: list[str] = []
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:

        def sheet(name: str, headers: Sequence[str], rows: Iterator[list[str]]) -> bool:
            """Write one sheet; True when rows were left over for a continuation sheet."""
            sheets.append(name)
            letters: list[str] = []
            path = f"xl/worksheets/sheet{len(sheets)}.xml"
            with zf.open(path, "w", force_zip64=True) as entry:
                buf: list[str] = [_SHEET_HEAD, _row_xml(1, headers, letters, ' s="1"')]
                r = 1
                for row in rows:
                    r += 1
                    buf.append(_row_xml(r, row, letters, ""))
                    if len(buf) >= 512:
                        entry.write("".join(buf).encode("utf-8"))
                        buf.clear()
                    if r >= XLSX_MAX_ROWS:
                        break
                buf.append(_SHEET_TAIL)
                entry.write("".join(buf).encode("utf-8"))
            return r >= XLSX_MAX_ROWS

        for part in parts:
            rows = part_rows(storage, part)
            more = sheet(names.take(part.name), part.headers, rows)
            k = 1
            while more:
                nxt = next(rows, None)
                if nxt is None:
                    break
                k += 1
                # itertools.chain: a generator here would close ``rows`` when dropped
                chained = itertools.chain([nxt], rows)
                more = sheet(names.take(f"{part.name} ({k})"), part.headers, chained)
        if not sheets:  # a workbook needs at least one sheet
            sheet(names.take("Sheet"), [], iter(()))
        _workbook_parts(zf, sheets)


def _workbook_parts(zf: zipfile.ZipFile, sheets: Sequence[str]) -> None:
    entries = "".join(
        f'<sheet name={quoteattr(name)} sheetId="{i}" r:id="rId{i}"/>'
        for i, name in enumerate(sheets, 1)
    )
    zf.writestr(
        "xl/workbook.xml",
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
        f"<sheets>{entries}</sheets></workbook>",
    )
    rels = "".join(
        f'<Relationship Id="rId{i}" Type="http://schemas.openxmlformats.org/officeDocument/'
        f'2006/relationships/worksheet" Target="worksheets/sheet{i}.xml"/>'
        for i in range(1, len(sheets) + 1)
    )
    styles_id = len(sheets) + 1
    zf.writestr(
        "xl/_rels/workbook.xml.rels",
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        f"{rels}"
        f'<Relationship Id="rId{styles_id}" Type="http://schemas.openxmlformats.org/'
        'officeDocument/2006/relationships/styles" Target="styles.xml"/></Relationships>',
    )
    zf.writestr("xl/styles.xml", _STYLES)
    zf.writestr("_rels/.rels", _RELS)
    overrides = "".join(
        f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="{_SHEET_TYPE}"/>'
        for i in range(1, len(sheets) + 1)
    )
    zf.writestr("[Content_Types].xml", _CONTENT_TYPES_HEAD + overrides + "</Types>")


# ---------------------------------------------------------------------------- parquet
def _column_names(headers: Sequence[str]) -> list[str]:
    """Parquet column names: the headers, with ``_2``, ``_3``... on repeats."""
    out: list[str] = []
    seen: set[str] = set()
    for h in headers:
        name, n = h, 1
        while name in seen:
            n += 1
            name = f"{h}_{n}"
        seen.add(name)
        out.append(name)
    return out


class _Sink(io.RawIOBase):
    """A write-only view of a storage or zip-entry stream that pyarrow accepts as a file."""

    def __init__(self, out: IO[bytes]) -> None:
        super().__init__()
        self.out = out
        self.pos = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        n = len(data)
        self.out.write(bytes(data))
        self.pos += n
        return n

    def tell(self) -> int:
        return self.pos


def write_parquet(out: IO[bytes], headers: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    """One part as a Parquet file of string columns (empty cells are null), in row batches."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    names = _column_names(headers)
    width = len(names)
    schema = pa.schema([pa.field(n, pa.string()) for n in names])
    columns: list[list[str | None]] = [[] for _ in range(width)]
    count = 0

    def flush(writer: Any) -> None:
        nonlocal columns, count
        arrays = [pa.array(col, type=pa.string()) for col in columns]
        writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
        columns = [[] for _ in range(width)]
        count = 0

    with pq.ParquetWriter(pa.PythonFile(_Sink(out), mode="w"), schema) as writer:
        for row in rows:
            if not width:
                continue
            for i in range(width):
                v = row[i] if i < len(row) else ""
                columns[i].append(v if v != "" else None)
            count += 1
            if count >= PARQUET_BATCH_ROWS:
                flush(writer)
        if count:
            flush(writer)
