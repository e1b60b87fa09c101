"""A zip of CSV files assembled from deflate pieces that the shards compressed in parallel.

A report shipped as a zip used to be compressed by one worker at the end: the compile step
deflated every byte of every file (on the ``large`` institution's provisioning zip, 190 MB of
CSV, several seconds of one core while the other workers sat idle). Now each shard of such a
run writes its part as a *piece* (:class:`DeflatePiece`): a raw deflate stream of its CSV bytes
ended by a sync flush (byte-aligned, no final block), then a 16-byte trailer with the CRC-32
and length of those bytes. Deflate blocks may follow one another across such a boundary, and a
piece's back-references reach only into its own bytes, so the pieces of a file, in key order,
concatenated and closed by a final block, are one valid deflate stream of the whole file. Its
CRC-32 is the pieces' CRCs combined (:func:`crc32_combine`, zlib's ``crc32_combine``, which
Python's module does not expose). The compile step (:func:`write_zip`) only copies bytes: a
local header per file, the header line's piece (deflated there, with the byte-order mark),
the shards' pieces, the ``if_empty`` rows and the final block, the header patched with the
CRC and sizes once known, then the central directory.

The layout is the one ``zipfile`` wrote before (each entry's local header with a ZIP64 extra
field, as ``force_zip64=True`` gives; 1980-01-01 entry times, ``rw-------``; ZIP64 records
in the central directory and at its end only where a size or offset needs them), so every
reader that read the old files reads these. The extracted CSV bytes are what they were.

A piece is written through the storage's atomic writer like any part file: a shard re-run
after a crash rewrites it whole, and a reader sees the old piece or the new one, never half.
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import BinaryIO

ZIP_LEVEL = 1
"""The deflate level of a zip's entries: zlib's fastest.

