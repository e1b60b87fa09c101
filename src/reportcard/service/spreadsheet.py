"""Making UI downloads open cleanly in spreadsheet programs, as a streaming transform.

Two things, each optional (settings ``ui_csv_bom`` and ``ui_formula_safety``), and applied to
downloads from the Reports page only; the API's files stay byte-identical to Canvas's:

- a UTF-8 byte-order mark before each CSV file (and each CSV entry of a zip), so Excel reads
  the file as UTF-8 rather than the machine's legacy code page;
- formula neutralisation: a cell whose text starts with ``=``, ``+``, ``-``, ``@``, a tab or a
  carriage return gets a leading ``'``, so a spreadsheet shows it as text instead of running it
  as a formula (CSV injection). Cells that are plain numbers (``-3``, ``+1.5e3``) are left as
  they are: they are not formulas, and quoting them would turn numbers into text.

Rows with nothing to neutralise pass through byte for byte; only a changed row is written
again (with the reports' own CSV rules and the file's own line ending). Memory stays flat: the input
is read in blocks and one CSV row is held at a time.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from typing import IO

from reportcard.runs.csvtext import line as csv_line
from reportcard.service.deps import Services

BOM = b"\xef\xbb\xbf"
TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
BLOCK = 1 << 16


def neutralise(cell: str) -> str:
    """The cell as a spreadsheet should show it: text, never a formula."""
    if cell.startswith(TRIGGERS) and not _NUMBER.fullmatch(cell):
        return "'" + cell
    return cell


def _lines(chunks: Iterable[bytes]) -> Iterator[str]:
    """Decoded text split after each ``\\n`` (the last line may have no ending)."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    pending = ""
    for chunk in chunks:
        pending += decoder.decode(chunk)
        if "\n" not in pending:
            continue
        *whole, pending = pending.split("\n")
        for line in whole:
            yield line + "\n"
    pending += decoder.decode(b"", final=True)
    if pending:
        yield pending


def _ending(raw: str) -> str:
    if raw.endswith("\r\n"):
        return "\r\n"
    return "\n" if raw.endswith("\n") else ""


def _safe_text(lines: Iterator[str]) -> Iterator[str]:
    consumed: list[str] = []

    def feed() -> Iterator[str]:
        for line in lines:
            consumed.append(line)
            yield line

    reader = csv.reader(feed())
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error:
            # Not CSV the reader understands: pass the rest through untouched.
            yield "".join(consumed)
            consumed.clear()
            yield from lines
            return
        raw = "".join(consumed)
        consumed.clear()
        safe = [neutralise(cell) for cell in row]
        if safe == row:
            yield raw
            continue
        yield csv_line(safe, _ending(raw))


def transform_csv(
    chunks: Iterable[bytes], *, bom: bool = True, formula_safety: bool = True
) -> Iterator[bytes]:
    """The CSV bytes ``chunks`` as a UI download: BOM first (once), cells neutralised."""
    it = iter(chunks)
    first = b""
    for chunk in it:  # the first bytes tell whether a BOM is already there
        first += chunk
        if len(first) >= len(BOM):
            break
    has_bom = first.startswith(BOM)
    if bom and not has_bom:
        yield BOM
    if not formula_safety:
        if first:
            yield first
        yield from it
        return

    def source() -> Iterator[bytes]:
        yield first[len(BOM) :] if has_bom else first
        yield from it

    if has_bom:
        yield BOM
    buffered: list[str] = []
    size = 0
    for text in _safe_text(_lines(source())):
        buffered.append(text)
        size += len(text)
        if size >= BLOCK:
            yield "".join(buffered).encode("utf-8")
            buffered.clear()
            size = 0
    if buffered:
        yield "".join(buffered).encode("utf-8")


def read_blocks(fh: IO[bytes], size: int = BLOCK) -> Iterator[bytes]:
    while block := fh.read(size):
        yield block


class _Sink(io.RawIOBase):
    """A write-only, unseekable stream whose bytes are collected until drained."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self._parts.append(bytes(data))
        return len(data)

    def drain(self) -> bytes:
        out = b"".join(self._parts)
        self._parts.clear()
        return out


def is_csv_name(name: str) -> bool:
    return name.lower().endswith(".csv")


def transform_zip(
    source: IO[bytes], *, bom: bool = True, formula_safety: bool = True
) -> Iterator[bytes]:
    """A zip (seekable ``source``) rewritten with its CSV entries transformed, streamed out.

    Other entries are copied unchanged; names, order and times are kept.
    """
    sink = _Sink()
    with (
        zipfile.ZipFile(source) as zin,
        zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zout,
    ):
        for info in zin.infolist():
            out_info = zipfile.ZipInfo(info.filename, date_time=info.date_time)
            out_info.compress_type = zipfile.ZIP_DEFLATED
            out_info.external_attr = info.external_attr
            big = info.file_size > (1 << 30)
            with zin.open(info) as src, zout.open(out_info, "w", force_zip64=big) as dst:
                blocks = read_blocks(src)
                if is_csv_name(info.filename) and not info.is_dir():
                    blocks = transform_csv(blocks, bom=bom, formula_safety=formula_safety)
                for block in blocks:
                    dst.write(block)
                    data = sink.drain()
                    if data:
                        yield data
            data = sink.drain()
            if data:
                yield data
    tail = sink.drain()
    if tail:
        yield tail


# ------------------------------------------------ a stored file's body, through the transform
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
