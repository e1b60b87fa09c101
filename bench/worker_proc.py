"""One benchmark worker process, started (and warmed up) before the run exists, as a deployed
worker is: it prints ``ready``, reads the run id from stdin, works the queue until that run
ends, and prints its peak RSS, the CPU seconds it spent on the run and its worker id.

The worker that ends the run knows it at once: a run-ended listener (called in the transaction
that completes the run) notes the run, and the loop stops after that step's commit. Other
workers (and a run ended by another) find it ended at their next idle step. Before, every
worker stopped only after an idle step past the end (its reads and the reaper's), which the
bench counted in the run's time."""

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
    installed = hooks()  # listeners and periodic jobs, as deployed
    ended: set[int] = set()
    installed.on_run_ended(lambda conn, run: ended.add(int(run.id)))
    engine = installed.bind(make_engine(args.db))
    worker = Worker(engine, LocalStorage(args.files), settings)
    worker.warm_up()  # as `reportcard worker` does when it starts
    while worker.step():  # warm up: imports, pooled connections, periodic jobs
        pass
    freeze_heap()
    print("ready", flush=True)
    run_id = int(sys.stdin.readline())
    before = resource.getrusage(resource.RUSAGE_SELF)
    while True:
        busy = worker.step()
        if run_id in ended:
            break  # committed: the step returns after the transaction that ended it
        if not busy:
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