Measured on the ``large`` provisioning zip's 199 MB of CSV (one core, load average 13):
level 6 (zipfile's and rubyzip's default) took 5.0 s of CPU for a 28.8 MB zip, level 1
1.5 s for 34.7 MB (+20%). Every byte is deflated inside a shard, so the level is the run's
wall time (3.5 CPU seconds is 1.75 s of a 2-worker run's ~10 s) traded against the download;
the CSV inside is the same at any level."""

PIECE_MAGIC = b"RCZ1"
TRAILER = struct.Struct("<4sIQ")  # magic, CRC-32 of the piece's bytes, their length
CHUNK = 1 << 20
FINAL_BLOCK = b"\x03\x00"  # an empty fixed-Huffman block marked final: the stream's end

_CRC_POLY = 0xEDB88320  # CRC-32's polynomial, reflected
_ZIP64_LIMIT = (1 << 31) - 1  # zipfile's: beyond it a size or offset goes to a ZIP64 field
_FILECOUNT_LIMIT = 0xFFFF
_DOS_DATE_1980 = (0 << 9) | (1 << 5) | 1  # 1980-01-01, the date zipfile gives an entry
_EXTERNAL_ATTR = 0o600 << 16  # rw-------, as zipfile's open(name, "w")
_CREATE_SYSTEM = 3  # Unix
_ZIP64_VERSION = 45
_DEFLATE = 8
_UTF8_NAME = 0x800


# ----------------------------------------------------------------------------- CRC-32
def _gf2_times(matrix: Sequence[int], vector: int) -> int:
    """The 32x32 GF(2) ``matrix`` (one int per column) times ``vector``."""
    total = 0
    i = 0
    while vector:
        if vector & 1:
            total ^= matrix[i]
        vector >>= 1
        i += 1
    return total


def _gf2_square(matrix: Sequence[int]) -> list[int]:
    return [_gf2_times(matrix, column) for column in matrix]


@cache
def _zeros_operator(power: int) -> tuple[int, ...]:
    """The operator that advances a CRC-32 register over ``2**power`` zero bytes."""
    if power == 0:
        one_bit = [_CRC_POLY] + [1 << n for n in range(31)]  # the register over one zero bit
        two = _gf2_square(one_bit)
        four = _gf2_square(two)
        return tuple(_gf2_square(four))  # over eight zero bits: one byte
    return tuple(_gf2_square(_zeros_operator(power - 1)))


def crc32_combine(crc1: int, crc2: int, len2: int) -> int:
    """The CRC-32 of ``A + B`` from ``crc1 = crc32(A)``, ``crc2 = crc32(B)`` and ``len(B)``.

    zlib's ``crc32_combine``: the register after ``A`` is carried over ``len2`` zero bytes
    (one precomputed GF(2) operator per set bit of ``len2``), then ``B``'s CRC is added.
    """
    if len2 <= 0:
        return crc1
    power = 0
    while len2:
        if len2 & 1:
            crc1 = _gf2_times(_zeros_operator(power), crc1)
        len2 >>= 1
        power += 1
    return crc1 ^ crc2


# ----------------------------------------------------------------------------- pieces
class DeflatePiece:
    """Writes CSV bytes to ``out`` as one piece: deflate, a sync flush, then the trailer.

    ``close`` ends the piece (call it only when every byte was written: a shard that fails
    leaves its writer to be discarded, so no piece without its trailer is ever published).
    """

    def __init__(self, out: BinaryIO, level: int = ZIP_LEVEL) -> None:
        self._out = out
        self._deflate = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS)
        self.crc = 0
        self.size = 0

    def write(self, data: bytes) -> int:
        self.crc = zlib.crc32(data, self.crc)
        self.size += len(data)
        compressed = self._deflate.compress(data)
        if compressed:
            self._out.write(compressed)
        return len(data)

    def close(self) -> None:
        self._out.write(self._deflate.flush(zlib.Z_SYNC_FLUSH))
        self._out.write(TRAILER.pack(PIECE_MAGIC, self.crc, self.size))


def deflate_piece(data: bytes, *, final: bool = False, level: int = ZIP_LEVEL) -> bytes:
    """``data`` as deflate blocks: sync-flushed, or ending the stream when ``final``."""
    z = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS)
    return z.compress(data) + z.flush(zlib.Z_FINISH if final else zlib.Z_SYNC_FLUSH)


class BadPiece(ValueError):
    """A piece without its trailer (not written by :class:`DeflatePiece`)."""


@dataclass
class Stream:
    """The deflate stream of one zip entry as it is written: CRC and lengths so far."""

    crc: int = 0
    size: int = 0  # uncompressed bytes
    compressed: int = 0

    def add(self, crc: int, size: int, compressed: int) -> None:
        self.crc = crc32_combine(self.crc, crc, size)
        self.size += size
        self.compressed += compressed


def copy_piece(src: BinaryIO, out: BinaryIO, name: str = "piece") -> tuple[int, int, int]:
    """Copy a piece's deflate bytes from ``src`` to ``out``; its CRC, length and bytes copied."""
    held = b""
    copied = 0
    while True:
        chunk = src.read(CHUNK)
        if not chunk:
            break
        buf = held + chunk if held else chunk
        if len(buf) <= TRAILER.size:
            held = buf
            continue
        out.write(buf[: -TRAILER.size])
        copied += len(buf) - TRAILER.size
        held = buf[-TRAILER.size :]
    if len(held) != TRAILER.size:
        raise BadPiece(f"{name}: too short for a piece")
    magic, crc, size = TRAILER.unpack(held)
    if magic != PIECE_MAGIC:
        raise BadPiece(f"{name}: no piece trailer")
    return crc, size, copied


# ----------------------------------------------------------------------------- the zip
@dataclass
class Entry:
    """A zip entry written so far: its name, where its local header is, its stream."""

    name: str
    offset: int
    stream: Stream

    def encoded_name(self) -> tuple[bytes, int]:
        try:
            return self.name.encode("ascii"), 0
        except UnicodeEncodeError:
            return self.name.encode("utf-8"), _UTF8_NAME


def entry_name(name: str) -> str:
    """The name as zipfile stores it (cut at a NUL, the platform's separators as ``/``)."""
    return zipfile.ZipInfo(name).filename


def local_header(entry: Entry) -> bytes:
    """The entry's local header, ZIP64 extra field included (sizes as far as known)."""
    name, flags = entry.encoded_name()
    extra = struct.pack("<HHQQ", 1, 16, entry.stream.size, entry.stream.compressed)
    return (
        struct.pack(
            "<IHHHHHIIIHH",
            0x04034B50,
            _ZIP64_VERSION,
            flags,
            _DEFLATE,
            0,
            _DOS_DATE_1980,
            entry.stream.crc,
            0xFFFFFFFF,
            0xFFFFFFFF,
            len(name),
            len(extra),
        )
        + name
        + extra
    )


def begin_entry(out: BinaryIO, name: str) -> Entry:
    entry = Entry(entry_name(name), out.tell(), Stream())
    out.write(local_header(entry))
    return entry


def end_entry(out: BinaryIO, entry: Entry) -> None:
    """Write the final block and patch the local header with the CRC and sizes."""
    out.write(FINAL_BLOCK)
    entry.stream.compressed += len(FINAL_BLOCK)
    end = out.tell()
    out.seek(entry.offset)
    out.write(local_header(entry))
    out.seek(end)


def write_raw(out: BinaryIO, entry: Entry, data: bytes) -> None:
    """``data`` into the entry, deflated here (the header line, the ``if_empty`` rows)."""
    if not data:
        return
    piece = deflate_piece(data)
    out.write(piece)
    entry.stream.add(zlib.crc32(data), len(data), len(piece))


def write_central_directory(out: BinaryIO, entries: Iterable[Entry]) -> None:
    """The central directory and end records (ZIP64 ones only where needed)."""
    start = out.tell()
    count = 0
    for entry in entries:
        count += 1
        s = entry.stream
        zip64: list[int] = []
        size, compressed, offset = s.size, s.compressed, entry.offset
        if s.size > _ZIP64_LIMIT or s.compressed > _ZIP64_LIMIT:
            zip64 += [s.size, s.compressed]
            size = compressed = 0xFFFFFFFF
        if entry.offset > _ZIP64_LIMIT:
            zip64.append(entry.offset)
            offset = 0xFFFFFFFF
        extra = struct.pack(f"<HH{len(zip64)}Q", 1, 8 * len(zip64), *zip64) if zip64 else b""
        name, flags = entry.encoded_name()
        out.write(
            struct.pack(
                "<IBBHHHHHIIIHHHHHII",
                0x02014B50,
                _ZIP64_VERSION,
                _CREATE_SYSTEM,
                _ZIP64_VERSION,
                flags,
                _DEFLATE,
                0,
                _DOS_DATE_1980,
                s.crc,
                compressed,
                size,
                len(name),
                len(extra),
                0,
                0,
                0,
                _EXTERNAL_ATTR,
                offset,
            )
            + name
            + extra
        )
    end = out.tell()
    cd_size = end - start
    if count > _FILECOUNT_LIMIT or start > _ZIP64_LIMIT or cd_size > _ZIP64_LIMIT:
        out.write(
            struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, count, count, cd_size, start)
        )
        out.write(struct.pack("<IIQI", 0x07064B50, 0, end, 1))
        count = min(count, 0xFFFF)
        cd_size = min(cd_size, 0xFFFFFFFF)
        start = min(start, 0xFFFFFFFF)
    out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count, count, cd_size, start, 0))
