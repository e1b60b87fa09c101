"""Every statement of a CD2 import timed: ``python -m bench.cd2_profile URL DIR [DIR ...]``.

Applies the CD2 files ``DIR`` in-process (``reportcard.lms.cd2.importer.import_paths``) to the
database ``URL`` and prints where the time went: per table (the load's phases), and the
statements, grouped by their text with the numbers taken out, longest first. Meant for an
incremental applied to a copy of a database ``bench.cd2`` (or ``cd2 import --snapshot``) just
imported: ``--copy-from`` makes that copy first (a PostgreSQL database used as a template, or a
SQLite file), so the same incremental can be applied again and again to the same start.

    python -m bench.cd2_profile postgresql+psycopg://postgres@127.0.0.1/scratch \\
        --copy-from snap_large var/bench/cd2-large-tsv/incremental
    python -m bench.cd2_profile sqlite:///var/bench/scratch.sqlite3 \\
        --copy-from var/bench/snap-large.sqlite3 var/bench/cd2-large-tsv/incremental

Options: ``--top N`` statements shown (30); ``--json FILE`` writes the breakdown.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import sqlite3
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

_NUMBER = re.compile(r"\b\d+\b")
_SPACE = re.compile(r"\s+")


def _shape(statement: str) -> str:
    return _SPACE.sub(" ", _NUMBER.sub("N", statement)).strip()[:160]


def copy_database(url: str, source: str) -> None:
    """Make the database ``url`` a copy of ``source`` (a database name or a SQLite file)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        target = Path(str(u.database))
        for suffix in ("", "-wal", "-shm"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        src = sqlite3.connect(source)
        dst = sqlite3.connect(target)
        src.backup(dst)
        dst.close()
        src.close()
        return
    admin = create_engine(u.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{u.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{u.database}" TEMPLATE "{source}"'))
        conn.execute(text("CHECKPOINT"))
    admin.dispose()


def _proc(pid: int | str) -> dict[str, float]:
    """CPU seconds and bytes written (``write()`` calls) of a process, from /proc."""
    io = dict(line.split(": ") for line in Path(f"/proc/{pid}/io").read_text().splitlines())
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return {"cpu": (int(stat[11]) + int(stat[12])) / ticks, "wchar": float(io["wchar"])}


def _time_phases(phases: dict[str, float]) -> Any:
    """Wrap the importer's steps and the commits with timers; returns the undo."""
    from sqlalchemy.engine import base

    from reportcard.lms.cd2 import importer

    undo = []

    def wrap(owner: Any, name: str, label: str) -> None:
        original = getattr(owner, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            t = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                phases[label] += time.perf_counter() - t

        setattr(owner, name, timed)
        undo.append((owner, name, original))

    wrap(importer, "stage_file", "stage")
    wrap(importer, "apply_staged", "apply")
    wrap(importer.state, "record", "state")
    wrap(importer.derived, "rebuild", "derived")
    wrap(importer, "analyze_changed", "analyze")
    wrap(base.Connection, "_commit_impl", "commit")

    def restore() -> None:
        for owner, name, original in undo:
            setattr(owner, name, original)

    return restore


def profile(url: str, paths: list[Path]) -> dict[str, Any]:
    from sqlalchemy import event

    from reportcard.db.engine import make_engine
    from reportcard.lms.cd2.importer import import_paths

    engine = make_engine(url)
    current = ["(start)"]
    by_table: dict[str, float] = defaultdict(float)
    by_statement: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0])
    started_at: dict[int, float] = {}
    pg_wal: list[Any] = []

    backend: dict[str, Any] = {}

    @event.listens_for(engine, "before_cursor_execute")
    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "pid" not in backend and engine.dialect.name == "postgresql":
            pid = conn.connection.driver_connection.info.backend_pid
            backend.update(pid=pid, start=_proc(pid))
        started_at[id(cursor)] = time.perf_counter()

    @event.listens_for(engine, "after_cursor_execute")
    def after(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        spent = time.perf_counter() - started_at.pop(id(cursor), time.perf_counter())
        by_table[current[0]] += spent
        s = by_statement[(current[0], _shape(statement))]
        s[0] += spent
        s[1] += 1

    def progress(what: str, done: int, total: int) -> None:
        current[0] = what.split(":", 1)[0]

    phases: dict[str, float] = defaultdict(float)
    restore = _time_phases(phases)
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            pg_wal.append(conn.exec_driver_sql("SELECT pg_current_wal_lsn()").scalar())
    io0 = _proc("self")
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    try:
        result = import_paths(engine, paths, progress=progress)
    finally:
        restore()
    wall = time.perf_counter() - t0
    io1 = _proc("self")
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    out: dict[str, Any] = {
        "url": url,
        "wall": round(wall, 3),
        "cpu_s": round(cpu, 3),
        "statements": sum(int(v[1]) for v in by_statement.values()),
        "statement_s": round(sum(v[0] for v in by_statement.values()), 3),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "upserted": sum(t.upserted for t in result.tables),
        "derived": result.derived,
        "phases": {k: round(v, 3) for k, v in sorted(phases.items(), key=lambda kv: -kv[1])},
        "process_written_mb": round((io1["wchar"] - io0["wchar"]) / 1e6, 1),
    }
    if "pid" in backend:
        end = _proc(backend["pid"])
        out["server_cpu_s"] = round(end["cpu"] - backend["start"]["cpu"], 3)
        out["server_written_mb"] = round((end["wchar"] - backend["start"]["wchar"]) / 1e6, 1)
    if pg_wal:  # the whole server's
        with engine.connect() as conn:
            out["server_wal_mb"] = round(
                float(
                    conn.exec_driver_sql(
                        "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %(a)s)", {"a": pg_wal[0]}
                    ).scalar()
                    or 0
                )
                / 1e6,
                1,
            )
    engine.dispose()
    out["tables"] = sorted(
        ({"table": k, "s": round(v, 3)} for k, v in by_table.items()), key=lambda d: -d["s"]
    )
    out["top"] = sorted(
        (
            {"table": k[0], "statement": k[1], "s": round(v[0], 3), "n": int(v[1])}
            for k, v in by_statement.items()
        ),
        key=lambda d: -d["s"],
    )
    return out


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.cd2_profile")
    parser.add_argument("url")
    parser.add_argument("paths", nargs="+", type=Path)
    parser.add_argument("--copy-from")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    if args.copy_from:
        copy_database(args.url, args.copy_from)
    out = profile(args.url, args.paths)
    print(
        f"wall {out['wall']:.2f} s, CPU {out['cpu_s']:.2f} s, {out['statements']} statements"
        f" ({out['statement_s']:.2f} s), written {out['process_written_mb']} MB,"
        f" server CPU {out.get('server_cpu_s')} s, server written {out.get('server_written_mb')}"
        f" MB, load {out['load_average']}"
    )
    print("phases:", ", ".join(f"{k} {v:.2f}" for k, v in out["phases"].items()))
    print("per table:", ", ".join(f"{d['table']} {d['s']:.2f}" for d in out["tables"][:15]))
    for d in out["top"][: args.top]:
        print(f"{d['s']:8.3f} s {d['n']:4d}x  {d['table']:<26} {d['statement']}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main(sys.argv[1:])
