"""``reportcard import`` on a directory, a zip and a broken file."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine

from reportcard.cli import main
from reportcard.db.tables import accounts, course_sections
from reportcard.settings import get_settings
from tests.lms.sis_import.helpers import rows, zip_of


def test_import_command(db: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REPORTCARD_DATABASE_URL", db.url.render_as_string(hide_password=False))
    monkeypatch.setenv("REPORTCARD_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        folder = tmp_path / "sis"
        (folder / "nested").mkdir(parents=True)
        (folder / "a.csv").write_text("account_id,parent_account_id,name,status\nA,,Arts,active\n")
        (folder / "nested" / "c.csv").write_text(
            "course_id,short_name,long_name,account_id,status\nC1,C1,One,A,active\n"
            "C2,C2,Two,NOPE,active\n"
        )
        runner = CliRunner()
        ok = runner.invoke(main, ["import", str(folder), "--account", "1"])
        assert ok.exit_code == 0, ok.output
        lines = [x for x in ok.output.splitlines() if x.strip()]
        lines = lines[next(i for i, x in enumerate(lines) if x.startswith("sis import")) :]
        assert lines[0].endswith(": imported_with_messages; accounts=1, courses=1")
        assert lines[1] == "errors: 0, warnings: 1"
        assert lines[2] == "  warning nested/c.csv:3: Account NOPE not found for course C2"
        assert lines[3].startswith("all messages: ") and lines[3].endswith(".csv")
        assert rows(db, accounts, "sis_source_id", accounts.c.id > 1) == [("A",)]
        zipped = tmp_path / "s.zip"
        zipped.write_bytes(zip_of({"s.csv": "section_id,course_id,name,status\nS1,C1,S,active\n"}))
        ok = runner.invoke(main, ["import", str(zipped)])
        assert ok.exit_code == 0, ok.output
        assert rows(db, course_sections, "sis_source_id") == [("S1",)]
        broken = tmp_path / "b.csv"
        broken.write_bytes(b"\xff\xfe\x00")
        bad = runner.invoke(main, ["import", str(broken)])
        assert bad.exit_code == 1
        assert ": failed_with_messages; no rows" in bad.output
        assert "error b.csv:1: Binary data (a NUL byte): not a CSV file" in bad.output
        sub = runner.invoke(main, ["import", str(zipped), "--account", "2"])
        assert sub.exit_code == 2 and "error: account 2 is not a root account" in sub.output
    finally:
        get_settings.cache_clear()
