"""Time ``reportcard seed --size large`` into a fresh SQLite file in a temporary directory.

Usage: ``.venv/bin/python -m bench.seed_large [--size large] [--seed 1] [--keep DIR]``

Prints, per table, the rows written, the seconds from its first to its last progress call and
rows/s; then the total rows, wall time, overall rows/s, the peak RSS of this process
(``resource.getrusage``) and the database file size. The budget for ``large`` on the project
machine (2 cores) is two minutes.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from reportcard.db.engine import dispose_all, make_engine
from reportcard.db.migrate import upgrade
from reportcard.lms.synthetic import SIZES, seed

BUDGET_SECONDS = {"large": 120.0}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="large", choices=list(SIZES))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="copy the database file here afterwards")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="reportcard-seed-") as tmp:
        path = Path(tmp) / f"{args.size}.sqlite3"
        engine = make_engine(f"sqlite:///{path}")
        upgrade(engine)

        first: dict[str, float] = {}
        last: dict[str, tuple[float, int]] = {}

        def progress(table: str, done: int, total: int) -> None:
            now = time.perf_counter()
            first.setdefault(table, now)
            if done == total:
                last[table] = (now, done)

        started = time.perf_counter()
        result = seed(engine, args.size, args.seed, progress=progress)
        wall = time.perf_counter() - started
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        dispose_all()
        size_mb = sum(f.stat().st_size for f in Path(tmp).iterdir()) / 2**20

        print(f"{'table':28} {'rows':>10} {'seconds':>8} {'rows/s':>10}")
        for table, (end, rows) in last.items():
            seconds = end - first[table]
            rate = f"{rows / seconds:,.0f}" if seconds > 0.001 else "-"
            print(f"{table:28} {rows:>10,} {seconds:>8.2f} {rate:>10}")
        other = wall - sum(end - first[t] for t, (end, _) in last.items())
        print(f"{'(plan, index rebuild, analyze, commit)':39} {other:>8.2f}")
        rows = sum(result.counts.values())
        print(
            f"\nsize={args.size} seed={args.seed} rows={rows:,} wall={wall:.1f}s "
            f"rows/s={rows / wall:,.0f} peak_rss={peak_mb:.0f}MB db={size_mb:.0f}MB"
        )
        budget = BUDGET_SECONDS.get(args.size)
        if budget is not None:
            print(f"budget {budget:.0f}s: {'OK' if wall < budget else 'OVER BUDGET'}")
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, args.keep / path.name)
        return 0 if budget is None or wall < budget else 1


if __name__ == "__main__":
    sys.exit(main())
