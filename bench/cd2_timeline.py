"""Where a CD2 snapshot import's wall clock goes, connection by connection (PostgreSQL):
``python -m bench.cd2_timeline [--size large] [--connections N]``.

Imports the snapshot ``bench.cd2`` exported (``<bench dir>/cd2-<size>-tsv/snapshot``) in-process
into a fresh database (``reportcard_bench_cd2tl_<size>``, ``REPORTCARD_BENCH_CD2_TAG`` appended
as in ``bench.cd2``) with ``import_paths(..., snapshot=True, connections=N)``, and records on
each connection's thread what it did when: each table's staging (``COPY``), preparing (a first
load's bookkeeping), waiting for its turn to apply, applying, waiting for the table before it
to commit, the state and commit; then the derived rebuild and the ``ANALYZE``s. Every
statement is classed by its text (targets' inserts, bookkeeping, keys, foreign keys, indexes,
associations, ``ANALYZE``...) with the wall and the backend's CPU seconds it took (read from
``/proc/<backend pid>/stat`` before and after: the server's own work, which the import
process's CPU does not hold; parallel workers' CPU is not in it). The machine's idle CPU is
sampled every half second.

Prints the CPU per class, each table's span on its connection, a chart (one line per
connection, one character per time step: ``S`` staging, ``P`` preparing, ``A`` applying,
``w`` waiting to apply, ``c`` waiting to commit, ``D`` the derived rebuild, ``Z`` analyzing,
``B`` a deferred index build, ``.`` nothing; below, the machine's busy cores), the chain
of waits that ends last (the critical path), and the import's core-seconds: its backends',
their parallel workers' (sampled every 0.2 s from the processes titled ``parallel worker for
PID <backend>``) and the import process's own, against the cores over the wall (on a quiet
machine: how much of the two cores the import leaves idle). ``--json FILE`` writes every
interval and statement.

``--incremental DB`` applies the export's incremental (``<bench dir>/cd2-<size>-tsv/
incremental``) instead, to ``reportcard_bench_cd2tli_<size>``, a copy of the database ``DB``
(one holding the snapshot, e.g. kept by ``--keep``; copied with ``STRATEGY FILE_COPY``, then a
``CHECKPOINT``, as ``bench.cd2`` settles the server before its incremental), so the same
incremental can be drawn again on the same start.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import resource
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.cd2 import BENCH_DIR, SUFFIX, fresh_postgres

TICKS = os.sysconf("SC_CLK_TCK")

# (class, pattern over the statement's start), first match wins.
CLASSES = [
    ("bookkeeping", re.compile(r"INSERT INTO cd2_rows_")),
    ("associations", re.compile(r"INSERT INTO user_account_associations")),
    ("insert", re.compile(r"INSERT INTO ")),
    ("keys", re.compile(r"ALTER TABLE \S+ ADD CONSTRAINT \S+ (PRIMARY KEY|UNIQUE)")),
    ("foreign keys", re.compile(r"ALTER TABLE \S+ ADD CONSTRAINT \S+ FOREIGN KEY")),
    ("indexes", re.compile(r"CREATE (UNIQUE )?INDEX")),
    ("analyze", re.compile(r"ANALYZE")),
    ("delete", re.compile(r"DELETE ")),
    ("update", re.compile(r"UPDATE ")),
]


def classify(statement: str) -> str:
    s = " ".join(statement.split())
    for name, pattern in CLASSES:
        if pattern.match(s):
            return name
    return "other"


def backend_cpu(pid: int) -> float:
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(stat[11]) + int(stat[12])) / TICKS


def machine_busy() -> tuple[float, float]:
    """(busy, all) jiffies of the machine since boot."""
    parts = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = parts[3] + parts[4]
    return float(sum(parts[:8]) - idle), float(sum(parts[:8]))


class Recorder:
    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.local = threading.local()
        self.lock = threading.Lock()
        self.spans: list[dict[str, Any]] = []
        self.statements: list[dict[str, Any]] = []
        self.busy: list[tuple[float, float]] = []  # (time, busy cores)
        self.stop = threading.Event()
        # The import's backends (CPU when first seen, last seen) and their parallel workers
        # (last seen; they start at 0), sampled by sample_processes.
        self.backends: dict[int, list[float]] = {}
        self.workers: dict[int, float] = {}
        self.sampling_cpu = 0.0  # the process sampler's own CPU (in the import process's)

    def now(self) -> float:
        return time.perf_counter() - self.t0

    def thread(self) -> str:
        return threading.current_thread().name

    def span(self, kind: str, table: str, pid: int | None, fn: Callable[[], Any]) -> Any:
        c0 = backend_cpu(pid) if pid else 0.0
        start = self.now()
        try:
            return fn()
        finally:
            end = self.now()
            cpu = (backend_cpu(pid) - c0) if pid else 0.0
            with self.lock:
                self.spans.append(
                    {
                        "thread": self.thread(),
                        "table": table,
                        "kind": kind,
                        "start": round(start, 3),
                        "end": round(end, 3),
                        "cpu": round(cpu, 3),
                    }
                )

    def seen(self, pid: int, cpu: float) -> None:
        with self.lock:
            got = self.backends.setdefault(pid, [cpu, cpu])
            got[1] = max(got[1], cpu)

    def sample_processes(self, every: float = 0.2) -> None:
        """The CPU of the import's backends and of their parallel workers (processes titled
        ``parallel worker for PID <backend>``), every ``every`` s: a worker ending between two
        samples loses at most its last ``every`` s."""
        start = time.thread_time()
        while not self.stop.wait(every):
            with self.lock:
                pids = set(self.backends)
            for pid in pids:
                with contextlib.suppress(OSError, IndexError, ValueError):  # (ended)
                    self.seen(pid, backend_cpu(pid))
            marks = tuple(f"parallel worker for PID {pid}".encode() for pid in pids)
            for entry in os.scandir("/proc"):
                if not entry.name.isdigit():
                    continue
                with contextlib.suppress(OSError, IndexError, ValueError):  # (ended)
                    title = Path(f"/proc/{entry.name}/cmdline").read_bytes()
                    if any(m in title for m in marks):
                        self.workers[int(entry.name)] = backend_cpu(int(entry.name))
        self.sampling_cpu = time.thread_time() - start

    def sample(self) -> None:
        last = machine_busy()
        while not self.stop.wait(0.5):
            cur = machine_busy()
            d_all = cur[1] - last[1]
            cores = os.cpu_count() or 1
            busy = cores * (cur[0] - last[0]) / d_all if d_all else 0.0
            self.busy.append((round(self.now(), 2), round(busy, 2)))
            last = cur


def pid_of(conn: Any) -> int:
    return int(conn.connection.driver_connection.info.backend_pid)


def instrument(rec: Recorder, engine: Any) -> Callable[[], None]:
    from sqlalchemy import event

    from reportcard.lms.cd2 import importer

    undo: list[tuple[Any, str, Any]] = []

    def patch(owner: Any, name: str, new: Any) -> None:
        undo.append((owner, name, getattr(owner, name)))
        setattr(owner, name, new)

    starts: dict[int, tuple[float, float, int]] = {}

    @event.listens_for(engine, "before_cursor_execute")
    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        pid = pid_of(conn)
        cpu = backend_cpu(pid)
        rec.seen(pid, cpu)
        starts[id(cursor)] = (rec.now(), cpu, pid)

    @event.listens_for(engine, "after_cursor_execute")
    def after(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        got = starts.pop(id(cursor), None)
        if got is None:
            return
        start, c0, pid = got
        with rec.lock:
            rec.statements.append(
                {
                    "thread": rec.thread(),
                    "table": getattr(rec.local, "table", "-"),
                    "class": classify(statement),
                    "start": round(start, 3),
                    "end": round(rec.now(), 3),
                    "cpu": round(backend_cpu(pid) - c0, 3),
                    "sql": " ".join(statement.split())[:200],
                }
            )

    load_table = importer._load_table
    stage_file = importer.stage_file
    prepare = importer.prepare_staged
    apply = importer.apply_staged
    record = importer.state.record
    analyze = importer._analyze
    rebuild = importer.derived.rebuild

    def timed_load(conn: Any, t: Any, *args: Any, **kwargs: Any) -> Any:
        rec.local.table = t.name
        turn = kwargs.get("turn")
        if turn is not None:
            kwargs["turn"] = importer.Turn(
                apply=lambda first: rec.span("wait", t.name, None, lambda: turn.apply(first)),
                commit=lambda: rec.span("commit wait", t.name, None, turn.commit),
            )
        try:
            return rec.span("load", t.name, None, lambda: load_table(conn, t, *args, **kwargs))
        finally:
            rec.local.table = "-"

    def timed(kind: str, fn: Any, table_of: Callable[..., str]) -> Any:
        def run(conn: Any, *args: Any, **kwargs: Any) -> Any:
            name = table_of(*args)
            return rec.span(kind, name, pid_of(conn), lambda: fn(conn, *args, **kwargs))

        return run

    def name_of(t: Any, *rest: Any) -> str:
        return str(getattr(t, "name", t))

    patch(importer, "_load_table", timed_load)
    patch(importer, "stage_file", timed("stage", stage_file, name_of))
    patch(importer, "prepare_staged", timed("prepare", prepare, name_of))
    patch(importer, "apply_staged", timed("apply", apply, name_of))
    patch(importer.state, "record", timed("state", record, lambda *a: "-"))
    patch(importer, "_analyze", timed("analyze", analyze, lambda names: f"{len(names)} tables"))
    patch(importer.derived, "rebuild", timed("derived", rebuild, lambda *a: "derived"))
    build = importer.build
    patch(importer, "build", timed("build", build, lambda defs, *a: "index"))

    def restore() -> None:
        for owner, name, original in reversed(undo):
            setattr(owner, name, original)
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)

    return restore


def with_settings(settings: dict[str, str], restore: Callable[[], None]) -> Callable[[], None]:
    """``apply.bulk_settings`` also sets ``settings`` (SET LOCAL); returns the undo."""
    from reportcard.lms.cd2 import apply

    original = apply.bulk_settings

    def bulk_settings(conn: Any) -> None:
        original(conn)
        for name, value in settings.items():
            conn.exec_driver_sql("SELECT set_config(%(n)s, %(v)s, true)", {"n": name, "v": value})

    apply.bulk_settings = bulk_settings

    def undo() -> None:
        apply.bulk_settings = original
        restore()

    return undo


CHARS = {
    "stage": "S",
    "prepare": "P",
    "apply": "A",
    "wait": "w",
    "commit wait": "c",
    "derived": "D",
    "analyze": "Z",
    "build": "B",
}
# Drawn over each other in this order (a wait inside an apply shows as the wait).
LAYERS = (
    "load",
    "stage",
    "prepare",
    "apply",
    "wait",
    "commit wait",
    "derived",
    "analyze",
    "build",
)


def chart(rec: Recorder, wall: float, width: int = 100) -> list[str]:
    step = max(wall / width, 0.01)
    threads = sorted({s["thread"] for s in rec.spans})
    lines = [f"one character = {step:.2f} s"]
    for th in threads:
        row = ["."] * (int(wall / step) + 1)
        for layer in LAYERS:
            for s in rec.spans:
                if s["thread"] != th or s["kind"] != layer or layer == "load":
                    continue
                for k in range(int(s["start"] / step), int(s["end"] / step) + 1):
                    if k < len(row):
                        row[k] = CHARS[layer]
        lines.append(f"{th:>14} |{''.join(row)}|")
    cores = os.cpu_count() or 1
    row = []
    for k in range(int(wall / step) + 1):
        got = [b for t, b in rec.busy if k * step <= t < (k + 1) * step]
        v = sum(got) / len(got) if got else 0.0
        row.append(str(min(9, round(v))) if got else " ")
    lines.append(f"{'busy of ' + str(cores):>14} |{''.join(row)}|")
    return lines


def report(rec: Recorder, wall: float, out: dict[str, Any]) -> None:
    by_class: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0])
    for s in rec.statements:
        c = by_class[s["class"]]
        c[0] += s["cpu"]
        c[1] += s["end"] - s["start"]
        c[2] += 1
    stage = [s for s in rec.spans if s["kind"] == "stage"]
    by_class["copy (staging)"] = [
        sum(s["cpu"] for s in stage),
        sum(s["end"] - s["start"] for s in stage),
        len(stage),
    ]
    total = sum(v[0] for v in by_class.values())
    print(f"backend CPU by statement class ({total:.1f} s in all; wall {wall:.1f} s):")
    for name, (cpu, spent, n) in sorted(by_class.items(), key=lambda kv: -kv[1][0]):
        print(f"  {name:<16} {cpu:7.2f} CPU-s  {spent:7.2f} s wall  {int(n):5d} statements")
    print("per table (connection: stage / prepare / wait / apply / commit wait, start-end):")
    tables: dict[str, dict[str, Any]] = {}
    for s in rec.spans:
        if s["kind"] in ("derived", "analyze", "state", "build"):
            continue
        d = tables.setdefault(s["table"], {"thread": s["thread"], "start": s["start"]})
        d[s["kind"]] = d.get(s["kind"], 0.0) + (s["end"] - s["start"])
        d[s["kind"] + " cpu"] = d.get(s["kind"] + " cpu", 0.0) + s["cpu"]
        if s["kind"] == "load":
            d["end"] = s["end"]
        if s["kind"] == "apply":
            d["apply at"] = s["start"]
    shortest = 0.5 if wall > 20 else 0.05  # an incremental's tables take less
    for name, d in sorted(tables.items(), key=lambda kv: kv[1]["start"]):
        if d.get("load", 0) < shortest:
            continue
        steps = " / ".join(
            f"{d.get(k, 0):5.1f}" for k in ("stage", "prepare", "wait", "apply", "commit wait")
        )
        print(
            f"  {name:<28} {d['thread'][-1]}: {steps}   {d['start']:6.2f}-{d.get('end', 0):6.2f}"
            f"  apply at {d.get('apply at', 0):6.2f}  (apply CPU {d.get('apply cpu', 0):.2f})"
        )
    for s in rec.spans:
        if s["kind"] in ("derived", "analyze"):
            print(
                f"  {s['kind']:<10} {s['table']:<17} {s['thread'][-1]}: {s['start']:6.2f}-"
                f"{s['end']:6.2f}  CPU {s['cpu']:.2f}"
            )
    for line in chart(rec, wall):
        print(line)
    busy = [b for _, b in rec.busy]
    if busy:
        print(f"machine busy cores: mean {sum(busy) / len(busy):.2f} of {os.cpu_count()}")
    out["by_class"] = {k: [round(x, 3) for x in v] for k, v in by_class.items()}


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.cd2_timeline")
    parser.add_argument("--size", default=os.environ.get("REPORTCARD_BENCH_SIZE", "large"))
    parser.add_argument("--connections", type=int, default=2)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--incremental",
        metavar="DB",
        help="apply the export's incremental to a copy of the database DB (a snapshot"
        " imported, e.g. kept by --keep) instead of importing the snapshot",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a server setting for every table's transaction and the derived rebuild, beside"
        " the import's own (apply.bulk_settings), to measure one: --set jit=off",
    )
    args = parser.parse_args(argv)
    which = "incremental" if args.incremental else "snapshot"
    files = BENCH_DIR / f"cd2-{args.size}-tsv" / which
    if not files.is_dir():
        sys.exit(f"no CD2 export at {files}: run python -m bench.cd2 --size {args.size} first")

    from sqlalchemy import text

    from reportcard.db.engine import make_engine
    from reportcard.db.migrate import upgrade
    from reportcard.lms.cd2.importer import import_paths

    name = f"reportcard_bench_cd2tl{'i' if args.incremental else ''}_{args.size}{SUFFIX}"
    url = fresh_postgres(name, args.incremental)
    engine = make_engine(url)
    upgrade(engine)
    if not args.incremental:  # (the copy was followed by one)
        with engine.connect() as conn:
            conn.execute(text("CHECKPOINT"))
            conn.commit()
    rec = Recorder()
    restore = instrument(rec, engine)
    if args.set:
        restore = with_settings(dict(kv.split("=", 1) for kv in args.set), restore)
    sampler = threading.Thread(target=rec.sample, daemon=True)
    processes = threading.Thread(target=rec.sample_processes, daemon=True)
    load0 = os.getloadavg()[0]
    sampler.start()
    processes.start()
    own0 = resource.getrusage(resource.RUSAGE_SELF)
    rec.t0 = time.perf_counter()
    try:
        result = import_paths(
            engine, [files], snapshot=not args.incremental, connections=args.connections
        )
    finally:
        wall = rec.now()
        own1 = resource.getrusage(resource.RUSAGE_SELF)
        rec.stop.set()
        processes.join()
        restore()
    records = sum(t.records for t in result.tables)
    out: dict[str, Any] = {
        "size": args.size,
        "import": which,
        "connections": args.connections,
        "wall": round(wall, 3),
        "records": records,
        "load_average": [round(load0, 2), round(os.getloadavg()[0], 2)],
    }
    print(
        f"{records:,} records in {wall:.1f} s ({records / wall:,.0f} rows/s),"
        f" {args.connections} connections, load {out['load_average']}"
    )
    report(rec, wall, out)
    own = own1.ru_utime + own1.ru_stime - own0.ru_utime - own0.ru_stime - rec.sampling_cpu
    cpu = {
        "backends": round(sum(last - first for first, last in rec.backends.values()), 2),
        "parallel_workers": round(sum(rec.workers.values()), 2),
        "import_process": round(own, 2),
    }
    cpu["all"] = round(sum(cpu.values()), 2)
    cores = os.cpu_count() or 1
    out["cpu"] = cpu
    print(
        f"core-seconds: backends {cpu['backends']:.1f}, their parallel workers"
        f" {cpu['parallel_workers']:.1f} ({len(rec.workers)} sampled), the import process"
        f" {cpu['import_process']:.1f}: {cpu['all']:.1f} in all, {cpu['all'] / wall:.2f} of"
        f" the {cores} cores over the wall"
    )
    engine.dispose()
    if not args.keep:
        from sqlalchemy import create_engine
        from sqlalchemy.engine import make_url

        admin = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    if args.json:
        out.update(spans=rec.spans, statements=rec.statements, busy=rec.busy)
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main(sys.argv[1:])
