"""Where the data is: a command that only reads creates no database, and says which it used."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reportcard.cli.base import database_label, sqlite_file
from reportcard.settings import Settings
from tests.cli.conftest import invoke
from tests.runs.sample import SAMPLE

READ_ONLY = (
    ("reports", "list"),
    ("reports", "status", SAMPLE, "1"),
    ("reports", "history", SAMPLE),
    ("token", "list"),
    ("schedules", "list"),
    ("audit", "list"),
    ("cd2", "status"),
)
UNSET: dict[str, str | None] = {
    "REPORTCARD_DATA_DIR": None,
    "REPORTCARD_DATABASE_URL": None,
    "REPORTCARD_URL": None,
    "REPORTCARD_TOKEN": None,
}


@pytest.mark.parametrize("args", READ_ONLY, ids=" ".join)
def test_a_read_only_command_in_an_empty_directory_creates_nothing_and_names_the_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...]
) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke(list(args), UNSET)
    assert result.exit_code == 3, (result.stdout, result.stderr)
    expected = tmp_path.resolve() / "var" / "reportcard.sqlite3"
    assert result.stderr.startswith(f"error: no database at {expected} (chosen by ")
    assert "(chosen by default: REPORTCARD_DATA_DIR is not set, so ./var in the current" in (
        result.stderr
    )
    assert "reportcard init" in result.stderr
    assert os.listdir(tmp_path) == []


def test_an_empty_database_is_named_in_no_root_account(tmp_path: Path) -> None:
    env: dict[str, str | None] = {**UNSET, "REPORTCARD_DATA_DIR": str(tmp_path)}
    made = invoke(["db", "upgrade"], env)  # a command that sets up may create the database
    assert made.exit_code == 0, made.stderr
    url = f"sqlite:///{tmp_path.resolve() / 'reportcard.sqlite3'}"
    assert made.stdout == f"database at head: {url}\n"
    listed = invoke(["reports", "list"], env)
    assert listed.exit_code == 3
    assert listed.stderr.startswith(f"error: no root account in the database {url}: ")
    status = invoke(["token", "revoke", "7"], env)
    assert status.exit_code == 3
    assert status.stderr == f"error: no active token 7 in the database {url}\n"


def test_a_database_password_is_masked_in_messages() -> None:
    settings = Settings(database_url="postgresql+psycopg://rc:s3cret@127.0.0.1:1/reportcard")
    label = database_label(settings)
    assert "s3cret" not in label
    assert label == "postgresql+psycopg://rc:***@127.0.0.1:1/reportcard"
    assert sqlite_file(settings.resolved_database_url) is None
    assert sqlite_file("sqlite://") is None
    assert sqlite_file("sqlite:////srv/rc/db.sqlite3") == Path("/srv/rc/db.sqlite3")


def test_an_unreachable_server_database_is_named_without_its_password() -> None:
    url = "postgresql+psycopg://rc:s3cret@127.0.0.1:1/reportcard"
    result = invoke(["reports", "list"], {**UNSET, "REPORTCARD_DATABASE_URL": url})
    assert result.exit_code == 4, result.stderr
    assert result.stderr.startswith(
        "error: cannot reach the database postgresql+psycopg://rc:***@127.0.0.1:1/reportcard: "
    )
    assert "s3cret" not in result.stderr
