"""One benchmark worker process, started (and warmed up) before the run exists, as a deployed
worker is: it prints ``ready``, reads the run id from stdin, works the queue until that run
ends, and prints its peak RSS, the CPU seconds it spent on the run and its worker id."""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time

from bench.memory import peak_rss_mb
from reportcard.db.engine import make_engine
from reportcard.runs.lifecycle import TERMINAL_STATES, get_run
from reportcard.runs.warmup import freeze_heap
from reportcard.runs.worker import Worker
from reportcard.settings import Settings
from reportcard.storage.local import LocalStorage
from reportcard.wiring import hooks


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--files", required=True)
    ap.add_argument("--shard-rows", type=int, default=250_000)
    args = ap.parse_args()
    settings = Settings(database_url=args.db, shard_rows=args.shard_rows, poll_seconds=0.05)
    engine = hooks().bind(make_engine(args.db))  # listeners and periodic jobs, as deployed
    worker = Worker(engine, LocalStorage(args.files), settings)
    worker.warm_up()  # as `reportcard worker` does when it starts
    while worker.step():  # warm up: imports, pooled connections, periodic jobs
        pass
    freeze_heap()
    print("ready", flush=True)
    run_id = int(sys.stdin.readline())
    before = resource.getrusage(resource.RUSAGE_SELF)
    while True:
        if not worker.step():
            with engine.connect() as conn:
                state = get_run(conn, run_id).workflow_state
                conn.rollback()
            if state in TERMINAL_STATES:
                break
            time.sleep(0.05)
    rss_mb = peak_rss_mb()
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    figures = {"peak_rss_mb": round(rss_mb, 1), "cpu_seconds": round(cpu, 2)}
    print(json.dumps({**figures, "worker_id": worker.worker_id}), flush=True)


if __name__ == "__main__":
    main()
