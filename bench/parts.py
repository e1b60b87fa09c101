"""Every part of every report against its own baseline: the database's CLI running its statement.

    python -m bench.parts [--db sqlite|postgres|both] [--report R ...] [--part P ...]
                          [--markdown PATH] [--pg-baseline server|session]

A part through reportcard is a run of its report with only that part selected (provisioning
with ``users=true``, ...), in one worker process started and warmed up beforehand (see
``bench/worker_proc.py``): the wall time runs from creating the run until it is complete. Its
baseline is the very statement the part's shards run (``bench/statements.py``), over the whole
key range, written as CSV by the ``sqlite3`` CLI, or by ``psql`` as ``COPY (...) TO STDOUT``.
Baseline and report alternate, REPORTCARD_BENCH_ROUNDS rounds (default 3; at least
SHORT_ROUNDS for a part whose first baseline is under SHORT_WALL); each line gives the
median wall times and the median of the per-round ratios, with the issue 19 targets beside
them (``ok``/``MISSED``). Results go to ``bench/results/<timestamp>-parts-<db>-<size>.json``,
and with ``--markdown`` to a markdown table, rewritten after every part.

The cases: each of the twelve standard files of ``provisioning_csv`` and ``sis_export_csv``,
then the other reports as ``bench/other_reports.py`` runs them (some with a second set of
parameters; the XLSX one is left out: its statement is the CSV one's). A report whose run
writes several files (``mgp_grade_export_csv``, one per term) is one case whose baseline runs
each file's statement in turn.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.__main__ import (
    BENCH_DIR,
    ROUNDS,
    SIZE,
    ensure_institution,
    results_path,
    run_report,
    write_results,
)
from bench.other_reports import REPORTS
from bench.statements import part_sql, psql_copy, run_context, selected_parts, sqlite_cli
from reportcard.db.engine import PG_SESSION_OPTIONS, dispose_all, make_engine
from reportcard.reports.catalog import get_report
from reportcard.reports.sis_scope import STANDARD_FILES

# reportcard's session settings for psql: its options and its shards' serial plans.
PG_SESSION_SERIAL = PG_SESSION_OPTIONS + " -c max_parallel_workers_per_gather=0"

# Issue 19's targets.
BASE_ROWS_PER_S = 100_000  # a part's baseline, both databases
MAX_RATIO = {"sqlite": 1.4, "postgres": 1.2}  # reportcard (1 worker) over the baseline
SMALL_ROWS = 10_000  # a part with fewer rows: under SMALL_WALL end to end instead
SMALL_WALL = 1.0
MAX_RSS_MB = 150.0

# A part whose baseline takes less than SHORT_WALL seconds in the first round is measured over
# at least SHORT_ROUNDS rounds: its walls are tens of milliseconds, which a machine's slow
# spells move by a third or more from one round to the next (docs/decisions/performance.md).
SHORT_WALL = 0.25
SHORT_ROUNDS = 9


@dataclass(frozen=True)
class Case:
    """One measured part: a run of ``report`` with ``params``, and its label."""

    label: str
    report: str
    params: dict[str, Any]


def cases() -> list[Case]:
    out = []
    for report, short in (("provisioning_csv", "provisioning"), ("sis_export_csv", "sis_export")):
        out += [Case(f"{short} {key}", report, {key: "true"}) for key in STANDARD_FILES]
    for report, params in REPORTS:
        if params.get("format"):
            continue
        label = report + ("" if not params else " " + json.dumps(params, sort_keys=True))
        out.append(Case(label, report, dict(params)))
    return out


def load() -> float:
    return round(os.getloadavg()[0], 2)


def targets(
    db: str, rows: int, wall: float, base_rate: float, ratio: float, rss: float
) -> dict[str, bool]:
    """The issue's targets for one part: name -> met.

    Parts under SMALL_ROWS rows are judged end to end (a run's fixed cost, planning and
    compiling, outweighs their rows): the rows/s and ratio targets apply to the others.
    """
    met: dict[str, bool] = {}
    if rows < SMALL_ROWS:
        met[f"wall<{SMALL_WALL:g}s"] = wall < SMALL_WALL
    else:
        met[f"base>={BASE_ROWS_PER_S // 1000}k/s"] = base_rate >= BASE_ROWS_PER_S
        met[f"ratio<={MAX_RATIO[db]}"] = ratio <= MAX_RATIO[db]
    met[f"rss<{MAX_RSS_MB:g}MB"] = rss < MAX_RSS_MB
    return met


def measure(
    db: str,
    url: str,
    db_path: Path | None,
    files: Path,
    root: int,
    case: Case,
    pg_options: str | None = None,
) -> dict[str, Any]:
    """Baseline and report in ROUNDS interleaved rounds (SHORT_ROUNDS for a part whose first
    baseline is under SHORT_WALL): the medians and the targets.

    ``pg_options``: psql's session settings for the baseline (None: the server's defaults).
    """
    engine = make_engine(url)
    report = get_report(case.report)
    assert report is not None, case.report
    ctx = run_context(engine, root, case.report, case.params)
    parts = selected_parts(report, ctx)
    sqls = [sql for _, pq in parts if (sql := part_sql(engine, pq)) is not None]
    out = BENCH_DIR / f"parts-baseline-{db}-{os.getpid()}.csv"
    base_runs: list[dict[str, Any]] = []
    runs: list[dict[str, Any]] = []
    loads = []
    rounds = ROUNDS
    while len(runs) < rounds:
        loads.append(load())
        if db == "sqlite":
            assert db_path is not None
            base_runs.append(sqlite_cli(db_path, sqls, out))
        else:
            base_runs.append(psql_copy(url, sqls, out, pg_options))
        runs.append(run_report(url, files, root, case.report, case.params, 1))
        if base_runs[0]["wall"] < SHORT_WALL:
            rounds = max(ROUNDS, SHORT_ROUNDS)
    walls = [r["wall"] for r in runs]
    base_walls = [r["wall"] for r in base_runs]
    ratios = [w / b for w, b in zip(walls, base_walls, strict=True)]
    rows = runs[0]["data_rows"]
    wall = statistics.median(walls)
    base_wall = statistics.median(base_walls)
    base_rows = base_runs[0]["rows"]
    ratio = statistics.median(ratios)
    rss = max(max(r["peak_rss_mb"]) for r in runs)
    cpu = statistics.median(sum(r["cpu_seconds"]) for r in runs)
    base_cpu = statistics.median(r["cpu_seconds"] for r in base_runs)
    base_rate = base_rows / base_wall if base_wall else 0.0
    return {
        "report": case.report,
        "params": case.params,
        "parts": [name for name, _ in parts],
        "rows": rows,
        "baseline_rows": base_rows,
        "wall": wall,
        "walls": walls,
        "rows_per_s": rows / wall if wall else 0.0,
        "baseline_wall": base_wall,
        "baseline_walls": base_walls,
        "baseline_rows_per_s": base_rate,
        "ratio": ratio,
        "ratios": ratios,
        "rounds": len(runs),
        "peak_rss_mb": rss,
        "cpu_seconds": cpu,
        "rows_per_cpu_s": rows / cpu if cpu else None,
        # psql's own CPU is not the statement's (the server's is): only the sqlite3 CLI's counts.
        "baseline_cpu_seconds": base_cpu if db == "sqlite" else None,
        "baseline_rows_per_cpu_s": base_rows / base_cpu if db == "sqlite" and base_cpu else None,
        "bytes": runs[0]["bytes"],
        # Shards or plannings of other runs in the measured time (see bench.__main__.foreign_work)
        "foreign_work": sum(r["foreign_work"] for r in runs),
        "load_1m": loads,
        "targets": targets(db, rows, wall, base_rate, ratio, rss),
    }


def _num(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def line(label: str, r: dict[str, Any]) -> str:
    if "error" in r:
        return f"{label:<40} FAILED: {r['error']}"
    marks = ", ".join(f"{name} {'ok' if met else 'MISSED'}" for name, met in r["targets"].items())
    differ = "" if r["rows"] == r["baseline_rows"] else f"  (baseline lines={r['baseline_rows']:,})"
    if r["foreign_work"]:
        differ += f"  (not its own: {r['foreign_work']} foreign shard(s) or plan(s))"
    return (
        f"{label:<40} rows={r['rows']:>10,}  rows/s={r['rows_per_s']:>9,.0f}  "
        f"wall={r['wall']:7.2f}s  base={r['baseline_wall']:7.2f}s  "
        f"base_rows/s={r['baseline_rows_per_s']:>9,.0f}  ratio={r['ratio']:5.2f}x  "
        f"rss={r['peak_rss_mb']:.0f}MB  rows/cpu_s={_num(r['rows_per_cpu_s']):>9}  "
        f"base_rows/cpu_s={_num(r.get('baseline_rows_per_cpu_s')):>9}  "
        f"load={max(r['load_1m']):.1f}  [{marks}]{differ}"
    )


def markdown(db: str, results: dict[str, Any]) -> str:
    """The per-part table, for the team's notes."""
    head = (
        f"# Every part, {db}, {SIZE} ({results['when']}, rounds={results['rounds']}, "
        f"load average at start {results['load_start']}, at end {results.get('load_end', '-')})\n\n"
        "Medians of interleaved rounds; reportcard = one worker, run created to complete; "
        "baseline = the part's statement through the "
        + ("sqlite3 CLI" if db == "sqlite" else "psql COPY")
        + " to a file.\n\n"
        "| part | rows | reportcard wall s | baseline wall s | baseline rows/s | ratio | "
        "peak RSS MB | worker rows/CPU-s | baseline rows/CPU-s | load 1m | missed |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n"
    )
    rows = []
    for label, r in results["parts"].items():
        if "error" in r:
            rows.append(f"| {label} | FAILED: {r['error']} ||||||||||")
            continue
        missed = ", ".join(name for name, met in r["targets"].items() if not met) or "-"
        if r["foreign_work"]:
            missed += f" (foreign work {r['foreign_work']}: not its own figures)"
        rows.append(
            f"| {label} | {r['rows']:,} | {r['wall']:.2f} | {r['baseline_wall']:.2f} | "
            f"{r['baseline_rows_per_s']:,.0f} | {r['ratio']:.2f} | {r['peak_rss_mb']:.0f} | "
            f"{_num(r['rows_per_cpu_s'])} | {_num(r.get('baseline_rows_per_cpu_s'))} | "
            f"{max(r['load_1m']):.1f} | {missed} |"
        )
    return head + "\n".join(rows) + "\n"


