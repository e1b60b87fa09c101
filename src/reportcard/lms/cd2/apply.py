"""Applying a staged CD2 table to reportcard's tables: set-based SQL, newest ``meta.ts`` wins.

:func:`apply_staged` runs on the caller's connection and transaction (one per table, so a
failure leaves the table as it was):

1. the winners: per key, the staged record with the newest ``meta.ts`` (the later one on a
   tie), marked ``newer`` when no version at least as new was applied before (the table's
   bookkeeping ``cd2_rows_<table>``);
2. per target table: ``INSERT ... SELECT ... ON CONFLICT DO UPDATE`` of the newer upserts
   that pass the target's filter; ``DELETE`` of the newer deletes and of records that no
   longer pass the filter;
3. ``snapshot=True``: rows of this root account applied before from CD2 (``cd2_rows_<table>``)
   whose key is not staged are deleted;
4. ``cd2_rows_<table>`` records the ``meta.ts`` applied per key (deletes are kept as
   tombstones).

Applying the same records again changes nothing: none is newer.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, literal_column, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError

from reportcard.db.cd2_tables import rows_table
from reportcard.lms.cd2.errors import Cd2Error
from reportcard.lms.cd2.indexes import keep_now
from reportcard.lms.cd2.mapping import TRUNCATED, UNSPECIFIED, Cd2Table, Target
from reportcard.lms.cd2.mapping import table as table_named
from reportcard.lms.cd2.staging import stage_columns, stage_name, value_column


@dataclass
class TableSummary:
    """What one table's load did."""

    table: str
    records: int = 0  # staged records
    upserted: int = 0  # newer upserts applied
    deleted: int = 0  # rows removed (newer deletes of known rows, snapshot removals)
    unchanged: int = 0  # records not newer than what was applied (older or the same)
    new_rows: int = 0  # newer upserts of keys without a live row before
    live_rows: int | None = None  # the table's live bookkeeping rows, when the load knows them
    max_ts: datetime | None = None  # newest meta.ts staged
    files: list[str] = field(default_factory=list)
    lacks: tuple[str, ...] = ()  # values the reports read that CD2 does not carry

    def as_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "records": self.records,
            "upserted": self.upserted,
            "deleted": self.deleted,
            "unchanged": self.unchanged,
            "max_ts": None if self.max_ts is None else self.max_ts.isoformat(),
            "files": self.files,
            "lacks": list(self.lacks),
        }


_PLACEHOLDER = re.compile(r"\{([a-z_0-9.]+(?::[a-z_0-9.]+)*)\}")


# CD2's own spelling of a timestamp (``2024-05-01T10:00:00Z``, a fraction allowed) is cast
# to a timestamp straight away: a LIKE pattern costs a fraction of a regular expression, which
# cost more than the rest of a record's load. PostgreSQL also casts 'now', 'yesterday', 'epoch'
# and friends to timestamps: any other spelling must be ISO 8601 (anything else fails the cast,
# and the files are then read again to name it).
_ISO = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?)?\s*(Z|z|[+-]\d{2}(:?\d{2})?)?$"


# '____-__-__T__:__:__%Z', spelled without a percent sign (drivers read it as a placeholder).
_CD2_TS = "('____-__-__T__:__:__' || chr(37) || 'Z')"


def pg_timestamp(c: str) -> str:
    """SQL typing the text ``c`` as a naive UTC timestamp (the session is in UTC)."""
    return (
        f"(CASE WHEN {c} LIKE {_CD2_TS} THEN CAST({c} AS timestamp)"
        f" WHEN {c} ~ '{_ISO}' THEN CAST({c} AS timestamptz) AT TIME ZONE 'UTC'"
        f" ELSE CAST('not a timestamp: ' || {c} AS timestamp) END)"
    )


def _quote_list(items: tuple[str, ...]) -> str:
    return ", ".join("'" + i + "'" for i in items)


class _Sql:
    """Renders a declaration's templates for one dialect.

    :meth:`typed` types a field from the staging table ``s`` (once per record, while the
    winners are chosen); :meth:`render` reads the typed columns of the winners ``w``.
    """

    def __init__(self, conn: Connection, t: Cd2Table) -> None:
        self.pg = conn.dialect.name == "postgresql"
        self.t = t
        self.cols = set(stage_columns(conn, t))

    def raw(self, name: str) -> str:
        """The staged value of field ``name`` (PostgreSQL: text in CD2's spelling)."""
        col = "s." + value_column(name)
        have = f"value.{name}" in self.cols
        if "." in name and self.pg:
            parent, member = name.split(".", 1)
            if f"value.{parent}" in self.cols:
                cond = "s." + value_column(parent)
                path = "{" + ",".join(member.split(".")) + "}"
                condensed = f"(CAST({cond} AS jsonb) #>> '{path}')"
                return f"COALESCE({col}, {condensed})" if have else condensed
        if not have:
            return "CAST(NULL AS text)" if self.pg else "NULL"
        return col

    def typed(self, name: str) -> str:
        """SQL typing field ``name`` of the staged record ``s``. SQLite's staging holds values
        typed in Python already (:mod:`.convert`)."""
        kind = self.t.kind(name)
        c = self.raw(name)
        if not self.pg:
            return c
        if kind == "int":
            return f"CAST({c} AS bigint)"
        if kind == "float":
            return f"CAST({c} AS double precision)"
        if kind == "bool":
            return f"CAST({c} AS boolean)"
        if kind == "ts":
            return pg_timestamp(c)
        if kind == "date":
            return f"CAST({c} AS date)"
        if kind == "text":
            return f"(CASE WHEN {c} IN ({_quote_list(TRUNCATED)}) THEN NULL ELSE {c} END)"
        if kind == "enum":
            return f"NULLIF({c}, '{UNSPECIFIED}')"
        if kind == "json":
            marks = _quote_list(TRUNCATED)
            return f"(CASE WHEN {c} IN ({marks}) THEN NULL ELSE pg_temp.cd2_json({c}) END)"
        if kind == "list":
            return (
                f"(SELECT string_agg(e.v, ',' ORDER BY e.n) FROM "
                f"jsonb_array_elements_text(CAST({c} AS jsonb)) WITH ORDINALITY AS e(v, n))"
            )
        return c  # state

    def field(self, name: str) -> str:
        self.t.kind(name)  # KeyError for a field the declaration does not read
        return "w." + value_column(name)

    def json_member(self, name: str, path: str, cast: str) -> str:
        c = self.field(name)
        if self.pg:
            p = "{" + ",".join(path.split(".")) + "}"
            inner = f"(CAST({c} AS jsonb) #>> '{p}')"
            return f"CAST({inner} AS double precision)" if cast == "float" else inner
        inner = f"(CASE WHEN json_valid({c}) THEN json_extract({c}, '$.{path}') END)"
        return f"CAST({inner} AS REAL)" if cast == "float" else inner

    def name_part(self, first: bool, name: str) -> str:
        """``users.first_name``/``last_name`` of the sortable name in field ``name``: the SQL
        form of the reports (``db.sqlnames``), MARK + the name where it leaves the name
        to Python (:func:`reportcard.lms.cd2.derived.from_stage` writes those)."""
        from reportcard.db.sqlnames import sql_first_name, sql_last_name

        dialect = postgresql.dialect(paramstyle="named") if self.pg else sqlite.dialect()
        form = (sql_first_name if first else sql_last_name)(
            literal_column(self.field(name)), dialect.name
        )
        compiled = form.compile(dialect=dialect, compile_kwargs={"literal_binds": True})
        return "(" + str(compiled).replace(":", "\\:") + ")"

    def render(self, template: str) -> str:
        def sub(m: re.Match[str]) -> str:
            token = m.group(1)
            if token == "key":
                return "w.key"
            if token == "ts":
                return "w.ts"
            if token == "root":
                return "CAST(:root AS BIGINT)" if self.pg else ":root"
            if token.startswith(("first_name_of:", "last_name_of:")):
                fn, name = token.split(":")
                return self.name_part(fn == "first_name_of", name)
            if token.startswith("json_float:") or token.startswith("json_text:"):
                fn, name, path = token.split(":")
                return self.json_member(name, path, "float" if fn == "json_float" else "text")
            return self.field(token)

        return _PLACEHOLDER.sub(sub, template)


