"""Write a reportcard institution out as Canvas Data 2 files, following the spec (not the importer).

``export_snapshot(engine, DIR)`` writes one directory per CD2 table,
``DIR/<table>/part-00000.jsonl.gz`` (more parts with ``rows_per_file``), every record
``{"meta":{"ts":…},"key":{"id":…},"value":{…}}`` with null properties omitted (spec §3).
``fmt="tsv"`` or ``"csv"`` writes tabular files with a header of ``meta.ts``, ``key.id``,
``value.<column>`` (``expanded``: one column per struct member, ``value.settings.course_format``;
``condensed``: one JSON column, null members omitted, NULL when all are). Snapshots carry no
``meta.action``.

``export_incremental(old_engine, new_engine, DIR, ts)`` compares the CD2 view of two states of
the same institution table by table (both streams are ordered by key, so the merge holds one
row of each side) and writes only what changed: upserts (``meta.action`` ``U``, every field) and
deletes (``D``, the key only), consolidated per key as DAP does.

Which tables and columns, and how reportcard's shapes read as CD2's: tests/lms/cd2/schema.py and
tests/lms/cd2/queries.py (their docstrings list what CD2 does not carry, which is not written).
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import Connection, Engine, text

from tests.lms.cd2.queries import QUERIES, SIDE_QUERIES
from tests.lms.cd2.schema import BY_NAME, TABLES, Cd2Table, Col

SNAPSHOT_TS = "2026-11-02T12:00:00Z"
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, check_circular=False)
Row = dict[str, Any]


# ---------------------------------------------------------------- values


def format_ts(value: Any) -> str | None:
    """A CD2 timestamp: ``YYYY-MM-DDThh:mm:ss[.ffffff]Z`` (UTC; reportcard stores naive UTC)."""
    if value is None:
        return None
    if isinstance(value, str):
        # SQLite's text form: 'YYYY-MM-DD hh:mm:ss[.ffffff]'
        if len(value) == 26 and value.endswith(".000000"):
            return f"{value[:10]}T{value[11:19]}Z"
        head, _, frac = value.partition(".")
        frac = frac.rstrip("0")
        return f"{head[:10]}T{head[11:19]}{'.' + frac if frac else ''}Z"
    assert isinstance(value, dt.datetime), value
    frac = f".{value.microsecond:06d}".rstrip("0") if value.microsecond else ""
    return f"{value:%Y-%m-%dT%H:%M:%S}{frac}Z"


def _json_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))


def _convert(col: Col) -> Callable[[Any], Any]:
    t = col.type
    if t == "ts":
        return format_ts
    if t == "bool":
        return lambda v: None if v is None else bool(v)
    if t == "f8":
        return lambda v: None if v is None else float(v)
    if t in ("i8", "i4", "i2"):
        return lambda v: None if v is None else int(v)
    if t == "json":
        return _json_text
    if t.endswith("[]"):
        return lambda v: [] if v is None else [s for s in str(v).split(",") if s]
    return lambda v: v


# ---------------------------------------------------------------- reading the institution


def _side(conn: Connection, table: str) -> dict[int, list[tuple[Any, ...]]]:
    out: dict[int, list[tuple[Any, ...]]] = {}
    if table in SIDE_QUERIES:
        for owner, *rest in conn.execute(text(SIDE_QUERIES[table])):
            out.setdefault(int(owner), []).append(tuple(rest))
    return out


def _fold(table: str, row: Any, side: dict[int, list[tuple[Any, ...]]]) -> Any:
    """The column of ``table`` built from side rows (Canvas's serialized columns)."""
    if table == "grading_standards":
        return json.dumps([[n, float(b)] for n, b in side.get(row["id"], [])])
    if table == "learning_outcomes":
        if row["points_possible"] is None:
            return None
        criterion = {
            "description": row["short_description"],
            "mastery_points": row["mastery_points"],
            "points_possible": row["points_possible"],
            "ratings": [{"description": d, "points": float(p)} for d, p in side.get(row["id"], [])],
        }
        return json.dumps({"rubric_criterion": criterion}, separators=(",", ":"))
    raise AssertionError(table)


def single_root(conn: Connection) -> int:
    roots = conn.execute(text("SELECT id FROM accounts WHERE parent_account_id IS NULL")).all()
    assert len(roots) == 1, "a CD2 export is of one root account; this database holds more"
    return int(roots[0][0])


def _raw_rows(conn: Connection, sql: str) -> Iterator[tuple[list[str], Iterator[Any]]]:
    """Column names and rows of ``sql`` straight from the driver (streamed on PostgreSQL)."""
    dbapi = conn.connection.dbapi_connection
    assert dbapi is not None
    if conn.dialect.name == "postgresql":
        cur = dbapi.cursor(name="cd2_export")  # server-side: flat memory
        cur.itersize = 5000
    else:
        cur = dbapi.cursor()
    try:
        cur.execute(sql)
        names = [d[0] for d in cur.description]

        def rows() -> Iterator[Any]:
            while batch := cur.fetchmany(5000):
                yield from batch

        yield names, rows()
    finally:
        cur.close()


def table_rows(conn: Connection, table: Cd2Table) -> Iterator[tuple[int, Row]]:
    """``(key, value)`` of every row of ``table``, ordered by key; NULL values are left out."""
    side = _side(conn, table.name)
    for names, rows in _raw_rows(conn, QUERIES[table.name]):
        pos = {n: i for i, n in enumerate(names)}
        key_at = pos[table.key]
        plain: list[tuple[str, int, Callable[[Any], Any] | None]] = []
        structs: list[tuple[str, list[tuple[str, int]]]] = []
        folded = None
        for col in table.columns:
            if col.type == "struct":
                structs.append((col.name, [(m, pos[f"{col.name}__{m}"]) for m in col.members]))
            elif table.name in SIDE_QUERIES and col.name == "data":
                folded = col.name
            else:
                fn = _convert(col) if col.type not in ("v255", "text", "enum", "v4096") else None
                plain.append((col.name, pos[col.name], fn))
        for r in rows:
            value: Row = {}
            for name, at, fn in plain:
                v = r[at]
                if v is not None:
                    value[name] = fn(v) if fn else v
            for name, members in structs:
                sv = {m: _json_text(r[at]) for m, at in members if r[at] is not None}
                if sv:
                    value[name] = sv
            if folded:
                fv = _fold(table.name, dict(zip(names, r, strict=True)), side)
                if fv is not None:
                    value[folded] = fv
            yield int(r[key_at]), value


# ---------------------------------------------------------------- writing records


@dataclass(frozen=True)
class Layout:
    fmt: str = "jsonl"  # jsonl | tsv | csv
    mode: str = "expanded"  # expanded | condensed (tabular formats only)
    gzip: bool = True

    @property
    def suffix(self) -> str:
        return f".{self.fmt}" + (".gz" if self.gzip else "")


def tabular_columns(table: Cd2Table, mode: str) -> list[tuple[str, Col, str | None]]:
    """(header name, column, struct member or None) of a tabular file's value columns."""
    out: list[tuple[str, Col, str | None]] = []
    for col in table.columns:
        if col.type == "struct" and mode == "expanded":
            out += [(f"value.{col.name}.{m}", col, m) for m in col.members]
        else:
            out.append((f"value.{col.name}", col, None))
    return out


def _text_field(col: Col, member: str | None, value: Row | None) -> Any:
    """A value as text for TSV/CSV (None stays None: NULL)."""
    if value is None:
        return None
    v = value.get(col.name)
    if member is not None:
        v = None if v is None else v.get(member)
    elif col.type == "struct" or col.type.endswith("[]"):
        v = None if v is None else json.dumps(v, separators=(",", ":"), ensure_ascii=False)
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    return str(v)


_TSV_ESCAPES = str.maketrans(
    {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\b": "\\b", "\f": "\\f", "\v": "\\v"}
)


def tsv_field(v: str | None) -> str:
    return "\\N" if v is None else v.translate(_TSV_ESCAPES)


class _Writer:
    def __init__(self, table: Cd2Table, directory: Path, layout: Layout, action: bool,
                 rows_per_file: int | None) -> None:  # fmt: skip
        self.table, self.dir, self.layout = table, directory, layout
        self.action, self.rows_per_file = action, rows_per_file
        self.fh: TextIO | None = None
        self.part = 0
        self.in_part = 0
        self.count = 0
        self.columns = tabular_columns(table, layout.mode)
        self.csv: Any = None

    def _open(self) -> TextIO:
        self.dir.mkdir(parents=True, exist_ok=True)
        path = self.dir / f"part-{self.part:05d}{self.layout.suffix}"
        raw: TextIO
        if self.layout.gzip:
            raw = gzip.open(path, "wt", encoding="utf-8", newline="", compresslevel=1)  # noqa: SIM115
        else:
            raw = open(path, "w", encoding="utf-8", newline="")  # noqa: SIM115
        self.fh = raw
        self.in_part = 0
        header = ["meta.ts"] + (["meta.action"] if self.action else []) + [f"key.{self.table.key}"]
        header += [h for h, _c, _m in self.columns]
        if self.layout.fmt == "tsv":
            raw.write("\t".join(header) + "\n")
        elif self.layout.fmt == "csv":
            self.csv = _CsvWriter(raw)
            self.csv.writerow(header)
        return raw

    def write(self, ts: str, action: str, key: int, value: Row | None) -> None:
        fh = self.fh
        if fh is None or (self.rows_per_file and self.in_part >= self.rows_per_file):
            self.close()
            if fh is not None:
                self.part += 1
            fh = self._open()
        self.in_part += 1
        self.count += 1
        fmt = self.layout.fmt
        if fmt == "jsonl":
            meta: Row = {"ts": ts}
            if self.action:
                meta["action"] = action
            rec: Row = {"meta": meta, "key": {self.table.key: key}}
            if value is not None:
                rec["value"] = value
            fh.write(_ENCODER.encode(rec) + "\n")
            return
        fields = [_text_field(c, m, value) for _h, c, m in self.columns]
        lead = [ts] + ([action] if self.action else []) + [str(key)]
        if fmt == "tsv":
            fh.write("\t".join(lead + [tsv_field(f) for f in fields]) + "\n")
        else:
            # NULL: unquoted NULL (a D row's value fields: nothing); "" stays a quoted empty.
            absent = _CsvMissing if value is None else _CsvNull
            out = lead + [absent if f is None else f for f in fields]
            self.csv.writerow(out)

    def close(self) -> None:
        if self.fh is not None:
            self.fh.close()
            self.fh = None


class _NullMarker(str):
    pass


_CsvNull = _NullMarker("NULL")
_CsvMissing = _NullMarker("")  # a D row's value fields: nothing between the commas


class _CsvWriter:
    """RFC 4180 with the CD2 rules: ``""`` for the empty string, unquoted ``NULL`` for NULL."""

    def __init__(self, fh: TextIO) -> None:
        self.fh = fh

    def writerow(self, row: Iterable[Any]) -> None:
        out = []
        for f in row:
            if f is _CsvNull:
                out.append("NULL")
            elif f is _CsvMissing:
                out.append("")
            elif f == "" or any(ch in f for ch in ',"\r\n\t') or f == "NULL":
                out.append('"' + f.replace('"', '""') + '"')
            else:
                out.append(f)
        self.fh.write(",".join(out) + "\n")


# ---------------------------------------------------------------- snapshot and incremental


def export_snapshot(
    engine: Engine,
    directory: Path,
    *,
    layout: Layout | None = None,
    ts: str = SNAPSHOT_TS,
    tables: Iterable[str] | None = None,
    rows_per_file: int | None = None,
) -> dict[str, int]:
    """Write every table (or ``tables``) as a CD2 snapshot under ``directory``; rows per table."""
    layout = layout or Layout()
    counts: dict[str, int] = {}
    with engine.connect() as conn:
        single_root(conn)
        for table in _selected(tables):
            w = _Writer(table, directory / table.name, layout, False, rows_per_file)
            for key, value in table_rows(conn, table):
                w.write(ts, "U", key, value)
            if w.count == 0:
                w._open()  # an empty table still gets its (header-only) file
            w.close()
            counts[table.name] = w.count
    return counts


def diff_rows(
    old: Iterator[tuple[int, Row]], new: Iterator[tuple[int, Row]]
) -> Iterator[tuple[str, int, Row | None]]:
    """Merge two key-ordered streams: ``("U", key, value)`` new or changed, ``("D", key, None)``."""
    end = (None, None)
    a = next(old, end)
    b = next(new, end)
    while a[0] is not None or b[0] is not None:
        if b[0] is None or (a[0] is not None and a[0] < b[0]):
            yield "D", a[0], None  # type: ignore[misc]
            a = next(old, end)
        elif a[0] is None or b[0] < a[0]:
            yield "U", b[0], b[1]
            b = next(new, end)
        else:
            if a[1] != b[1]:
                yield "U", b[0], b[1]
            a = next(old, end)
            b = next(new, end)


def export_incremental(
    old_engine: Engine,
    new_engine: Engine,
    directory: Path,
    ts: str,
    *,
    layout: Layout | None = None,
    tables: Iterable[str] | None = None,
) -> dict[str, tuple[int, int]]:
    """Write what changed from ``old_engine``'s state to ``new_engine``'s; (upserts, deletes)."""
    layout = layout or Layout()
    counts: dict[str, tuple[int, int]] = {}
    with old_engine.connect() as oc, new_engine.connect() as nc:
        for table in _selected(tables):
            w = _Writer(table, directory / table.name, layout, True, None)
            ups = dels = 0
            for action, key, value in diff_rows(table_rows(oc, table), table_rows(nc, table)):
                w.write(ts, action, key, value)
                ups += action == "U"
                dels += action == "D"
            w.close()
            if ups or dels:
                counts[table.name] = (ups, dels)
    return counts


def _selected(names: Iterable[str] | None) -> list[Cd2Table]:
    if names is None:
        return list(TABLES)
    return [BY_NAME[n] for n in names]


def read_jsonl(path: Path) -> list[Row]:
    """The records of one (optionally gzipped) JSONL file: for tests of the exporter itself."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:  # type: ignore[operator]
        return [json.loads(line) for line in io.StringIO(fh.read())]