def run_db(db: str, chosen: list[Case], md_path: Path | None, pg_baseline: str = "server") -> None:
    if db == "sqlite":
        db_path: Path | None = BENCH_DIR / f"{SIZE}.sqlite3"
        url = f"sqlite:///{db_path}"
        root = ensure_institution(url)
    else:
        from bench.postgres import database_url
        from bench.postgres import ensure_institution as ensure_pg

        db_path = None
        url = database_url()
        root = ensure_pg(url)
    files = BENCH_DIR / f"files-parts-{db}-{os.getpid()}"
    shutil.rmtree(files, ignore_errors=True)
    results: dict[str, Any] = {
        "size": SIZE,
        "db": db,
        "when": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "rounds": ROUNDS,
        "pg_baseline": pg_baseline if db == "postgres" else None,
        "load_start": [round(x, 2) for x in os.getloadavg()],
        "parts": {},
    }
    out = results_path(f"parts-{db}")
    print(f"{db}, {SIZE}, {ROUNDS} round(s); load average {results['load_start']}", flush=True)
    for case in chosen:
        try:
            options = PG_SESSION_SERIAL if pg_baseline == "session" else None
            r = measure(db, url, db_path, files, root, case, options)
        except Exception as exc:  # one broken part must not lose the others' figures
            r = {"report": case.report, "params": case.params, "error": repr(exc)[:300]}
        results["parts"][case.label] = r
        print(line(case.label, r), flush=True)
        results["load_end"] = [round(x, 2) for x in os.getloadavg()]
        out.write_text(json.dumps(results, indent=2) + "\n")
        if md_path is not None:
            md_path.write_text(markdown(db, results))
    shutil.rmtree(files, ignore_errors=True)
    write_results(results, out=out)
    print(f"load average at end {results['load_end']}")
    dispose_all()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.parts", description=__doc__.split("\n")[0])
    ap.add_argument("--db", choices=("sqlite", "postgres", "both"), default="sqlite")
    ap.add_argument("--report", action="append", default=[], help="report type (repeatable)")
    ap.add_argument("--part", action="append", default=[], help="part name (repeatable)")
    ap.add_argument(
        "--markdown",
        metavar="PATH",
        help="also write the table as markdown to PATH (with --db both: PATH with -sqlite/-pg)",
    )
    ap.add_argument(
        "--pg-baseline",
        choices=("server", "session"),
        default="server",
        help="psql's settings for the PostgreSQL baseline: the database's own (the server's "
        "parallel query; jit off, as reportcard's migration sets it) or reportcard's session "
        "settings (db.engine.PG_SESSION_OPTIONS, no parallel query)",
    )
    args = ap.parse_args(argv)
    chosen = [
        c
        for c in cases()
        if (not args.report or c.report in args.report)
        and (not args.part or _part_names(c) & set(args.part))
    ]
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    dbs = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    for db in dbs:
        md = None
        if args.markdown:
            md = Path(args.markdown)
            if len(dbs) > 1:
                md = md.with_name(f"{md.stem}-{'pg' if db == 'postgres' else db}{md.suffix}")
        run_db(db, chosen, md, args.pg_baseline)


def _part_names(case: Case) -> set[str]:
    """The case's part names (a SIS file's key, or the report's declared parts)."""
    report = get_report(case.report)
    assert report is not None
    if case.report in ("provisioning_csv", "sis_export_csv"):
        return {k for k, v in case.params.items() if v == "true"}
    return {p.name for p in report.parts}


if __name__ == "__main__":
    main()
