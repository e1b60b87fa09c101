"""Click's own usage errors in the CLI's one error style: ``error: ...`` first, exit 2."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from reportcard.cli import main


@pytest.mark.parametrize(
    ("args", "message", "usage"),
    [
        (["--bogus"], "No such option '--bogus'", "reportcard [OPTIONS] COMMAND"),
        (["schedules", "--bogus"], "No such option '--bogus'", "reportcard schedules [OPTIONS]"),
        (
            ["schedules", "create", "--bogus"],
            "No such option '--bogus'",
            "reportcard schedules create [OPTIONS]",
        ),
        (["reports", "list", "--bogus"], "No such option '--bogus'", "reportcard reports list"),
        (["run"], "Missing argument 'REPORT'", "reportcard run [OPTIONS] REPORT"),
        (["run", "x", "--param", "y"], "expected key=value, got 'y'", "reportcard run"),
        (["nosuch"], "No such command 'nosuch'", "reportcard [OPTIONS] COMMAND"),
    ],
)
def test_usage_errors_read_error_and_exit_2(args: list[str], message: str, usage: str) -> None:
    result = CliRunner().invoke(main, args, prog_name="reportcard", catch_exceptions=False)
    assert result.exit_code == 2
    assert result.stdout == ""
    first, *rest = result.stderr.splitlines()
    assert first.startswith("error: ") and message in first, result.stderr
    assert "Error:" not in result.stderr
    assert rest[0].startswith(f"Usage: {usage}")
    assert rest[1].startswith("Try 'reportcard") and rest[1].endswith(" --help' for help.")


def test_a_group_without_its_command_still_shows_its_help() -> None:
    result = CliRunner().invoke(main, ["schedules"], prog_name="reportcard", catch_exceptions=False)
    assert result.exit_code == 2
    assert result.stderr.startswith("Usage: reportcard schedules [OPTIONS] COMMAND")
    assert "error:" not in result.stderr
