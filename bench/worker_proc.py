"""One benchmark worker process: work the queue until run ``--run`` ends; print its peak RSS."""

from __future__ import annotations

import argparse
import json
import time

from bench.memory import peak_rss_mb
from reportcard.db.engine import make_engine
from reportcard.runs.lifecycle import TERMINAL_STATES, get_run
from reportcard.runs.worker import Worker
from reportcard.settings import Settings
from reportcard.storage.local import LocalStorage


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--files", required=True)
    ap.add_argument("--run", type=int, required=True)
    ap.add_argument("--shard-rows", type=int, default=250_000)
    args = ap.parse_args()
    settings = Settings(database_url=args.db, shard_rows=args.shard_rows, poll_seconds=0.05)
    engine = make_engine(args.db)
    worker = Worker(engine, LocalStorage(args.files), settings)
    while True:
        if not worker.step():
            with engine.connect() as conn:
                state = get_run(conn, args.run).workflow_state
                conn.rollback()
            if state in TERMINAL_STATES:
                break
            time.sleep(0.05)
    rss_mb = peak_rss_mb()
    print(json.dumps({"peak_rss_mb": round(rss_mb, 1)}))


if __name__ == "__main__":
    main()
