"""Reading CD2 files: JSONL, CSV, TSV (each optionally gzip), Parquet (spec §3).

Gzip is recognised by its magic bytes (``1f 8b``), never by the name. The format comes from the
name once ``.gz`` is stripped (``.jsonl``/``.json``, ``.csv``, ``.tsv``, ``.parquet``); a name
that says nothing is sniffed (Parquet magic ``PAR1``, a ``{`` line, a header with tabs or commas).

:func:`read_records` yields :class:`Record` objects in file order; values keep CD2's own shape:
a nested member of the expanded layout is under its dotted name (``settings.course_format``),
the condensed layout's JSON column under its own name (``settings``, a dict once parsed).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

from reportcard.lms.cd2.errors import Cd2Error

FORMATS = ("jsonl", "csv", "tsv", "parquet")
_SUFFIX = {
    ".jsonl": "jsonl",
    ".json": "jsonl",
    ".ndjson": "jsonl",
    ".csv": "csv",
    ".tsv": "tsv",
    ".parquet": "parquet",
    ".txt": "tsv",
}


@dataclass
class Record:
    """One CD2 record: its key, ``meta.ts``, action (``U`` or ``D``) and value columns."""

    key: Any
    ts: Any
    action: str
    values: dict[str, Any] = field(default_factory=dict)
    line: int = 0  # line (JSONL, TSV, CSV: of the record's start) or row number (Parquet)


def is_gzip(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def open_binary(path: Path) -> IO[bytes]:
    """The file's bytes, gunzipped when it is gzip."""
    if is_gzip(path):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return path.open("rb")


def detect_format(path: Path) -> str:
    """``jsonl``, ``csv``, ``tsv`` or ``parquet`` for ``path`` (name first, then content)."""
    name = path.name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    suffix = Path(name).suffix
    if suffix in _SUFFIX:
        return _SUFFIX[suffix]
    with open_binary(path) as fh:
        head = fh.read(4096)
    if head.startswith(b"PAR1"):
        return "parquet"
    first = head.split(b"\n", 1)[0].strip()
    if first.startswith(b"{"):
        return "jsonl"
    if b"\t" in first:
        return "tsv"
    if b"," in first:
        return "csv"
    raise Cd2Error(
        "cannot tell the format of the file (name it .jsonl, .csv, .tsv or .parquet)", file=path
    )


def open_text(path: Path) -> IO[str]:
    return io.TextIOWrapper(open_binary(path), encoding="utf-8", newline="")


# ---------------------------------------------------------------------------------- TSV
_TSV_ESCAPES = {
    "\\": "\\",
    "t": "\t",
    "n": "\n",
    "r": "\r",
    "b": "\b",
    "f": "\f",
    "v": "\v",
    "0": "\0",
    "N": "\\N",
}
_TSV_ESCAPE = re.compile(r"\\(.)")


def tsv_value(raw: str) -> str | None:
    if raw == "\\N":
        return None
    if "\\" not in raw:
        return raw
    return _TSV_ESCAPE.sub(lambda m: _TSV_ESCAPES.get(m.group(1), m.group(1)), raw)


def tsv_header(path: Path) -> list[str]:
    with open_text(path) as fh:
        line = fh.readline()
    return line.rstrip("\r\n").split("\t") if line else []


LINES_CHUNK = 1 << 20  # bytes read (and gunzipped) at a time by tsv_lines
_NEWLINES = re.compile("\r\n|\r|\n")


def _split_lines(text: str) -> list[str]:
    """``text``'s lines without their ends, split as ``open_text`` splits (``\\n``, ``\\r\\n``
    and a lone ``\\r`` each end a line); ``text`` ends with a line end or the file's end."""
    lines = _NEWLINES.split(text) if "\r" in text else text.split("\n")
    if text and text[-1] in "\r\n":
        lines.pop()  # the empty rest after the last line end
    return lines


def tsv_lines(path: Path) -> Iterator[list[str]]:
    """The file's lines (the header first), a megabyte at a time, without their ends: the same
    lines as iterating :func:`open_text` and stripping each one's end, at a fraction of the
    calls. Bytes that are not UTF-8 raise a :class:`Cd2Error` naming their line, once the
    lines before it are yielded."""
    with open_binary(path) as fh:
        carry = b""
        seen = 0  # lines yielded
        while True:
            data = fh.read(LINES_CHUNK)
            if not data:
                break
            if carry:
                data = carry + data
            # Cut after the last \n (never inside a UTF-8 sequence nor between \r and \n).
            cut = data.rfind(b"\n") + 1
            if cut == 0:
                carry = data
                continue
            carry = data[cut:]
            lines = yield from _decoded_lines(data[:cut], seen, path)
            seen += len(lines)
        if carry:
            yield from _decoded_lines(carry, seen, path)


