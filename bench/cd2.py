"""Canvas Data 2 import benchmark: a CD2 snapshot of the institution into a fresh database.

    python -m bench.cd2                    # REPORTCARD_BENCH_SIZE (default large)
    python -m bench.cd2 --size medium      # a smoke run
    python -m bench.cd2 --skip-postgres    # SQLite only (or --skip-sqlite)

1. Seeds (or reuses) ``<bench dir>/<size>.sqlite3``, the database ``python -m bench`` uses.
2. Writes it out once as a CD2 snapshot (cached in ``<bench dir>/cd2-<size>-<format>/``) with
   the test exporter ``tests/lms/cd2/export.py``: one directory per CD2 table, gzip files, TSV in
   the condensed layout by default (what ``dap initdb``/``syncdb`` fetch; ``--format jsonl``
   for the ``dap`` CLI's default), and derives from it an incremental touching 1% of the rows
   of every table (every hundredth record, upserted again with a newer ``meta.ts``).
3. On SQLite and on PostgreSQL (``REPORTCARD_BENCH_PG``): imports the snapshot into a fresh
   database with ``reportcard cd2 import --snapshot`` in a child process (rows/s, wall, CPU,
   the child's peak RSS), then the incremental the same way (its wall as a fraction of the
   snapshot's; on PostgreSQL after a ``CHECKPOINT``, :func:`settle_server`). On PostgreSQL,
   first the baseline: one ``psql`` loading the same files with
   ``\\copy`` into bare tables (the same columns, no keys or indexes) of another fresh
   database, printed beside the import with the ratio of their walls.

Targets (issue 14): PostgreSQL >= 150,000 rows/s and within 2x of ``psql \\copy``; SQLite >=
60,000 rows/s; peak RSS < 300 MB; the 1% incremental < 5% of the snapshot's time. Each line
says ``ok`` or ``MISSED``. Results go to ``bench/results/<timestamp>-cd2-<size>.json``.
"""

from __future__ import annotations

import argparse
import compileall
import gzip
import json
import os
import resource
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BENCH_DIR = Path(os.environ.get("REPORTCARD_BENCH_DIR", "var/bench")).resolve()
PG_ADMIN = os.environ.get("REPORTCARD_BENCH_PG", "postgresql://postgres@127.0.0.1/postgres")
INCREMENTAL_TS = "2026-11-03T12:00:00Z"  # after the exporter's snapshot time
EVERY = 100  # the incremental re-sends every hundredth record: 1%

TARGET_PG_ROWS_S = 150_000
TARGET_PG_RATIO = 2.0
TARGET_SQLITE_ROWS_S = 60_000
TARGET_RSS_MB = 300.0
TARGET_INCREMENTAL = 0.05
# Appended to the fresh databases' names, so that two people measuring on one machine do not
# drop each other's (REPORTCARD_BENCH_CD2_TAG=alice: reportcard_bench_cd2_large_alice).
TAG = "".join(ch for ch in os.environ.get("REPORTCARD_BENCH_CD2_TAG", "") if ch.isalnum())
SUFFIX = f"_{TAG}" if TAG else ""

# Bare-table column types of the psql baseline, by the exporter's type shorthand.
PG_TYPES = {
    "i8": "bigint",
    "i4": "integer",
    "i2": "smallint",
    "f8": "double precision",
    "bool": "boolean",
    "ts": "timestamp",
    "date": "date",
}


def mark(ok: bool) -> str:
    return "ok" if ok else "MISSED"


# ---------------------------------------------------------------- the files


def export(size: str, fmt: str) -> tuple[Path, Path, int, int]:
    """The snapshot and incremental directories (made once) and their record counts."""
    from tests.lms.cd2.export import Layout, export_snapshot

    from bench.__main__ import ensure_institution
    from reportcard.db.engine import make_engine

    base = BENCH_DIR / f"cd2-{size}-{fmt}"
    snapshot, incremental, done = base / "snapshot", base / "incremental", base / "counts.json"
    if not done.exists():
        src_url = f"sqlite:///{BENCH_DIR / f'{size}.sqlite3'}"
        ensure_institution(src_url)
        started = time.perf_counter()
        layout = Layout(fmt=fmt, mode="condensed") if fmt != "jsonl" else Layout(fmt="jsonl")
        counts = export_snapshot(make_engine(src_url), snapshot, layout=layout)
        print(
            f"exported {sum(counts.values()):,} CD2 records ({len(counts)} tables) in "
            f"{time.perf_counter() - started:.1f}s",
            flush=True,
        )
        touched = make_incremental(snapshot, incremental, fmt)
        done.write_text(json.dumps({"snapshot": counts, "incremental": touched}, indent=1))
    counts = json.loads(done.read_text())
    read = read_tables()
    return (
        snapshot,
        incremental,
        sum(n for t, n in counts["snapshot"].items() if t in read),
        sum(n for t, n in counts["incremental"].items() if t in read),
    )


