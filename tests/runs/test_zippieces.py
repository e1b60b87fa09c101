"""The zip of CSVs assembled from the shards' deflate pieces: valid, exact and recoverable."""

from __future__ import annotations

import io
import os
import random
import shutil
import subprocess
import zipfile
import zlib
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from reportcard.db.tables import report_shards
from reportcard.runs import zippieces
from reportcard.runs.package import FilePart, piece_key, write_zip
from reportcard.runs.worker import Worker
from reportcard.runs.zippieces import (
    BadPiece,
    DeflatePiece,
    copy_piece,
    crc32_combine,
)
from reportcard.settings import Settings
from reportcard.storage.local import LocalStorage
from tests.runs.sample import (
    abandon_first_shard,
    expected_csv,
    file_bytes,
    make_institution,
    sample_run,
)


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "files")


def csv_bytes(rows: int, seed: int = 0) -> bytes:
    rnd = random.Random(seed)
    return b"".join(
        f'{i},login{rnd.randrange(10**6)},"Name, {i}",2024-01-15T01:00:00Z\n'.encode()
        for i in range(rows)
    )


def write_pieces(storage: LocalStorage, prefix: str, chunks: list[bytes]) -> list[str]:
    keys = []
    for n, chunk in enumerate(chunks):
        key = f"{prefix}/{n:05d}.deflate"
        with storage.open_write(key) as out:
            piece = DeflatePiece(out)
            # written in uneven slices, as a shard writes its batches
            for i in range(0, len(chunk), 777):
                piece.write(chunk[i : i + 777])
            piece.close()
        keys.append(key)
    return keys


