"""Every report command, on the database and against a server (the ``place`` fixture)."""

from __future__ import annotations

import csv
import io
import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from reportcard.cli.direct import DirectBackend
from reportcard.cli.remote import HttpBackend
from tests.cli.conftest import EXTRA_LOGINS, Place
from tests.queue.slow_report import SLOW
from tests.runs.sample import SAMPLE

HEADER = "canvas_user_id,login_id,full_name,created_at,created_by_sis"
# tests/api/conftest.py: 30 sample users and 5 staff logins in the root account, and ours.
LOGINS = 35 + EXTRA_LOGINS


def tag() -> str:
    """A parameter that makes a run unlike any other (Canvas's duplicate guard compares them)."""
    return f"tag={uuid.uuid4().hex[:8]}"


def test_list_shows_every_report_with_its_parameters_and_last_run(place: Place) -> None:
    entries = place.json("reports", "list")
    by_name = {e["report"]: e for e in entries}
    assert {"provisioning_csv", "sis_export_csv", SAMPLE, SLOW} <= set(by_name)
    assert all(set(e) >= {"title", "parameters", "report", "last_run"} for e in entries)
    assert [e["title"] for e in entries] == sorted(e["title"] for e in entries)
    assert by_name[SAMPLE]["title"] == "Framework Sample"
    assert by_name[SAMPLE]["parameters"]["logins"] == {"required": False, "description": "logins"}
    assert "users" in by_name["provisioning_csv"]["parameters"]

    ran = place.json(
        "run", SAMPLE, "--param", "logins=true", "--unchecked", "--param", tag(), "--wait"
    )
    after = {e["report"]: e for e in place.json("reports", "list")}
    assert after[SAMPLE]["last_run"]["id"] == ran["id"]
    assert after[SAMPLE]["last_run"]["status"] == "complete"

    human = place.invoke("reports", "list")
    assert human.exit_code == 0
    line = next(x for x in human.stdout.splitlines() if x.startswith(SAMPLE))
    assert "Framework Sample" in line and f"last run #{ran['id']} complete" in line
    assert (
        "    parameters (* required):\n"
        "      logins  boolean  logins\n"
        "      empty   boolean  an empty file\n"
    ) in human.stdout
    subs = human.stdout.split("\nstudents_with_no_submissions_csv", 1)[1]
    assert "\n      start_at*                 date     The start of the submission window" in subs

    # A sub-account has its own runs: none yet.
    sub = place.json("reports", "list", "--account", str(place.sub))
    assert {e["report"]: e for e in sub}[SAMPLE]["last_run"] is None


def test_run_wait_output_and_download_give_the_stored_bytes(place: Place, tmp_path: Path) -> None:
    out = tmp_path / "logins.csv"
    result = place.invoke(
        "run",
        SAMPLE,
        "--param",
        "logins=true",
        "--unchecked",
        "--param",
        tag(),
        "--output",
        str(out),
        "--json",
    )
    assert result.exit_code == 0, result.stderr
    run = json.loads(result.stdout)
    assert run["status"] == "complete" and run["progress"] == 100
    assert run["report"] == SAMPLE and run["parameters"]["logins"] == "true"
    stored = place.storage_bytes(run["attachment"]["id"])
    assert out.read_bytes() == stored
    rows = list(csv.reader(io.StringIO(stored.decode())))
    assert ",".join(rows[0]) == HEADER and len(rows) == LOGINS + 1
    assert run["current_line"] == len(rows)
    assert "100%" in result.stderr and f"{len(rows)} lines" in result.stderr  # the progress bar

    # Download the same run again, into a directory (made because of the slash) and to stdout.
    target = tmp_path / "again"
    saved = place.json("reports", "download", SAMPLE, str(run["id"]), "-o", f"{target}/")
    path = Path(saved["path"])
    assert path.parent == target and path.name == run["attachment"]["filename"]
    assert saved["size"] == len(stored) and path.read_bytes() == stored
    piped = place.invoke("reports", "download", SAMPLE, str(run["id"]), "--output", "-")
    assert piped.exit_code == 0 and piped.stdout_bytes == stored

    human = place.invoke("reports", "download", SAMPLE, str(run["id"]), "-o", str(tmp_path))
    assert human.exit_code == 0
    assert human.stdout.strip() == (
        f"saved {tmp_path / run['attachment']['filename']} ({len(stored):,} bytes)"
    )