def drop_winners(conn: Connection) -> None:
    """Drop ``cd2_win`` (a table, or a view over the staging table). What was made is noted
    in ``conn.info["cd2_win"]`` by who made it, ``"-"`` once dropped (none is made without
    being noted, and none outlives the transaction that made it); else the catalog is asked."""
    made = conn.info.get("cd2_win")
    conn.info["cd2_win"] = "-"  # dropped: none until the next is made (and noted)
    if made == "-":
        return
    if made is not None:
        conn.exec_driver_sql(f"DROP {made} IF EXISTS cd2_win")
        return
    if conn.dialect.name == "postgresql":
        kind = conn.exec_driver_sql(
            "SELECT CASE relkind WHEN 'v' THEN 'view' ELSE 'table' END FROM pg_class"
            " WHERE oid = to_regclass('pg_temp.cd2_win')"
        ).scalar()
    else:
        kind = conn.exec_driver_sql(
            "SELECT type FROM sqlite_temp_master WHERE name = 'cd2_win'"
        ).scalar()
    if kind == "view":
        conn.exec_driver_sql("DROP VIEW cd2_win")
    elif kind == "table":
        conn.exec_driver_sql("DROP TABLE cd2_win")


def _known_before(conn: Connection, t: Cd2Table) -> bool:
    """Whether any row of ``t`` was applied before (else every staged record is newer)."""
    if conn.exec_driver_sql(f"SELECT 1 FROM {rows_table(t.name)} LIMIT 1").first() is not None:
        return True
    found = conn.execute(
        text(f"SELECT 1 FROM {RECENT} WHERE cd2_table = :t LIMIT 1"), {"t": t.name}
    ).first()
    return found is not None


# The incrementals' bookkeeping (reportcard.db.cd2_tables.cd2_rows_recent): a row of it is
# newer than the table's own row of the key. An incremental writes there while the table's
# rows in it stay within 1/FOLD_SHARE of the table's live rows; a load passing that, and every
# snapshot, folds them into cd2_rows_<table> first.
RECENT = "cd2_rows_recent"
FOLD_SHARE = 8


def _fold(conn: Connection, t: Cd2Table) -> None:
    """Move the table's rows of ``cd2_rows_recent`` into its own bookkeeping."""
    params = {"t": t.name}
    conn.execute(
        text(
            f"INSERT INTO {rows_table(t.name)} (key, root_account_id, ts, deleted)"
            f" SELECT key, root_account_id, ts, deleted FROM {RECENT} WHERE cd2_table = :t"
            " ORDER BY key ON CONFLICT (key) DO UPDATE SET ts = excluded.ts,"
            " deleted = excluded.deleted, root_account_id = excluded.root_account_id"
        ),
        params,
    )
    conn.execute(text(f"DELETE FROM {RECENT} WHERE cd2_table = :t"), params)


def _recent_rows(conn: Connection, t: Cd2Table) -> tuple[int, int]:
    """The table's rows in ``cd2_rows_recent`` and its live rows (``cd2 status``'s total)."""
    found = conn.execute(
        text(
            f"SELECT (SELECT COUNT(*) FROM {RECENT} WHERE cd2_table = :t),"
            " (SELECT rows_total FROM cd2_table_state WHERE table_name = :t)"
        ),
        {"t": t.name},
    ).one()
    return int(found[0] or 0), int(found[1] or 0)


