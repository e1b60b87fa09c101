"""A PostgreSQL database laid out as ``dap initdb`` / ``dap syncdb`` lay it out (spec §4), filled
from a reportcard institution through the CD2 view of tests/lms/cd2/export.py.

* schema ``canvas`` (or another name), one table per CD2 table with the same name; the key
  column first, then the value members unprefixed in schema order; PK constraint
  ``pk_<table>``; no foreign keys;
* types: ``bigint``/``integer``/``smallint``/``double precision``/``boolean``, ``timestamp``
  (no time zone) holding UTC, ``varchar(n)``, ``text`` (also Canvas's serialized JSON
  columns), ``jsonb`` for nested objects, ENUM types ``canvas.<table>__<column>`` whose labels
  include ``__dap_unspecified__`` (and, as after ``ALTER TYPE … ADD VALUE``, any value the
  data holds), enum arrays and ``varchar(255)[]``;
* ``instructure_dap.table_sync`` (one row per replicated table: its ``timestamp`` is the next
  ``since``) and ``instructure_dap.database_version`` (one row: 1); ``legacy=True`` writes the
  older clients' ``<schema>.dap_meta`` (column ``namespace``) instead.

:func:`create_layout` is ``dap initdb``; :func:`sync_layout` is ``dap syncdb``: it upserts
(``INSERT … ON CONFLICT (id) DO UPDATE``) and deletes what changed between two states of the
institution, one transaction per table, and moves every table's ``timestamp`` on, as syncdb
does whether or not the table changed.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from tests.lms.cd2.export import diff_rows, single_root, table_rows
from tests.lms.cd2.schema import BY_NAME, TABLES, UNSPECIFIED, Cd2Table, Col

_SCALARS = {
    "i8": "bigint",
    "i4": "integer",
    "i2": "smallint",
    "f8": "double precision",
    "bool": "boolean",
    "ts": "timestamp",
    "date": "date",
    "text": "text",
    "json": "text",
    "struct": "jsonb",
    "v255[]": "varchar(255) ARRAY",
}


def libpq_url(url: str) -> str:
    """A SQLAlchemy URL (``postgresql+psycopg://``) as libpq takes it."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def enum_type(schema: str, table: str, column: str) -> str:
    return f"{q(schema)}.{q(f'{table}__{column}')}"


def _sql_type(schema: str, table: Cd2Table, col: Col) -> str:
    if col.type == "enum":
        return enum_type(schema, table.name, col.name)
    if col.type == "enum[]":
        return enum_type(schema, table.name, col.name) + " ARRAY"
    if col.type.startswith("v") and col.type[1:].isdigit():
        return f"varchar({col.type[1:]})"
    return _SCALARS[col.type]


def _array_literal(items: list[str]) -> str:
    return (
        "{" + ",".join('"' + i.replace("\\", "\\\\").replace('"', '\\"') + '"' for i in items) + "}"
    )


_ESC = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_value(col: Col, v: Any) -> str:
    if v is None:
        return "\\N"
    if col.type == "struct":
        s = json.dumps(v, separators=(",", ":"), ensure_ascii=False)
    elif col.type.endswith("[]"):
        s = _array_literal(v)
    elif isinstance(v, bool):
        s = "true" if v else "false"
    elif isinstance(v, float):
        s = repr(v)
    else:
        s = str(v)
    return s.translate(_ESC)


def copy_line(table: Cd2Table, key: int, value: dict[str, Any]) -> str:
    return "\t".join([str(key)] + [_copy_value(c, value.get(c.name)) for c in table.columns]) + "\n"


def json_schema(table: Cd2Table) -> dict[str, Any]:
    """The table's JSON Schema as ``table_sync.schema_description`` holds it (spec §2)."""
    props: dict[str, Any] = {}
    for c in table.columns:
        if c.type in ("enum", "enum[]"):
            p: dict[str, Any] = {"type": "string", "enum": [*c.enum, UNSPECIFIED]}
            if c.type == "enum[]":
                p = {"type": "array", "items": p}
        elif c.type == "struct":
            p = {"type": "object", "properties": {m: {"type": "string"} for m in c.members}}
        elif c.type in ("i8", "i4", "i2"):
            p = {"type": "integer", "format": {"i8": "int64", "i4": "int32", "i2": "int32"}[c.type]}
        elif c.type == "f8":
            p = {"type": "number", "format": "float64"}
        elif c.type == "bool":
            p = {"type": "boolean"}
        elif c.type == "ts":
            p = {"type": "string", "format": "date-time"}
        elif c.type.endswith("[]"):
            p = {"type": "array", "items": {"type": "string"}}
        else:
            p = {"type": "string"}
        props[c.name] = p
    required = [c.name for c in table.columns if not c.nullable]
    return {
        "type": "object",
        "properties": {
            "meta": {
                "type": "object",
                "properties": {"ts": {"type": "string", "format": "date-time"}},
            },
            "key": {
                "type": "object",
                "properties": {table.key: {"type": "integer", "format": "int64"}},
                "required": [table.key],
            },
            "value": {"type": "object", "properties": props, "required": required},
        },
        "required": ["key"],
    }


@contextmanager
def _connect(url: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(libpq_url(url)) as conn:
        yield conn


def _existing_labels(cur: psycopg.Cursor[Any], schema: str, typname: str) -> list[str]:
    cur.execute(
        "SELECT e.enumlabel FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid"
        " JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = %s AND t.typname = %s"
        " ORDER BY e.enumsortorder",
        (schema, typname),
    )
    return [r[0] for r in cur.fetchall()]


def _ensure_labels(
    cur: psycopg.Cursor[Any], schema: str, table: Cd2Table, seen: dict[str, set[str]]
) -> None:
    """Create the table's ENUM types, or add labels the data holds (``ALTER TYPE … ADD VALUE``)."""
    for col in table.columns:
        if col.type not in ("enum", "enum[]"):
            continue
        typname = f"{table.name}__{col.name}"
        have = _existing_labels(cur, schema, typname)
        extra = sorted(seen.get(col.name, set()) - set(col.enum) - {UNSPECIFIED})
        if not have:
            labels = [*col.enum, *extra, UNSPECIFIED]
            cur.execute(
                f"CREATE TYPE {enum_type(schema, table.name, col.name)} AS ENUM ("
                + ", ".join("'" + s.replace("'", "''") + "'" for s in labels)
                + ")"
            )
        else:
            for label in extra:
                if label not in have:
                    cur.execute(
                        f"ALTER TYPE {enum_type(schema, table.name, col.name)} ADD VALUE "
                        + "'"
                        + label.replace("'", "''")
                        + "'"
                    )


def _collect(table: Cd2Table, value: dict[str, Any], seen: dict[str, set[str]]) -> None:
    for col in table.columns:
        if col.type == "enum":
            v = value.get(col.name)
            if v is not None:
                seen.setdefault(col.name, set()).add(v)
        elif col.type == "enum[]":
            seen.setdefault(col.name, set()).update(value.get(col.name) or [])


def _create_table(cur: psycopg.Cursor[Any], schema: str, table: Cd2Table) -> None:
    cols = [f"{q(table.key)} bigint NOT NULL"]
    for c in table.columns:
        cols.append(
            f"{q(c.name)} {_sql_type(schema, table, c)}" + ("" if c.nullable else " NOT NULL")
        )
    cols.append(f"CONSTRAINT {q('pk_' + table.name)} PRIMARY KEY ({q(table.key)})")
    cur.execute(f"CREATE TABLE {q(schema)}.{q(table.name)} ({', '.join(cols)})")


def _meta_tables(cur: psycopg.Cursor[Any], schema: str, legacy: bool) -> None:
    if legacy:
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {q(schema)}.dap_meta ("
            " id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
            " namespace varchar(64) NOT NULL, source_table varchar(64) NOT NULL,"
            " timestamp timestamp NOT NULL, schema_version bigint NOT NULL,"
            " target_schema varchar(64), target_table varchar(64) NOT NULL,"
            " schema_description_format varchar(64) NOT NULL, schema_description text NOT NULL)"
        )
        return
    cur.execute("CREATE SCHEMA IF NOT EXISTS instructure_dap")
    cur.execute(
        "CREATE TABLE IF NOT EXISTS instructure_dap.table_sync ("
        " id bigint GENERATED BY DEFAULT AS IDENTITY, source_namespace varchar(64) NOT NULL,"
        " source_table varchar(64) NOT NULL, timestamp timestamp NOT NULL,"
        " schema_version bigint NOT NULL, target_schema varchar(64),"
        " target_table varchar(64) NOT NULL, schema_description_format varchar(64) NOT NULL,"
        " schema_description text NOT NULL, CONSTRAINT pk_table_sync PRIMARY KEY (id))"
    )
    cur.execute(
        "CREATE TABLE IF NOT EXISTS instructure_dap.database_version (version bigint PRIMARY KEY)"
    )
    cur.execute("INSERT INTO instructure_dap.database_version VALUES (1) ON CONFLICT DO NOTHING")


def _record_sync(
    cur: psycopg.Cursor[Any], schema: str, table: Cd2Table, ts: str, legacy: bool
) -> None:
    when = ts.rstrip("Z").replace("T", " ")  # naive UTC
    if legacy:
        meta, ns = f"{q(schema)}.dap_meta", "namespace"
    else:
        meta, ns = "instructure_dap.table_sync", "source_namespace"
    cur.execute(
        f"DELETE FROM {meta} WHERE source_table = %s AND target_schema = %s", (table.name, schema)
    )
    cur.execute(
        f"INSERT INTO {meta} ({ns}, source_table, timestamp, schema_version, target_schema,"
        " target_table, schema_description_format, schema_description)"
        " VALUES ('canvas', %s, %s, 1, %s, %s, 'json', %s)",
        (table.name, when, schema, table.name, json.dumps(json_schema(table))),
    )


def create_layout(
    source: Engine,
    url: str,
    ts: str,
    *,
    schema: str = "canvas",
    tables: Iterable[str] | None = None,
    legacy: bool = False,
) -> dict[str, int]:
    """``dap initdb``: create and fill the tables from ``source``'s institution; rows per table."""
    selected = [BY_NAME[n] for n in tables] if tables is not None else list(TABLES)
    counts: dict[str, int] = {}
    with source.connect() as src, _connect(url) as dst:
        single_root(src)
        with dst.cursor() as cur:
            cur.execute(f"CREATE SCHEMA IF NOT EXISTS {q(schema)}")
            _meta_tables(cur, schema, legacy)
        dst.commit()
        for table in selected:
            seen: dict[str, set[str]] = {}
            n = 0
            with tempfile.TemporaryFile("w+", encoding="utf-8") as buf:
                for key, value in table_rows(src, table):
                    _collect(table, value, seen)
                    buf.write(copy_line(table, key, value))
                    n += 1
                buf.seek(0)
                with dst.cursor() as cur:
                    _ensure_labels(cur, schema, table, seen)
                    _create_table(cur, schema, table)
                    cols = ", ".join(q(c) for c in [table.key, *(c.name for c in table.columns)])
                    with cur.copy(f"COPY {q(schema)}.{q(table.name)} ({cols}) FROM STDIN") as cp:
                        while chunk := buf.read(1 << 20):
                            cp.write(chunk)
                    _record_sync(cur, schema, table, ts, legacy)
                dst.commit()
            counts[table.name] = n
    return counts


def sync_layout(
    old: Engine,
    new: Engine,
    url: str,
    ts: str,
    *,
    schema: str = "canvas",
    tables: Iterable[str] | None = None,
    legacy: bool = False,
) -> dict[str, tuple[int, int]]:
    """``dap syncdb``: apply what changed from ``old`` to ``new``; (upserts, deletes) per table.

    Every table's sync ``timestamp`` moves to ``ts``, changed or not (syncdb runs an
    incremental query for each table and records its ``until``).
    """
    selected = [BY_NAME[n] for n in tables] if tables is not None else list(TABLES)
    counts: dict[str, tuple[int, int]] = {}
    with old.connect() as oc, new.connect() as nc, _connect(url) as dst:
        for table in selected:
            seen: dict[str, set[str]] = {}
            upserts: list[str] = []
            deletes: list[int] = []
            for action, key, value in diff_rows(table_rows(oc, table), table_rows(nc, table)):
                if action == "D":
                    deletes.append(key)
                else:
                    assert value is not None
                    _collect(table, value, seen)
                    upserts.append(copy_line(table, key, value))
            name = f"{q(schema)}.{q(table.name)}"
            names = [table.key, *(c.name for c in table.columns)]
            cols = ", ".join(q(c) for c in names)
            with dst.cursor() as cur:
                if upserts:
                    _ensure_labels(cur, schema, table, seen)
                    dst.commit()  # new enum labels must be committed before use
                    cur.execute(f"CREATE TEMP TABLE dap_incoming (LIKE {name}) ON COMMIT DROP")
                    with cur.copy(f"COPY dap_incoming ({cols}) FROM STDIN") as cp:
                        for line in upserts:
                            cp.write(line)
                    sets = ", ".join(f"{q(c)} = excluded.{q(c)}" for c in names[1:])
                    cur.execute(
                        f"INSERT INTO {name} ({cols}) SELECT {cols} FROM dap_incoming"
                        f" ON CONFLICT ({q(table.key)}) DO UPDATE SET {sets}"
                    )
                if deletes:
                    cur.execute(f"DELETE FROM {name} WHERE {q(table.key)} = ANY(%s)", (deletes,))
                _record_sync(cur, schema, table, ts, legacy)
            dst.commit()
            if upserts or deletes:
                counts[table.name] = (len(upserts), len(deletes))
    return counts


@contextmanager
def dap_database(admin_url: str) -> Iterator[str]:
    """An empty PostgreSQL database for a synced layout (dropped afterwards); yields its URL."""
    import uuid

    name = f"reportcard_dap_{uuid.uuid4().hex[:10]}"
    admin = libpq_url(admin_url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield (
            make_url(admin_url)
            .set(drivername="postgresql", database=name)
            .render_as_string(hide_password=False)
        )
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