def read_tables() -> set[str]:
    """The CD2 tables the importer reads: the rows counted, the files psql loads."""
    from reportcard.lms.cd2.mapping import BY_NAME

    return set(BY_NAME)


def make_incremental(snapshot: Path, target: Path, fmt: str) -> dict[str, int]:
    """Every hundredth record of every snapshot file again, as an upsert with a newer ts.

    Each re-sent record is a real change: its ``updated_at`` (where the table has one, which
    Canvas bumps on every change) becomes the incremental's time, so the row is rewritten, as
    in a real incremental; a record re-sent unchanged would cost the importer next to nothing.
    """
    counts: dict[str, int] = {}
    for table_dir in sorted(p for p in snapshot.iterdir() if p.is_dir()):
        out_dir = target / table_dir.name
        out_dir.mkdir(parents=True, exist_ok=True)
        n = 0
        for path in sorted(table_dir.iterdir()):
            with (
                gzip.open(path, "rt", encoding="utf-8", newline="") as src,
                gzip.open(out_dir / path.name, "wt", encoding="utf-8", newline="") as dst,
            ):
                if fmt == "jsonl":
                    for i, line in enumerate(src):
                        if i % EVERY == 0:
                            rec = json.loads(line)
                            rec["meta"] = {"ts": INCREMENTAL_TS, "action": "U"}
                            if "updated_at" in rec.get("value", {}):
                                rec["value"]["updated_at"] = INCREMENTAL_TS
                            dst.write(json.dumps(rec, separators=(",", ":")) + "\n")
                            n += 1
                    continue
                sep = "\t" if fmt == "tsv" else ","
                header = src.readline().rstrip("\n").split(sep)
                assert header[0] == "meta.ts", (path, header[:3])
                dst.write(sep.join([header[0], "meta.action", *header[1:]]) + "\n")
                stamp = header.index("value.updated_at") if "value.updated_at" in header else -1
                # TSV escapes newlines; the exporter's CSV may quote them (not used for CSV).
                for i, line in enumerate(src):
                    if i % EVERY == 0:
                        cells = line.rstrip("\n").split(sep)
                        if stamp >= 0:
                            cells[stamp] = INCREMENTAL_TS
                        rest = sep.join(cells[1:])
                        dst.write(f"{INCREMENTAL_TS}{sep}U{sep}{rest}\n")
                        n += 1
        counts[table_dir.name] = n
    return counts


# ---------------------------------------------------------------- measured child processes


def child(db_url: str, args: list[str]) -> None:
    """The measured process: ``reportcard ARGS`` on ``db_url``; prints one JSON line last."""
    os.environ["REPORTCARD_DATABASE_URL"] = db_url
    from bench.memory import peak_rss_mb
    from reportcard.cli import main

    started = time.perf_counter()
    code = 0
    try:
        main.main(args=args, standalone_mode=False)
    except SystemExit as exc:
        code = int(exc.code or 0)
    wall = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(
        json.dumps(
            {
                "exit": code,
                "wall": wall,
                "cpu_s": round(usage.ru_utime + usage.ru_stime, 1),
                "peak_rss_mb": peak_rss_mb(),
            }
        ),
        flush=True,
    )


class ChildFailed(Exception):
    """A measured command failed; its output went to stderr."""


def run_child(db_url: str, args: list[str]) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "bench.cd2", "--child", db_url, "--", *args]
    env = dict(os.environ, REPORTCARD_DATA_DIR=str(BENCH_DIR / "cd2-data"))
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env)
    lines = out.stdout.strip().splitlines()
    if out.returncode != 0 or not lines or not lines[-1].startswith("{"):
        sys.stderr.write(out.stdout[-4000:] + out.stderr[-4000:])
        raise ChildFailed(f"failed: reportcard {shlex.join(args)}")
    result: dict[str, Any] = json.loads(lines[-1])
    if result["exit"] != 0:
        sys.stderr.write(out.stdout[-4000:] + out.stderr[-4000:])
        raise ChildFailed(f"exit {result['exit']}: reportcard {shlex.join(args)}")
    try:
        summary = json.loads("\n".join(lines[:-1]))
        result["tables"] = {
            t["table"]: {k: t[k] for k in ("records", "upserted", "deleted") if k in t}
            for t in summary.get("tables", [])
        }
        result["derived"] = summary.get("derived")
    except (ValueError, AttributeError, KeyError, TypeError):
        result["summary"] = "\n".join(lines[:-1])[-2000:]
    return result


