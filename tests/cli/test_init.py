"""``reportcard init`` and docs/deployment.md's first block, run as written by real processes.

The commands are read from the doc itself (the test fails when the doc's block changes shape),
run against a fresh database (SQLite in the data directory the block exports, or the
PostgreSQL lane's), then the served API is used as an integration developer would (canvasapi:
list reports, start, poll, download) and the Reports page as an administrator would.
"""

from __future__ import annotations

import io
import os
import shlex
import subprocess
import sys
import time
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from canvasapi import Canvas
from canvasapi.file import File

from tests.databases import PG_ADMIN_URL, drop_database, fresh_database_url
from tests.patience import ANSWER, PATIENCE
from tests.serving import free_port
from tests.web.helpers import sign_in

REPORTCARD = str(Path(sys.executable).parent / "reportcard")
DOC = Path(__file__).resolve().parents[2] / "docs" / "deployment.md"
ZONE = "Mountain Time (US & Canada)"

# A small SIS export: a term and a course whose dates straddle the ends of daylight saving.
SIS = {
    "users.csv": (
        "user_id,login_id,first_name,last_name,email,status\n"
        "u1,jdoe,Jane,Doe,jdoe@example.edu,active\n"
        "t1,tsmith,Tom,Smith,tsmith@example.edu,active\n"
    ),
    "terms.csv": (
        "term_id,name,status,start_date,end_date\n"
        "T1,Fall 2024,active,2024-08-20T06:00:00Z,2024-12-20T07:00:00Z\n"
    ),
    "courses.csv": (
        "course_id,short_name,long_name,account_id,term_id,status,start_date,end_date\n"
        "C1,PHYS 101,Physics,,T1,active,2024-11-02T18:00:00Z,2024-11-03T18:00:00Z\n"
    ),
    "sections.csv": "section_id,course_id,name,status\nS1,C1,Physics 1,active\n",
    "enrollments.csv": (
        "course_id,user_id,role,section_id,status\n"
        "C1,u1,student,S1,active\n"
        "C1,t1,teacher,S1,active\n"
    ),
}
# What sis_export_csv writes for them in Mountain Time: -06:00 in summer, -07:00 in winter
# (2024-11-03 02:00 is when MDT ends).
TERMS_CSV = (
    b"term_id,name,status,start_date,end_date\n"
    b"T1,Fall 2024,active,2024-08-20T00:00:00-06:00,2024-12-20T00:00:00-07:00\n"
)
COURSES_CSV = (
    b"course_id,integration_id,short_name,long_name,account_id,term_id,status,start_date,"
    b"end_date,course_format,blueprint_course_id\n"
    b"C1,,PHYS 101,Physics,,T1,active,2024-11-02T12:00:00-06:00,2024-11-03T11:00:00-07:00,,\n"
)


def first_block() -> list[list[str]]:
    """The commands of the first ``sh`` block of section 1 of docs/deployment.md."""
    section = DOC.read_text().split("## 1. One machine", 1)[1]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    return [words for line in block.splitlines() if (words := shlex.split(line, comments=True))]


def test_the_doc_block_is_the_one_this_test_runs() -> None:
    commands = first_block()
    assert commands[0] == ["make", "install"]
    assert commands[1] == ["export", "REPORTCARD_DATA_DIR=/srv/reportcard"]
    assert all(c[0] == ".venv/bin/reportcard" for c in commands[2:])
    assert [c[1] for c in commands[2:]] == ["db", "init", "import", "token", "serve"]
    assert commands[3] == [
        ".venv/bin/reportcard",
        "init",
        "--name",
        "Example University",
        "--admin-login",
        "admin",
        "--time-zone",
        ZONE,
    ]
    assert commands[4][2:] == ["/path/to/sis_export.zip", "--account", "1"]
    assert commands[5][2:] == ["create", "--login", "admin"]


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("REPORTCARD_")}
    base["REPORTCARD_UI_COOKIE_SECURE"] = "false"  # the test's browser speaks plain http
    if not PG_ADMIN_URL:
        yield base  # SQLite: the file in the data directory the block exports
        return
    url = fresh_database_url(tmp_path)
    yield {**base, "REPORTCARD_DATABASE_URL": url}
    drop_database(url)


