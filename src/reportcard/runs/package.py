"""Assembling shard parts into the report file: one CSV, or a zip of ``<part>.csv`` entries.

A run whose file is a zip of CSVs has its shards write deflate pieces (``piece_key``,
``reportcard.runs.zippieces``) instead of plain CSV parts, so that the compression happens in
the shards, in parallel, and the compile step only copies bytes.
"""

from __future__ import annotations

import csv
import io
import os
import random
import shutil
import string
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO

from reportcard.runs.zippieces import (
    ZIP_LEVEL,
    Entry,
    begin_entry,
    copy_piece,
    end_entry,
    write_central_directory,
    write_raw,
)
from reportcard.storage.base import Storage

_B36 = string.digits + string.ascii_lowercase


def parts_prefix(run_id: int) -> str:
    """Where a run's shards write their part files (dropped once the run ends)."""
    return f"runs/{run_id}/parts"


def part_key(run_id: int, part_index: int, seq: int) -> str:
    """The part file of shard ``seq`` of file ``part_index``: names sort in file order."""
    return f"{parts_prefix(run_id)}/{part_index:03d}-{seq:05d}.csv"


def piece_key(run_id: int, part_index: int, seq: int) -> str:
    """The deflate piece of shard ``seq`` of file ``part_index`` (a run zipping its CSVs)."""
    return f"{parts_prefix(run_id)}/{part_index:03d}-{seq:05d}.deflate"


def headed_key(key: str) -> str:
    """The part ``key`` (``part_key``) written with its file's start: the byte-order mark, if
    any, and the header line. The first shard of a run whose file is one plain CSV writes
    this, so that the compile of a one-shard file copies nothing (``write_csv``)."""
    return key.removesuffix(".csv") + ".head.csv"


def plain_key(key: str) -> str:
    """The CSV part key of the same shard as the piece ``key``."""
    return key.removesuffix(".deflate") + ".csv"


@dataclass(frozen=True)
class FilePart:
    """One output file: its name (``users``), header row and shard part keys in order.

    ``deflated``: the keys are deflate pieces (``piece_key``), not CSV parts (``part_key``).
    """

    name: str
    headers: Sequence[str]
    keys: Sequence[str]
    empty_rows: Sequence[Sequence[object]] = ()  # written when the part has no row at all
    deflated: bool = False


def header_bytes(headers: Sequence[str]) -> bytes:
    """The header line as Canvas writes it; no columns at all gives a single empty line."""
    if not headers:
        return b"\n"
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(headers)
    return buf.getvalue().encode("utf-8")


def rows_bytes(rows: Sequence[Sequence[object]]) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue().encode("utf-8")


def base_name(report_type: str, run_id: int, now: datetime) -> str:
    """``<report_type>_<DD_Mon_YYYY>_<run id>`` (English month abbreviation)."""
    months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    return f"{report_type}_{now.day:02d}_{months[now.month - 1]}_{now.year}_{run_id}"


def csv_file_name(report_type: str, run_id: int, now: datetime) -> str:
    """A single CSV's name: the base name with a Ruby-style temp suffix glued on.

    Canvas names the attachment after its temp file: ``<base><YYYYMMDD>-<pid>-<random>.csv``.
    """
    rnd = "".join(random.choice(_B36) for _ in range(7))
    return f"{base_name(report_type, run_id, now)}{now:%Y%m%d}-{os.getpid()}-{rnd}.csv"


def zip_file_name(report_type: str, run_id: int, now: datetime) -> str:
    return f"{base_name(report_type, run_id, now)}.zip"


def write_csv(storage: Storage, target: str, part: FilePart, *, bom: bytes = b"") -> int:
    """Concatenate header and shard parts into ``target``; returns the byte size.

    ``bom`` (a UTF-8 byte-order mark, or nothing) is written first. When the first shard wrote
    them itself (``headed_key``), its part is the file's start; a file of that one part and no
    ``if_empty`` rows is then that part's bytes as they are, stored by ``Storage.copy`` (a
    link on local storage, a server-side copy on S3).
    """
    keys = list(part.keys)
    start = bom + header_bytes(part.headers)
    if keys and storage.exists(headed_key(keys[0])):
        keys[0], start = headed_key(keys[0]), b""
        if len(keys) == 1 and not part.empty_rows:
            storage.copy(keys[0], target)
            return storage.size(target)
    with storage.open_write(target) as out:
        out.write(start)
        for key in keys:
            with storage.open_read(key) as src:
                shutil.copyfileobj(src, out, 1 << 20)
        out.write(rows_bytes(part.empty_rows))
    return storage.size(target)


def write_zip(storage: Storage, target: str, parts: Sequence[FilePart], *, bom: bytes = b"") -> int:
    """A zip with one ``<name>.csv`` entry per part, in the given order (each after ``bom``).

    A deflated part's pieces are copied as they are (``reportcard.runs.zippieces``); plain
    CSV parts are deflated here.
    """
    entries: list[Entry] = []
    with storage.open_write(target) as out:
        for part in parts:
            entry = begin_entry(out, f"{part.name}.csv")
            write_raw(out, entry, bom + header_bytes(part.headers))
            for key in part.keys:
                deflated = part.deflated
                if deflated and not storage.exists(key):
                    # Written by a worker from before deflate pieces (a rolling upgrade).
                    key, deflated = plain_key(key), False
                with storage.open_read(key) as src:
                    if deflated:
                        entry.stream.add(*copy_piece(src, out, key))
                    else:
                        _deflate_into(src, out, entry)
            write_raw(out, entry, rows_bytes(part.empty_rows))
            end_entry(out, entry)
            entries.append(entry)
        write_central_directory(out, entries)
    return storage.size(target)


def _deflate_into(src: BinaryIO, out: BinaryIO, entry: Entry) -> None:
    """A plain CSV part, deflated into the entry's stream (sync-flushed at its end)."""
    z = zlib.compressobj(ZIP_LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS)
    crc = size = compressed = 0
    while chunk := src.read(1 << 20):
        crc = zlib.crc32(chunk, crc)
        size += len(chunk)
        data = z.compress(chunk)
        out.write(data)
        compressed += len(data)
    data = z.flush(zlib.Z_SYNC_FLUSH)
    out.write(data)
    entry.stream.add(crc, size, compressed + len(data))
