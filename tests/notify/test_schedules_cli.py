"""`reportcard schedules list|create|delete|run-due`, in process (click's runner) for speed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from reportcard.cli import main
from reportcard.db.engine import make_engine
from reportcard.settings import get_settings
from tests.api.conftest import build_world
from tests.databases import drop_database, fresh_database_url


class _Run:
    def __init__(self, result: Result) -> None:
        self.returncode = result.exit_code
        self.stdout = result.stdout
        self.stderr = result.stderr


def rc(env: dict[str, str], *args: str) -> _Run:
    get_settings.cache_clear()
    try:
        return _Run(CliRunner().invoke(main, list(args), env=env, catch_exceptions=False))
    finally:
        get_settings.cache_clear()


@pytest.fixture
def env_world(tmp_path: Path) -> Iterator[tuple[dict[str, str], dict[str, object]]]:
    url = fresh_database_url(tmp_path)
    made: dict[str, object] = dict(build_world(make_engine(url)))
    yield {"REPORTCARD_DATA_DIR": str(tmp_path), "REPORTCARD_DATABASE_URL": url}, made
    drop_database(url)


def test_create_list_run_due_delete(env_world: tuple[dict[str, str], dict[str, object]]) -> None:
    env, made = env_world
    root = str(made["root"])
    created = rc(
        env, "schedules", "create", "--account", root, "--owner", "admin",
        "--report", "provisioning_csv", "--param", "users=true",
        "--frequency", "monthly", "--day-of-month", "31", "--time", "05:00",
        "--time-zone", "America/New_York", "--recipient", "a@example.edu",
        "--empty-report", "skip",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    schedule = json.loads(created.stdout)
    assert schedule["recurrence"]["day_of_month"] == 31
    assert schedule["time_zone"] == "America/New_York"
    assert schedule["parameters"] == {"users": "true"}

    listed = rc(env, "schedules", "list", "--account", root)
    assert [json.loads(line)["id"] for line in listed.stdout.splitlines()] == [schedule["id"]]

    bad = rc(
        env, "schedules", "create", "--account", root, "--owner", "admin",
        "--report", "provisioning_csv", "--param", "users=true",
        "--frequency", "cron", "--cron", "0 0 31 2 *",
    )  # fmt: skip
    assert bad.returncode == 2 and bad.stderr.startswith("error: ") and "never fires" in bad.stderr
    nobody = rc(
        env, "schedules", "create", "--account", root, "--owner", "helpdesk",
        "--report", "provisioning_csv", "--frequency", "daily",
    )  # fmt: skip
    assert nobody.returncode == 3 and "read_reports" in nobody.stderr

    due = rc(env, "schedules", "run-due", "--now", schedule["next_run_at"])
    assert due.returncode == 0, due.stderr
    (fired,) = [json.loads(line) for line in due.stdout.splitlines()]
    assert fired["schedule_id"] == schedule["id"] and fired["outcome"] == "started"
    assert isinstance(fired["run_id"], int)
    again = rc(env, "schedules", "run-due", "--now", schedule["next_run_at"])
    assert again.returncode == 0 and again.stdout == ""

    assert rc(env, "schedules", "delete", str(schedule["id"])).returncode == 0
    gone = rc(env, "schedules", "delete", str(schedule["id"]))
    assert gone.returncode == 3 and f"no schedule {schedule['id']} in the database " in gone.stderr
    assert rc(env, "schedules", "list").stdout == ""


def test_create_checks_params_as_run_does(
    env_world: tuple[dict[str, str], dict[str, object]],
) -> None:
    env, made = env_world
    base = ("schedules", "create", "--account", str(made["root"]), "--owner", "admin",
            "--frequency", "daily", "--time", "05:00")  # fmt: skip

    unknown = rc(env, *base, "--report", "provisioning_csv", "--param", "users=true",
                 "--param", "colour=blue")  # fmt: skip
    assert unknown.returncode == 2, unknown.stderr
    assert unknown.stderr.startswith("error: provisioning_csv has no parameter 'colour'")
    assert "users" in unknown.stderr and "format" in unknown.stderr

    no_file = rc(env, *base, "--report", "provisioning_csv")
    assert no_file.returncode == 2 and "needs at least one file" in no_file.stderr

    date = rc(env, *base, "--report", "zero_activity_csv", "--param", "start_at=2026-13-01")
    assert date.returncode == 2 and "start_at='2026-13-01' is not a date" in date.stderr

    choice = rc(env, *base, "--report", "outcome_results_csv", "--param", "order=sideways")
    assert choice.returncode == 2
    assert "order='sideways' is not one of: users, courses, outcomes" in choice.stderr

    assert rc(env, "schedules", "list").stdout == ""  # nothing was created

    sent = rc(env, *base, "--report", "provisioning_csv", "--param", "users=true",
              "--param", "colour=blue", "--unchecked")  # fmt: skip
    assert sent.returncode == 0, sent.stderr
    assert json.loads(sent.stdout)["parameters"] == {"users": "true", "colour": "blue"}