def rc(env: dict[str, str], args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [REPORTCARD, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def sis_zip(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, body in SIS.items():
            zf.writestr(name, body)
    return path


def wait_until_up(base: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + PATIENCE
    while True:
        try:
            httpx.get(f"{base}/openapi.json", timeout=1)
            return
        except httpx.TransportError:
            assert server.poll() is None, "the server exited"
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.1)


def wait(report: Any, account: Any) -> Any:
    deadline = time.monotonic() + PATIENCE
    while report.status in ("created", "running", "compiling"):
        assert time.monotonic() < deadline, f"report stuck in {report.status}"
        time.sleep(0.1)
        report = account.get_report(report.report, report.id)
    return report


def test_deployment_block_as_written_then_canvasapi_and_the_reports_page(
    env: dict[str, str], tmp_path: Path
) -> None:
    upload = sis_zip(tmp_path / "sis_export.zip")
    data_dir = tmp_path / "srv"
    outputs: dict[str, subprocess.CompletedProcess[str]] = {}
    serve: list[str] = []
    for words in first_block():
        if words == ["make", "install"]:
            continue  # the test runs in the installed .venv
        if words[0] == "export":
            name, _, value = words[1].partition("=")
            env[name] = str(data_dir) if name == "REPORTCARD_DATA_DIR" else value
            continue
        args = [str(upload) if w == "/path/to/sis_export.zip" else w for w in words[1:]]
        if args[0] == "serve":
            serve = args
            continue
        done = rc(env, args)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
        outputs[args[0]] = done
    assert outputs["init"].stdout == "1\n"
    assert "administrator login 'admin'" in outputs["init"].stderr
    assert outputs["import"].stdout.startswith("sis import 1: imported; ")
    assert "enrollments=2" in outputs["import"].stdout
    token = outputs["token"].stdout.strip().splitlines()[-1]
    if not PG_ADMIN_URL:
        assert (data_dir / "reportcard.sqlite3").exists()

    # serve as written, on a free loopback port instead of 0.0.0.0:8000
    port = free_port()
    serve[serve.index("--host") + 1] = "127.0.0.1"
    serve[serve.index("--port") + 1] = str(port)
    server = subprocess.Popen([REPORTCARD, *serve], env=env, stdin=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_up(base, server)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # canvasapi warns about http:// base URLs
            canvas = Canvas(base, token)
        account = canvas.get_account(1)
        assert account.name == "Example University"
        assert account.default_time_zone == "America/Denver"  # Canvas answers with IANA
        offered = {r.report for r in account.get_reports()}
        assert {"provisioning_csv", "sis_export_csv"} <= offered

        report = account.create_report(
            "provisioning_csv", parameters={"users": True, "enrollments": True}
        )
        report = wait(report, account)
        assert report.status == "complete", report
        target = tmp_path / "provisioning.zip"
        File(canvas._Canvas__requester, report.attachment).download(str(target))
        with zipfile.ZipFile(target) as zf:
            users_csv = zf.read("users.csv").decode()
            enrollments_csv = zf.read("enrollments.csv").decode()
        logins = {line.split(",")[4] for line in users_csv.splitlines()[1:]}
        assert logins == {"admin", "jdoe", "tsmith"}
        assert enrollments_csv.count("\n") == 3  # header and the two SIS enrollments

        report = account.create_report(
            "sis_export_csv", parameters={"terms": True, "courses": True}
        )
        report = wait(report, account)
        assert report.status == "complete", report
        body = httpx.get(
            report.file_url,
            headers={"Authorization": f"Bearer {token}"},
            follow_redirects=True,
            timeout=ANSWER,
        ).content
        with zipfile.ZipFile(io.BytesIO(body)) as zf:
            assert zf.read("terms.csv") == TERMS_CSV
            assert zf.read("courses.csv") == COURSES_CSV

        client = sign_in(base, token=token)
        page = client.get("/accounts/1/reports")
        assert page.status_code == 200
        assert "Example University" in page.text and "Provisioning" in page.text
    finally:
        server.terminate()
        server.wait(20)


def test_init_refuses_a_second_root_of_that_name_and_bad_input(
    env: dict[str, str], tmp_path: Path
) -> None:
    env["REPORTCARD_DATA_DIR"] = str(tmp_path)
    fresh = rc(env, ["import", str(sis_zip(tmp_path / "sis.zip"))])
    assert fresh.returncode == 3  # not found: no institution here (SQLite: none is created)
    if PG_ADMIN_URL:
        assert "error: no root account in the database postgresql" in fresh.stderr
    else:
        assert f"error: no database at {tmp_path.resolve() / 'reportcard.sqlite3'}" in fresh.stderr
        assert not (tmp_path / "reportcard.sqlite3").exists()
    assert "`reportcard init --name NAME --admin-login LOGIN`" in fresh.stderr
    bad_zone = rc(env, ["init", "--name", "U", "--admin-login", "a", "--time-zone", "Mountain"])
    assert bad_zone.returncode == 2
    assert "unknown time zone 'Mountain'" in bad_zone.stderr
    first = rc(env, ["init", "--name", "Example U", "--admin-login", "admin"])
    assert first.returncode == 0 and first.stdout == "1\n"
    again = rc(env, ["init", "--name", "Example U", "--admin-login", "other"])
    assert again.returncode == 1
    assert "a root account named 'Example U' already exists (id 1)" in again.stderr
    assert rc(env, ["token", "create", "--login", "other"]).returncode == 3  # nothing made
    second = rc(
        env,
        ["init", "--name", "Second U", "--admin-login", "admin", "--time-zone", "Europe/Berlin"],
    )
    assert second.returncode == 0 and second.stdout == "2\n"
    token = rc(env, ["token", "create", "--login", "admin", "--root-account", "2"])
    assert token.returncode == 0, token.stderr
    missing = rc(env, ["import", str(tmp_path / "sis.zip"), "--account", "9"])
    assert missing.returncode == 3 and "no account 9 in the database " in missing.stderr