def _decoded_lines(data: bytes, seen: int, path: Path) -> Generator[list[str], None, list[str]]:
    """Yields the lines of ``data`` (after line ``seen``) and returns them."""
    try:
        lines = _split_lines(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        head = data[: exc.start]
        cut = head.rfind(b"\n") + 1
        before = _split_lines(head[:cut].decode("utf-8")) if cut else []
        if before:
            yield before
        line = seen + len(before) + 1 + head[cut:].count(b"\r")  # a lone \r ends a line
        raise Cd2Error(f"not UTF-8 text ({exc.reason})", file=path, line=line) from None
    yield lines
    return lines


def _read_tsv(path: Path) -> Iterator[tuple[int, list[str], list[str | None]]]:
    with open_text(path) as fh:
        header: list[str] = []
        for n, line in enumerate(fh, start=1):
            line = line.rstrip("\n").rstrip("\r") if line.endswith("\n") else line
            if n == 1:
                header = line.split("\t")
                continue
            if not line:
                continue
            cells = line.split("\t")
            if len(cells) != len(header):
                raise Cd2Error(
                    f"{len(cells)} fields where the header has {len(header)}", file=path, line=n
                )
            yield n, header, [tsv_value(c) for c in cells]


# ---------------------------------------------------------------------------------- CSV
def _csv_records(fh: IO[str], path: Path) -> Iterator[tuple[int, list[tuple[str, bool]]]]:
    """(line, [(text, quoted)]) per record: quotedness tells NULL from the empty string."""
    line_no = 0
    while True:
        raw = fh.readline()
        if not raw:
            return
        line_no += 1
        start = line_no
        text = raw
        while text.count('"') % 2 == 1:  # a quoted field runs over a raw newline
            more = fh.readline()
            if not more:
                raise Cd2Error("unterminated quoted field", file=path, line=start)
            line_no += 1
            text += more
        if text.endswith("\n"):
            text = text[:-1]
            if text.endswith("\r"):
                text = text[:-1]
        if not text:
            continue
        yield start, _split_csv(text, path, start)


def _split_csv(text: str, path: Path, line: int) -> list[tuple[str, bool]]:
    out: list[tuple[str, bool]] = []
    i, n = 0, len(text)
    while True:
        if i < n and text[i] == '"':
            j = i + 1
            buf = []
            while True:
                k = text.find('"', j)
                if k < 0:
                    raise Cd2Error("unterminated quoted field", file=path, line=line)
                buf.append(text[j:k])
                if k + 1 < n and text[k + 1] == '"':
                    buf.append('"')
                    j = k + 2
                    continue
                i = k + 1
                break
            out.append(("".join(buf), True))
            if i < n and text[i] != ",":
                raise Cd2Error("text after a closing quote", file=path, line=line)
        else:
            k = text.find(",", i)
            k = n if k < 0 else k
            cell = text[i:k]
            if '"' in cell:
                raise Cd2Error("a quote inside an unquoted field", file=path, line=line)
            out.append((cell, False))
            i = k
        if i >= n:
            return out
        i += 1  # the comma
        if i == n:
            out.append(("", False))
            return out


def _csv_value(cell: tuple[str, bool]) -> str | None:
    text, quoted = cell
    if quoted:
        return text
    return None if text in ("", "NULL") else text


def csv_header(path: Path) -> list[str]:
    with open_text(path) as fh:
        for _, cells in _csv_records(fh, path):
            return [c for c, _ in cells]
    return []


def _read_csv(path: Path) -> Iterator[tuple[int, list[str], list[str | None]]]:
    with open_text(path) as fh:
        header: list[str] | None = None
        for n, cells in _csv_records(fh, path):
            if header is None:
                header = [c for c, _ in cells]
                continue
            if len(cells) != len(header):
                raise Cd2Error(
                    f"{len(cells)} fields where the header has {len(header)}", file=path, line=n
                )
            yield n, header, [_csv_value(c) for c in cells]


# ---------------------------------------------------------------------------------- tabular
def _tabular(path: Path, rows: Iterator[tuple[int, list[str], list[Any]]]) -> Iterator[Record]:
    layout: tuple[int, int | None, int | None, list[tuple[int, str]]] | None = None
    for n, header, cells in rows:
        if layout is None:
            layout = tabular_layout(header, path)
        k, ts, act, vals = layout
        action = (cells[act] if act is not None else None) or "U"
        yield Record(
            key=cells[k],
            ts=cells[ts] if ts is not None else None,
            action=action,
            values={name: cells[i] for i, name in vals},
            line=n,
        )


def tabular_layout(
    header: list[str], path: Path | None = None
) -> tuple[int, int | None, int | None, list[tuple[int, str]]]:
    """Positions of the key, ``meta.ts``, ``meta.action`` and the value columns (by name)."""
    key = [i for i, h in enumerate(header) if h.startswith("key.")]
    if len(key) != 1:
        raise Cd2Error("the header has no key column (key.id)", file=path, line=1, field="key.id")
    ts = header.index("meta.ts") if "meta.ts" in header else None
    act = header.index("meta.action") if "meta.action" in header else None
    vals = [(i, h[6:]) for i, h in enumerate(header) if h.startswith("value.")]
    return key[0], ts, act, vals


# ---------------------------------------------------------------------------------- JSONL
def _read_jsonl(path: Path) -> Iterator[Record]:
    with open_text(path) as fh:
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError as exc:
                raise Cd2Error(f"not JSON ({exc})", file=path, line=n) from None
            if not isinstance(obj, dict):
                raise Cd2Error("not a JSON object", file=path, line=n)
            yield _object_record(obj, path, n)


def _object_record(obj: dict[str, Any], path: Path, n: int) -> Record:
    key = obj.get("key")
    if not isinstance(key, dict) or len(key) != 1:
        raise Cd2Error("no key object", file=path, line=n, field="key")
    meta = obj.get("meta") or {}
    if not isinstance(meta, dict):
        raise Cd2Error("meta is not an object", file=path, line=n, field="meta")
    value = obj.get("value") or {}
    if not isinstance(value, dict):
        raise Cd2Error("value is not an object", file=path, line=n, field="value")
    return Record(
        key=next(iter(key.values())),
        ts=meta.get("ts"),
        action=meta.get("action") or "U",
        values=value,
        line=n,
    )


# ---------------------------------------------------------------------------------- Parquet
def _plain(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.isoformat()
    if isinstance(v, date):
        return v.isoformat()
    return v


def _read_parquet(path: Path) -> Iterator[Record]:
    try:
        import pyarrow.parquet as pq
    except ImportError:  # pragma: no cover - depends on the installation
        raise Cd2Error(
            "reading Parquet needs pyarrow: pip install 'reportcard[parquet]'"
            " (or use JSONL or TSV)",
            file=path,
        ) from None
    pf = pq.ParquetFile(path)
    names = pf.schema_arrow.names
    n = 0
    for batch in pf.iter_batches(batch_size=8192):
        for row in batch.to_pylist():
            n += 1
            if "key" in names and isinstance(row.get("key"), dict):
                obj = {k: row.get(k) for k in ("key", "meta", "value")}
                rec = _object_record(obj, path, n)
                rec.values = {k: _plain(v) for k, v in rec.values.items()}
                rec.ts = _plain(rec.ts)
                yield rec
                continue
            header = list(row)
            k, ts, act, vals = tabular_layout(header, path)
            cells = [_plain(row[h]) for h in header]
            yield Record(
                key=cells[k],
                ts=cells[ts] if ts is not None else None,
                action=(cells[act] if act is not None else None) or "U",
                values={name: cells[i] for i, name in vals},
                line=n,
            )


def read_records(path: Path, fmt: str | None = None) -> Iterator[Record]:
    """Every record of the file ``path``, in order (errors name the file and line)."""
    fmt = fmt or detect_format(path)
    try:
        if fmt == "jsonl":
            yield from _read_jsonl(path)
        elif fmt == "tsv":
            yield from _tabular(path, _read_tsv(path))
        elif fmt == "csv":
            yield from _tabular(path, _read_csv(path))
        elif fmt == "parquet":
            yield from _read_parquet(path)
        else:
            raise Cd2Error(f"unknown format {fmt!r}", file=path)
    except UnicodeDecodeError as exc:
        raise Cd2Error(f"not UTF-8 text ({exc.reason})", file=path) from None
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        if isinstance(exc, Cd2Error):
            raise
        raise Cd2Error(f"cannot read the file ({exc})", file=path) from None


def read_tabular(path: Path, fmt: str) -> Iterator[tuple[int, list[str], list[str | None]]]:
    """(line, header, cells) per record of a TSV or CSV file (cells: text or None)."""
    try:
        yield from (_read_tsv(path) if fmt == "tsv" else _read_csv(path))
    except UnicodeDecodeError as exc:
        raise Cd2Error(f"not UTF-8 text ({exc.reason})", file=path) from None


def header_of(path: Path, fmt: str) -> list[str]:
    """The header row of a tabular file."""
    return tsv_header(path) if fmt == "tsv" else csv_header(path)


_ = csv  # the stdlib reader cannot tell "" from an empty cell; the parser above can
