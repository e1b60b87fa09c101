"""import -> export -> import: the SIS export and the SIS import agree with each other.

The SIS export (all twelve files, include_deleted) of an institution is imported into a fresh
instance prepared with ``copy_root_setup`` (the root's settings, roles and authentication
providers: nothing SIS files carry), and exported again. The CSVs are byte-identical except
where the format itself loses information (docs/sis-import.md, "Round trip"):

* rows whose user, group, observer or student has no SIS id (a blank required id) cannot be
  imported: enrollments, admins, group memberships and observer links of such users;
* group memberships in a state other than accepted/deleted are not importable statuses;
* sections.csv names a cross-listed section's *current* course and nothing names its original
  one, so the imported sections sit in their current course, not cross-listed: xlist.csv
  comes back with its header only.

A second round (import that export into another fresh instance) is byte-identical, and
re-importing the first export changes nothing.
"""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from reportcard.db.engine import make_engine
from reportcard.db.migrate import upgrade
from reportcard.db.tables import attachments
from reportcard.lms.sis_import.local import copy_root_setup, import_path
from reportcard.reports.sis_scope import STANDARD_FILES
from reportcard.runs.inline import run_report
from reportcard.settings import Settings
from reportcard.storage.local import LocalStorage
from tests.lms.sis_import.helpers import snapshot
from tests.reports import institution

FILES = STANDARD_FILES
PARAMS: dict[str, Any] = {**{f: "true" for f in FILES}, "include_deleted": "true"}


class Instance:
    def __init__(self, where: Path) -> None:
        self.settings = Settings(data_dir=where, shard_rows=500, poll_seconds=0.02)
        self.engine = make_engine(self.settings.resolved_database_url)
        upgrade(self.engine)
        self.storage = LocalStorage(self.settings.resolved_storage_dir)

    def export(self, root: int) -> bytes:
        run = run_report(
            self.engine,
            self.storage,
            self.settings,
            account_id=root,
            report_type="sis_export_csv",
            parameters=dict(PARAMS),
        )
        assert run.workflow_state == "complete", run.message
        with self.engine.connect() as conn:
            key = conn.execute(
                select(attachments.c.storage_key).where(attachments.c.id == run.attachment_id)
            ).scalar_one()
        return Path(self.storage.local_path(key) or "").read_bytes()

    def import_zip(self, data: bytes, root: int, where: Path) -> str:
        path = where / "sis.zip"
        path.write_bytes(data)
        _, state = import_path(self.engine, self.storage, self.settings, path, root)
        return state


def csvs(data: bytes) -> dict[str, str]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {n: zf.read(n).decode("utf-8") for n in zf.namelist()}


REQUIRED = {
    "enrollments.csv": ("user_id",),
    "admins.csv": ("user_id",),
    "group_membership.csv": ("group_id", "user_id"),
    "user_observers.csv": ("observer_id", "student_id"),
}


def importable(files: dict[str, str]) -> dict[str, str]:
    """What the first export should come back as (the documented losses applied)."""
    out = {}
    for name, text in files.items():
        reader = csv.reader(io.StringIO(text))
        header = next(reader)
        keep = [header]
        for row in reader:
            rec = dict(zip(header, row, strict=True))
            if any(not rec[c] for c in REQUIRED.get(name, ())):
                continue
            if name == "group_membership.csv" and rec["status"] not in ("accepted", "deleted"):
                continue
            if name == "xlist.csv":
                continue
            keep.append(row)
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows(keep)
        out[name] = buf.getvalue()
    return out


def round_trip(source: Instance, root: int, tmp_path: Path) -> tuple[dict[str, str], Any]:
    first = source.export(root)
    target = Instance(tmp_path / "b")
    copy_root_setup(source.engine, target.engine, root)
    assert target.import_zip(first, root, tmp_path) in ("imported", "imported_with_messages")
    second = target.export(root)
    a, b = csvs(first), csvs(second)
    assert list(b) == list(a)
    expected = importable(a)
    for name in a:
        assert b[name] == expected[name], name
    # A second round is exact, byte for byte.
    third = Instance(tmp_path / "c")
    copy_root_setup(target.engine, third.engine, root)
    assert third.import_zip(second, root, tmp_path) == "imported"
    assert csvs(third.export(root)) == b
    # Re-importing the first export into the copy changes nothing.
    before = snapshot(target.engine)
    target.import_zip(first, root, tmp_path)
    assert snapshot(target.engine) == before
    return a, b


def test_round_trip_of_the_hand_built_institution(tmp_path: Path) -> None:
    source = Instance(tmp_path / "a")
    with source.engine.begin() as conn:
        institution.build(conn)
    a, b = round_trip(source, institution.ROOT, tmp_path)
    # The export's "concluded" enrollments are read back as completed and written as
    # concluded again.
    assert "concluded" in a["enrollments.csv"] and "concluded" in b["enrollments.csv"]
    assert (
        a["xlist.csv"].count("\n") == 4 and b["xlist.csv"] == "xlist_course_id,section_id,status\n"
    )


@pytest.mark.slow
def test_round_trip_of_a_synthetic_institution(tmp_path: Path) -> None:
    from reportcard.lms.synthetic import seed

    source = Instance(tmp_path / "a")
    root = seed(source.engine, "small", 3).root_account_id
    _, b = round_trip(source, root, tmp_path)
    lines = {name: text.count("\n") for name, text in b.items()}
    assert lines["users.csv"] > 1000 and lines["enrollments.csv"] > 10_000
