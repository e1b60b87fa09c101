"""The compile step: the file comes out in file and key order, whatever order the shards ran in."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import BinaryIO

import pytest
from sqlalchemy import Engine, select

from reportcard.db.tables import report_shards
from reportcard.reports.catalog import get_report
from reportcard.runs.compile import compile_run, count_lines, file_parts
from reportcard.runs.context import build_context
from reportcard.runs.execute import claim_shard, execute_shard
from reportcard.runs.formats import BOM
from reportcard.runs.lifecycle import get_run
from reportcard.runs.package import FilePart, piece_key
from reportcard.runs.worker import Worker
from reportcard.settings import Settings
from reportcard.storage.local import LocalStorage
from tests.runs.sample import SAMPLE, expected_csv, file_bytes, make_institution, sample_run


def test_shards_run_backwards_compile_to_the_exact_file(engine: Engine, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, shard_rows=100)
    storage = LocalStorage(tmp_path / "files")
    with engine.begin() as conn:
        root = make_institution(conn, 450)
        run_id = sample_run(conn, root, logins="true", empty="true")
    assert Worker(engine, storage, settings).step()  # plans: 5 shards of logins, 1 empty
    with engine.connect() as conn:
        ids = list(
            conn.execute(
                select(report_shards.c.id)
                .where(report_shards.c.report_id == run_id)
                .order_by(report_shards.c.part_index.desc(), report_shards.c.seq.desc())
            ).scalars()
        )
    lasts = []
    for shard_id in ids:
        with engine.begin() as conn:
            assert claim_shard(conn, shard_id, "test")
        lasts.append(execute_shard(engine, storage, shard_id))
    assert lasts == [False] * (len(ids) - 1) + [True]  # the last one moved it to compiling
    with engine.connect() as conn:
        run = get_run(conn, run_id)
        report = get_report(SAMPLE)
        assert report is not None
        parts = file_parts(conn, report, build_context(conn, run))
    assert [p.name for p in parts] == ["logins", "empty"]
    assert parts[0].keys == [piece_key(run_id, 0, seq) for seq in range(5)]  # a zip: pieces
    assert parts[1].headers == []
    compile_run(engine, storage, run_id)
    with engine.connect() as conn:
        run = get_run(conn, run_id)
    assert (run.workflow_state, run.current_line) == ("complete", 450 + 2)
    zf = zipfile.ZipFile(io.BytesIO(file_bytes(engine, storage, run_id)))
    assert zf.read("logins.csv") == expected_csv(root, 1, 450)
    assert not list((storage.root / f"runs/{run_id}/parts").glob("*"))


def test_count_lines_adds_a_header_per_file_and_the_if_empty_rows() -> None:
    parts = [
        FilePart("a", ["x"], ["k1", "k2"]),
        FilePart("b", ["y"], ["k3"], empty_rows=[["No rows"]]),
    ]
    assert count_lines(parts, 10) == 10 + 2 + 1
    assert count_lines([], 0) == 0


def test_the_zip_level_setting_changes_the_size_not_the_csv(engine: Engine, tmp_path: Path) -> None:
    with engine.begin() as conn:
        root = make_institution(conn, 200)
    zips, csvs = {}, {}
    for level in (0, 9):
        settings = Settings(data_dir=tmp_path, shard_rows=100, zip_level=level)
        storage = LocalStorage(tmp_path / f"files-{level}")
        with engine.begin() as conn:
            run_id = sample_run(conn, root, logins="true", empty="true")  # two files: a zip
        worker = Worker(engine, storage, settings)
        while worker.step():
            pass
        with engine.connect() as conn:
            assert get_run(conn, run_id).workflow_state == "complete"
        zips[level] = file_bytes(engine, storage, run_id)
        zf = zipfile.ZipFile(io.BytesIO(zips[level]))
        assert zf.testzip() is None
        csvs[level] = zf.read("logins.csv")
    assert csvs[0] == csvs[9] == expected_csv(root, 1, 200)
    # Level 0 writes the CSV bytes as they are, inside deflate blocks; 9 compresses them.
    row = csvs[0].splitlines(keepends=True)[150]
    assert row in zips[0] and row not in zips[9]
    assert len(zips[9]) < len(zips[0])


class _ReadsCounted(LocalStorage):
    """Local storage that notes every key read and every ``copy``."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.reads: list[str] = []
        self.copies: list[tuple[str, str]] = []

    def open_read(self, key: str) -> BinaryIO:
        self.reads.append(key)
        return super().open_read(key)

    def copy(self, src: str, dst: str) -> None:
        self.copies.append((src, dst))
        super().copy(src, dst)


@pytest.mark.parametrize(("users", "bom"), [(250, False), (250, True), (0, False)])
def test_a_csv_of_one_shard_is_its_part_as_written(
    engine: Engine, tmp_path: Path, users: int, bom: bool
) -> None:
    """The first shard of a one-file CSV writes the file's start (byte-order mark, header), so
    the compile of a file of one shard reads no part: the file is the part's bytes, linked."""
    storage = _ReadsCounted(tmp_path / "files")
    with engine.begin() as conn:
        root = make_institution(conn, users)
        run_id = sample_run(conn, root, bom="true" if bom else "false")
    worker = Worker(engine, storage, Settings(data_dir=tmp_path, shard_rows=1000))
    while worker.step():
        pass
    with engine.connect() as conn:
        run = get_run(conn, run_id)
    assert (run.workflow_state, run.current_line) == ("complete", users + 1)
    assert not [k for k in storage.reads if "/parts/" in k]  # no part was copied
    assert [src.rsplit("/", 1)[1] for src, _ in storage.copies] == ["000-00000.head.csv"]
    assert file_bytes(engine, storage, run_id) == (BOM if bom else b"") + expected_csv(
        root, 1, users
    )
    assert not list((storage.root / f"runs/{run_id}/parts").glob("*"))


def test_a_csv_of_shards_after_a_headed_one_is_the_same_file(
    engine: Engine, tmp_path: Path
) -> None:
    storage = _ReadsCounted(tmp_path / "files")
    with engine.begin() as conn:
        root = make_institution(conn, 250)
        run_id = sample_run(conn, root, bom="true")
    worker = Worker(engine, storage, Settings(data_dir=tmp_path, shard_rows=100))
    while worker.step():
        pass
    names = [k.rsplit("/", 1)[1] for k in storage.reads if "/parts/" in k]
    assert names == ["000-00000.head.csv", "000-00001.csv", "000-00002.csv"]
    assert storage.copies == []
    assert file_bytes(engine, storage, run_id) == BOM + expected_csv(root, 1, 250)
