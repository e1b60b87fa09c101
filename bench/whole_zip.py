"""The whole zip: a report with all twelve files on N workers, and where its wall time goes.

``python -m bench.whole_zip [--report provisioning_csv] [--workers 2] [--rounds 3]`` runs the
report on the bench institution (REPORTCARD_BENCH_SIZE, default large) with every standard
file, as ``make bench``'s all-files case does (worker processes started and warmed up first),
and prints per round: wall, rows/s, the workers' CPU seconds, the load average, and a
breakdown from the run's and its shards' recorded times: planning (run claimed to first
shard started), shards (first shard started to last shard ended), the tail (last shard ended
to the run complete: the compile) and how long each worker sat idle while the other still
had shards running. Results go to ``bench/results/<timestamp>-whole-zip-<size>.json``.
"""

from __future__ import annotations

import argparse
import os
import statistics
from typing import Any

from sqlalchemy import func, select

from bench.__main__ import BENCH_DIR, SIZE, ensure_institution, run_report, write_results
from reportcard.db.engine import make_engine
from reportcard.db.tables import account_reports, report_shards
from reportcard.reports.sis_scope import STANDARD_FILES


def breakdown(db_url: str) -> dict[str, Any]:
    """Where the latest run's time went, from its recorded times (seconds)."""
    engine = make_engine(db_url)
    with engine.connect() as conn:
        run_id = conn.execute(select(func.max(account_reports.c.id))).scalar_one()
        run = conn.execute(select(account_reports).where(account_reports.c.id == run_id)).one()
        shards = conn.execute(
            select(report_shards).where(report_shards.c.report_id == run_id)
        ).all()
        conn.rollback()
    first = min(s.started_at for s in shards)
    last = max(s.ended_at for s in shards)
    busy: dict[str, float] = {}
    ends: dict[str, Any] = {}
    for s in shards:
        busy[s.worker_id] = busy.get(s.worker_id, 0.0) + (s.ended_at - s.started_at).total_seconds()
        ends[s.worker_id] = max(ends.get(s.worker_id, s.ended_at), s.ended_at)
    span = (last - first).total_seconds()
    return {
        "plan": (first - run.start_at).total_seconds(),
        "shards": span,
        "compile": (run.end_at - last).total_seconds() if run.end_at else None,
        "shard_count": len(shards),
        "worker_busy": sorted(busy.values(), reverse=True),
        "worker_idle_in_span": sorted(span - b for b in busy.values()),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--report", default="provisioning_csv")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--shard-rows", type=int, default=None)
    args = ap.parse_args()
    db_url = f"sqlite:///{BENCH_DIR / f'{SIZE}.sqlite3'}"
    root = ensure_institution(db_url)
    files = BENCH_DIR / "files"
    every = dict.fromkeys(STANDARD_FILES, "true")
    rounds = []
    for _ in range(args.rounds):
        load_before = os.getloadavg()[0]
        r = run_report(db_url, files, root, args.report, every, args.workers, args.shard_rows)
        r["load_before"] = load_before
        r["load_after"] = os.getloadavg()[0]
        r["breakdown"] = breakdown(db_url)
        rounds.append(r)
        b = r["breakdown"]
        print(
            f"{args.report} {args.workers}w rows={r['rows']:,} wall={r['wall']:.2f}s "
            f"rows/s={r['rows'] / r['wall']:,.0f} cpu={r['cpu_seconds']} "
            f"load={load_before:.1f}->{r['load_after']:.1f} | plan={b['plan']:.2f} "
            f"shards={b['shards']:.2f} ({b['shard_count']}) compile={b['compile']:.2f} "
            f"idle={[round(x, 2) for x in b['worker_idle_in_span']]} bytes={r['bytes']:,}",
            flush=True,
        )
    walls = [r["wall"] for r in rounds]
    print(f"median wall {statistics.median(walls):.2f}s over {len(walls)} rounds")
    write_results(
        {"size": SIZE, "report": args.report, "workers": args.workers, "rounds": rounds},
        kind="whole-zip",
    )


if __name__ == "__main__":
    main()