def test_run_human_output(place: Place, tmp_path: Path) -> None:
    result = place.invoke(
        "run", SAMPLE, "--param", "logins=true", "--unchecked", "--param", tag(), "--wait"
    )
    assert result.exit_code == 0, result.stderr
    first = result.stdout.splitlines()[0]
    assert first.startswith("run ") and first.endswith(f" of {SAMPLE}: complete (100%)")
    assert f"current line: {LOGINS + 1}" in result.stdout  # the rows and the header
    assert "file        : " in result.stdout


def test_run_without_wait(place: Place) -> None:
    result = place.invoke("run", SAMPLE, "--param", "logins=true", "--unchecked", "--param", tag())
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    run_id = int(lines[0].split()[2])
    assert lines[-1] == f"follow it: reportcard reports status {SAMPLE} {run_id}"
    if place.url:
        # The server's workers take it.
        assert lines[0].startswith(f"started run {run_id} of {SAMPLE} (")
        assert place.wait_for(SAMPLE, run_id, ("complete",))["current_line"] == LOGINS + 1
    else:
        # Queued in the database for `reportcard serve`/`worker`; nobody works here.
        assert lines[0].startswith(f"queued run {run_id} of {SAMPLE} (created) for the workers")
        status = place.json("reports", "status", SAMPLE, str(run_id))
        assert status["status"] == "created" and "attachment" not in status
        # Until the file exists, download says so and fails.
        early = place.invoke("reports", "download", SAMPLE, str(run_id))
        assert early.exit_code == 1
        assert f"run {run_id} of {SAMPLE} is created (0%): it has no file yet" in early.stderr

    queued = place.json("run", SAMPLE, "--param", "empty=true", "--unchecked", "--param", tag())
    assert queued["report"] == SAMPLE and queued["status"] in ("created", "running", "complete")


def _then_open(start: Any, gate: Path) -> Any:
    """``start`` (a CLI backend's), which then opens ``gate``."""

    def opening(*args: Any, **kwargs: Any) -> Any:
        try:
            return start(*args, **kwargs)
        finally:
            gate.touch()

    return opening