def unzip_t(path: Path) -> None:
    if shutil.which("unzip") is None:
        pytest.skip("no unzip on this machine")
    done = subprocess.run(["unzip", "-t", str(path)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No errors detected" in done.stdout


# ----------------------------------------------------------------------------- CRC-32
@pytest.mark.parametrize("len_a,len_b", [(0, 0), (0, 5), (5, 0), (1, 1), (3, 1000), (70_000, 1)])
def test_crc32_combine_equals_the_crc_of_the_concatenation(len_a: int, len_b: int) -> None:
    rnd = random.Random(len_a * 7 + len_b)
    a = rnd.randbytes(len_a)
    b = rnd.randbytes(len_b)
    assert crc32_combine(zlib.crc32(a), zlib.crc32(b), len(b)) == zlib.crc32(a + b)


def test_crc32_combine_over_many_pieces_and_big_lengths() -> None:
    rnd = random.Random(19)
    pieces = [rnd.randbytes(rnd.randrange(0, 5000)) for _ in range(40)]
    crc = 0
    for p in pieces:
        crc = crc32_combine(crc, zlib.crc32(p), len(p))
    assert crc == zlib.crc32(b"".join(pieces))
    # A long piece (64 MiB and 3 bytes: many bits of the length set), against zlib itself.
    a = b"reportcard"
    zeros = bytes(1 << 20)
    streamed = zlib.crc32(a)
    crc_b = 0
    for _ in range(64):
        streamed = zlib.crc32(zeros, streamed)
        crc_b = zlib.crc32(zeros, crc_b)
    streamed = zlib.crc32(b"xyz", streamed)
    crc_b = zlib.crc32(b"xyz", crc_b)
    assert crc32_combine(zlib.crc32(a), crc_b, (64 << 20) + 3) == streamed


# ----------------------------------------------------------------------------- pieces
def test_pieces_concatenated_are_one_deflate_stream(storage: LocalStorage) -> None:
    chunks = [csv_bytes(500, 1), b"", csv_bytes(1, 2), csv_bytes(3000, 3)]
    keys = write_pieces(storage, "p", chunks)
    out = io.BytesIO()
    for key in keys:
        with storage.open_read(key) as src:
            crc, size, _ = copy_piece(src, out)
        assert size == len(chunks[keys.index(key)])
        assert crc == zlib.crc32(chunks[keys.index(key)])
    stream = out.getvalue() + zippieces.FINAL_BLOCK
    assert zlib.decompress(stream, -zlib.MAX_WBITS) == b"".join(chunks)


def test_a_piece_without_its_trailer_is_refused() -> None:
    with pytest.raises(BadPiece):
        copy_piece(io.BytesIO(b"garbage,half,row"), io.BytesIO(), "k")
    with pytest.raises(BadPiece):
        copy_piece(io.BytesIO(b"short"), io.BytesIO(), "k")


# ----------------------------------------------------------------------------- the zip
def test_zip_of_pieces_is_valid_and_exact(storage: LocalStorage, tmp_path: Path) -> None:
    users = [csv_bytes(2000, 4), csv_bytes(10, 5), csv_bytes(0), csv_bytes(4000, 6)]
    one = [csv_bytes(700, 7)]
    parts = [
        FilePart("users", ["id", "login"], write_pieces(storage, "u", users), deflated=True),
        FilePart("one_shard", ["id"], write_pieces(storage, "o", one), deflated=True),
        FilePart("empty", ["id"], write_pieces(storage, "e", [b""]), [["No rows"]], deflated=True),
        FilePart("no_columns", [], write_pieces(storage, "n", [b""]), deflated=True),
        FilePart("términos", ["x"], write_pieces(storage, "t", [b"a\n"]), deflated=True),
    ]
    bom = b"\xef\xbb\xbf"
    size = write_zip(storage, "out.zip", parts, bom=bom)
    path = storage.root / "out.zip"
    assert size == path.stat().st_size
    zf = zipfile.ZipFile(path)
    assert zf.testzip() is None  # every entry's CRC checked
    assert zf.namelist() == [
        "users.csv",
        "one_shard.csv",
        "empty.csv",
        "no_columns.csv",
        "términos.csv",
    ]
    assert zf.read("users.csv") == bom + b"id,login\n" + b"".join(users)
    assert zf.read("one_shard.csv") == bom + b"id\n" + one[0]
    assert zf.read("empty.csv") == bom + b"id\nNo rows\n"
    assert zf.read("no_columns.csv") == bom + b"\n"
    assert zf.read("términos.csv") == bom + b"x\na\n"
    for info in zf.infolist():
        assert info.compress_type == zipfile.ZIP_DEFLATED
        assert info.date_time == (1980, 1, 1, 0, 0, 0)
        assert info.external_attr == 0o600 << 16
    unzip_t(path)


def test_zip_of_plain_parts_and_pieces_alike(storage: LocalStorage) -> None:
    data = csv_bytes(1500, 8)
    with storage.open_write("plain.csv") as out:
        out.write(data)
    plain = [FilePart("f", ["h"], ["plain.csv"])]
    pieced = [FilePart("f", ["h"], write_pieces(storage, "q", [data]), deflated=True)]
    write_zip(storage, "a.zip", plain)
    write_zip(storage, "b.zip", pieced)
    for name in ("a.zip", "b.zip"):
        zf = zipfile.ZipFile(storage.root / name)
        assert zf.testzip() is None
        assert zf.read("f.csv") == b"h\n" + data
        unzip_t(storage.root / name)


def test_zip64_records_where_sizes_offsets_or_counts_need_them(
    storage: LocalStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Sizes and offsets past a (lowered) limit go to ZIP64 fields, as past 2 GiB they would.
    monkeypatch.setattr(zippieces, "_ZIP64_LIMIT", 100)
    monkeypatch.setattr(zippieces, "_FILECOUNT_LIMIT", 2)
    data = [csv_bytes(300, n) for n in range(3)]
    parts = [
        FilePart(f"f{n}", ["h"], write_pieces(storage, f"z{n}", [d]), deflated=True)
        for n, d in enumerate(data)
    ]
    write_zip(storage, "z.zip", parts)
    raw = (storage.root / "z.zip").read_bytes()
    assert b"PK\x06\x06" in raw and b"PK\x06\x07" in raw  # the ZIP64 end records
    zf = zipfile.ZipFile(io.BytesIO(raw))
    assert zf.testzip() is None
    for n, d in enumerate(data):
        assert zf.read(f"f{n}.csv") == b"h\n" + d
    unzip_t(storage.root / "z.zip")


# ----------------------------------------------------------------------------- a real run
def test_a_zip_run_compresses_in_its_shards(engine: Engine, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, shard_rows=100)
    storage = LocalStorage(tmp_path / "files")
    with engine.begin() as conn:
        root = make_institution(conn, 450)
        run_id = sample_run(conn, root, logins="true", empty="true")
    worker = Worker(engine, storage, settings)
    assert worker.step()  # plans
    seen: list[str] = []
    real = storage.open_write

    def spy(key: str):  # type: ignore[no-untyped-def]
        seen.append(key)
        return real(key)

    storage.open_write = spy  # type: ignore[method-assign]
    while worker.step():
        pass
    parts = [k for k in seen if "/parts/" in k]
    assert parts and all(k.endswith(".deflate") for k in parts)
    zf = zipfile.ZipFile(io.BytesIO(file_bytes(engine, storage, run_id)))
    assert zf.testzip() is None
    assert zf.read("logins.csv") == expected_csv(root, 1, 450)
    assert zf.read("empty.csv") == b"\n"


def test_a_shard_rerun_after_a_crash_rewrites_its_piece(engine: Engine, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, shard_rows=100, stale_seconds=30)
    storage = LocalStorage(tmp_path / "files")
    with engine.begin() as conn:
        root = make_institution(conn, 450)
        run_id = sample_run(conn, root, logins="true", empty="true")
    worker = Worker(engine, storage, settings)
    assert worker.step()  # plans
    with engine.begin() as conn:
        # A worker claimed it and died, leaving a piece behind (an atomic write never leaves a
        # torn one; garbage shows the retry rewrites it).
        first = abandon_first_shard(conn, run_id)
    with storage.open_write(piece_key(run_id, 0, 0)) as out:
        out.write(b"garbage,half,row")
    while worker.step():
        pass
    with engine.connect() as conn:
        attempts = conn.execute(
            select(report_shards.c.attempts).where(report_shards.c.id == first)
        ).scalar_one()
    assert attempts == 2
    data = file_bytes(engine, storage, run_id)
    zf = zipfile.ZipFile(io.BytesIO(data))
    assert zf.testzip() is None
    assert zf.read("logins.csv") == expected_csv(root, 1, 450)
    out_path = tmp_path / "run.zip"
    out_path.write_bytes(data)
    unzip_t(out_path)
    assert not os.path.exists(storage.root / f"runs/{run_id}/parts")


def test_a_plain_part_where_a_piece_was_expected_is_deflated_at_compile(
    storage: LocalStorage,
) -> None:
    # A shard run by a worker from before deflate pieces left a CSV part (a rolling upgrade).
    data = [csv_bytes(300, 9), csv_bytes(200, 10)]
    keys = write_pieces(storage, "r", data)
    storage.delete(keys[1])
    with storage.open_write(keys[1].removesuffix(".deflate") + ".csv") as out:
        out.write(data[1])
    write_zip(storage, "r.zip", [FilePart("f", ["h"], keys, deflated=True)])
    zf = zipfile.ZipFile(storage.root / "r.zip")
    assert zf.testzip() is None
    assert zf.read("f.csv") == b"h\n" + b"".join(data)
