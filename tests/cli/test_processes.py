"""Real ``reportcard run --wait`` processes: Ctrl-C, and a run aborted while waited for."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import select

from reportcard.db.tables import account_reports
from tests.cli.conftest import REPO, Place
from tests.queue.slow_report import SLOW

REPORTCARD = str(Path(sys.executable).parent / "reportcard")


def start(place: Place, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in {**os.environ, **place.env}.items() if v is not None}
    env["PYTHONPATH"] = str(REPO)  # the test reports' modules
    return subprocess.Popen(
        [REPORTCARD, *args],
        env=env,
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def running_run(place: Place, tag: str, proc: subprocess.Popen[str]) -> Any:
    """The run tagged ``tag`` once it is running with some lines written."""
    deadline = time.monotonic() + 300  # a guard against a hang, not a speed limit
    while True:
        with place.engine.connect() as conn:
            rows = conn.execute(
                select(account_reports).where(account_reports.c.report_type == SLOW)
            ).all()
        run = next((r for r in rows if (r.parameters or {}).get("tag") == tag), None)
        if run is not None and run.workflow_state == "running" and (run.current_line or 0) > 0:
            return run
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, run
        time.sleep(0.05)


def test_ctrl_c_aborts_a_run_worked_in_this_process(direct: Place) -> None:
    tag = uuid.uuid4().hex[:8]
    proc = start(direct, "run", SLOW, "--unchecked", "--param", f"tag={tag}", "--wait")
    try:
        run = running_run(direct, tag, proc)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert f"error: interrupted: run {run.id} of {SLOW} aborted" in err
    assert "Traceback" not in err
    status = direct.json("reports", "status", SLOW, str(run.id))
    assert status["status"] == "aborted"


def test_a_waited_run_aborted_on_the_server_exits_1(served: Place) -> None:
    tag = uuid.uuid4().hex[:8]
    proc = start(
        served,
        "run",
        SLOW,
        "--unchecked",
        "--param",
        f"tag={tag}",
        "--wait",
        "--json",
        "--url",
        served.url,
        "--token",
        served.tokens["admin"],
    )
    try:
        run = running_run(served, tag, proc)
        aborted = served.json("reports", "abort", SLOW, str(run.id))
        assert aborted["status"] == "aborted"
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1, err
    body = json.loads(out)
    assert body["id"] == run.id and body["status"] == "aborted"
    assert f"error: run {run.id} of {SLOW} ended aborted" in err
