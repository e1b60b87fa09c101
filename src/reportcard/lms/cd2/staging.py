"""Staging: the raw records of one CD2 table in a temporary table, before the apply.

The staging table of CD2 table ``T`` is the temporary table ``cd2_stage_T`` (see
:func:`stage_name`) of the connection. Its columns:

* ``seq``: arrival order (a later record wins a tie on ``meta.ts``). On PostgreSQL a staging
  table made with ``ordered=False`` leaves it NULL (see :func:`create_stage`);
* ``key``, ``ts``, ``action``: the record's key, ``meta.ts`` and ``meta.action`` (NULL = ``U``);
* ``"value.<field>"``: one per field the declaration reads (:attr:`Cd2Table.fields`), named
  like the tabular header (``"value.settings.course_format"``). On PostgreSQL a staging table
  may also hold any other ``value.*`` column of the files (a condensed ``"value.settings"``
  JSON column is read for the fields under it); unknown columns are carried and ignored.

On PostgreSQL every column is ``text`` in CD2's own spelling (TSV passes through ``COPY``
untouched; JSONL lines are copied whole and split by ``jsonb`` operators); the apply types
them. A snapshot's first load of a table stages ``typed`` (see :func:`create_stage`): the key
and the integer, float, boolean and date fields are typed by the ``COPY`` itself. On SQLite
values are checked and typed in Python while staging (:mod:`.convert`).

Filling it from somewhere else (``cd2 sync`` copies a synced database's table): call
:func:`create_stage`, then :func:`stage_copy` with text rows in ``COPY`` text format (or
:func:`stage_records`), then :func:`reportcard.lms.cd2.apply.apply_staged`.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from reportcard.lms.cd2.errors import Cd2Error
from reportcard.lms.cd2.formats import (
    Record,
    detect_format,
    open_binary,
    read_records,
    tabular_layout,
    tsv_header,
)
from reportcard.lms.cd2.mapping import Cd2Table

BATCH = 5000
CHUNK = 1 << 20


def stage_name(t: Cd2Table | str) -> str:
    return f"cd2_stage_{t if isinstance(t, str) else t.name}"


def value_column(field: str) -> str:
    """The staging column of CD2 value field ``field`` (quoted)."""
    return '"value.' + field.replace('"', "") + '"'


def _pg(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


# PostgreSQL types a typed staging table gives a field of these kinds (see create_stage): the
# types the apply casts the text to (apply._Sql.typed), so the COPY calls the same input
# functions the casts do, once, and the casts of the typed columns are no-ops.
STAGE_TYPES = {"int": "bigint", "float": "double precision", "bool": "boolean", "date": "date"}


def typed_columns(t: Cd2Table) -> dict[str, str]:
    """The columns of a typed staging table of ``t`` that are not text, and their types: the
    key, and the fields of :data:`STAGE_TYPES`' kinds that are not members of a condensed
    column (those are read from the member's column or its parent's JSON, as text)."""
    out = {"key": "bigint"}
    for f in t.fields:
        kind = t.kind(f)
        if kind in STAGE_TYPES and "." not in f:
            out[value_column(f)[1:-1]] = STAGE_TYPES[kind]
    return out


def create_stage(
    conn: Connection, t: Cd2Table, *, ordered: bool = True, typed: bool = False
) -> None:
    """(Re)create the empty staging table of ``t`` on this connection. Its columns are noted
    (:func:`stage_columns` need not ask the catalog).

    ``ordered=False`` (PostgreSQL; SQLite's staging is always ordered): ``seq`` is not filled
    as the records arrive. Its ``nextval`` per record cost about a third of a ``COPY`` of
    text (0.6-1.0 of 2.7 backend CPU-s for large's 3.1M scores); a table's first load
    (:func:`reportcard.lms.cd2.apply.prepare_staged`) does not read it unless a key is
    staged twice, and then raises :class:`~reportcard.lms.cd2.apply.StagedUnordered` for
    the caller to stage the files again, ordered. Noted in ``conn.info["cd2_stage"]``.

    ``typed=True`` (PostgreSQL; the importer's first loads): the columns of
    :func:`typed_columns` get their types, so the ``COPY`` types those values (the same input
    functions as the apply's casts, which are then no-ops) instead of storing text that every
    statement reading the staging casts again. A value its type refuses fails the ``COPY``
    (the importer then reads the files to name the record, as for a cast that fails), also in
    a delete record, whose values the text staging never read. Noted in ``conn.info``."""
    name = stage_name(t)
    conn.info.pop("cd2_prepared", None)  # apply.prepare_staged's note of an earlier load
    values = [value_column(f) for f in t.fields]
    if _pg(conn):
        seq = "seq bigint DEFAULT nextval('cd2_stage_seq')" if ordered else "seq bigint"
        types = typed_columns(t) if typed else {}
        cols = ", ".join(
            [seq, f"key {types.get('key', 'text')}", "ts text", "action text"]
            + [f"{c} {types.get(c[1:-1], 'text')}" for c in values]
        )
        # One round trip (no parameters: several statements may go in one query).
        conn.exec_driver_sql(
            f"DROP TABLE IF EXISTS {name}; CREATE TEMP SEQUENCE IF NOT EXISTS cd2_stage_seq;"
            f" CREATE TEMP TABLE {name} ({cols})"
        )
        # counted as they are copied in
        conn.info["cd2_stage"] = {"records": 0, "ordered": ordered, "typed": types}
        made = ["seq", "key", "ts", "action"]
    else:
        cols = ", ".join(
            [
                "seq INTEGER PRIMARY KEY",
                "key INTEGER",
                "ts TEXT",
                "action TEXT",
                "newer INTEGER DEFAULT 1",
                "known INTEGER DEFAULT 0",
                *values,
            ]
        )
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {name}")
        conn.exec_driver_sql(f"CREATE TEMP TABLE {name} ({cols})")
        # records staged; whether their keys arrived strictly ascending (no key twice)
        conn.info["cd2_stage"] = {"records": 0, "ascending": True, "last": None}
        made = ["seq", "key", "ts", "action", "newer", "known"]
    made += [c[1:-1] for c in values]  # value_column's names, unquoted
    conn.info["cd2_stage"]["columns"] = {name: made}


def drop_stage(conn: Connection, t: Cd2Table) -> None:
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {stage_name(t)}")


def stage_columns(conn: Connection, t: Cd2Table | str) -> list[str]:
    """The columns the staging table has now (unquoted names): noted by :func:`create_stage`
    when it makes the table, else asked of the catalog once per staging table and connection
    (staging, preparing and applying each ask); whoever adds a column calls
    :func:`forget_columns`."""
    name = stage_name(t)
    known: dict[str, list[str]] = conn.info.setdefault("cd2_stage", {}).setdefault("columns", {})
    if name in known:
        return list(known[name])
    if _pg(conn):
        sql = (
            "SELECT attname FROM pg_attribute WHERE attrelid = "
            f"'{name}'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum"
        )
        found = [str(r[0]) for r in conn.exec_driver_sql(sql).all()]
    else:
        found = [str(r[1]) for r in conn.exec_driver_sql(f"PRAGMA temp.table_info({name})")]
    known[name] = found
    return list(found)


def forget_columns(conn: Connection, t: Cd2Table | str) -> None:
    """Columns were added to the staging table of ``t``: :func:`stage_columns` asks again."""
    conn.info.get("cd2_stage", {}).get("columns", {}).pop(stage_name(t), None)


def _copy_text(v: Any) -> str:
    if v is None:
        return "\\N"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, dict | list):
        import json

        v = json.dumps(v, separators=(",", ":"))
    s = str(v)
    if "\\" in s or "\t" in s or "\n" in s or "\r" in s:
        s = s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return s


def stage_copy(
    conn: Connection, t: Cd2Table, columns: Sequence[str], chunks: Iterable[bytes]
) -> None:
    """PostgreSQL: ``COPY`` rows in text format into the staging table's ``columns``.

    ``columns`` are staging column names (``key``, ``ts``, ``action``, ``value.<field>``);
    ones the table lacks are added (as text). ``chunks`` may split rows anywhere.
    """
    have = set(stage_columns(conn, t))
    name = stage_name(t)
    missing = [c for c in dict.fromkeys(columns) if c not in have]
    if missing:  # the files' other columns (schemas grow): carried, not read
        adds = ", ".join(f'ADD COLUMN "{c}" text' for c in missing)
        conn.exec_driver_sql(f"ALTER TABLE {name} {adds}")
        known = conn.info.get("cd2_stage", {}).get("columns", {})
        if name in known:  # they follow the columns noted (no need to ask the catalog)
            known[name] = [*known[name], *missing]
    cols = ", ".join(f'"{c}"' for c in columns)
    raw = conn.connection.driver_connection
    assert raw is not None
    with raw.cursor() as cur:
        with cur.copy(f"COPY {name} ({cols}) FROM STDIN") as cp:
            for chunk in chunks:
                cp.write(chunk)
        count_staged(conn, cur.rowcount)


def count_staged(conn: Connection, n: int | None) -> None:
    """PostgreSQL: ``n`` more records in the staging table (the statement's row count; None or
    negative: unknown, so the staging table is counted when asked)."""
    info = conn.info.setdefault("cd2_stage", {})
    if n is None or n < 0 or info.get("records") is None:
        info["records"] = None
    else:
        info["records"] = int(info["records"]) + n


def stage_records(
    conn: Connection, t: Cd2Table, records: Iterable[Record], source: Path | str | None = None
) -> int:
    """Stage parsed records as they are (the apply types them); returns how many."""
    n = 0
    if _pg(conn):
        fields = list(t.fields)
        columns = ["key", "ts", "action", *[f"value.{f}" for f in fields]]

        def chunks() -> Iterator[bytes]:
            nonlocal n
            from reportcard.lms.cd2.convert import BadValue, field_value

            buf = io.StringIO()
            for rec in records:
                n += 1
                vals = []
                for f in fields:
                    try:
                        vals.append(field_value(rec.values, f))
                    except BadValue as exc:
                        raise Cd2Error(
                            str(exc), file=source, line=rec.line, field=f"value.{f}", table=t.name
                        ) from None
                buf.write(
                    "\t".join(_copy_text(v) for v in [rec.key, rec.ts, rec.action, *vals]) + "\n"
                )
                if buf.tell() >= CHUNK:
                    yield buf.getvalue().encode()
                    buf = io.StringIO()
            yield buf.getvalue().encode()

        stage_copy(conn, t, columns, chunks())
        return n
    from reportcard.lms.cd2.convert import BadValue, RowTyper, field_value

    typer = RowTyper(t, source)
    fields = typer.fields

    def tuples() -> Iterator[tuple[Any, ...]]:
        for rec in records:
            raws = []
            for f in fields:
                try:
                    raws.append(field_value(rec.values, f))
                except BadValue as exc:
                    raise typer.fail(str(exc), f"value.{f}", rec.line) from None
            yield typer.row(rec.key, rec.ts, rec.action, raws, rec.line)

    return _insert_typed(conn, t, tuples())


def _stage_info(conn: Connection) -> dict[str, Any]:
    """SQLite: records staged; whether their keys arrived strictly ascending; the last key."""
    info: dict[str, Any] = conn.info.setdefault(
        "cd2_stage", {"records": 0, "ascending": True, "last": None}
    )
    return info


def _insert_sql(t: Cd2Table) -> str:
    columns = ["key", "ts", "action", *(value_column(f) for f in t.fields)]
    return (
        f"INSERT INTO {stage_name(t)} ({', '.join(columns)})"
        f" VALUES ({', '.join(['?'] * len(columns))})"
    )


def _insert_batches(conn: Connection, t: Cd2Table, batches: Iterable[list[tuple[Any, ...]]]) -> int:
    """SQLite: insert batches of typed (key, ts, action, *fields) rows into the staging table
    (whoever makes them notes whether the keys ascend); counts them."""
    info = _stage_info(conn)
    sql = _insert_sql(t)
    raw = conn.connection.driver_connection
    assert raw is not None
    n = 0
    cur = raw.cursor()
    try:
        for batch in batches:
            if batch:
                cur.executemany(sql, batch)
                n += len(batch)
    finally:
        cur.close()
    info["records"] = int(info.get("records") or 0) + n
    return n


def _insert_typed(conn: Connection, t: Cd2Table, rows: Iterable[tuple[Any, ...]]) -> int:
    """SQLite: insert typed (key, ts, action, *fields) rows into the staging table in big
    batches; notes how many and whether the keys came strictly ascending."""
    info = _stage_info(conn)
    sql = _insert_sql(t)
    raw = conn.connection.driver_connection
    assert raw is not None
    n = 0
    last = info.get("last")
    ascending = bool(info.get("ascending"))
    batch: list[tuple[Any, ...]] = []
    cur = raw.cursor()
    try:
        for row in rows:
            key = row[0]
            if ascending and last is not None and key <= last:
                ascending = False
            last = key
            batch.append(row)
            if len(batch) >= BATCH:
                cur.executemany(sql, batch)
                n += len(batch)
                batch.clear()
        if batch:
            cur.executemany(sql, batch)
            n += len(batch)
    finally:
        cur.close()
    info.update(records=int(info.get("records") or 0) + n, ascending=ascending, last=last)
    return n


def _header_columns(header: list[str]) -> list[str]:
    """Staging column names of a tabular header (key, ts, action, value.*)."""
    out = []
    for h in header:
        if h.startswith("key."):
            out.append("key")
        elif h == "meta.ts":
            out.append("ts")
        elif h == "meta.action":
            out.append("action")
        else:
            out.append(h.replace('"', ""))
    return out


def _getters(t: Cd2Table, columns: list[str]) -> list[tuple[int, int, str]]:
    """Per field of ``t``: (its column's index or -1, its condensed parent's index or -1, the
    member's dotted path) in a tabular file with staging ``columns``."""
    where = {c: i for i, c in enumerate(columns)}
    out = []
    for f in t.fields:
        parent, _, member = f.partition(".")
        parent = parent if member else ""
        out.append(
            (
                where.get(f"value.{f}", -1),
                where.get(f"value.{parent}", -1) if parent else -1,
                member,
            )
        )
    return out


def _stage_tabular_sqlite(conn: Connection, t: Cd2Table, path: Path, fmt: str) -> None:
    from reportcard.lms.cd2.convert import BadValue, RowTyper, field_value, tsv_rows_function
    from reportcard.lms.cd2.formats import csv_header, read_tabular, tsv_lines, tsv_value

    header = tsv_header(path) if fmt == "tsv" else csv_header(path)
    if not header:
        return
    tabular_layout(header, path)
    columns = _header_columns(header)
    if len(set(columns)) != len(columns):
        raise Cd2Error("the header names a column twice", file=path, line=1, table=t.name)
    typer = RowTyper(t, path)
    ki = columns.index("key")
    ti = columns.index("ts") if "ts" in columns else -1
    ai = columns.index("action") if "action" in columns else -1
    getters = _getters(t, columns)
    simple = all(p < 0 for _, p, _ in getters)
    direct = [i for i, _, _ in getters]
    width = len(header)

    def values(cells: list[Any], line: int) -> list[Any]:
        if simple:
            return [cells[i] if i >= 0 else None for i in direct]
        out = []
        for f, (i, p, member) in zip(t.fields, getters, strict=True):
            v = cells[i] if i >= 0 else None
            if v is None and p >= 0 and cells[p] is not None:
                try:
                    v = field_value({"x": cells[p]}, "x." + member)
                except BadValue as exc:
                    raise typer.fail(str(exc), f"value.{f}", line) from None
            out.append(v)
        return out

    def slow(raw: list[str], n: int) -> tuple[Any, ...]:
        cells: list[Any] = [tsv_value(c) for c in raw]
        return typer.row(
            cells[ki],
            cells[ti] if ti >= 0 else None,
            cells[ai] if ai >= 0 else None,
            values(cells, n),
            n,
        )

    def wrong_width(cells: list[str], n: int) -> None:
        raise Cd2Error(f"{len(cells)} fields where the header has {width}", file=path, line=n)

    rows = (
        tsv_rows_function(typer, ki, ti, ai, direct, width, tsv_value, slow, wrong_width)
        if simple and fmt == "tsv"
        else None
    )

    def tsv_batches() -> Iterator[list[tuple[Any, ...]]]:
        # DAP's TSV never holds a raw newline inside a field: a line is a record. A batch of
        # lines costs one call of the generated function (or of the long way per line).
        info = _stage_info(conn)
        n = 0
        last = float("-inf") if info["last"] is None else info["last"]
        ascending = bool(info["ascending"])
        for lines in tsv_lines(path):
            if n == 0:
                lines = lines[1:]  # the header
                n = 1
            out: list[tuple[Any, ...]] = []
            if rows is not None:
                n, last, rising = rows(lines, n, out, last)
                ascending = ascending and rising
            else:
                for line in lines:
                    n += 1
                    if not line:
                        continue
                    cells = line.split("\t")
                    if len(cells) != width:
                        wrong_width(cells, n)
                    row = slow(cells, n)
                    if row[0] <= last:
                        ascending = False
                    last = row[0]
                    out.append(row)
            yield out
        if last != float("-inf"):
            info.update(ascending=ascending, last=last)

    def csv_rows() -> Iterator[tuple[Any, ...]]:
        for n, _, cells in read_tabular(path, fmt):
            yield typer.row(
                cells[ki],
                cells[ti] if ti >= 0 else None,
                cells[ai] if ai >= 0 else None,
                values(cells, n),
                n,
            )

    try:
        if fmt == "tsv":
            _insert_batches(conn, t, tsv_batches())
        else:
            _insert_typed(conn, t, csv_rows())
    except UnicodeDecodeError as exc:
        raise Cd2Error(f"not UTF-8 text ({exc.reason})", file=path, table=t.name) from None


def _stage_jsonl_sqlite(conn: Connection, t: Cd2Table, path: Path) -> None:
    stage_records(conn, t, read_records(path, "jsonl"), source=path)


def _tsv_chunks(path: Path) -> Iterator[bytes]:
    with open_binary(path) as fh:
        fh.readline()  # the header
        while True:
            chunk = fh.read(CHUNK)
            if not chunk:
                return
            yield chunk


def _jsonl_chunks(path: Path) -> Iterator[bytes]:
    with open_binary(path) as fh:
        while True:
            chunk = fh.read(CHUNK)
            if not chunk:
                return
            yield chunk.replace(b"\\", b"\\\\").replace(b"\t", b"\\t").replace(b"\r", b"\\r")


def _stage_jsonl_pg(conn: Connection, t: Cd2Table, path: Path) -> None:
    conn.exec_driver_sql(
        "CREATE TEMP TABLE IF NOT EXISTS cd2_raw (seq bigint DEFAULT nextval('cd2_stage_seq'),"
        " rec text)"
    )
    conn.exec_driver_sql("TRUNCATE cd2_raw")
    raw = conn.connection.driver_connection
    assert raw is not None
    with raw.cursor() as cur, cur.copy("COPY cd2_raw (rec) FROM STDIN") as cp:
        for chunk in _jsonl_chunks(path):
            cp.write(chunk)
    types: dict[str, str] = conn.info.get("cd2_stage", {}).get("typed") or {}

    def cast(column: str, expr: str) -> str:  # a typed staging's column (create_stage)
        return f"CAST({expr} AS {types[column]})" if column in types else expr

    cols = ["seq", "key", "ts", "action"]
    exprs = [
        "seq",
        cast("key", f"j #>> '{{key,{t.key}}}'"),
        "j #>> '{meta,ts}'",
        "j #>> '{meta,action}'",
    ]
    for f in t.fields:
        cols.append(value_column(f))
        exprs.append(cast(f"value.{f}", "j #>> '{value," + ",".join(f.split(".")) + "}'"))
    done = conn.exec_driver_sql(
        f"INSERT INTO {stage_name(t)} ({', '.join(cols)}) SELECT {', '.join(exprs)}"
        " FROM (SELECT seq, CAST(rec AS jsonb) AS j FROM cd2_raw WHERE btrim(rec) <> '') r"
    )
    count_staged(conn, done.rowcount)
    conn.exec_driver_sql("TRUNCATE cd2_raw")


def _stage_tsv_pg(conn: Connection, t: Cd2Table, path: Path) -> None:
    header = tsv_header(path)
    tabular_layout(header, path)  # a key column is required
    columns = _header_columns(header)
    if len(set(columns)) != len(columns):
        raise Cd2Error("the header names a column twice", file=path, line=1, table=t.name)
    stage_copy(conn, t, columns, _tsv_chunks(path))


def stage_file(conn: Connection, t: Cd2Table, path: Path) -> str:
    """Stage every record of one file; returns its format. PostgreSQL takes TSV and JSONL
    through ``COPY`` without parsing them in Python."""
    fmt = detect_format(path)
    if _pg(conn) and fmt == "tsv":
        _stage_tsv_pg(conn, t, path)
    elif _pg(conn) and fmt == "jsonl":
        _stage_jsonl_pg(conn, t, path)
    elif not _pg(conn) and fmt == "jsonl":
        _stage_jsonl_sqlite(conn, t, path)
    elif not _pg(conn) and fmt in ("tsv", "csv"):
        _stage_tabular_sqlite(conn, t, path, fmt)
    else:
        stage_records(conn, t, read_records(path, fmt), source=path)
    return fmt
