"""PostgreSQL: provisioning enrollments through the framework against `psql COPY` to a file.

    python -m bench.postgres      # REPORTCARD_BENCH_PG (default postgresql://postgres@127.0.0.1/)

Seeds (or reuses) the REPORTCARD_BENCH_SIZE institution (default large) into the database
`reportcard_bench_<size>` (REPORTCARD_BENCH_PG_DATABASE names another), then prints, like
`python -m bench`: the physical limit (psql writing `COPY (the part's query) TO STDOUT WITH
CSV` to a file), and the real report in 1 and 2 worker processes (shards through psycopg's
COPY), with ratios and peak RSS.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from bench.__main__ import (
    BENCH_DIR,
    SIZE,
    compare_enrollments,
    enrollments_sql,
    new_results,
    write_results,
)
from bench.statements import psql_copy
from reportcard.db.engine import make_engine
from reportcard.db.migrate import upgrade
from reportcard.db.tables import accounts

ADMIN = os.environ.get("REPORTCARD_BENCH_PG", "postgresql://postgres@127.0.0.1/postgres")


def database_url() -> str:
    name = os.environ.get("REPORTCARD_BENCH_PG_DATABASE") or f"reportcard_bench_{SIZE}"
    admin = create_engine(
        make_url(ADMIN).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        exists = conn.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
        ).first()
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return str(make_url(ADMIN).set(drivername="postgresql+psycopg", database=name))


def ensure_institution(url: str) -> int:
    engine = make_engine(url)
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
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
    print(f"seeded {SIZE} in {time.perf_counter() - started:.1f}s", flush=True)
    return result.root_account_id


def psql_baseline(url: str, root: int, out: Path) -> dict[str, Any]:
    """psql COPY of the enrollments part's statement (the COPY path's, over every key)."""
    return psql_copy(url, [enrollments_sql(make_engine(url), root)], out)


def main() -> None:
    url = database_url()
    root = ensure_institution(url)
    files = BENCH_DIR / "files-pg"
    results = new_results(files)
    psql_out = BENCH_DIR / "psql_enrollments.csv"
    psql = ("baseline: psql COPY to a file, enrollments", "psql_copy_enrollments")
    results.update(
        compare_enrollments(
            "PostgreSQL", "pg", url, files, root,
            (*psql, lambda: psql_baseline(url, root, psql_out)),
        )
    )  # fmt: skip
    write_results(results, "postgres")


if __name__ == "__main__":
    main()
