"""``reportcard cd2 sync``: apply a PostgreSQL database kept by ``dap initdb``/``dap syncdb``.

The source (spec §4) holds one table per CD2 table in a schema (``canvas``), the key first and
the value members unprefixed, ENUM types, ``jsonb`` for nested objects, naive-UTC timestamps,
and a sync position per table: ``instructure_dap.table_sync.timestamp`` (older clients:
``<schema>.dap_meta``). It has no per-row ``meta.ts``, so for each CD2 table reportcard reads
(:data:`reportcard.lms.cd2.mapping.TABLES`, in reference order):

1. a table whose position equals the one applied last (``cd2_sync_tables``) is skipped;
2. otherwise the whole source table is read, each row as CD2 spells it in text (timestamps
   ``…Z``, booleans ``true``/``false``, arrays and objects as JSON), with an md5 of the columns
   reportcard reads; only the columns the mapping reads are fetched, found through
   ``information_schema.columns`` (a column the source lacks is left NULL);
3. the rows whose hash differs from the one applied last (``cd2_sync_rows``) are staged as
   upserts with ``meta.ts`` = the table's position, the keys that disappeared as deletes, and
   :func:`reportcard.lms.cd2.apply.apply_staged` applies them (a table's first sync is a
   snapshot: rows applied before, from files, that the source lacks are removed). Unchanged
   rows cost a read and a hash comparison, no write.

On PostgreSQL the rows travel ``COPY (SELECT …) TO STDOUT`` from the source straight into
``COPY … FROM STDIN`` of a temporary table, and the comparison, staging and apply are
set-based SQL. On SQLite they are fetched in batches from a server-side cursor and inserted in
batches. Each table is one transaction; the derived structures are rebuilt once at the end.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import make_url

from reportcard.lms.cd2 import derived, state
from reportcard.lms.cd2.apply import TableSummary, apply_staged
from reportcard.lms.cd2.errors import Cd2Error
from reportcard.lms.cd2.formats import Record
from reportcard.lms.cd2.importer import find_root
from reportcard.lms.cd2.mapping import TABLES, Cd2Table
from reportcard.lms.cd2.staging import (
    count_staged,
    create_stage,
    drop_stage,
    forget_columns,
    stage_columns,
    stage_name,
    stage_records,
    value_column,
)
from reportcard.lms.cd2.statistics import analyze_changed

Progress = Callable[[str, int, int], None]
BATCH = 5000
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TS = '\'YYYY-MM-DD"T"HH24:MI:SS.US"Z"\''


@dataclass
class SyncResult:
    """What one ``cd2 sync`` did."""

    root_id: int | None
    source: str
    tables: list[TableSummary] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)  # position not moved: not read
    missing: list[str] = field(default_factory=list)  # reportcard reads them; not replicated
    derived: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "root_account_id": self.root_id,
            "source": self.source,
            "tables": [t.as_dict() for t in self.tables],
            "unchanged": self.unchanged,
            "not_replicated": self.missing,
            "derived": self.derived,
        }


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def source_label(url: str, schema: str) -> str:
    """The source as ``cd2 status`` shows it: host, port, database and schema, no password."""
    u = make_url(url)
    where = f"{u.host or 'localhost'}{':' + str(u.port) if u.port else ''}/{u.database or ''}"
    return f"sync postgresql://{where} schema {schema}"


def connect_source(url: str) -> psycopg.Connection[Any]:
    """A read-only connection to the synced database (``postgresql://`` or SQLAlchemy URLs)."""
    try:
        u = make_url(url)
    except Exception:
        raise Cd2Error(f"not a database URL: {url[:80]!r}") from None
    if u.get_backend_name() != "postgresql":
        raise Cd2Error("--from must be a PostgreSQL URL (postgresql://user@host/db)")
    dsn = u.set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        conn = psycopg.connect(dsn, autocommit=False)
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise Cd2Error(f"cannot connect to {source_label(url, '')[5:]}: {first}") from None
    conn.read_only = True
    return conn


def _exists(cur: psycopg.Cursor[Any], schema: str, table: str) -> bool:
    cur.execute(
        "SELECT 1 FROM information_schema.tables WHERE table_schema = %s AND table_name = %s",
        (schema, table),
    )
    return cur.fetchone() is not None


def sync_positions(src: psycopg.Connection[Any], schema: str) -> dict[str, datetime]:
    """The sync position of every replicated table of ``schema`` (spec §4): from
    ``instructure_dap.table_sync``, else from the older clients' ``<schema>.dap_meta``."""
    rows: list[tuple[Any, ...]] = []
    found = False
    with src.cursor() as cur:
        if _exists(cur, "instructure_dap", "table_sync"):
            found = True
            cur.execute(
                "SELECT target_table, timestamp FROM instructure_dap.table_sync"
                " WHERE COALESCE(target_schema, source_namespace) = %s",
                (schema,),
            )
            rows = cur.fetchall()
        if not rows and _exists(cur, schema, "dap_meta"):
            found = True
            cur.execute(
                sql.SQL(
                    "SELECT target_table, timestamp FROM {}.dap_meta"
                    " WHERE COALESCE(target_schema, namespace) = %s"
                ).format(sql.Identifier(schema)),
                (schema,),
            )
            rows = cur.fetchall()
    src.rollback()
    if not found:
        raise Cd2Error(
            f"no sync position in the source: neither instructure_dap.table_sync nor"
            f" {schema}.dap_meta exists (is it a database kept by dap initdb/syncdb?)"
        )
    return {str(t): _naive(ts) for t, ts in rows}


def _naive(ts: datetime) -> datetime:
    return ts.astimezone(UTC).replace(tzinfo=None) if ts.tzinfo else ts


def _source_columns(src: psycopg.Connection[Any], schema: str, table: str) -> dict[str, str]:
    """Column name -> information_schema data type of one source table."""
    with src.cursor() as cur:
        cur.execute(
            "SELECT column_name, data_type FROM information_schema.columns"
            " WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
            (schema, table),
        )
        out = {str(n): str(d) for n, d in cur.fetchall()}
    src.rollback()
    return out


def _text_expr(column: str, data_type: str) -> str:
    """SQL giving a source column as CD2 spells it in text (spec §3)."""
    c = _q(column)
    if data_type == "timestamp without time zone":
        return f"to_char({c}, {_TS})"
    if data_type == "timestamp with time zone":
        return f"to_char({c} AT TIME ZONE 'UTC', {_TS})"
    if data_type == "date":
        return f"to_char({c}, 'YYYY-MM-DD')"
    if data_type == "boolean":
        return f"CASE WHEN {c} THEN 'true' WHEN NOT {c} THEN 'false' END"
    if data_type == "ARRAY":
        return f"CAST(to_json({c}) AS text)"
    return f"CAST({c} AS text)"


@dataclass(frozen=True)
class _Plan:
    """The source columns read for one CD2 table, and the staging column of each."""

    table: Cd2Table
    exprs: list[str]  # source SQL, text
    stage_cols: list[str]  # "value.<field>" (or a condensed "value.<parent>")


def _plan(t: Cd2Table, columns: dict[str, str]) -> _Plan:
    exprs: list[str] = []
    stage: list[str] = []
    for name in t.fields:
        top = name.split(".", 1)[0]
        col = f"value.{top}"
        if top not in columns or col in stage:
            continue
        exprs.append(_text_expr(top, columns[top]))
        stage.append(col)
    return _Plan(t, exprs, stage)


# ---------------------------------------------------------------- reading the source


def _in_table(conn: Connection, plan: _Plan) -> None:
    """The temporary table the source rows land in: key, hash, then the staging columns."""
    conn.exec_driver_sql("DROP TABLE IF EXISTS cd2_sync_in")
    values = ", ".join(f"{_q(c)} text" for c in plan.stage_cols)
    sep = ", " if values else ""
    conn.exec_driver_sql(f"CREATE TEMP TABLE cd2_sync_in (key bigint, hash text{sep}{values})")


def _select(plan: _Plan, schema: str) -> str:
    t = plan.table
    row = ", ".join(plan.exprs) if plan.exprs else "''"
    cols = ", ".join([f"md5(CAST(ROW({row}) AS text))", *plan.exprs])
    return f"SELECT {_q(t.key)}, {cols} FROM {_q(schema)}.{_q(t.name)}"


def _read_pg(conn: Connection, src: psycopg.Connection[Any], plan: _Plan, schema: str) -> int:
    """PostgreSQL target: ``COPY … TO STDOUT`` from the source into ``COPY … FROM STDIN``."""
    raw = conn.connection.driver_connection
    assert raw is not None
    cols = ", ".join(["key", "hash", *(_q(c) for c in plan.stage_cols)])
    with (
        src.cursor() as scur,
        scur.copy(f"COPY ({_select(plan, schema)}) TO STDOUT") as out,
        raw.cursor() as tcur,
        tcur.copy(f"COPY cd2_sync_in ({cols}) FROM STDIN") as into,
    ):
        for chunk in out:
            into.write(chunk)
    src.rollback()
    conn.exec_driver_sql("CREATE INDEX ON cd2_sync_in (key)")
    conn.exec_driver_sql("ANALYZE cd2_sync_in")
    return int(conn.exec_driver_sql("SELECT COUNT(*) FROM cd2_sync_in").scalar() or 0)


def _read_sqlite(conn: Connection, src: psycopg.Connection[Any], plan: _Plan, schema: str) -> int:
    """SQLite target: batches from a server-side cursor, inserted in batches."""
    raw = conn.connection.driver_connection
    assert raw is not None
    marks = ", ".join(["?"] * (2 + len(plan.stage_cols)))
    # Only "?" placeholders are interpolated; every value is bound.
    insert = f"INSERT INTO cd2_sync_in VALUES ({marks})"
    n = 0
    with src.cursor(name="cd2_sync") as scur:
        scur.itersize = BATCH
        scur.execute(_select(plan, schema))
        cur = raw.cursor()
        try:
            while batch := scur.fetchmany(BATCH):
                cur.executemany(insert, batch)
                n += len(batch)
        finally:
            cur.close()
    src.rollback()
    conn.exec_driver_sql("CREATE INDEX temp.ix_cd2_sync_in_key ON cd2_sync_in (key)")
    return n


# ---------------------------------------------------------------- comparing and staging


def _diff(conn: Connection, name: str) -> tuple[int, int]:
    """``cd2_sync_diff``: keys whose hash changed (U) or that disappeared (D)."""
    conn.exec_driver_sql("DROP TABLE IF EXISTS cd2_sync_diff")
    conn.execute(
        text(
            "CREATE TEMP TABLE cd2_sync_diff AS"
            " SELECT i.key AS key, 'U' AS action FROM cd2_sync_in i"
            " LEFT JOIN cd2_sync_rows r ON r.cd2_table = :t AND r.key = i.key"
            " WHERE r.hash IS NULL OR r.hash <> i.hash"
            " UNION ALL SELECT r.key, 'D' FROM cd2_sync_rows r WHERE r.cd2_table = :t"
            " AND NOT EXISTS (SELECT 1 FROM cd2_sync_in i WHERE i.key = r.key)"
        ),
        {"t": name},
    )
    rows = conn.exec_driver_sql("SELECT action, COUNT(*) FROM cd2_sync_diff GROUP BY action")
    counts: dict[str, int] = {str(a): int(n) for a, n in rows}
    return int(counts.get("U", 0)), int(counts.get("D", 0))


def _stage_pg(conn: Connection, plan: _Plan, ts: str) -> None:
    t = plan.table
    create_stage(conn, t)
    have = set(stage_columns(conn, t))
    for c in plan.stage_cols:
        if c not in have:
            conn.exec_driver_sql(f"ALTER TABLE {stage_name(t)} ADD COLUMN {_q(c)} text")
            forget_columns(conn, t)
    cols = ", ".join(["key", "ts", "action", *(_q(c) for c in plan.stage_cols)])
    vals = ", ".join(f"i.{_q(c)}" for c in plan.stage_cols)
    sep = ", " if vals else ""
    done = conn.execute(
        text(
            f"INSERT INTO {stage_name(t)} ({cols}) SELECT CAST(d.key AS text), :ts, d.action"
            f"{sep}{vals} FROM cd2_sync_diff d LEFT JOIN cd2_sync_in i"
            " ON i.key = d.key AND d.action = 'U' ORDER BY d.key"
        ),
        {"ts": ts},
    )
    count_staged(conn, done.rowcount)


def _stage_sqlite(conn: Connection, plan: _Plan, ts: str) -> None:
    t = plan.table
    create_stage(conn, t)
    names = [c[len("value.") :] for c in plan.stage_cols]
    cols = ", ".join(f"i.{_q(c)}" for c in plan.stage_cols)
    sep = ", " if cols else ""
    result = conn.exec_driver_sql(
        f"SELECT d.key, d.action{sep}{cols} FROM cd2_sync_diff d"
        " LEFT JOIN cd2_sync_in i ON i.key = d.key AND d.action = 'U' ORDER BY d.key"
    )

    def records() -> Iterator[Record]:
        for row in result:
            key, action, *vals = row
            values = {} if action == "D" else dict(zip(names, vals, strict=True))
            yield Record(key=key, ts=ts, action=str(action), values=values)

    stage_records(conn, t, records(), source=f"{t.name} (synced table)")


def _remember(conn: Connection, name: str, label: str, position: datetime) -> None:
    """The new row hashes and the table's position (inside the table's transaction)."""
    conn.execute(
        text(
            "DELETE FROM cd2_sync_rows WHERE cd2_table = :t AND key IN"
            " (SELECT key FROM cd2_sync_diff WHERE action = 'D')"
        ),
        {"t": name},
    )
    conn.execute(
        text(
            "INSERT INTO cd2_sync_rows (cd2_table, key, hash) SELECT :t, i.key, i.hash"
            " FROM cd2_sync_in i JOIN cd2_sync_diff d ON d.key = i.key AND d.action = 'U'"
            " WHERE true ON CONFLICT (cd2_table, key) DO UPDATE SET hash = excluded.hash"
        ),
        {"t": name},
    )
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    params = {"t": name, "s": label[:255], "p": position, "now": now}
    updated = conn.execute(
        text(
            "UPDATE cd2_sync_tables SET source = :s, synced_to = :p, applied_at = :now"
            " WHERE cd2_table = :t"
        ),
        params,
    ).rowcount
    if not updated:
        conn.execute(
            text(
                "INSERT INTO cd2_sync_tables (cd2_table, source, synced_to, applied_at)"
                " VALUES (:t, :s, :p, :now)"
            ),
            params,
        )


def _last_positions(conn: Connection, label: str) -> dict[str, datetime]:
    rows = conn.execute(
        text("SELECT cd2_table, synced_to FROM cd2_sync_tables WHERE source = :s"),
        {"s": label[:255]},
    ).all()
    conn.rollback()
    return {str(t): (datetime.fromisoformat(p) if isinstance(p, str) else p) for t, p in rows}


def _first_sync(conn: Connection, name: str) -> bool:
    row = conn.execute(
        text("SELECT 1 FROM cd2_sync_rows WHERE cd2_table = :t LIMIT 1"), {"t": name}
    ).first()
    return row is None


def _staged_roots(conn: Connection) -> list[int]:
    rows = conn.exec_driver_sql(
        f"SELECT DISTINCT key FROM {stage_name('accounts')} WHERE"
        f" {value_column('parent_account_id')} IS NULL AND action = 'U'"
    ).all()
    return sorted(int(r[0]) for r in rows)


def sync(
    engine: Engine,
    url: str,
    *,
    schema: str = "canvas",
    account_id: int | None = None,
    tables: Sequence[str] | None = None,
    progress: Progress | None = None,
) -> SyncResult:
    """Apply what changed in the synced database at ``url`` since the last sync (see above)."""
    if not _IDENT.match(schema):
        raise Cd2Error(f"not a schema name: {schema!r}")
    label = source_label(url, schema)
    src = connect_source(url)
    result = SyncResult(root_id=None, source=label)
    try:
        positions = sync_positions(src, schema)
        wanted = [t for t in TABLES if tables is None or t.name in tables]
        result.missing = [t.name for t in wanted if t.name not in positions]
        which: set[str] = set()
        with engine.connect() as conn:
            last = _last_positions(conn, label)
            root: int | None = None
            todo = [t for t in wanted if t.name in positions]
            for n, t in enumerate(todo):
                position = positions[t.name]
                if last.get(t.name) == position:
                    result.unchanged.append(t.name)
                    continue
                if progress:
                    progress(t.name, n, len(todo))
                summary = _sync_table(conn, src, t, schema, position, label, account_id, root)
                if summary is None:
                    result.unchanged.append(t.name)
                    continue
                root = result.root_id = summary[1]
                result.tables.append(summary[0])
                if summary[0].upserted or summary[0].deleted:
                    which.update(t.derived)
            if result.root_id is None:
                roots = state.known_roots(conn)
                conn.rollback()
                result.root_id = roots[0] if len(roots) == 1 else None
            if which and root is not None:
                if progress:
                    progress("rebuilding derived tables", len(todo), len(todo))
                with conn.begin():
                    result.derived = derived.rebuild(conn, root, which)
            analyze_changed(conn, result.tables)
    finally:
        src.close()
    return result


def _sync_table(
    conn: Connection,
    src: psycopg.Connection[Any],
    t: Cd2Table,
    schema: str,
    position: datetime,
    label: str,
    account_id: int | None,
    root: int | None,
) -> tuple[TableSummary, int] | None:
    """One table in one transaction; None when nothing changed (the position is recorded)."""
    pg = conn.dialect.name == "postgresql"
    plan = _plan(t, _source_columns(src, schema, t.name))
    ts = position.isoformat() + "Z"
    with conn.begin():
        _in_table(conn, plan)
        read = (_read_pg if pg else _read_sqlite)(conn, src, plan, schema)
        ups, dels = _diff(conn, t.name)
        if not ups and not dels:
            _remember(conn, t.name, label, position)
            return None
        first = _first_sync(conn, t.name)
        (_stage_pg if pg else _stage_sqlite)(conn, plan, ts)
        if root is None:
            staged = _staged_roots(conn) if t.name == "accounts" else None
            root = find_root(conn, account_id, staged)
        summary = apply_staged(conn, t, root_id=root, snapshot=first)
        summary.records = read
        summary.unchanged = read - ups
        summary.max_ts = position
        summary.files = [label]
        state.record(conn, summary, root_id=root, snapshot=first, source=label)
        _remember(conn, t.name, label, position)
        drop_stage(conn, t)
        conn.exec_driver_sql("DROP TABLE IF EXISTS cd2_sync_in")
        conn.exec_driver_sql("DROP TABLE IF EXISTS cd2_sync_diff")
    return summary, root
