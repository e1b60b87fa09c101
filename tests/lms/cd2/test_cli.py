"""``reportcard cd2 import`` and ``cd2 status`` from the command line: summary, JSON, exit 2."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result

from reportcard.cli import main
from reportcard.settings import get_settings
from tests.lms.cd2 import files as f
from tests.lms.cd2.files import TS1
from tests.lms.cd2.institution import STAMP, write_snapshot


def run(database_url: str, tmp_path: Path, *args: str) -> Result:
    get_settings.cache_clear()
    try:
        env = {"REPORTCARD_DATABASE_URL": database_url, "REPORTCARD_DATA_DIR": str(tmp_path)}
        return CliRunner().invoke(main, ["cd2", *args], env=env, catch_exceptions=False)
    finally:
        get_settings.cache_clear()


def test_import_status_and_a_bad_file(database_url: str, tmp_path: Path) -> None:
    snapshot = write_snapshot(tmp_path)
    done = run(database_url, tmp_path, "import", "--snapshot", str(snapshot))
    assert done.exit_code == 0, done.output
    lines = done.output.splitlines()
    assert lines[0] == "root account 1 (snapshot)"
    users = next(line for line in lines if line.strip().startswith("users "))
    assert users.split()[:7] == ["users", "3", "records", "3", "upserted", "0", "deleted"]
    assert "not in CD2 (the reports write what Canvas writes without them):" in lines
    assert "  - users.email (from communication_channels)" in lines

    status = run(database_url, tmp_path, "status", "--json")
    assert status.exit_code == 0
    by_table = {s["table"]: s for s in json.loads(status.output)}
    assert by_table["users"]["last_ts"] == "2024-05-01T10:00:00Z"
    assert (by_table["users"]["rows_total"], by_table["users"]["last_mode"]) == (3, "snapshot")
    assert by_table["users"]["root_account_id"] == 1

    bad = f.write(
        tmp_path / "job_9" / "part-0.tsv",
        f.tsv(
            [
                {"id": 100, "ts": TS1, "name": "Ann", "workflow_state": "registered", **STAMP},
                {
                    "id": 101,
                    "ts": TS1,
                    "name": "Bob",
                    "workflow_state": "registered",
                    "created_at": "2024-02-30T00:00:00Z",
                    "updated_at": STAMP["updated_at"],
                },
            ]
        ),
    )
    failed = run(database_url, tmp_path, "import", "--table", "users", str(bad.parent))
    assert failed.exit_code == 2
    assert failed.stderr.startswith(f"error: table users, {bad}:3, field value.created_at: ")
    text = run(database_url, tmp_path, "status").output
    assert "users" in text and "last meta.ts 2024-05-01T10:00:00Z" in text

    unknown = run(database_url, tmp_path, "import", "--table", "conversations", str(bad))
    assert unknown.exit_code == 2
    assert "does not read the CD2 table 'conversations'" in unknown.stderr