def _winners(
    conn: Connection,
    t: Cd2Table,
    sql: _Sql,
    known_before: bool,
    analyze: bool = True,
    recent: bool = False,
) -> None:
    """``cd2_win``: per key, the staged record with the newest ``meta.ts`` (the later one on a
    tie), its fields typed once, ``newer`` when no version at least as new was applied before
    and ``known`` when a live row of the key was. ``analyze``: PostgreSQL gathers its
    statistics (for a snapshot's joins; an incremental's statements probe per winner).
    ``recent``: the table has rows in ``cd2_rows_recent``, which are read too (they win)."""
    stage = stage_name(t)
    rows = rows_table(t.name)
    drop_winners(conn)
    fields = list(t.fields)
    cols = [value_column(f) for f in fields]
    info = conn.info.get("cd2_stage", {})
    if sql.pg:
        typed = _pg_typed(t, sql)
        if known_before:
            # Each record looks its key up in the bookkeeping (one index probe: LIMIT keeps
            # the planner from joining the whole bookkeeping, which an UPDATE of the winners
            # afterwards did: 1.2 s of large's 1% incremental for scores' 31,466 records).
            picked = ", ".join(f"t.{c}" for c in cols)
            typed = (
                "SELECT t.seq, t.key, t.ts, t.action, COALESCE(r.ts < t.ts, TRUE) AS newer,"
                f" COALESCE(NOT r.deleted, FALSE) AS known, {picked} FROM ({typed}) t"
                f" LEFT JOIN LATERAL (SELECT b.ts, b.deleted FROM {rows} b WHERE b.key = t.key"
                " LIMIT 1) r ON TRUE"
            )
        if known_before and not analyze:
            # An incremental: its winners chosen in the same statement (a sort of the few
            # records staged; no index is read afterwards), in key order, which is the order
            # the upserts then meet the targets' keys in.
            conn.exec_driver_sql(
                f"CREATE TEMP TABLE cd2_win AS SELECT DISTINCT ON (key) * FROM ({typed}) x"
                " ORDER BY key, ts DESC, seq DESC"
            )
            conn.info["cd2_win"] = "TABLE"
            if recent:
                _from_recent(conn, t, "cd2_win")
            return
        conn.exec_driver_sql(f"CREATE TEMP TABLE cd2_win AS {typed}")
        conn.info["cd2_win"] = "TABLE"
        try:
            with conn.begin_nested():
                conn.exec_driver_sql("CREATE UNIQUE INDEX ix_cd2_win_key ON cd2_win (key)")
        except DBAPIError:  # a key staged twice: keep its newest record
            conn.exec_driver_sql(
                "CREATE TEMP TABLE cd2_win1 AS SELECT DISTINCT ON (key) * FROM cd2_win"
                " ORDER BY key, ts DESC, seq DESC"
            )
            conn.exec_driver_sql("DROP TABLE cd2_win")
            conn.exec_driver_sql("ALTER TABLE cd2_win1 RENAME TO cd2_win")
            conn.exec_driver_sql("CREATE UNIQUE INDEX ix_cd2_win_key ON cd2_win (key)")
    elif info.get("ascending"):
        # Keys arrived strictly ascending: no key twice, the staging table is the winners.
        conn.exec_driver_sql(f"CREATE TEMP VIEW cd2_win AS SELECT * FROM {stage}")
        conn.info["cd2_win"] = "VIEW"
    else:
        names = ", ".join(["seq", "key", "ts", "action", "newer", "known", *cols])
        conn.exec_driver_sql(
            f"CREATE TEMP TABLE cd2_win AS SELECT {names} FROM (SELECT *, ROW_NUMBER() OVER"
            f" (PARTITION BY key ORDER BY ts DESC, seq DESC) AS rn FROM {stage}) x WHERE rn = 1"
        )
        conn.info["cd2_win"] = "TABLE"
    if known_before and sql.pg:
        if recent:
            _from_recent(conn, t, "cd2_win")
        if analyze:
            conn.exec_driver_sql("ANALYZE cd2_win")
    elif known_before:
        win = stage if info.get("ascending") else "cd2_win"
        conn.exec_driver_sql(f"CREATE INDEX temp.ix_cd2_win_key ON {win} (key)")
        # SQLite's UPDATE ... FROM would walk all of the bookkeeping
        conn.exec_driver_sql(
            f"UPDATE {win} SET (newer, known) = (SELECT r.ts < {win}.ts, NOT r.deleted"
            f" FROM {rows} r WHERE r.key = {win}.key)"
            f" WHERE EXISTS (SELECT 1 FROM {rows} r WHERE r.key = {win}.key)"
        )
        if recent:
            _from_recent(conn, t, win)


def _from_recent(conn: Connection, t: Cd2Table, win: str) -> None:
    """The winners whose key has a row in ``cd2_rows_recent``: ``newer`` and ``known`` from it
    (it is newer than the table's own bookkeeping, read before)."""
    if conn.dialect.name == "postgresql":
        stmt = (
            f"UPDATE {win} w SET newer = r.ts < w.ts, known = NOT r.deleted FROM {RECENT} r"
            " WHERE r.cd2_table = :t AND r.key = w.key"
        )
    else:
        probe = f"FROM {RECENT} r WHERE r.cd2_table = :t AND r.key = {win}.key"
        stmt = (
            f"UPDATE {win} SET (newer, known) = (SELECT r.ts < {win}.ts, NOT r.deleted {probe})"
            f" WHERE EXISTS (SELECT 1 {probe})"
        )
    conn.execute(text(stmt), {"t": t.name})


def _pg_typed(t: Cd2Table, sql: _Sql) -> str:
    """PostgreSQL: the staged records with their fields typed (the winners' columns)."""
    typed = ["TRUE AS newer", "FALSE AS known"] + [
        f"{sql.typed(f)} AS {value_column(f)}" for f in t.fields
    ]
    return (
        f"SELECT seq, CAST(key AS bigint) AS key, {pg_timestamp('ts')} AS ts,"
        f" COALESCE(action, 'U') AS action, {', '.join(typed)} FROM {stage_name(t)} s"
    )


def _first_load(conn: Connection, t: Cd2Table, sql: _Sql, root: int) -> bool:
    """PostgreSQL, the table's first load (its bookkeeping is empty): ``cd2_win`` is a view
    typing the staged records as each statement reads them (no second copy of the records),
    and the bookkeeping is written first, straight from it, its primary key built afterwards.
    That key finds a key staged twice: then nothing stays of this and the caller chooses the
    winners (False)."""
    drop_winners(conn)
    conn.exec_driver_sql(f"CREATE TEMP VIEW cd2_win AS {_pg_typed(t, sql)}")
    conn.info["cd2_win"] = "VIEW"
    rows = rows_table(t.name)
    try:
        with conn.begin_nested():
            # The primary key is built after the rows (one sort, not a tree insert per row).
            pk = conn.exec_driver_sql(
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
                f" WHERE conrelid = CAST('{rows}' AS regclass) AND contype = 'p'"
            ).all()
            for name, _ in pk:
                conn.exec_driver_sql(f'ALTER TABLE {rows} DROP CONSTRAINT "{name}"')
            conn.execute(
                text(
                    f"INSERT INTO {rows} (key, root_account_id, ts, deleted)"
                    # A record without key or meta.ts, or with an action other than U or D,
                    # fails a NOT NULL here (the checks of _check_staged, without its pass).
                    " SELECT w.key, :root, w.ts,"
                    " CASE w.action WHEN 'D' THEN TRUE WHEN 'U' THEN FALSE END FROM cd2_win w"
                ),
                {"root": root},
            )
            for name, definition in pk:
                conn.exec_driver_sql(f'ALTER TABLE {rows} ADD CONSTRAINT "{name}" {definition}')
    except DBAPIError as exc:
        if getattr(exc.orig, "sqlstate", None) != "23505":  # unique_violation
            raise
        drop_winners(conn)
        return False
    return True


