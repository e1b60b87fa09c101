"""Time the reports other than the SIS export / provisioning on a synthetic institution.

Usage: ``.venv/bin/python -m bench.other_reports [report ...]``

Each report in :data:`REPORTS` (or only those named) runs once through the framework in one
worker subprocess (``bench/worker_proc.py``), on ``$REPORTCARD_BENCH_DIR/<size>-other.sqlite3``
(seeded on first use, and seeded again when the schema has changed since). One line per
report: rows, rows/s, wall seconds, peak RSS of the worker. Results also go to
``bench/results/<timestamp>-other-<size>.json``.

Environment: ``REPORTCARD_BENCH_DIR`` (default ``var/bench``), ``REPORTCARD_BENCH_SIZE``
(default ``large``; ``medium`` for a quick look).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import inspect, select

from bench.__main__ import line, new_results, run_report, write_results
from reportcard.db.engine import dispose_all, make_engine
from reportcard.db.migrate import upgrade
from reportcard.db.schema import metadata
from reportcard.db.tables import accounts

# (report type, parameters) in the order they run.
REPORTS: list[tuple[str, dict[str, Any]]] = [
    ("last_user_access_csv", {}),
    ("last_enrollment_activity_csv", {}),
    ("zero_activity_csv", {}),
    ("zero_activity_csv", {"start_at": "2026-10-01"}),
    ("recently_deleted_courses_csv", {}),
    ("unpublished_courses_csv", {}),
    ("public_courses_csv", {}),
    ("course_storage_csv", {}),
    ("unused_courses_csv", {}),
    ("user_access_tokens_csv", {}),
    ("lti_report_csv", {"include_deleted": "true"}),
    ("developer_key_report_csv", {}),
    ("eportfolio_report_csv", {}),
    ("grade_export_csv", {}),
    ("grade_export_csv", {"include_deleted": "true"}),
    ("grade_export_csv", {"format": "xlsx"}),  # the XLSX writer (docs/decisions/performance.md)
    ("mgp_grade_export_csv", {}),
    ("outcome_export_csv", {}),
    ("outcome_results_csv", {}),
    ("outcome_results_csv", {"order": "outcomes"}),
    ("student_assignment_outcome_map_csv", {}),
    ("students_with_no_submissions_csv", {"start_at": "2026-10-19", "end_at": "2026-11-02"}),
]

HERE = Path(__file__).resolve().parent
BENCH_DIR = Path(os.environ.get("REPORTCARD_BENCH_DIR", "var/bench")).resolve()
SIZE = os.environ.get("REPORTCARD_BENCH_SIZE", "large")


def _schema_matches(db_url: str) -> bool:
    """Every table and column of the current schema exists in the database."""
    engine = make_engine(db_url)
    try:
        found = inspect(engine)
        names = set(found.get_table_names())
        for table in metadata.sorted_tables:
            if table.name not in names:
                return False
            columns = {c["name"] for c in found.get_columns(table.name)}
            if not {c.name for c in table.columns} <= columns:
                return False
        return True
    finally:
        dispose_all()


def ensure_institution(db_path: Path) -> int:
    """The root account id of the bench institution, seeding it first when needed."""
    db_url = f"sqlite:///{db_path}"
    if db_path.exists() and not _schema_matches(db_url):
        print(f"{db_path.name}: schema changed, seeding again", flush=True)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db_path}{suffix}").unlink(missing_ok=True)
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

    result = seed(engine, SIZE, 1)
    print(f"seeded {SIZE} in {result.seconds:.1f}s", flush=True)
    return result.root_account_id


def main(argv: list[str]) -> None:
    wanted = set(argv)
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    db_path = BENCH_DIR / f"{SIZE}-other.sqlite3"
    root = ensure_institution(db_path)
    files = BENCH_DIR / "files-other"
    results = new_results(files)
    for report, params in REPORTS:
        if wanted and report not in wanted:
            continue
        r = run_report(f"sqlite:///{db_path}", files, root, report, params, 1)
        label = report + ("" if not params else " " + json.dumps(params, sort_keys=True))
        results[label] = r
        print(line(label, r["rows"], r["wall"], None, r["peak_rss_mb"]), flush=True)
    write_results(results, "other")


if __name__ == "__main__":
    main(sys.argv[1:])
