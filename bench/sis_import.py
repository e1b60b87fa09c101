"""SIS import benchmark: export an institution's SIS zip, import it into a fresh SQLite file.

    python -m bench.sis_import            # REPORTCARD_BENCH_SIZE (default large)

1. Seeds (or reuses) ``<bench dir>/<size>.sqlite3``, the same database ``python -m bench`` uses.
2. Runs ``sis_export_csv`` with all twelve files and ``include_deleted`` (cached as
   ``<bench dir>/sis-export-<size>.zip``).
3. Creates a fresh database holding only the root account's settings, roles and
   authentication providers (``copy_root_setup``), and imports the zip into it in a
   subprocess, exactly as ``reportcard import`` does; prints rows, rows/s, wall and CPU time,
   the subprocess's peak RSS and the load average (other work on the machine inflates wall).
   Results also go to ``bench/results/<timestamp>-sis-import-<size>.json``.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bench.__main__ import write_results
from bench.memory import peak_rss_mb
from reportcard.db.engine import make_engine
from reportcard.db.migrate import upgrade
from reportcard.db.tables import accounts, attachments

HERE = Path(__file__).resolve().parent
BENCH_DIR = Path(os.environ.get("REPORTCARD_BENCH_DIR", "var/bench")).resolve()
SIZE = os.environ.get("REPORTCARD_BENCH_SIZE", "large")
FILES = (
    "users",
    "accounts",
    "terms",
    "courses",
    "sections",
    "enrollments",
    "groups",
    "group_membership",
    "group_categories",
    "xlist",
    "user_observers",
    "admins",
)


def source_root(db_url: str) -> int:
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
    print(f"seeded {SIZE} in {time.perf_counter() - started:.1f}s", flush=True)
    return result.root_account_id


def export_zip(db_url: str, root: int, target: Path) -> None:
    from reportcard.runs.inline import run_report
    from reportcard.settings import Settings
    from reportcard.storage.local import LocalStorage

    settings = Settings(database_url=db_url, data_dir=BENCH_DIR, poll_seconds=0.05)
    storage = LocalStorage(BENCH_DIR / "files")
    engine = make_engine(db_url)
    params: dict[str, Any] = {f: "true" for f in FILES}
    params["include_deleted"] = "true"
    started = time.perf_counter()
    run = run_report(
        engine, storage, settings, account_id=root, report_type="sis_export_csv", parameters=params
    )
    assert run.workflow_state == "complete", run.message
    with engine.connect() as conn:
        key = conn.execute(
            select(attachments.c.storage_key).where(attachments.c.id == run.attachment_id)
        ).scalar_one()
    Path(storage.local_path(key) or "").replace(target)
    print(f"exported {target.name} in {time.perf_counter() - started:.1f}s", flush=True)


def child(db_url: str, zip_path: Path, root: int) -> None:
    """The measured process: import ``zip_path`` into ``db_url``; prints one JSON line."""
    from reportcard.db.sis_import_tables import sis_imports
    from reportcard.lms.sis_import.local import import_path
    from reportcard.settings import Settings
    from reportcard.storage.local import LocalStorage

    settings = Settings(database_url=db_url, data_dir=BENCH_DIR)
    engine = make_engine(db_url)
    storage = LocalStorage(BENCH_DIR / "import-files")
    started = time.perf_counter()
    import_id, state = import_path(engine, storage, settings, zip_path, root)
    wall = time.perf_counter() - started
    with engine.connect() as conn:
        imp = conn.execute(select(sis_imports).where(sis_imports.c.id == import_id)).one()
    print(
        json.dumps(
            {
                "state": state,
                "rows": int(imp.total_rows or 0),
                "wall": wall,
                "warnings": int(imp.warning_count),
                "errors": int(imp.error_count),
                "counts": (imp.data or {}).get("counts", {}),
                "peak_rss_mb": peak_rss_mb(),
                "cpu_s": round(
                    resource.getrusage(resource.RUSAGE_SELF).ru_utime
                    + resource.getrusage(resource.RUSAGE_SELF).ru_stime,
                    1,
                ),
            }
        )
    )


def main() -> None:
    from reportcard.lms.sis_import.local import copy_root_setup

    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    src_url = f"sqlite:///{BENCH_DIR / f'{SIZE}.sqlite3'}"
    root = source_root(src_url)
    zip_path = BENCH_DIR / f"sis-export-{SIZE}.zip"
    if not zip_path.exists():
        export_zip(src_url, root, zip_path)
    target = BENCH_DIR / f"sis-import-{SIZE}.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    dst_url = f"sqlite:///{target}"
    upgrade(make_engine(dst_url))
    copy_root_setup(make_engine(src_url), make_engine(dst_url), root)
    cmd = [sys.executable, "-m", "bench.sis_import", "--child", dst_url, str(zip_path), str(root)]
    load_before = os.getloadavg()[0]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=HERE.parent)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    r["size"] = SIZE
    # The machine has two cores: a load average above ~1 means the wall time is inflated.
    r["load_average"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    r["zip_bytes"] = zip_path.stat().st_size
    print(
        f"sis import {SIZE}: {r['state']}  rows={r['rows']:,}  rows/s={r['rows'] / r['wall']:,.0f}"
        f"  wall={r['wall']:.1f}s  cpu={r['cpu_s']}s  peak_rss_mb={r['peak_rss_mb']}"
        f"  warnings={r['warnings']:,}  load={r['load_average']}"
    )
    write_results(r, "sis-import")


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        child(sys.argv[2], Path(sys.argv[3]), int(sys.argv[4]))
    else:
        main()
