"""Safe reading of an upload: one CSV or a zip of CSVs, checked whole before anything is applied.

:func:`stage` unpacks a zip into a work directory (refusing unsafe entry names, links,
encryption, too many entries, and more unpacked bytes than the limits allow, counted while
unpacking, since declared sizes can lie), then reads every CSV: no NUL bytes, strict UTF-8 (a
BOM is accepted), strict CSV quoting (CRLF accepted), no record longer than
``sis_import_max_line_chars``, a recognisable header. Any such problem is a *failure*: the
import stops before it changes anything.

Memory per upload is bounded whatever its shape: the upload and a zip's entries go to disk
(never memory), a zip may unpack to at most ``sis_import_max_unpacked_bytes`` and
``sis_import_max_ratio`` times its size, and a CSV is read one record at a time, each read in
pieces of at most the line limit, so one record (and the Python list of its fields, about 25
times its size when it is all commas) is the most held at once. Without the limit, one 40 MB
line of short fields cost 1.5 GB.
"""

from __future__ import annotations

import codecs
import csv
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from reportcard.lms.sis_import.formats import ORDER, FileType, detect
from reportcard.settings import Settings

_IGNORED = re.compile(r"(^|/)(__macosx|\.[^/]*)(/|$)|(^|/)desktop\.ini$|(^|/)thumbs\.db$", re.I)
_DRIVE = re.compile(r"^[A-Za-z]:")
_COPY = 1 << 20


@dataclass(frozen=True)
class Limits:
    max_bytes: int
    max_unpacked: int
    max_ratio: int
    max_files: int
    max_line: int | None = None  # characters in one CSV record; None: no limit

    @classmethod
    def from_settings(cls, s: Settings) -> Limits:
        return cls(
            s.sis_import_max_bytes,
            s.sis_import_max_unpacked_bytes,
            s.sis_import_max_ratio,
            s.sis_import_max_files,
            s.sis_import_max_line_chars,
        )


@dataclass(frozen=True)
class Problem:
    """A message about a file (``failure``: the import cannot go on)."""

    file: str | None
    message: str
    failure: bool = True
    line: int | None = None


@dataclass(frozen=True)
class CsvFile:
    """One readable SIS CSV: where it is, what it is, how many data rows it has."""

    name: str
    path: Path
    type: FileType
    headers: tuple[str, ...]
    rows: int
    position: int


@dataclass
class Staged:
    files: list[CsvFile] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(p.failure for p in self.problems)

    @property
    def total_rows(self) -> int:
        return sum(f.rows for f in self.files)


def _unsafe(name: str) -> bool:
    norm = name.replace("\\", "/")
    return norm.startswith("/") or bool(_DRIVE.match(norm)) or ".." in norm.split("/")


def _is_link(info: zipfile.ZipInfo) -> bool:
    return (info.external_attr >> 16) & 0o170000 == 0o120000


def is_zip(path: Path) -> bool:
    with open(path, "rb") as fh:
        magic = fh.read(4)
    return magic in (b"PK\x03\x04", b"PK\x05\x06")


def stage(upload: Path, name: str, limits: Limits, workdir: Path) -> Staged:
    """Check ``upload`` (named ``name`` in messages) and list its CSV files in apply order."""
    staged = Staged()
    size = upload.stat().st_size
    if size > limits.max_bytes:
        staged.problems.append(
            Problem(name, f"The file is {size} bytes, over the limit of {limits.max_bytes} bytes.")
        )
        return staged
    if is_zip(upload):
        _stage_zip(upload, size, limits, workdir, staged)
    else:
        _add_csv(staged, upload, name, 0, limits.max_line)
    if not staged.failed and not staged.files:
        staged.problems.append(Problem(name, "No CSV data found to import."))
    staged.files.sort(key=lambda f: (ORDER[f.type.key], f.position))
    return staged


