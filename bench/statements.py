"""The statements a report's parts run, as SQL text, and the database CLIs running them.

A part's baseline is its own statement run by the database's command-line client writing CSV
to a file: the sqlite3 CLI (``.mode csv``), or psql writing ``COPY (statement) TO STDOUT WITH
(FORMAT csv)``. The statement is the one a shard executes (``runs.query.range_select``; on
PostgreSQL ``runs.write.copy_select`` when the part takes the COPY path), compiled with
literal parameters for one run's context, over the part's whole key range.
"""

from __future__ import annotations

import os
import resource
import subprocess
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.engine import make_url

from reportcard.reports.catalog import PartQuery, Report, RunContext, get_report
from reportcard.runs.context import build_context
from reportcard.runs.lifecycle import create_run, get_run
from reportcard.runs.query import bounds_select, range_select, sql_formatted
from reportcard.runs.write import copy_eligible, copy_select


def root_run(conn: Connection, root: int, report_type: str, params: dict[str, Any]) -> int:
    """A run of ``report_type`` with ``params`` on the root account, by nobody, as ``conn``
    creates it (committed or rolled back by the caller)."""
    return create_run(
        conn,
        account_id=root,
        root_account_id=root,
        user_id=None,
        report_type=report_type,
        parameters=params,
    )


def run_context(engine: Engine, root: int, report_type: str, params: dict[str, Any]) -> RunContext:
    """The context a run of ``report_type`` with ``params`` on the root account would have.

    The run row is created only to build the context and rolled back.
    """
    with engine.begin() as conn:
        run_id = root_run(conn, root, report_type, params)
        ctx = build_context(conn, get_run(conn, run_id))
        conn.rollback()
    return ctx


def selected_parts(report: Report, ctx: RunContext) -> list[tuple[str, PartQuery]]:
    """The parts a run with this context writes, in output order, with their queries as a
    shard runs them (formatters with a SQL form in the statement: ``runs.query.sql_formatted``)."""
    return [
        (name, sql_formatted(report.part(name).build(ctx), ctx))
        for name in report.select_parts(ctx)
    ]


def part_sql(engine: Engine, pq: PartQuery, *, whole_range: bool = True) -> str | None:
    """The SQL text of the statement the part's shards run, with literal parameters.

    ``whole_range``: bounded by the part's lowest and highest key, as one shard holding every
    row would be (``False``: no key bounds). None when the part has no columns (a file of
    one empty line: no statement runs).
    """
    if not pq.columns:
        return None
    lo = hi = None
    if whole_range:
        with engine.connect() as conn:
            lo, hi, _ = conn.execute(bounds_select(pq)).one()
            conn.rollback()
        if lo is None:  # no row: the empty range, as the planner's single (1, 0) shard
            lo, hi = 1, 0
    stmt = copy_select(pq, lo, hi) if copy_eligible(engine, pq) else range_select(pq, lo, hi)
    return str(stmt.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))


def report_sql(
    engine: Engine, root: int, report_type: str, params: dict[str, Any]
) -> list[tuple[str, str | None]]:
    """(part, SQL text) of every part a run of ``report_type`` with ``params`` writes."""
    report = get_report(report_type)
    assert report is not None, report_type
    ctx = run_context(engine, root, report_type, params)
    return [(name, part_sql(engine, pq)) for name, pq in selected_parts(report, ctx)]


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _count_lines(paths: list[Path]) -> int:
    """Lines in the files (a quoted field holding a newline counts twice)."""
    total = 0
    for path in paths:
        with open(path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                total += chunk.count(b"\n")
    return total


def sqlite_cli(db_path: Path, sqls: list[str], out: Path) -> dict[str, Any]:
    """The sqlite3 CLI writing each statement's rows as CSV (no header) to a file of its own.

    One process runs them all, one after the other. Returns rows (lines written), wall
    seconds and the CLI's CPU seconds.
    """
    paths = [out.with_name(f"{out.stem}-{i}{out.suffix}") for i in range(len(sqls))]
    script = ".headers off\n.mode csv\n" + "".join(
        f".once {path}\n{sql};\n" for path, sql in zip(paths, sqls, strict=True)
    )
    cpu = _children_cpu()
    started = time.perf_counter()
    subprocess.run(["sqlite3", "-readonly", str(db_path)], input=script, text=True, check=True)
    wall = time.perf_counter() - started
    cpu = _children_cpu() - cpu
    rows = _count_lines(paths)
    for path in paths:
        path.unlink(missing_ok=True)
    return {"rows": rows, "wall": wall, "cpu_seconds": round(cpu, 2)}


def psql_copy(url: str, sqls: list[str], out: Path, options: str | None = None) -> dict[str, Any]:
    """One psql writing ``COPY (statement) TO STDOUT WITH (FORMAT csv)`` of each to ``out``.

    Returns rows (lines written) and wall seconds; ``cpu_seconds`` is psql's own (the
    statements' work is the server's, not counted). ``options``: session settings for psql
    (libpq ``PGOPTIONS``); None keeps the server's defaults.
    """
    plain = make_url(url).set(drivername="postgresql")
    cmd = ["psql", plain.render_as_string(hide_password=False), "-X", "-q", "-v", "ON_ERROR_STOP=1"]
    for sql in sqls:
        cmd += ["-c", f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)"]
    cpu = _children_cpu()
    started = time.perf_counter()
    env = None if options is None else {**os.environ, "PGOPTIONS": options}
    with open(out, "wb") as fh:
        subprocess.run(cmd, stdout=fh, check=True, env=env)
    wall = time.perf_counter() - started
    cpu = _children_cpu() - cpu
    rows = _count_lines([out])
    out.unlink(missing_ok=True)
    return {"rows": rows, "wall": wall, "cpu_seconds": round(cpu, 2)}
