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
        # A suite started in the background by a shell without job control inherits an
        # ignored SIGINT, which the child would keep: the Ctrl-C test needs it to arrive.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
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


def state_of(place: Place, run_id: int) -> str:
    with place.engine.connect() as conn:
        return str(
            conn.execute(
                select(account_reports.c.workflow_state).where(account_reports.c.id == run_id)
            ).scalar_one()
        )


def test_ctrl_c_aborts_a_run_worked_in_this_process(direct: Place, tmp_path: Path) -> None:
    """The run is held mid-way (tests/queue/slow_report.py) until the interrupt has aborted
    it, so it cannot complete first on a slow machine."""
    tag = uuid.uuid4().hex[:8]
    hold = tmp_path / "hold"
    hold.touch()
    proc = start(
        direct, "run", SLOW, "--unchecked", "--param", f"tag={tag}", "--param", f"hold={hold}",
        "--wait",
    )  # fmt: skip
    try:
        run = running_run(direct, tag, proc)
        proc.send_signal(signal.SIGINT)
        deadline = time.monotonic() + 300  # a guard against a hang, not a speed limit
        while state_of(direct, run.id) != "aborted" and proc.poll() is None:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        hold.unlink()  # the held worker thread notices the abort and ends
        _, err = proc.communicate(timeout=300)
    finally:
        hold.unlink(missing_ok=True)
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert f"error: interrupted: run {run.id} of {SLOW} aborted" in err
    assert "Traceback" not in err
    status = direct.json("reports", "status", SLOW, str(run.id))
    assert status["status"] == "aborted"


def test_a_waited_run_aborted_on_the_server_exits_1(served: Place, tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:8]
    hold = tmp_path / "hold"  # the run waits mid-way until aborted (slow_report.py)
    hold.touch()
    proc = start(
        served,
        "run",
        SLOW,
        "--unchecked",
        "--param",
        f"tag={tag}",
        "--param",
        f"hold={hold}",
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
        hold.unlink()
        out, err = proc.communicate(timeout=300)
    finally:
        hold.unlink(missing_ok=True)
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1, err
    body = json.loads(out)
    assert body["id"] == run.id and body["status"] == "aborted"
    assert f"error: run {run.id} of {SLOW} ended aborted" in err