def _stage_zip(upload: Path, size: int, limits: Limits, workdir: Path, staged: Staged) -> None:
    try:
        zf = zipfile.ZipFile(upload)
    except (zipfile.BadZipFile, OSError) as exc:
        staged.problems.append(Problem(upload.name, f"Not a readable zip file: {exc}"))
        return
    with zf:
        infos = zf.infolist()
        if len(infos) > limits.max_files:
            staged.problems.append(
                Problem(
                    None,
                    f"The zip holds {len(infos)} entries, over the limit of {limits.max_files}.",
                )
            )
            return
        budget = min(limits.max_unpacked, limits.max_ratio * max(size, 1))
        wanted: list[tuple[int, zipfile.ZipInfo]] = []
        for pos, info in enumerate(infos):
            entry = info.filename
            if _unsafe(entry):
                staged.problems.append(
                    Problem(
                        entry,
                        "Zip entry with an unsafe path (absolute "
                        "or containing '..'); nothing was imported.",
                    )
                )
                continue
            if _is_link(info):
                staged.problems.append(Problem(entry, "Zip entry is a symbolic link."))
                continue
            if info.is_dir() or _IGNORED.search(entry.replace("\\", "/")):
                continue
            if info.flag_bits & 0x1:
                staged.problems.append(Problem(entry, "Zip entry is encrypted."))
                continue
            if not entry.lower().endswith(".csv"):
                staged.problems.append(Problem(entry, "Skipping unknown file type", failure=False))
                continue
            wanted.append((pos, info))
        if staged.failed:
            return
        declared = sum(info.file_size for _, info in wanted)
        if declared > budget:
            staged.problems.append(Problem(None, _bomb(declared, budget)))
            return
        unpacked = 0
        for pos, info in wanted:
            target = workdir / f"entry-{pos:05d}.csv"
            try:
                with zf.open(info) as src, open(target, "wb") as dst:
                    while block := src.read(_COPY):
                        unpacked += len(block)
                        if unpacked > budget:
                            staged.problems.append(Problem(info.filename, _bomb(unpacked, budget)))
                            return
                        dst.write(block)
            except (zipfile.BadZipFile, OSError, EOFError) as exc:
                staged.problems.append(Problem(info.filename, f"Corrupt zip entry: {exc}"))
                return
            _add_csv(staged, target, info.filename, pos, limits.max_line)


def _bomb(n: int, budget: int) -> str:
    return (
        f"The zip unpacks to more than {budget} bytes (at least {n}): over the unpacked-size "
        "limit; nothing was imported."
    )


def _utf8_error_line(path: Path) -> int:
    """The 1-based line of the first invalid UTF-8 byte in ``path``."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    line = 1
    with open(path, "rb") as fh:
        while block := fh.read(_COPY):
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                return line + block.count(b"\n", 0, exc.start)
            line += block.count(b"\n")
    return line


class CsvError(ValueError):
    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line


class RecordTooLong(CsvError):
    """A record over the line limit (sis_import_max_line_chars)."""


def too_long(limit: int) -> str:
    return (
        f"A CSV record is longer than the limit of {limit} characters "
        "(sis_import_max_line_chars); nothing was imported."
    )


class _Lines:
    """The physical lines of a text file for csv.reader, each read in pieces of at most
    ``limit`` + 1 characters, and CsvError once the record being read grows past ``limit``."""

    def __init__(self, fh: IO[str], limit: int | None) -> None:
        self.fh = fh
        self.limit = limit
        self.pending = 0  # characters of the record csv.reader is reading now
        self.line = 0

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        if self.limit is None:
            text = self.fh.readline()
        else:
            text = self.fh.readline(self.limit + 1)
            self.pending += len(text)
            if self.pending > self.limit:
                raise RecordTooLong(too_long(self.limit), self.line + 1)
        if not text:
            raise StopIteration
        if text.endswith("\n"):
            self.line += 1
        return text


def records(path: Path, max_line: int | None = None) -> Iterator[tuple[int, list[str]]]:
    """Every non-blank record of a CSV with the physical line it starts on (BOM and CRLF
    accepted). Raises UnicodeDecodeError or :class:`CsvError` on bad input, including a record
    longer than ``max_line`` characters (None: no limit)."""
    with open(path, encoding="utf-8-sig", newline="") as fh:
        lines = _Lines(fh, max_line)
        reader = csv.reader(lines, strict=True)
        start = 1
        try:
            for rec in reader:
                lines.pending = 0
                if rec:
                    yield start, rec
                start = reader.line_num + 1
        except csv.Error as exc:
            raise CsvError(str(exc), reader.line_num) from None


def _nul_line(path: Path) -> int | None:
    """The 1-based line of the first NUL byte (binary data), or None."""
    line = 1
    with open(path, "rb") as fh:
        while block := fh.read(_COPY):
            at = block.find(b"\x00")
            if at >= 0:
                return line + block.count(b"\n", 0, at)
            line += block.count(b"\n")
    return None


def _add_csv(
    staged: Staged, path: Path, name: str, position: int, max_line: int | None = None
) -> None:
    nul = _nul_line(path)
    if nul is not None:
        staged.problems.append(Problem(name, "Binary data (a NUL byte): not a CSV file", line=nul))
        return
    headers: tuple[str, ...] | None = None
    rows = 0
    try:
        for _line, rec in records(path, max_line):
            if headers is None:
                headers = tuple(h.strip().lower() for h in rec)
            else:
                rows += 1
    except UnicodeDecodeError:
        where = _utf8_error_line(path)
        staged.problems.append(Problem(name, "Invalid UTF-8", line=where))
        return
    except RecordTooLong as exc:
        staged.problems.append(Problem(name, str(exc), line=exc.line))
        return
    except CsvError as exc:
        staged.problems.append(Problem(name, f"Malformed CSV: {exc}", line=exc.line))
        return
    if headers is None:
        return  # nothing but blank lines: nothing to import
    kind = detect(headers)
    if kind is None:
        staged.problems.append(Problem(name, "Couldn't find Canvas CSV import headers", line=1))
        return
    staged.files.append(CsvFile(name, path, kind, headers, rows, position))
