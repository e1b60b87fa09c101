"""`make bench`: seed (or reuse) the large institution and time report paths against baselines.

Each line printed: path, rows, rows/s, wall seconds, ratio to its baseline (wall / baseline
wall: lower is better), peak RSS of each worker process. Results also go to
bench/results/<timestamp>.json so that changes can be compared.

The measured paths and their baseline run in interleaved rounds (baseline, 1 worker,
2 workers; again), REPORTCARD_BENCH_ROUNDS times (default 3), so that a slow spell of the
machine hits them alike; each line gives the median wall time and the range over the rounds.

Environment: REPORTCARD_BENCH_DIR (default ./var/bench), REPORTCARD_BENCH_SIZE (default large),
REPORTCARD_BENCH_ROUNDS (default 3).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, func, select

from bench.statements import part_sql, root_run, run_context, sqlite_cli
from reportcard.db.engine import make_engine
from reportcard.db.migrate import upgrade
from reportcard.db.tables import account_reports, accounts, attachments, report_shards
from reportcard.reports.catalog import get_report
from reportcard.reports.sis_scope import STANDARD_FILES
from reportcard.runs.lifecycle import get_run
from reportcard.settings import Settings

HERE = Path(__file__).resolve().parent
BENCH_DIR = Path(os.environ.get("REPORTCARD_BENCH_DIR", "var/bench")).resolve()
SIZE = os.environ.get("REPORTCARD_BENCH_SIZE", "large")
ROUNDS = max(1, int(os.environ.get("REPORTCARD_BENCH_ROUNDS", "3")))


def new_results(files: Path) -> dict[str, Any]:
    """Empty the run's files folder ``files``; the results' header (size, start time)."""
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(files, ignore_errors=True)
    return {"size": SIZE, "when": time.strftime("%Y-%m-%dT%H:%M:%S")}


def results_path(kind: str = "") -> Path:
    """``bench/results/<timestamp>-<kind>-<size>.json`` (no kind: ``<timestamp>-<size>``)."""
    name = "-".join(p for p in (time.strftime("%Y%m%dT%H%M%S"), kind, SIZE) if p)
    return HERE / "results" / f"{name}.json"


def write_results(results: dict[str, Any], kind: str = "", out: Path | None = None) -> None:
    """The results as JSON to ``out`` (default: a new :func:`results_path`)."""
    out = out or results_path(kind)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out.relative_to(HERE.parent)}")


def ensure_institution(db_url: str) -> int:
    engine = make_engine(db_url)
    upgrade(engine)
    with engine.connect() as conn:
        root = conn.execute(
            select(accounts.c.id)
            .where(accounts.c.root_account_id.is_(None))
            .order_by(accounts.c.id)
        ).scalar()
    if root is not None:
        return int(root)
    from reportcard.lms.synthetic import seed

    started = time.perf_counter()
    result = seed(engine, SIZE, 1)
    print(f"seeded {SIZE} in {time.perf_counter() - started:.1f}s: {result.counts}", flush=True)
    return result.root_account_id


def run_report(
    db_url: str,
    files: Path,
    root: int,
    report: str,
    params: dict[str, Any],
    workers: int,
    shard_rows: int | None = None,
) -> dict[str, Any]:
    engine = make_engine(db_url)
    if shard_rows is None:
        shard_rows = Settings().shard_rows  # the default, whatever the number of workers
    cmd = [
        sys.executable,
        "-m",
        "bench.worker_proc",
        "--db",
        db_url,
        "--files",
        str(files),
        "--shard-rows",
        str(shard_rows),
    ]
    # Workers start and warm up first, as deployed workers are already running: the wall
    # time is the report's, from creating the run to its end, not Python's start-up.
    procs = [
        subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=HERE.parent
        )
        for _ in range(workers)
    ]
    for p in procs:
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    with engine.begin() as conn:
        run_id = root_run(conn, root, report, params)
    started = time.perf_counter()
    since = datetime.now(UTC).replace(tzinfo=None)
    for p in procs:
        assert p.stdin is not None
        p.stdin.write(f"{run_id}\n")
        p.stdin.flush()
    # Each worker prints its figures as soon as it sees the run end; the clock stops when
    # all have, before the processes exit (an interpreter's teardown is not the report's).
    outs = []
    for p in procs:
        assert p.stdout is not None
        outs.append(json.loads(p.stdout.readline()))
    wall = time.perf_counter() - started
    for p in procs:
        p.communicate()
    with engine.connect() as conn:
        run = get_run(conn, run_id)
        size = conn.execute(
            select(attachments.c.size).where(attachments.c.id == run.attachment_id)
        ).scalar()
        data_rows = conn.execute(
            select(func.coalesce(func.sum(report_shards.c.rows), 0)).where(
                report_shards.c.report_id == run_id
            )
        ).scalar_one()
        foreign = foreign_work(conn, run_id, [o["worker_id"] for o in outs], since)
    assert run.workflow_state == "complete", run.message
    return {
        "foreign_work": foreign,
        "rows": int(run.current_line) - 1,
        "data_rows": int(data_rows),  # the parts' rows: no header or "none found" lines
        "wall": wall,
        "bytes": int(size or 0),
        "peak_rss_mb": [o["peak_rss_mb"] for o in outs],
        "cpu_seconds": [o["cpu_seconds"] for o in outs],
    }


def foreign_work(conn: Connection, run_id: int, worker_ids: list[str], since: datetime) -> int:
    """Work that makes a measured run's figures another's: 0 on a database of its own.

    Workers take any queued run of their database. Counts the run's shards that other
    workers took, and the shards and plannings of other runs that the bench's workers took
    since ``since`` (another bench's run, or a run left unfinished in a copied database).
    """
    s, r = report_shards.c, account_reports.c
    ours = s.worker_id.in_(worker_ids)
    theirs = conn.execute(
        select(func.count()).where(s.report_id == run_id, s.worker_id.is_not(None), ~ours)
    ).scalar_one()
    taken = conn.execute(
        select(func.count()).where(s.report_id != run_id, ours, s.started_at >= since)
    ).scalar_one()
    planned = conn.execute(
        select(func.count()).where(r.id != run_id, r.worker_id.in_(worker_ids), r.start_at >= since)
    ).scalar_one()
    return int(theirs) + int(taken) + int(planned)


def sqlite_cli_baseline(db_path: Path, root: int, out: Path) -> dict[str, Any]:
    """The sqlite3 CLI's own CSV output of the enrollments part's query (no key bounds)."""
    engine = make_engine(f"sqlite:///{db_path}")
    sql = enrollments_sql(engine, root)
    return sqlite_cli(db_path, [sql], out)


def enrollments_sql(engine: Engine, root: int) -> str:
    """The provisioning enrollments part's statement over every key, as its shards run it."""
    report = get_report("provisioning_csv")
    assert report is not None
    ctx = run_context(engine, root, "provisioning_csv", {"enrollments": "true"})
    sql = part_sql(engine, report.part("enrollments").build(ctx), whole_range=False)
    assert sql is not None
    return sql


def line(path: str, rows: int, wall: float, base: float | None, rss: list[float]) -> str:
    ratio = f"{wall / base:5.2f}x" if base else "  -  "
    rss_text = "+".join(f"{r:.0f}" for r in rss) or "-"
    return (
        f"{path:<44} rows={rows:>10,}  rows/s={rows / wall:>9,.0f}  wall={wall:7.2f}s  "
        f"ratio={ratio}  peak_rss_mb={rss_text}"
    )


def compare(
    baseline: tuple[str, Callable[[], dict[str, Any]]],
    paths: list[tuple[str, Callable[[], dict[str, Any]]]],
) -> dict[str, dict[str, Any]]:
    """Baseline and paths in ROUNDS interleaved rounds; prints and returns each one's median.

    A path's ``ratio`` is the median of its per-round ratios to that round's baseline.
    """
    names = [baseline[0]] + [name for name, _ in paths]
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    for _ in range(ROUNDS):
        for name, fn in [baseline, *paths]:
            runs[name].append(fn())
    base_walls = [r["wall"] for r in runs[baseline[0]]]
    out: dict[str, dict[str, Any]] = {}
    for name in names:
        walls = [r["wall"] for r in runs[name]]
        summary = dict(runs[name][0])
        summary["wall"] = statistics.median(walls)
        summary["walls"] = walls
        rss = [r.get("peak_rss_mb", []) for r in runs[name]]
        summary["peak_rss_mb"] = [max(column) for column in zip(*rss, strict=True)] if rss else []
        base = None
        if name != baseline[0]:
            ratios = [w / b for w, b in zip(walls, base_walls, strict=True)]
            summary["ratio"] = statistics.median(ratios)
            summary["ratios"] = ratios
            base = summary["wall"] / summary["ratio"]  # so that line() prints the median ratio
        spread = f"  rounds={len(walls)} wall {min(walls):.2f}-{max(walls):.2f}s"
        print(line(name, summary["rows"], summary["wall"], base, summary["peak_rss_mb"]) + spread)
        out[name] = summary
    return out


def compare_enrollments(
    db: str,
    prefix: str,
    url: str,
    files: Path,
    root: int,
    baseline: tuple[str, str, Callable[[], dict[str, Any]]],
) -> dict[str, Any]:
    """Provisioning enrollments on 1 and 2 workers against ``baseline`` (label, key, run).

    Prints the median lines and the speedup; returns them under the results' JSON keys:
    ``baseline`` key, ``<prefix>_provisioning_enrollments_<n>w``, ``<prefix>_two_worker_speedup``.
    """
    label, key, run_baseline = baseline
    enrollments = {"enrollments": "true"}

    def workers(n: int) -> Callable[[], dict[str, Any]]:
        return lambda: run_report(url, files, root, "provisioning_csv", enrollments, n)

    names = [f"provisioning enrollments, {db}, {n} worker(s)" for n in (1, 2)]
    measured = compare((label, run_baseline), [(names[n - 1], workers(n)) for n in (1, 2)])
    keys = [key] + [f"{prefix}_provisioning_enrollments_{n}w" for n in (1, 2)]
    results: dict[str, Any] = dict(zip(keys, measured.values(), strict=True))
    speedup = measured[names[0]]["wall"] / measured[names[1]]["wall"]
    results[f"{prefix}_two_worker_speedup"] = speedup
    print(f"two workers over one, {db}: {speedup:.2f}x faster (median walls)")
    return results


def main() -> None:
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    db_path = BENCH_DIR / f"{SIZE}.sqlite3"
    db_url = f"sqlite:///{db_path}"
    root = ensure_institution(db_url)
    files = BENCH_DIR / "files"
    results = new_results(files)
    cli_out = BENCH_DIR / "cli_enrollments.csv"
    cli = ("baseline: sqlite3 CLI, enrollments", "sqlite_cli_enrollments")
    results.update(
        compare_enrollments(
            "SQLite", "sqlite", db_url, files, root,
            (*cli, lambda: sqlite_cli_baseline(db_path, root, cli_out)),
        )
    )  # fmt: skip
    every = dict.fromkeys(STANDARD_FILES, "true")
    for report in ("provisioning_csv", "sis_export_csv"):
        r = run_report(db_url, files, root, report, every, 2)
        results[f"sqlite_{report}_all_2w"] = r
        print(
            line(
                f"{report}, all 12 files, 2 workers", r["rows"], r["wall"], None, r["peak_rss_mb"]
            ),
            flush=True,
        )
    write_results(results)


if __name__ == "__main__":
    main()
