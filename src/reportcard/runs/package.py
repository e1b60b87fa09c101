"""Assembling shard parts into the report file: one CSV, or a zip of ``<part>.csv`` entries."""

from __future__ import annotations

import csv
import io
import os
import random
import shutil
import string
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from reportcard.storage.base import Storage

_B36 = string.digits + string.ascii_lowercase


def parts_prefix(run_id: int) -> str:
    """Where a run's shards write their part files (dropped once the run ends)."""
    return f"runs/{run_id}/parts"


def part_key(run_id: int, part_index: int, seq: int) -> str:
    """The part file of shard ``seq`` of file ``part_index``: names sort in file order."""
    return f"{parts_prefix(run_id)}/{part_index:03d}-{seq:05d}.csv"


@dataclass(frozen=True)
class FilePart:
    """One output file: its name (``users``), header row and shard part keys in order."""

    name: str
    headers: Sequence[str]
    keys: Sequence[str]
    empty_rows: Sequence[Sequence[object]] = ()  # written when the part has no row at all


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

    ``bom`` (a UTF-8 byte-order mark, or nothing) is written first.
    """
    with storage.open_write(target) as out:
        out.write(bom + header_bytes(part.headers))
        for key in part.keys:
            with storage.open_read(key) as src:
                shutil.copyfileobj(src, out, 1 << 20)
        out.write(rows_bytes(part.empty_rows))
    return storage.size(target)


def write_zip(storage: Storage, target: str, parts: Sequence[FilePart], *, bom: bytes = b"") -> int:
    """A zip with one ``<name>.csv`` entry per part, in the given order (each after ``bom``)."""
    with (
        storage.open_write(target) as out,
        zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf,
    ):
        for part in parts:
            with zf.open(f"{part.name}.csv", "w", force_zip64=True) as entry:
                entry.write(bom + header_bytes(part.headers))
                for key in part.keys:
                    with storage.open_read(key) as src:
                        shutil.copyfileobj(src, entry, 1 << 20)
                entry.write(rows_bytes(part.empty_rows))
    return storage.size(target)
