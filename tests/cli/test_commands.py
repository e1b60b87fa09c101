"""The command line, run as a user runs it: real processes, real database, real server."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import httpx
import pytest

from tests.databases import drop_database, fresh_database_url
from tests.patience import ANSWER, PATIENCE
from tests.serving import free_port

# The console script the package installs, beside this interpreter.
REPORTCARD = str(Path(sys.executable).parent / "reportcard")


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    url = fresh_database_url(tmp_path)
    yield dict(os.environ, REPORTCARD_DATA_DIR=str(tmp_path), REPORTCARD_DATABASE_URL=url)
    drop_database(url)


def rc(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [REPORTCARD, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def test_seed_token_and_run_directly(env: dict[str, str], tmp_path: Path) -> None:
    seeded = rc(env, "seed", "--size", "tiny", "--seed", "3")
    assert seeded.returncode == 0, seeded.stderr
    assert seeded.stdout.startswith("seeded root account 1 in ")
    assert "enrollments=" in seeded.stdout

    made = rc(env, "token", "create", "--login", "admin")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip().splitlines()[-1]
    assert token.startswith(("1~", "2~")) or "~" in token

    missing = rc(env, "token", "create", "--login", "nobody-here")
    assert missing.returncode == 3
    assert "error: no active login 'nobody-here' in the database " in missing.stderr

    out = tmp_path / "sis.zip"
    ran = rc(
        env,
        "run",
        "sis_export_csv",
        "--param",
        "users=true",
        "--param",
        "courses=true",
        "--output",
        str(out),
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.splitlines()[0].endswith(" of sis_export_csv: complete (100%)")
    assert ran.stdout.splitlines()[-1].startswith(f"saved {out} (")
    assert zipfile.ZipFile(io.BytesIO(out.read_bytes())).namelist() == [
        "users.csv",
        "courses.csv",
    ]

    nothing = rc(env, "run", "sis_export_csv", "--wait", "--json")  # no file selected: refused
    assert nothing.returncode == 2 and "needs at least one file" in nothing.stderr
    failed = rc(env, "run", "sis_export_csv", "--unchecked", "--wait", "--json")  # sent anyway
    assert failed.returncode == 1
    assert json.loads(failed.stdout)["status"] == "error"

    queued = rc(env, "run", "sis_export_csv", "--param", "users=true", "--json")  # no --wait
    assert queued.returncode == 0
    assert json.loads(queued.stdout)["status"] == "created"

    unknown = rc(env, "run", "no_such_csv")
    assert unknown.returncode == 2
    assert "unknown report 'no_such_csv'" in unknown.stderr

    bad = rc(env, "run", "sis_export_csv", "--param", "users")
    assert bad.returncode == 2
    assert "expected key=value" in bad.stderr


def test_db_upgrade_and_bad_usage(env: dict[str, str]) -> None:
    up = rc(env, "db", "upgrade")
    assert up.returncode == 0 and up.stdout.startswith("database at head: ")
    assert rc(env, "seed", "--size", "huge").returncode == 2
    assert rc(env, "--version").stdout.startswith("reportcard, version ")


def test_serve_and_a_separate_worker_process(env: dict[str, str]) -> None:
    assert rc(env, "seed", "--size", "tiny").returncode == 0
    token = rc(env, "token", "create", "--login", "admin").stdout.strip().splitlines()[-1]
    port = free_port()
    # The server runs the API only; a separate `reportcard worker` process does the work.
    server = subprocess.Popen(
        [REPORTCARD, "serve", "--port", str(port), "--workers", "0"],
        env=env,
        stdin=subprocess.DEVNULL,
    )
    worker = None
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + PATIENCE
        while True:
            try:
                httpx.get(f"{base}/openapi.json", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.1)
        headers = {"Authorization": f"Bearer {token}"}
        run = httpx.post(
            f"{base}/api/v1/accounts/self/reports/provisioning_csv",
            data={"parameters[users]": "true"},
            headers=headers,
            timeout=ANSWER,
        ).json()
        time.sleep(0.5)
        status = httpx.get(
            f"{base}/api/v1/accounts/self/reports/provisioning_csv/{run['id']}",
            headers=headers,
            timeout=ANSWER,
        ).json()
        assert status["status"] == "created"  # nobody works in the server
        worker = subprocess.Popen(
            [REPORTCARD, "worker", "--threads", "1"],
            env=env,
            stdin=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + PATIENCE
        while status["status"] != "complete":
            assert time.monotonic() < deadline, status
            time.sleep(0.1)
            status = httpx.get(
                f"{base}/api/v1/accounts/self/reports/provisioning_csv/{run['id']}",
                headers=headers,
                timeout=ANSWER,
            ).json()
        body = httpx.get(status["attachment"]["url"], timeout=ANSWER).content
        assert body.startswith(b"canvas_user_id,user_id,integration_id,")
    finally:
        for proc in (server, worker):
            if proc is not None:
                proc.terminate()
                proc.wait(10)


def test_worker_once_drains_the_queue_and_exits(env: dict[str, str]) -> None:
    assert rc(env, "seed", "--size", "tiny").returncode == 0
    assert rc(env, "worker", "--once").returncode == 0  # nothing queued: exits at once


def test_demo_without_serving(env: dict[str, str]) -> None:
    port = str(free_port())
    demo = rc(env, "demo", "--no-serve", "--port", port, "--size", "tiny")
    assert demo.returncode == 0, demo.stderr
    assert f"reportcard is serving on http://127.0.0.1:{port}" in demo.stdout
    assert "Provisioning report successfully generated" in demo.stdout
    saved = [line for line in demo.stdout.splitlines() if line.startswith("saved ")]
    assert saved and ".zip" in saved[0]
    path = Path(saved[0].split()[1])
    names = zipfile.ZipFile(path).namelist()
    assert names == [
        "users.csv",
        "accounts.csv",
        "terms.csv",
        "courses.csv",
        "sections.csv",
        "enrollments.csv",
    ]