def _check_staged(conn: Connection, t: Cd2Table, sql: _Sql) -> None:
    """PostgreSQL: records without key or ts, or with an unknown action, fail the load; the
    importer then reads the files again to name file and line. (SQLite's staging checked and
    typed every value in Python.)"""
    if not sql.pg:
        return
    bad = conn.exec_driver_sql(_bad_record_sql(t)).first()
    if bad is not None:
        raise _unapplicable(t, bad[0])


def _unapplicable(t: Cd2Table, record: object) -> Cd2Error:
    """The error of a staged record the apply cannot take (the importer then reads the files
    again to name its file and line)."""
    return Cd2Error(f"a value that cannot be applied (record {record} of the load)", table=t.name)


def _bad_record_sql(t: Cd2Table) -> str:
    """PostgreSQL: the first staged record of ``t`` without key or ts, or with an unknown
    action (see :func:`_check_staged`)."""
    return (
        f"SELECT s.seq FROM {stage_name(t)} s WHERE s.key IS NULL OR s.ts IS NULL"
        " OR COALESCE(s.action, 'U') NOT IN ('U', 'D') LIMIT 1"
    )


def _pg_prepare(conn: Connection, t: Cd2Table) -> tuple[bool, tuple[int, int], int | None]:
    """PostgreSQL, in one statement (one round trip instead of four or five a table): the
    load's settings (:func:`bulk_settings`); whether a row of ``t`` was applied before
    (:func:`_known_before`); the table's rows in ``cd2_rows_recent`` and its live rows
    (:func:`_recent_rows`); and, when it was applied before, the first staged record that
    cannot be applied (:func:`_check_staged`; a first load checks them on its way)."""
    found = conn.execute(
        text(
            f"SELECT {BULK_SETTINGS}, k.known, k.recent, k.live,"
            f" CASE WHEN k.known THEN ({_bad_record_sql(t)}) END FROM (SELECT"
            f" EXISTS (SELECT 1 FROM {rows_table(t.name)})"
            f" OR EXISTS (SELECT 1 FROM {RECENT} WHERE cd2_table = :t) AS known,"
            f" (SELECT COUNT(*) FROM {RECENT} WHERE cd2_table = :t) AS recent,"
            " (SELECT rows_total FROM cd2_table_state WHERE table_name = :t) AS live) k"
        ),
        {"t": t.name},
    ).one()
    known, recent, live, bad = found[-4:]
    return bool(known), (int(recent or 0), int(live or 0)), bad


def _changed(target: Target, pg: bool, cols: list[str]) -> str:
    """SQL (in ``ON CONFLICT DO UPDATE``) true when the target's row differs from the one the
    upsert brings (``excluded``), so a row re-sent with the same values is not rewritten: no
    new row version, no index entry (PostgreSQL still locks it). PostgreSQL compares the
    values' binary images (``*<>``: json has no equality, and -0.0 is not 0.0 there); SQLite
    compares with ``IS`` under the binary collation."""
    if pg:
        old = ", ".join(f"{target.table}.{c}" for c in cols)
        new = ", ".join(f"excluded.{c}" for c in cols)
        return f"ROW({old})::record *<> ROW({new})::record"
    same = " AND ".join(f"{target.table}.{c} IS excluded.{c} COLLATE BINARY" for c in cols)
    return f"NOT ({same})"


def _sqlite_indexed(conn: Connection, table: str) -> set[str]:
    """SQLite: the columns of ``table`` some index reads (keys, and any name in a partial
    index's condition), asked once per connection."""
    known: dict[str, set[str]] = conn.info.setdefault("cd2_indexed", {})
    if table not in known:
        found = conn.execute(
            text(
                "SELECT ii.name FROM pragma_index_list(:t) il JOIN pragma_index_info(il.name) ii"
                " UNION ALL SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = :t"
                " AND sql IS NOT NULL"
            ),
            {"t": table},
        ).all()
        names: set[str] = set()
        for (value,) in found:
            names.update(re.findall(r"[A-Za-z_][A-Za-z_0-9]*", str(value or "")))
        known[table] = names
    return known[table]


def _update_unindexed(
    conn: Connection, target: Target, sql: _Sql, cols: list[str], exprs: list[str], root: int
) -> None:
    """SQLite, before an incremental's upsert: the rows whose indexed columns keep their values
    get their other columns by an ``UPDATE`` that assigns those alone. SQLite rewrites the
    entry of every index holding a column the ``SET`` assigns, changed or not: the upsert,
    assigning every column, rewrote all of enrollments' six indexes for a changed
    ``updated_at``. The upsert afterwards finds these rows unchanged."""
    indexed = _sqlite_indexed(conn, target.table)
    pairs = list(zip(cols[1:], exprs[1:], strict=True))
    plain = [(c, e) for c, e in pairs if c not in indexed]
    keyed = [(c, e) for c, e in pairs if c in indexed]
    if not plain or not keyed:  # the upsert writes no index entry, or only indexed columns
        return
    tab = target.table

    def same(items: list[tuple[str, str]]) -> str:
        return " AND ".join(f"{tab}.{c} IS ({e}) COLLATE BINARY" for c, e in items)

    conds = [f"{tab}.{target.key} = w.key", "w.newer", "w.action = 'U'", same(keyed)]
    conds.append(f"NOT ({same(plain)})")
    if target.where:
        conds.append(f"({sql.render(target.where)})")
    if target.guard:
        conds.append(target.guard)
    sets = ", ".join(f"{c} = ({e})" for c, e in plain)
    conn.execute(
        text(f"UPDATE {tab} SET {sets} FROM cd2_win w WHERE {' AND '.join(conds)}"),
        {"root": root},
    )


def _upsert(
    conn: Connection,
    t: Cd2Table,
    target: Target,
    sql: _Sql,
    root: int,
    empty: bool = False,
    unchanged: bool = False,
) -> int:
    """Insert or update the target's rows of the newer upserts. ``unchanged``: a row that
    already holds the values is left as it is (an incremental re-sending rows whose columns
    reportcard reads did not change; their bookkeeping still moves on)."""
    cols = [target.key] + [c for c in target.columns if c != target.key]
    exprs = ["w.key"] + [sql.render(target.columns[c]) for c in cols[1:]]
    where = f" AND ({sql.render(target.where)})" if target.where else ""
    sets = ", ".join(f"{c} = excluded.{c}" for c in cols[1:])
    guards = [target.guard] if target.guard else []
    if unchanged and not empty:
        guards.append(_changed(target, sql.pg, cols[1:]))
        if not sql.pg:
            _update_unindexed(conn, target, sql, cols, exprs, root)
    guard = f" WHERE {' AND '.join(guards)}" if guards else ""
    stmt = (
        f"INSERT INTO {target.table} ({', '.join(cols)}) SELECT {', '.join(exprs)}"
        f" FROM cd2_win w WHERE w.newer AND w.action = 'U'{where}"
    )
    if not empty:  # an empty table (a first snapshot) needs no conflict handling
        stmt += f" ON CONFLICT ({target.key}) DO UPDATE SET {sets}{guard}"
    return conn.execute(text(stmt), {"root": root}).rowcount or 0