def measure_import(
    db_url: str, snapshot: Path, incremental: Path, extra: list[str] | None = None
) -> dict[str, Any]:
    load_before = os.getloadavg()[0]
    extra = extra or []
    snap = run_child(db_url, ["cd2", "import", "--json", *extra, "--snapshot", str(snapshot)])
    settle = settle_server(db_url)
    inc = run_child(db_url, ["cd2", "import", "--json", *extra, str(incremental)])
    found: dict[str, Any] = {
        "snapshot": snap,
        "incremental": inc,
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }
    if settle is not None:
        found["settle_wall"] = round(settle, 2)
    return found


def settle_server(db_url: str, admin_url: str = PG_ADMIN) -> float | None:
    """PostgreSQL: a ``CHECKPOINT`` between the snapshot and its incremental (the admin's
    connection, outside both timed windows); returns its wall. A deployment's incrementals run
    hours after its snapshot, when the server has long written out the snapshot's pages (a
    checkpoint every ``checkpoint_timeout``); right after it, the incremental met the server
    still writing them. The incremental still writes every page it touches first whole to the
    WAL, as it does after any checkpoint. ``admin_url``: a role that may checkpoint (superuser
    or ``pg_checkpoint``). None on SQLite."""
    if not db_url.startswith("postgresql"):
        return None
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(
        make_url(admin_url).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT"
    )
    started = time.perf_counter()
    with admin.connect() as conn:
        conn.execute(text("CHECKPOINT"))
    admin.dispose()
    return time.perf_counter() - started


# ---------------------------------------------------------------- databases


