"""Output formats besides Canvas's CSV: ``parameters[format]`` and ``parameters[bom]``.

``csv`` (the default) is Canvas's file, byte for byte. ``xlsx`` is one workbook with one sheet
per part (a report that Canvas ships as a zip of CSVs becomes one workbook), written by
XlsxWriter in its constant-memory mode (inline strings, rows flushed as written), so memory
stays flat whatever the number of rows. ``parquet`` (the optional ``parquet`` extra, pyarrow) is one
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
import tempfile
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any, BinaryIO

import xlsxwriter
from xlsxwriter.utility import xl_col_to_name
from xlsxwriter.worksheet import Worksheet

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


def deflated_parts(params: Mapping[str, Any], always_zip: bool, files: int) -> bool:
    """Whether the run's file is a zip of CSVs, whose shards then write deflate pieces.

    The execute and compile steps both ask, from the run's parameters, its report's
    ``always_zip`` and its number of files (``part_index`` values), so they always agree.
    """
    return output_format(params) == "csv" and (always_zip or files > 1)


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
# Characters that XML 1.0 cannot carry even escaped (XlsxWriter writes the C0 controls as
# OOXML's ``_xHHHH_`` escapes itself, which Excel reads back as the character).
_NON_XML = re.compile("[\ufffe\uffff\ud800-\udfff]")
_SHEET_BAD = re.compile(r"[\[\]:*?/\\]")
_SHEET_EDGES = re.compile(r"^['\s]+|['\s]+$")
_SHEET_MAX = 31  # UTF-16 code units in a sheet name (Excel's limit)
_CELL_MAX = 32_767  # UTF-16 code units in a cell (Excel's limit)
# XlsxWriter's options: every cell is written as an inline string by ``_TextSheet``, and
# these keep XlsxWriter from turning text into a formula, a number or a link anywhere else.
_WORKBOOK_OPTIONS: dict[str, Any] = {
    "constant_memory": True,  # rows go to a temporary file as written: memory flat in rows
    "use_zip64": True,  # a sheet's XML may pass 4 GiB (ZIP64 records only where needed)
    "strings_to_formulas": False,
    "strings_to_numbers": False,
    "strings_to_urls": False,
}


def column_letter(index: int) -> str:
    """``0 -> A``, ``25 -> Z``, ``26 -> AA``."""
    return str(xl_col_to_name(index))


def _utf16_cut(text: str, units: int) -> str:
    """The longest prefix of ``text`` that is at most ``units`` UTF-16 code units."""
    out, used = [], 0
    for ch in text:
        used += 2 if ord(ch) > 0xFFFF else 1
        if used > units:
            break
        out.append(ch)
    return "".join(out)


def _plain_row(cells: Sequence[str]) -> bool:
    """True when XlsxWriter would write every cell of the row exactly as it is.

    That is: no character to escape (``& < >``), to drop (U+FFFE, U+FFFF, surrogates) or to
    write as ``_xHHHH_`` (C0 controls, and a literal ``_xHHHH_``), no leading or trailing
    whitespace in a cell (``xml:space="preserve"``), and no cell near Excel's length limit.
    Every test is one C-speed scan of the row's cells joined by ``|``: ``isprintable`` is
    false for all controls, surrogates, noncharacters and every whitespace but the space,
    and a space at a cell's edge stands next to a ``|``. A ``|`` or ``_x`` in the data only
    sends the row to the careful path, which writes the same cells.
    """
    joined = "|" + "|".join(cells) + "|"
    return (
        len(joined) < _CELL_MAX // 2
        and joined.isprintable()
        and "&" not in joined
        and "<" not in joined
        and ">" not in joined
        and "_x" not in joined
        and " |" not in joined
        and "| " not in joined
    )


class _TextSheet(Worksheet):
    """A constant-memory worksheet whose rows are written whole, every cell a text cell.

    XlsxWriter's ``write_string`` stores each cell and later writes its ``<c>`` element
    through a dozen calls and regular expressions; for a report's million cells that was
    three quarters of the conversion's time (docs/decisions/performance.md). ``text_row``
    writes a row's elements in one piece, exactly as XlsxWriter's constant-memory mode writes
    inline strings (``<c r="B7" t="inlineStr"><is><t>text</t></is></c>``), escaping with
    XlsxWriter's own helpers when a row needs it. XlsxWriter keeps the rest: the sheet's
    dimensions, panes, styles, the workbook's parts and the zip. One difference, on purpose:
    XlsxWriter writes a string that starts with ``<r>`` and ends with ``</r>`` into the XML
    unescaped (its rich strings), which would let a CSV cell inject markup, formulas
    included; here it is text.

    This leans on XlsxWriter's internals (``_check_dimensions``, ``_write_single_row``,
    ``_write_row``, ``_escape_control_characters``, ``_escape_data``, ``previous_row``,
    ``row_info``, ``fh``), hence ``xlsxwriter<4`` in pyproject;
    ``tests/runs/formats/test_xlsx_cells.py`` compares the sheet's bytes with XlsxWriter's own
    ``write_string`` output, so a version that changes them fails there first.
    """

    def __init__(self) -> None:
        super().__init__()
        self.letters: list[str] = []  # column letters, as many as the widest row needed

    def text_row(self, row: int, cells: Sequence[str], cell_format: Any = None) -> None:
        """Write ``cells`` (empty ones left blank) as row ``row`` (0-based), in order."""
        if len(cells) > self.xls_colmax:
            cells = cells[: self.xls_colmax]
        letters = self.letters
        while len(letters) < len(cells):
            letters.append(column_letter(len(letters)))
        last = len(cells) - 1
        while last >= 0 and not cells[last]:
            last -= 1
        if last < 0:
            return  # nothing to write: XlsxWriter leaves the row out
        first = 0
        while not cells[first]:
            first += 1
        if self._check_dimensions(row, first) or self._check_dimensions(row, last):
            return
        if row > self.previous_row:
            # Writes out whatever XlsxWriter holds for the row before (nothing, unless a cell
            # was written there another way) and makes ``row`` the row being written.
            self._write_single_row(row)
        n = row + 1
        style = f' s="{cell_format._get_xf_index()}"' if cell_format is not None else ""
        if _plain_row(cells):
            body = "".join(
                [
                    f'<c r="{col}{n}"{style} t="inlineStr"><is><t>{v}</t></is></c>'
                    for col, v in zip(letters, cells, strict=False)
                    if v
                ]
            )
        else:
            body = "".join(
                [self._text_cell(f"{letters[c]}{n}", style, v) for c, v in enumerate(cells) if v]
            )
        if (
            self.row_info
            or self.default_row_height != self.original_row_height
            or self.excel_version != 2007
        ):
            self._write_row(row, None)  # a row with attributes: XlsxWriter writes its element
            self.fh.write(body + "</row>")
        else:
            self.fh.write(f'<row r="{n}">{body}</row>')  # as XlsxWriter's _write_row does

    def _text_cell(self, ref: str, style: str, value: str) -> str:
        """One ``<c>`` element the careful way (XlsxWriter's steps, never a rich string)."""
        if _NON_XML.search(value):
            value = _NON_XML.sub("", value)
        if len(value) > _CELL_MAX // 2 and len(value.encode("utf-16-le")) > 2 * _CELL_MAX:
            value = _utf16_cut(value, _CELL_MAX)
        value = self._escape_control_characters(value)
        # XlsxWriter's test is ``^\s|\s$``; ``str.isspace`` is the same class of characters
        edge = value[:1].isspace() or value[-1:].isspace()
        space = ' xml:space="preserve"' if edge else ""
        value = self._escape_data(value)
        return f'<c r="{ref}"{style} t="inlineStr"><is><t{space}>{value}</t></is></c>'


class _Sheets:
    """Hands out sheet names: a part's own name, then ``name (2)``... for continuations."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def take(self, raw: str) -> str:
        base = _SHEET_EDGES.sub("", _SHEET_BAD.sub("_", raw)) or "Sheet"
        name = _SHEET_EDGES.sub("", _utf16_cut(base, _SHEET_MAX)) or "Sheet"
        n = 1
        while name.lower() in self.seen:
            n += 1
            suffix = f" ({n})"
            name = _utf16_cut(base, _SHEET_MAX - len(suffix)).rstrip("' ") + suffix
        self.seen.add(name.lower())
        return name


def write_xlsx(out: BinaryIO, storage: Storage, parts: Sequence[FilePart]) -> None:
    """A workbook with one sheet per part, written into ``out`` by XlsxWriter.

    Every cell is a text cell with the CSV cell's exact text (never a formula, a number or a
    link: ``=1+1``, ``007`` and ids stay as they are); empty CSV cells are left blank. The
    header row is bold and frozen. XlsxWriter's constant-memory mode writes each row to a
    temporary file (in ``TMPDIR``) as it comes and zips them at the end, so memory stays flat
    whatever the number of rows. A part longer than a sheet holds continues on ``<name> (2)``,
    ``<name> (3)``, ... each starting with the header row again. Cells longer than 32,767
    UTF-16 units (Excel's limit) are cut to that length; U+FFFE and U+FFFF, which XML cannot
    carry, are dropped.
    """
    with tempfile.TemporaryDirectory(prefix="reportcard-xlsx-") as tmp:
        _write_book(out, tmp, parts, storage)


def _write_book(out: BinaryIO, tmp: str, parts: Sequence[FilePart], storage: Storage) -> None:
    names = _Sheets()
    # XlsxWriter's temporary files go to ``tmp``, removed with it even when writing fails.
    book = xlsxwriter.Workbook(out, {**_WORKBOOK_OPTIONS, "tmpdir": tmp})
    header = book.add_format({"bold": True})
    sheets = 0

    def sheet(name: str, headers: Sequence[str], rows: Iterator[list[str]]) -> bool:
        """Write one sheet; True when rows were left over for a continuation sheet."""
        nonlocal sheets
        sheets += 1
        ws: _TextSheet = book.add_worksheet(name, worksheet_class=_TextSheet)
        ws.freeze_panes(1, 0)
        put = ws.text_row
        put(0, headers, header)
        r = 0
        limit = XLSX_MAX_ROWS - 1  # the last row index a sheet has
        for row in rows:
            r += 1
            put(r, row)
            if r >= limit:
                break
        return r >= limit

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
    book.close()  # the sheets' rows and the workbook's parts, zipped into ``out``


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
