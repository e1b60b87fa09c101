"""From a run's creation to its end, with the worker in a separate ``reportcard worker``
process: the cross-process wake-up on PostgreSQL (``REPORTCARD_PG_NOTIFY``) against the poll.

Usage: ``python -m bench.wake_latency --db postgresql://.../scratch --rounds 4 --runs 10``
(a scratch database with a seeded institution: the bench writes runs into it). Each round starts
a fresh ``reportcard worker --threads 1`` with ``REPORTCARD_PG_NOTIFY`` off (``poll``) or on
(``notify``), alternately, lets it settle, then creates ``--runs`` runs of a small part one after
the other, each as the API does (``create_run`` committed, then the runtime's queue told), and
times each from before the creating transaction to the moment this process sees it ``complete``
(a read every 2 ms). A pause of 0-0.5 s (seeded) between runs spreads them over the poll cycle.
Prints the median per mode and round and writes ``bench/results/<stamp>-wake-latency.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bench.statements import root_run
from reportcard.db.engine import make_engine
from reportcard.db.tables import account_reports, accounts
from reportcard.runtime import Runtime
from reportcard.settings import Settings

RESULTS = Path(__file__).resolve().parent / "results"


def one_run(runtime: Runtime, root: int, report: str, params: dict[str, Any]) -> float:
    engine = runtime.engine
    t0 = time.perf_counter()
    with engine.begin() as conn:
        run_id = root_run(conn, root, report, params)
    runtime.run_created(run_id)
    state = ""
    while state not in ("complete", "error"):
        time.sleep(0.002)
        with engine.connect() as conn:
            state = conn.execute(
                select(account_reports.c.workflow_state).where(account_reports.c.id == run_id)
            ).scalar_one()
            conn.rollback()
    assert state == "complete", state
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--data-dir", default="var/wake-bench")
    ap.add_argument("--rounds", type=int, default=4, help="rounds per mode (alternating)")
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--report", default="provisioning_csv")
    ap.add_argument("--param", default="courses")
    args = ap.parse_args()
    rng = random.Random(19)
    params = {args.param: "true"}
    engine = make_engine(args.db)
    with engine.connect() as conn:
        root = int(
            conn.execute(
                select(accounts.c.id).where(accounts.c.parent_account_id.is_(None)).limit(1)
            ).scalar_one()
        )
    results: list[dict[str, Any]] = []
    for rnd in range(args.rounds):
        for mode in ("poll", "notify"):
            env = dict(
                os.environ,
                REPORTCARD_DATABASE_URL=args.db,
                REPORTCARD_DATA_DIR=args.data_dir,
                REPORTCARD_PG_NOTIFY="true" if mode == "notify" else "false",
            )
            worker = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    "from reportcard.cli import main; main()",
                    "worker",
                    "--threads",
                    "1",
                ],
                env=env,
                stderr=subprocess.PIPE,
                text=True,
            )
            assert worker.stderr is not None
            while "running" not in (line := worker.stderr.readline()):
                assert line, "the worker did not start"
            drain = threading.Thread(target=worker.stderr.read, daemon=True)
            drain.start()
            time.sleep(2.0)  # its first steps and the listening connection settle
            settings = Settings(
                database_url=args.db, data_dir=Path(args.data_dir), pg_notify=mode == "notify"
            )
            runtime = Runtime(settings, engine)
            load = os.getloadavg()[0]
            walls = []
            for _ in range(args.runs):
                time.sleep(rng.uniform(0, 0.5))
                walls.append(one_run(runtime, root, args.report, params))
            worker.send_signal(signal.SIGINT)  # Ctrl-C: the pool and the listener stop
            worker.wait(30)
            med = statistics.median(walls)
            print(
                f"round {rnd} {mode:6s} median {med * 1000:6.1f} ms  min {min(walls) * 1000:6.1f}"
                f"  max {max(walls) * 1000:6.1f}  load {load:.2f}",
                flush=True,
            )
            results.append({"round": rnd, "mode": mode, "walls": walls, "load_1m": load})
    for mode in ("poll", "notify"):
        walls = [w for r in results if r["mode"] == mode for w in r["walls"]]
        print(
            f"{mode:6s} all runs: median {statistics.median(walls) * 1000:.1f} ms, n={len(walls)}"
        )
    RESULTS.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    out = RESULTS / f"{stamp}-wake-latency.json"
    out.write_text(json.dumps({"args": vars(args), "results": results}, indent=1))
    print(out)


if __name__ == "__main__":
    main()