def fresh_sqlite(name: str) -> str:
    target = BENCH_DIR / name
    for suffix in ("", "-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    return f"sqlite:///{target}"


def fresh_postgres(name: str, template: str | None = None) -> str:
    """A new PostgreSQL database ``name`` (dropped first if it exists); ``template``: a copy of
    that database (its files copied, then a ``CHECKPOINT``: nobody may be connected to it)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin_url = make_url(PG_ADMIN).set(drivername="postgresql+psycopg")
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        if template is None:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        else:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY FILE_COPY'))
            conn.execute(text("CHECKPOINT"))
    admin.dispose()
    return str(admin_url.set(database=name).render_as_string(hide_password=False))


def libpq_url(sqlalchemy_url: str) -> str:
    return sqlalchemy_url.replace("postgresql+psycopg://", "postgresql://", 1)


def _column_type(table: str, header: str) -> str:
    from tests.lms.cd2.schema import BY_NAME

    if header == "meta.ts":
        return "timestamp"
    if header.startswith("key."):
        return "bigint"
    parts = header.split(".")
    if header.startswith("value.") and len(parts) == 2 and table in BY_NAME:
        for col in BY_NAME[table].columns:
            if col.name == parts[1]:
                return PG_TYPES.get(col.type, "text")
    return "text"


def psql_baseline(url: str, snapshot: Path) -> dict[str, Any]:
    """One psql loading every snapshot file with \\copy into bare tables of ``url``."""
    create, copies = [], []
    read = read_tables()
    for table_dir in sorted(p for p in snapshot.iterdir() if p.is_dir() and p.name in read):
        files = sorted(table_dir.iterdir())
        with gzip.open(files[0], "rt", encoding="utf-8") as fh:
            header = fh.readline().rstrip("\n").split("\t")
        cols = ", ".join(f'"{h}" {_column_type(table_dir.name, h)}' for h in header)
        create.append(f'CREATE TABLE "{table_dir.name}" ({cols});')
        for path in files:
            program = shlex.join(["gzip", "-dc", str(path)])
            copies.append(
                f"\\copy \"{table_dir.name}\" FROM PROGRAM '{program}' WITH (FORMAT text, HEADER)"
            )
    psql = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", libpq_url(url)]
    subprocess.run([*psql, "-c", "\n".join(create)], check=True, capture_output=True)
    script = BENCH_DIR / "cd2-psql-copy.sql"
    script.write_text("\n".join(copies) + "\n")
    started = time.perf_counter()
    subprocess.run([*psql, "-f", str(script)], check=True, capture_output=True)
    return {"wall": time.perf_counter() - started}


# ---------------------------------------------------------------- main


def report_lines(
    label: str, m: dict[str, Any], records: int, inc_records: int, target_rows_s: int
) -> list[str]:
    snap, inc = m["snapshot"], m["incremental"]
    rate = records / snap["wall"]
    rss = max(snap["peak_rss_mb"], inc["peak_rss_mb"])
    fraction = inc["wall"] / snap["wall"]
    m.update(rows=records, rows_per_s=round(rate), incremental_rows=inc_records)
    m.update(incremental_fraction=round(fraction, 4), peak_rss_mb=rss)
    return [
        f"cd2 snapshot import, {label}: rows={records:,}  rows/s={rate:,.0f}"
        f"  wall={snap['wall']:.1f}s  cpu={snap['cpu_s']}s"
        f" (rows/cpu_s={records / max(snap['cpu_s'], 0.1):,.0f})  peak_rss_mb={snap['peak_rss_mb']}"
        f"  [{mark(rate >= target_rows_s)} >= {target_rows_s:,} rows/s;"
        f" {mark(snap['peak_rss_mb'] < TARGET_RSS_MB)} < {TARGET_RSS_MB:.0f} MB]",
        f"cd2 incremental 1%, {label}: rows={inc_records:,}  wall={inc['wall']:.2f}s"
        f"  fraction_of_snapshot={fraction:.3f}  peak_rss_mb={inc['peak_rss_mb']}"
        f"  [{mark(fraction < TARGET_INCREMENTAL)} < {TARGET_INCREMENTAL:.0%}]"
        f"  load={m['load_average']}"
        + (f"  (after a CHECKPOINT of {m['settle_wall']:.1f}s)" if "settle_wall" in m else ""),
    ]


def ensure_bytecode() -> None:
    """Compile reportcard's modules to bytecode before the measured children start.

    An installed reportcard has it (``pip install`` of the wheel compiles every module), but an
    editable install run with ``PYTHONDONTWRITEBYTECODE=1`` (as this machine's environment
    sets) never writes it, so each child compiled the modules it imports inside its timer
    (about 47 ms of the incremental's). ``compileall`` writes it whatever that variable says;
    an up-to-date ``.pyc`` is left alone.
    """
    compileall.compile_dir(str(ROOT / "src" / "reportcard"), quiet=1)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.cd2", description=__doc__.split("\n")[0])
    parser.add_argument("--size", default=os.environ.get("REPORTCARD_BENCH_SIZE", "large"))
    parser.add_argument("--format", default="tsv", choices=("tsv", "jsonl"))
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument(
        "--connections",
        type=int,
        default=None,
        help="PostgreSQL: cd2 import --connections N (default: the CLI's, 2)",
    )
    args = parser.parse_args(argv)
    os.environ["REPORTCARD_BENCH_SIZE"] = args.size  # read by bench.__main__ on import
    from bench.__main__ import write_results

    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    ensure_bytecode()
    snapshot, incremental, records, inc_records = export(args.size, args.format)
    results: dict[str, Any] = {
        "size": args.size,
        "format": args.format,
        "when": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "records": records,
        "incremental_records": inc_records,
    }
    lines: list[str] = []
    if not args.skip_postgres:
        base = fresh_postgres(f"reportcard_bench_cd2copy_{args.size}{SUFFIX}")
        copy = psql_baseline(base, snapshot) if args.format == "tsv" else None
        if copy is not None:
            results["psql_copy_wall"] = round(copy["wall"], 2)
        url = fresh_postgres(f"reportcard_bench_cd2_{args.size}{SUFFIX}")
        try:
            extra = [] if args.connections is None else ["--connections", str(args.connections)]
            pg = measure_import(url, snapshot, incremental, extra)
            if args.connections is not None:
                pg["connections"] = args.connections
        except ChildFailed as exc:
            pg = {"error": str(exc)}
            lines.append(f"cd2 import, PostgreSQL: FAILED ({exc})")
        else:
            lines += report_lines("PostgreSQL", pg, records, inc_records, TARGET_PG_ROWS_S)
        if copy is not None and "error" in pg:
            lines.append(f"baseline: psql \\copy: rows={records:,}  wall={copy['wall']:.1f}s")
            copy = None
        if copy is not None:
            ratio = pg["snapshot"]["wall"] / copy["wall"]
            pg.update(psql_copy_wall=round(copy["wall"], 2), ratio_to_copy=round(ratio, 2))
            lines.append(
                f"baseline: psql \\copy, same files into bare tables: rows={records:,}"
                f"  rows/s={records / copy['wall']:,.0f}  wall={copy['wall']:.1f}s"
                f"  | import/copy ratio={ratio:.2f} [{mark(ratio <= TARGET_PG_RATIO)}"
                f" <= {TARGET_PG_RATIO}]"
            )
        results["postgresql"] = pg
    if not args.skip_sqlite:
        url = fresh_sqlite(f"cd2-import-{args.size}{SUFFIX}.sqlite3")
        try:
            lite = measure_import(url, snapshot, incremental)
        except ChildFailed as exc:
            lite = {"error": str(exc)}
            lines.append(f"cd2 import, SQLite: FAILED ({exc})")
        else:
            lines += report_lines("SQLite", lite, records, inc_records, TARGET_SQLITE_ROWS_S)
        results["sqlite"] = lite
    for line in lines:
        print(line)
    if lines:
        write_results(results, "cd2")


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "--child":
        rest = sys.argv[3:]
        child(sys.argv[2], rest[1:] if rest[:1] == ["--"] else rest)
    else:
        main(sys.argv[1:])