def _delete_newer(conn: Connection, t: Cd2Table, target: Target, sql: _Sql, root: int) -> int:
    gone = "w.action = 'D'"
    if target.where:
        gone += f" OR NOT COALESCE(({sql.render(target.where)}), FALSE)"
    guard = f" AND {target.guard}" if target.guard else ""
    keys = f"SELECT w.key FROM cd2_win w WHERE w.newer AND ({gone})"
    # PostgreSQL: the keys first, then a probe of the target's key per key (ARRAY() is
    # computed once): a join could walk the whole target, and the winners are not analyzed.
    within = f"= ANY (ARRAY({keys}))" if sql.pg else f"IN ({keys})"
    stmt = f"DELETE FROM {target.table} WHERE {target.key} {within}{guard}"
    return conn.execute(text(stmt), {"root": root}).rowcount or 0


def _missing(t: Cd2Table) -> str:
    """The keys of the root's live rows applied before that the winners do not hold."""
    return (
        f"SELECT r.key FROM {rows_table(t.name)} r WHERE r.root_account_id = :root"
        " AND NOT r.deleted AND NOT EXISTS (SELECT 1 FROM cd2_win w WHERE w.key = r.key)"
    )


# PostgreSQL checks a foreign key row by row (a query per row and key); a load of at least
# this many upserts drops the target's foreign keys inside its transaction and adds them back
# after the upsert, which checks every row in one join. Readers of the table wait meanwhile.
BULK_ROWS = 20_000

# ... unless the load is a small share of a big table: adding a foreign key back checks every
# row of the table, which on large's scores (3.1M rows) took 4.1 s for an incremental of 31k
# upserts that the per-row checks take a fraction of a second for. The foreign keys are
# dropped when the upserts are at least 1/BULK_SHARE of the table's rows (PostgreSQL's
# estimate; a table never analyzed counts as empty).
BULK_SHARE = 10


def _big_share(conn: Connection, table: str, rows: int) -> bool:
    estimate = conn.execute(
        text("SELECT reltuples FROM pg_class WHERE oid = CAST(:t AS regclass)"), {"t": table}
    ).scalar()
    return estimate is None or float(estimate) <= rows * BULK_SHARE