def test_an_identical_run_in_progress_is_followed_not_repeated(
    place: Place, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first run waits at its gate (tests/runs/sample.py) until the second command has
    started, so it is still in progress then, however fast a worker takes it."""
    gate = tmp_path / "gate"
    params = ["--param", "logins=true", "--unchecked", "--param", tag(), "--param", f"gate={gate}"]
    first = place.json("run", SAMPLE, *params)
    for backend in (DirectBackend, HttpBackend):
        monkeypatch.setattr(backend, "start", _then_open(backend.start, gate))
    try:
        again = place.invoke("run", SAMPLE, *params, "--wait", "--json")
    finally:
        gate.touch()
    assert again.exit_code == 0, again.stderr
    assert f"an identical run {first['id']} of {SAMPLE} is already" in again.stderr
    followed = json.loads(again.stdout)
    assert followed["id"] == first["id"] and followed["status"] == "complete"


def test_status_history_and_delete(place: Place) -> None:
    a = place.json(
        "run", SAMPLE, "--param", "logins=true", "--unchecked", "--param", tag(), "--wait"
    )
    b = place.json(
        "run", SAMPLE, "--param", "empty=true", "--unchecked", "--param", tag(), "--wait"
    )

    status = place.json("reports", "status", SAMPLE, str(a["id"]))
    assert status["id"] == a["id"] and status["status"] == "complete"
    assert status["attachment"]["url"].startswith("http")
    human = place.invoke("reports", "status", SAMPLE, str(a["id"]))
    assert human.exit_code == 0
    assert human.stdout.splitlines()[0] == f"run {a['id']} of {SAMPLE}: complete (100%)"

    history = place.json("reports", "history", SAMPLE)
    ids = [r["id"] for r in history]
    assert ids.index(b["id"]) < ids.index(a["id"])  # newest first
    assert [r["id"] for r in place.json("reports", "history", SAMPLE, "--limit", "1")] == [ids[0]]
    lines = place.invoke("reports", "history", SAMPLE).stdout.splitlines()
    assert any(x.startswith(f"#{a['id']} ") and "complete  100%" in x for x in lines)

    gone = place.json("reports", "delete", SAMPLE, str(a["id"]))
    assert gone["id"] == a["id"] and gone["status"] == "deleted"
    assert a["id"] not in [r["id"] for r in place.json("reports", "history", SAMPLE)]
    missing = place.invoke("reports", "status", SAMPLE, str(a["id"]))
    assert missing.exit_code == 3
    assert f"no run {a['id']} of report '{SAMPLE}' in account" in missing.stderr
    again = place.invoke("reports", "delete", SAMPLE, str(a["id"]))
    assert again.exit_code == 3
    human_delete = place.invoke("reports", "delete", SAMPLE, str(b["id"]))
    assert human_delete.exit_code == 0
    assert human_delete.stdout.strip() == f"deleted run {b['id']} of {SAMPLE}"

    assert place.json("reports", "history", "no_such_csv") == []
    assert place.invoke("reports", "history", "no_such_csv").stdout.strip() == (
        "no runs of no_such_csv"
    )


def test_abort_a_long_run(place: Place) -> None:
    run = place.json("run", SLOW, "--unchecked", "--param", tag())
    if place.url:
        place.wait_for(SLOW, run["id"], ("running",))
    aborted = place.json("reports", "abort", SLOW, str(run["id"]))
    assert aborted["id"] == run["id"] and aborted["status"] == "aborted"
    assert aborted["parameters"]["extra_text"] == "Report has been aborted"
    assert place.json("reports", "status", SLOW, str(run["id"]))["status"] == "aborted"

    twice = place.invoke("reports", "abort", SLOW, str(run["id"]))
    assert twice.exit_code == 1
    assert "is aborted: only a created, running or compiling run can be aborted" in twice.stderr
    nofile = place.invoke("reports", "download", SLOW, str(run["id"]))
    assert nofile.exit_code == 1
    assert f"run {run['id']} of {SLOW} ended aborted" in nofile.stderr

    human = place.invoke("reports", "abort", SLOW, "999999")
    assert human.exit_code == 3


def test_a_run_that_ends_in_error_exits_1(place: Place) -> None:
    # The provisioning report with no file selected ends in error, as in Canvas.
    result = place.invoke(
        "run", "provisioning_csv", "--unchecked", "--param", tag(), "--wait", "--json"
    )
    assert result.exit_code == 1
    run = json.loads(result.stdout)
    assert run["status"] == "error"
    assert f"error: run {run['id']} of provisioning_csv ended error" in result.stderr
    if not place.url:  # directly on the database the run's recorded reason is shown too
        assert "(reason recorded: no file selected)" in result.stderr
    else:  # a server's is the text of Canvas's report JSON, parameters.extra_text
        extra = "Failed, the report failed to generate a file. Please try again."
        assert run["parameters"]["extra_text"] == extra
        assert f"(reason recorded: {extra})" in result.stderr
    nofile = place.invoke("reports", "download", "provisioning_csv", str(run["id"]))
    assert nofile.exit_code == 1 and "ended error" in nofile.stderr


def test_a_failed_run_names_its_reason_on_the_database_and_a_server(place: Place) -> None:
    # The course is checked when the run starts working: Canvas starts it, then it fails.
    result = place.invoke(
        "run", "zero_activity_csv", "--param", "course_id=999999", "--param", tag(), "--wait",
        "--unchecked",
    )  # fmt: skip
    assert result.exit_code == 1
    reason = "The course 999999 could not be found in this account."
    failed = "Generating the report, Zero Activity Csv, failed."
    assert f"ended error: {failed} (reason recorded: {reason})" in result.stderr


def test_bad_input_exits_2_with_a_message(place: Place, tmp_path: Path) -> None:
    unknown = place.invoke("run", "no_such_csv", "--wait")
    assert unknown.exit_code == 2
    assert "error: unknown report 'no_such_csv'" in unknown.stderr
    bad = place.invoke("run", SAMPLE, "--param", "logins")
    assert bad.exit_code == 2 and "expected key=value, got 'logins'" in bad.stderr
    term = place.invoke(
        "run", "provisioning_csv", "--param", "users=true", "--param", "enrollment_term_id=424242"
    )
    assert term.exit_code == 2 and "invalid enrollment_term_id '424242'" in term.stderr
    assert "(`reportcard terms list` shows the terms and ids)" in term.stderr
    fmt = place.invoke("run", SAMPLE, "--param", "format=pdf")
    assert fmt.exit_code == 2 and "invalid format 'pdf'" in fmt.stderr
    run_id = place.invoke("reports", "status", SAMPLE, "abc")
    assert run_id.exit_code == 2  # click: not an integer
    assert "Traceback" not in unknown.stderr + bad.stderr + term.stderr + fmt.stderr


def test_run_refuses_parameters_the_report_cannot_use_before_starting(place: Place) -> None:
    before = len(place.json("reports", "history", "provisioning_csv", "--limit", "100"))
    colour = place.invoke("run", SAMPLE, "--param", "logins=true", "--param", "colour=blue")
    assert colour.exit_code == 2
    assert colour.stderr == (
        f"error: {SAMPLE} has no parameter 'colour'; it takes: empty, format, logins "
        "(`reportcard reports list` describes them; --unchecked sends them anyway)\n"
    )
    date = place.invoke(
        "run", "students_with_no_submissions_csv", "--param", "start_at=2026-13-01",
        "--param", "end_at=2026-12-10",
    )  # fmt: skip
    assert date.exit_code == 2
    assert date.stderr.startswith("error: start_at='2026-13-01' is not a date: give YYYY-MM-DD")
    states = place.invoke(
        "run",
        "provisioning_csv",
        "--param",
        "users=true",
        "--param",
        "enrollment_states=active,gone",
    )
    assert states.exit_code == 2
    assert states.stderr.startswith("error: enrollment_states='gone' is not one of: invited, ")
    order = place.invoke("run", "outcome_results_csv", "--param", "order=sideways")
    assert order.exit_code == 2 and "users, courses, outcomes" in order.stderr
    nofile = place.invoke("run", "provisioning_csv", "--wait")
    assert nofile.exit_code == 2
    assert nofile.stderr.startswith(
        "error: provisioning_csv needs at least one file: add --param users=true (files: users, "
    )
    after = len(place.json("reports", "history", "provisioning_csv", "--limit", "100"))
    assert after == before  # nothing was started


def test_unknown_account_and_run_exit_3(place: Place) -> None:
    for args in (
        ("reports", "list", "--account", "424242"),
        ("run", SAMPLE, "--account", "424242"),
        ("reports", "status", SAMPLE, "424242"),
        ("reports", "download", SAMPLE, "424242"),
        ("reports", "abort", SAMPLE, "424242"),
        ("reports", "delete", SAMPLE, "424242"),
        ("reports", "history", SAMPLE, "--account", "sis_account_id:NOPE"),
    ):
        result = place.invoke(*args)
        assert result.exit_code == 3, (args, result.stderr)
        assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr
    sis = place.json("reports", "list", "--account", "sis_account_id:ARTS")
    assert isinstance(sis, list) and sis


def test_a_parameter_given_twice_is_a_list(place: Place) -> None:
    key = f"k{uuid.uuid4().hex[:6]}"
    run = place.json(
        "run", SAMPLE, "--unchecked", "--param", f"{key}=a", "--param", f"{key}=b", "--param", "x="
    )
    assert run["parameters"][key] == ["a", "b"]
    assert run["parameters"]["x"] == ""
    place.json("reports", "delete", SAMPLE, str(run["id"]))