def _drop_constraints(conn: Connection, table: str, condition: str) -> list[tuple[str, str]]:
    """PostgreSQL: drop the constraints of ``table`` meeting ``condition`` (SQL over
    ``pg_constraint``, ``:t`` the table); returns (name, definition) to add them back."""
    found = [
        (str(name), str(definition))
        for name, definition in conn.execute(
            text(
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
                f" WHERE conrelid = CAST(:t AS regclass) AND {condition} ORDER BY conname"
            ),
            {"t": table},
        )
    ]
    for name, _ in found:
        conn.exec_driver_sql(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    return found


def drop_foreign_keys(conn: Connection, table: str) -> list[tuple[str, str]]:
    return _drop_constraints(conn, table, "contype = 'f'")


def drop_indexes(conn: Connection, table: str) -> list[str]:
    """Drop the secondary indexes of an empty table about to receive a big load; returns the
    statements that create them again (one sort each instead of a tree insert per row).
    Primary keys and constraint indexes stay."""
    if conn.dialect.name == "postgresql":
        found = [
            (str(name), str(definition))
            for name, definition in conn.execute(
                text(
                    "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.tablename = :t"
                    " AND i.schemaname = current_schema() AND NOT EXISTS (SELECT 1 FROM"
                    " pg_constraint c WHERE c.conindid = CAST(quote_ident(i.indexname) AS"
                    " regclass)) ORDER BY i.indexname"
                ),
                {"t": table},
            )
        ]
    else:
        found = [
            (str(name), str(definition))
            for name, definition in conn.execute(
                text(
                    "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = :t"
                    " AND sql IS NOT NULL ORDER BY name"
                ),
                {"t": table},
            )
        ]
    for name, _ in found:
        conn.exec_driver_sql(f'DROP INDEX "{name}"')
    return [definition for _, definition in found]


def drop_primary_key(conn: Connection, table: str) -> list[tuple[str, str]]:
    """PostgreSQL: drop the primary key and unique constraints of an empty table about to
    receive a big load, those no foreign key references (a foreign key needs the index of the
    key it references); returns (name, definition) to add them back after the load (one sort
    each: 3.1M scores, 1.5 CPU-s of tree inserts against 0.5 for the build; large's 1M
    submissions' (assignment, user) constraint took its rows in random order)."""
    if conn.dialect.name != "postgresql":
        return []
    return _drop_constraints(
        conn,
        table,
        "contype IN ('p', 'u') AND NOT EXISTS (SELECT 1 FROM pg_constraint f"
        " WHERE f.contype = 'f' AND f.conindid = pg_constraint.conindid)",
    )


def _drop_referencing(conn: Connection, table: str) -> list[tuple[str, str, str]]:
    """PostgreSQL: drop the foreign keys of other tables referencing ``table``, an empty
    table about to receive a big load, so that its primary key can be built after the rows
    (:func:`drop_primary_key`; on a first snapshot the referencing tables, loaded after it,
    are empty too, and adding their keys back checks nothing). A primary key kept took an
    index entry and its WAL record per row: as much as the row itself for large's 2M
    enrollments (referenced by scores) and 1M submissions. Returns (table, name, definition)
    to add them back."""
    if conn.dialect.name != "postgresql":
        return []
    found = [
        (str(rel), str(name), str(definition))
        for rel, name, definition in conn.execute(
            text(
                "SELECT quote_ident(c.relname), f.conname, pg_get_constraintdef(f.oid)"
                " FROM pg_constraint f JOIN pg_class c ON c.oid = f.conrelid"
                " WHERE f.contype = 'f' AND f.confrelid = CAST(:t AS regclass)"
                " AND f.conrelid <> f.confrelid ORDER BY c.relname, f.conname"
            ),
            {"t": table},
        )
    ]
    for rel, name, _ in found:
        conn.exec_driver_sql(f'ALTER TABLE {rel} DROP CONSTRAINT "{name}"')
    return found


def _fix_sequence(conn: Connection, target: Target) -> None:
    if conn.dialect.name != "postgresql" or target.key != "id":
        return
    conn.execute(
        text(
            "SELECT setval(pg_get_serial_sequence(:t, 'id'),"
            f" GREATEST((SELECT MAX(id) FROM {target.table}), 1))"
        ),
        {"t": target.table},
    )


# Lenient JSON for the json fields: text that is not JSON (historic YAML) is NULL.
_PG_JSON = """CREATE OR REPLACE FUNCTION pg_temp.cd2_json(v text) RETURNS json
LANGUAGE plpgsql IMMUTABLE AS $$ BEGIN RETURN CAST(v AS json);
EXCEPTION WHEN others THEN RETURN NULL; END $$"""


def bulk_settings(conn: Connection) -> None:
    """PostgreSQL, inside the table's transaction: sorts, hashes and index builds in memory;
    the commit need not wait for its WAL flush (a crash loses at most the last table's load,
    never consistency: the next import applies it again)."""
    conn.exec_driver_sql(f"SELECT {BULK_SETTINGS}")


# Memory PostgreSQL may use per sort or hash while applying (SET LOCAL, the server's setting
# otherwise): the default 4MB spills a few hundred thousand rows to disk.
WORK_MEM = "256MB"

BULK_SETTINGS = (
    "set_config('TimeZone', 'UTC', true),"
    f" set_config('work_mem', '{WORK_MEM}', true),"
    f" set_config('maintenance_work_mem', '{WORK_MEM}', true),"
    " set_config('synchronous_commit', 'off', true)"
)


class StagedUnordered(Exception):
    """The table's staging was made without arrival order (``create_stage(ordered=False)``)
    and its load needs it: a key staged twice, or rows applied before. Nothing of the load
    was written; stage the files again, ordered, and prepare again."""


def first_load_ahead(conn: Connection, t: Cd2Table) -> bool:
    """PostgreSQL, before staging ``t``: whether its load will be a first load (no row of it
    applied before, in its bookkeeping or ``cd2_rows_recent``), which needs no arrival order
    of the staged records unless a key comes twice (see :func:`prepare_staged`)."""
    if conn.dialect.name != "postgresql":
        return False
    found = conn.execute(
        text(
            f"SELECT EXISTS (SELECT 1 FROM {rows_table(t.name)})"
            f" OR EXISTS (SELECT 1 FROM {RECENT} WHERE cd2_table = :t)"
        ),
        {"t": t.name},
    ).scalar()
    return not found


def prepare_staged(
    conn: Connection, t: Cd2Table | str, *, root_id: int, snapshot: bool = False
) -> None:
    """The part of :func:`apply_staged` that reads and writes nothing but the table's own
    staging and bookkeeping, so it may run before the tables ahead of ``t`` are committed
    (the importer's second connection does, while the first applies the table before it):
    the checks of the staged records; on a PostgreSQL first load, the bookkeeping; on a
    PostgreSQL incremental (``snapshot`` false, rows applied before), the winners
    (``cd2_win``: their lookups of the table's bookkeeping and of ``cd2_rows_recent``, which
    only this table's load writes rows of). :func:`apply_staged` of ``t`` with the same
    ``snapshot``, in the same transaction, carries on from there."""
    if isinstance(t, str):
        t = table_named(t)
    sql = _Sql(conn, t)
    recent_live: tuple[int, int] | None = None
    checked = False
    ordered = conn.info.get("cd2_stage", {}).get("ordered", True)
    if sql.pg:
        known_before, recent_live, bad = _pg_prepare(conn, t)
        if known_before and not ordered:
            raise StagedUnordered(t.name)
        if bad is not None:
            raise _unapplicable(t, bad)
        checked = known_before
        if any(t.kind(f) == "json" for f in t.fields):
            conn.exec_driver_sql(_PG_JSON)
    else:
        known_before = _known_before(conn, t)
    # A first load on PostgreSQL records its bookkeeping from a view of the staged records,
    # which checks them on the way (a pass over the staging table less).
    recorded = sql.pg and not known_before and _first_load(conn, t, sql, root_id)
    if not recorded and not ordered:  # a key staged twice: its winner needs the order
        raise StagedUnordered(t.name)
    if not recorded and not checked:
        _check_staged(conn, t, sql)
    # A first load's counts, read from the bookkeeping just written while preparing: the
    # preparing runs beside the table before this one, the apply is the import's chain.
    counts = _first_counts(conn, t) if recorded else None
    # An incremental's winners, chosen here: the statement that probes the bookkeeping per
    # winner then runs beside the apply of the table before this one.
    # So are their counts and, when it goes to cd2_rows_recent (rows of this table alone), their
    # bookkeeping; the apply then writes the targets.
    # So are, when they read nothing but the table's own targets, the keys whose change moves
    # users' account associations and those users as they are before it (cd2_moved, and
    # cd2_touched: only this table's apply writes its targets): enrollments' 20,000 probes of
    # large's 1% incremental then leave the apply, which the tables after it wait for.
    chosen: tuple[Any, set[str], bool, bool] | None = None
    if sql.pg and known_before and not snapshot and recent_live is not None:
        recent, live = recent_live
        _winners(conn, t, sql, True, analyze=False, recent=recent > 0)
        win_counts, past = _winner_counts(conn, t, sql)
        into = _into_recent(known_before, snapshot, recent, live, win_counts)
        if into:  # the table's first rows there: a plain insert (see _record_rows)
            _record_rows(conn, t, root_id, first=not recent, into=RECENT)
        noted = moves_own_targets(t) and not _whole(t, win_counts)
        if noted:
            params = {"t": t.name, "root": root_id}
            _note_moved(conn, t, sql, params)
            _touch_users(conn, t, sql, False, params)
        chosen = (win_counts, past, into, noted)
    conn.info["cd2_prepared"] = (
        t.name,
        known_before,
        recorded,
        recent_live,
        counts,
        snapshot,
        chosen,
    )


def _first_counts(conn: Connection, t: Cd2Table) -> Any:
    """A first load's counts, in the order of the winners' counts in :func:`apply_staged`,
    from the bookkeeping it wrote (every staged record is a winner, newer, of a new key)."""
    return conn.exec_driver_sql(
        "SELECT COUNT(*), SUM(CASE WHEN deleted THEN 0 ELSE 1 END), 0, 0, MAX(ts),"
        " SUM(CASE WHEN deleted THEN 1 ELSE 0 END),"
        f" SUM(CASE WHEN deleted THEN 0 ELSE 1 END) FROM {rows_table(t.name)}"
    ).one()


def _winner_counts(conn: Connection, t: Cd2Table, sql: _Sql) -> tuple[Any, set[str]]:
    """The winners' counts (for :class:`TableSummary`) and the targets whose id sequence is
    past every key upserted. In one statement: the records staged (unless the staging counted
    them), the highest key upserted and the targets' sequences (set again only when it passes
    them; only this table's apply sets them)."""
    staged_sql = "NULL"
    if conn.info.get("cd2_stage", {}).get("records") is None:
        staged_sql = f"(SELECT COUNT(*) FROM {stage_name(t)})"
    serials = [g.table for g in t.targets if g.key == "id"] if sql.pg else []
    last = "".join(
        f", pg_sequence_last_value(CAST(pg_get_serial_sequence('{g}', 'id') AS regclass))"
        for g in serials
    )
    counts = conn.exec_driver_sql(
        "SELECT COUNT(*),"
        " SUM(CASE WHEN newer AND action = 'U' THEN 1 ELSE 0 END),"
        " SUM(CASE WHEN newer AND action = 'D' AND known THEN 1 ELSE 0 END),"
        " SUM(CASE WHEN newer THEN 0 ELSE 1 END), MAX(ts),"
        " SUM(CASE WHEN newer AND action = 'D' THEN 1 ELSE 0 END),"
        " SUM(CASE WHEN newer AND action = 'U' AND NOT known THEN 1 ELSE 0 END),"
        f" {staged_sql}, MAX(CASE WHEN newer AND action = 'U' THEN key END){last}"
        " FROM cd2_win"
    ).one()
    top = counts[8]
    past: set[str] = set()
    for g, value in zip(serials, counts[9:], strict=True):
        if top is None or (value is not None and int(value) >= int(top)):
            past.add(g)
    return counts, past


def _into_recent(known_before: bool, snapshot: bool, recent: int, live: int, counts: Any) -> bool:
    """Whether the load's bookkeeping goes to ``cd2_rows_recent`` (see ``FOLD_SHARE``)."""
    newer = int(counts[1] or 0) + int(counts[5] or 0)  # newer upserts and deletes
    return known_before and not snapshot and (recent + newer) * FOLD_SHARE <= live


def apply_staged(
    conn: Connection,
    t: Cd2Table | str,
    *,
    root_id: int,
    snapshot: bool = False,
    settle: Callable[[], None] | None = None,
) -> TableSummary:
    """Apply the staging table of ``t`` (see the module docstring); returns the summary.

    ``settle`` is called once the targets' rows are written, before anything that a
    rollback would not undo (the targets' id sequences, the serial ids of rows derived from
    the staged records): the importer waits there for the tables before this one to commit
    when it applies tables side by side."""
    if isinstance(t, str):
        t = table_named(t)
    prepared = conn.info.pop("cd2_prepared", None)
    if prepared is None or prepared[0] != t.name or prepared[5] != snapshot:
        prepare_staged(conn, t, root_id=root_id, snapshot=snapshot)
        prepared = conn.info.pop("cd2_prepared")
    _, known_before, recorded, recent_live, first_counts, _, chosen = prepared
    sql = _Sql(conn, t)
    summary = TableSummary(t.name, lacks=t.lacks)
    sequences_past: set[str] = set()  # targets whose id sequence is past every key upserted
    if recorded:  # every staged record is a winner, newer, of a key never seen
        counts = first_counts
    else:
        if not known_before:
            recent, live = 0, 0
        elif recent_live is not None:  # asked while preparing
            recent, live = recent_live
        else:
            recent, live = _recent_rows(conn, t)
        if recent and snapshot:  # the snapshot's removals read the table's own bookkeeping
            _fold(conn, t)
            recent = 0
        if chosen:  # chosen and counted while preparing
            counts, sequences_past, _, _ = chosen
        else:
            _winners(conn, t, sql, known_before, analyze=snapshot, recent=recent > 0)
            counts, sequences_past = _winner_counts(conn, t, sql)
    newer_deletes = int(counts[5] or 0)
    staged = conn.info.get("cd2_stage", {}).get("records")
    if recorded:
        staged = counts[0]
    elif staged is None:
        staged = counts[7]
    summary.records = int(staged or 0)
    summary.upserted = int(counts[1] or 0)
    summary.deleted = int(counts[2] or 0)
    summary.unchanged = summary.records - summary.upserted - newer_deletes
    summary.new_rows = int(counts[6] or 0)
    if recorded:  # the bookkeeping is this load's alone (it was empty, no recent rows)
        summary.live_rows = int(counts[1] or 0)
    max_ts = counts[4]
    if isinstance(max_ts, str):
        max_ts = datetime.fromisoformat(max_ts)
    summary.max_ts = max_ts
    params = {"t": t.name, "root": root_id}
    bulk = sql.pg and summary.upserted >= BULK_ROWS
    # Removals only concern rows applied before; a first load has none.
    removals = snapshot and known_before
    # So many users' associations change that one pass over the root is cheaper.
    whole = _whole(t, counts)
    if whole:
        conn.info["cd2_whole_associations"] = True
    elif not (chosen and chosen[3]):  # (else noted while preparing)
        _note_moved(conn, t, sql, params)
        _touch_users(conn, t, sql, removals, params)
    for target in t.targets:
        big = summary.upserted >= BULK_ROWS
        deletes = bool(newer_deletes or target.where)
        # A first load asks whether the target is empty (then it deletes nothing: on large,
        # scores' filter read every record for no row).
        empty = (big or (deletes and not known_before)) and conn.exec_driver_sql(
            f"SELECT 1 FROM {target.table} LIMIT 1"
        ).first() is None
        if deletes and not (empty and not known_before):
            _delete_newer(conn, t, target, sql, root_id)
        empty = empty and big
        share = bulk and _big_share(conn, target.table, summary.upserted)
        dropped = drop_foreign_keys(conn, target.table) if share else []
        indexes = drop_indexes(conn, target.table) if empty else []
        referencing = _drop_referencing(conn, target.table) if empty else []
        keys = drop_primary_key(conn, target.table) if empty else []
        _upsert(conn, t, target, sql, root_id, empty=empty, unchanged=known_before)
        for name, definition in keys:
            conn.exec_driver_sql(f'ALTER TABLE {target.table} ADD CONSTRAINT "{name}" {definition}')
        for definition in keep_now(conn, target.table, indexes):  # the rest: after the import
            conn.exec_driver_sql(definition)
        for table, name, definition in referencing:
            conn.exec_driver_sql(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        for name, definition in dropped:
            conn.exec_driver_sql(f'ALTER TABLE {target.table} ADD CONSTRAINT "{name}" {definition}')
        if removals:
            guard = f" AND {target.guard}" if target.guard else ""
            conn.execute(
                text(f"DELETE FROM {target.table} WHERE {target.key} IN ({_missing(t)}){guard}"),
                params,
            )
    if removals:
        removed = conn.execute(
            text(f"DELETE FROM {rows_table(t.name)} WHERE key IN ({_missing(t)})"), params
        ).rowcount
        summary.deleted += int(removed or 0)
    if not whole:
        _touch_users(conn, t, sql, False, params)
    if settle is not None:
        settle()
    for target in t.targets:
        if target.table not in sequences_past:
            _fix_sequence(conn, target)
    from reportcard.lms.cd2.derived import from_stage

    from_stage(conn, t, incremental=known_before and not snapshot)
    if not recorded and not (chosen and chosen[2]):  # (else written while preparing)
        if _into_recent(known_before, snapshot, recent, live, counts):
            # The table's first rows there (no key to meet: the winners' keys are distinct)
            _record_rows(conn, t, root_id, first=not recent, into=RECENT)
        else:
            if recent:
                _fold(conn, t)
            _record_rows(conn, t, root_id, first=not known_before)
    drop_winners(conn)
    return summary


# More changed rows than this in a table whose changes move users' account associations: the
# associations of the whole root are rebuilt (see derived.rebuild) instead of noting users.
WHOLE_USERS = 50_000


def _whole(t: Cd2Table, counts: Any) -> bool:
    """Whether the winners (``counts`` of :func:`_winner_counts`) change so many rows of a
    table moving users' associations that the whole root's are rebuilt (``WHOLE_USERS``)."""
    changed = int(counts[1] or 0) + int(counts[5] or 0)  # newer upserts and deletes
    return t.touches is not None and changed > WHOLE_USERS


_WORD = re.compile(r"[A-Za-z_][A-Za-z_0-9]*")


def moves_own_targets(t: Cd2Table) -> bool:
    """Whether the table's moved keys and touched users (:func:`_note_moved`,
    :func:`_touch_users`) read no table but its own targets, which only its apply writes: then
    an incremental notes them while preparing (:func:`prepare_staged`), beside the applies of
    the tables before it."""
    from reportcard.db.schema import metadata

    if t.touches is None or t.moves is None:
        return False
    sqls = [t.touches, t.moves, *(g.where or "" for g in t.targets)]
    named = {w for sql in sqls for w in _WORD.findall(sql)} & set(metadata.tables)
    return named <= {g.table for g in t.targets}


def _touch_users(
    conn: Connection, t: Cd2Table, sql: _Sql, snapshot: bool, params: dict[str, Any]
) -> None:
    """Note (in the temporary table ``cd2_touched``) the users of the rows about to change
    (before and after), so their account associations alone are rebuilt."""
    if t.touches is None:
        return
    conn.exec_driver_sql("CREATE TEMP TABLE IF NOT EXISTS cd2_touched (user_id BIGINT)")
    keys = "SELECT key FROM cd2_moved" if t.moves else "SELECT key FROM cd2_win WHERE newer"
    if snapshot:
        keys += f" UNION ALL {_missing(t)}"
    users = sql.render(t.touches.replace("{keys}", keys))
    conn.execute(text(f"INSERT INTO cd2_touched (user_id) {users}"), params)


def _note_moved(conn: Connection, t: Cd2Table, sql: _Sql, params: dict[str, Any]) -> None:
    """``cd2_moved``: the keys of the newer winners whose change can move users' account
    associations (:attr:`Cd2Table.moves`), found before the upsert changes the rows: deletes,
    keys without a row yet (or leaving the target by its filter), rows whose columns the
    associations read change. A row re-sent with the same user, course and state moves no one.
    """
    if t.touches is None or t.moves is None:
        return
    target = t.targets[0]
    conn.exec_driver_sql("CREATE TEMP TABLE IF NOT EXISTS cd2_moved (key BIGINT)")
    conn.exec_driver_sql("DELETE FROM cd2_moved")
    # A probe of the target per winner (no row: moved); a join would walk the whole target.
    moved = [
        "w.action = 'D'",
        f"COALESCE((SELECT {sql.render(t.moves)} FROM {target.table} x"
        f" WHERE x.{target.key} = w.key), TRUE)",
    ]
    if target.where:
        moved.append(f"NOT COALESCE(({sql.render(target.where)}), FALSE)")
    conn.execute(
        text(
            "INSERT INTO cd2_moved (key) SELECT w.key FROM cd2_win w"
            f" WHERE w.newer AND ({' OR '.join(moved)})"
        ),
        params,
    )


def _record_rows(
    conn: Connection, t: Cd2Table, root: int, *, first: bool, into: str | None = None
) -> None:
    """The newer winners' ``meta.ts`` into the table's bookkeeping, or ``into``
    ``cd2_rows_recent``. ``first``: the table has no row there yet, so none is met (a plain
    insert: PostgreSQL's ``ON CONFLICT`` inserts each row speculatively, a third more WAL
    records and a probe of the key first)."""
    params: dict[str, Any] = {"root": root}
    if into == RECENT:
        params["t"] = t.name
        stmt = (
            f"INSERT INTO {RECENT} (cd2_table, key, root_account_id, ts, deleted)"
            " SELECT :t, w.key, :root, w.ts, w.action = 'D' FROM cd2_win w WHERE w.newer"
        )
        if not first:
            stmt += (
                " ON CONFLICT (cd2_table, key) DO UPDATE SET ts = excluded.ts,"
                " deleted = excluded.deleted, root_account_id = excluded.root_account_id"
            )
        conn.execute(text(stmt), params)
        return
    stmt = (
        f"INSERT INTO {rows_table(t.name)} (key, root_account_id, ts, deleted)"
        " SELECT w.key, :root, w.ts, w.action = 'D' FROM cd2_win w WHERE w.newer"
    )
    if not first:  # the table's first load has no rows to meet
        stmt += (
            " ON CONFLICT (key) DO UPDATE SET ts = excluded.ts,"
            " deleted = excluded.deleted, root_account_id = excluded.root_account_id"
        )
    conn.execute(text(stmt), params)
