"""Applying a staged CD2 table to reportcard's tables: set-based SQL, newest ``meta.ts`` wins.

:func:`apply_staged` runs on the caller's connection and transaction (one per table, so a
failure leaves the table as it was):

1. the winners: per key, the staged record with the newest ``meta.ts`` (the later one on a
   tie), marked ``newer`` when no version at least as new was applied before (``cd2_rows``);
2. per target table: ``INSERT ... SELECT ... ON CONFLICT DO UPDATE`` of the newer upserts
   that pass the target's filter; ``DELETE`` of the newer deletes and of records that no
   longer pass the filter;
3. ``snapshot=True``: rows of this root account applied before from CD2 (``cd2_rows``) whose
   key is not staged are deleted;
4. ``cd2_rows`` records the ``meta.ts`` applied per key (deletes are kept as tombstones).

Applying the same records again changes nothing: none is newer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text

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


# PostgreSQL also casts 'now', 'yesterday', 'epoch' and friends to timestamps: only ISO 8601
# text is taken (anything else fails the cast, and the files are then read again to name it).
_ISO = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?)?\s*(Z|z|[+-]\d{2}(:?\d{2})?)?$"


def pg_timestamp(c: str) -> str:
    """SQL typing the text ``c`` as a naive UTC timestamp (the session is in UTC)."""
    return (
        f"(CASE WHEN {c} ~ '{_ISO}' THEN CAST({c} AS timestamptz)"
        f" ELSE CAST('not a timestamp: ' || {c} AS timestamptz) END AT TIME ZONE 'UTC')"
    )


def _quote_list(items: tuple[str, ...]) -> str:
    return ", ".join("'" + i + "'" for i in items)


_BOOLS = ("0", "1", "true", "false", "t", "f", "yes", "no", "y", "n", "on", "off")
# The usual CD2 spelling of a timestamp, turned into SQLAlchemy's SQLite text in SQL; any other
# spelling goes through cd2_ts (Python), which also refuses what is not a timestamp.
_DAY = "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]"
_Z = "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]"


def sqlite_timestamp(c: str) -> str:
    # date()/time() give back the same text only for a real day and time of day.
    real = (
        f"date(substr({c}, 1, 10), '+0 days') = substr({c}, 1, 10)"
        f" AND time(substr({c}, 12, 8), '+0 seconds') = substr({c}, 12, 8)"
    )
    return (
        f"(CASE WHEN {c} IS NULL THEN NULL WHEN {c} GLOB '{_Z}Z' AND {real}"
        f" THEN substr({c}, 1, 10) || ' ' || substr({c}, 12, 8) || '.000000'"
        f" WHEN {c} GLOB '{_Z}.[0-9]*Z' AND length({c}) <= 27 AND {real}"
        f" AND substr({c}, 21, length({c}) - 21) NOT GLOB '*[^0-9]*' THEN substr({c}, 1, 10)"
        f" || ' ' || substr({c}, 12, 8) || '.' || substr(substr({c}, 21, length({c}) - 21)"
        f" || '000000', 1, 6) ELSE cd2_ts({c}) END)"
    )


def _sqlite_typed(kind: str, c: str) -> str:
    if kind == "int":
        return f"CAST({c} AS INTEGER)"
    if kind == "float":
        return f"CAST({c} AS REAL)"
    if kind == "bool":
        return (
            f"(CASE WHEN {c} IS NULL THEN NULL WHEN lower({c}) IN ('1', 'true', 't', 'yes', 'y',"
            " 'on') THEN 1 ELSE 0 END)"
        )
    if kind == "ts":
        return sqlite_timestamp(c)
    if kind == "text":
        return f"(CASE WHEN {c} IN ({_quote_list(TRUNCATED)}) THEN NULL ELSE {c} END)"
    if kind == "enum":
        return f"NULLIF({c}, '{UNSPECIFIED}')"
    if kind == "json":
        return f"(CASE WHEN json_valid({c}) THEN {c} END)"
    if kind == "list":
        return (
            f"(CASE WHEN json_valid({c}) THEN (SELECT group_concat(value, ',') FROM"
            f" json_each({c})) END)"
        )
    return c  # state, date


class _Sql:
    """Renders a declaration's templates for one dialect and one staging table."""

    def __init__(self, conn: Connection, t: Cd2Table) -> None:
        self.pg = conn.dialect.name == "postgresql"
        self.t = t
        self.cols = set(stage_columns(conn, t))

    def raw(self, name: str) -> str:
        col = "s." + value_column(name)
        have = f"value.{name}" in self.cols
        if "." in name:
            parent, member = name.split(".", 1)
            if f"value.{parent}" in self.cols:
                cond = "s." + value_column(parent)
                if self.pg:
                    path = "{" + ",".join(member.split(".")) + "}"
                    condensed = f"(CAST({cond} AS jsonb) #>> '{path}')"
                else:
                    condensed = (
                        f"(CASE WHEN json_valid({cond})"
                        f" THEN json_extract({cond}, '$.{member}') END)"
                    )
                return f"COALESCE({col}, {condensed})" if have else condensed
        if not have:
            return "CAST(NULL AS text)" if self.pg else "NULL"
        return col

    def field(self, name: str) -> str:
        kind = self.t.kind(name)
        c = self.raw(name)
        if not self.pg:
            return _sqlite_typed(kind, c)
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

    def invalid(self, name: str) -> str | None:
        """SQLite: a condition true when the staged value cannot be typed as its kind."""
        kind = self.t.kind(name)
        c = self.raw(name)
        checks = {
            "int": f"(typeof({c}) = 'real' AND {c} <> CAST({c} AS INTEGER)) OR (typeof({c}) ="
            f" 'text' AND (ltrim(trim({c}), '+-') = '' OR ltrim(trim({c}), '+-') GLOB '*[^0-9]*'"
            f" OR length(trim({c})) - length(ltrim(trim({c}), '+-')) > 1))",
            "float": f"typeof({c}) = 'text' AND (trim({c}) = '' OR ({c} GLOB"
            f" '*[^0-9.eE+-]*' AND lower(trim({c}, '+-')) NOT IN ('nan', 'inf', 'infinity')))",
            "bool": f"lower({c}) NOT IN ({_quote_list(_BOOLS)})",
            # ts: cd2_ts refuses what the SQL fast path does not take
            "date": f"typeof({c}) <> 'text' OR {c} NOT GLOB '{_DAY}'",
            "list": f"{c} NOT IN ({_quote_list(TRUNCATED)}) AND NOT json_valid({c})",
        }
        check = checks.get(kind)
        required = f"s.action IS NOT 'D' AND {c} IS NULL" if self.t.required(name) else None
        parts = [f"({c} IS NOT NULL AND ({check}))" if check else None, required]
        found = [p for p in parts if p]
        return " OR ".join(found) if found else None

    def json_member(self, name: str, path: str, cast: str) -> str:
        c = self.raw(name)
        if self.pg:
            p = "{" + ",".join(path.split(".")) + "}"
            inner = (
                f"(CASE WHEN {c} IN ({_quote_list(TRUNCATED)}) THEN NULL"
                f" ELSE CAST({c} AS jsonb) #>> '{p}' END)"
            )
            return f"CAST({inner} AS double precision)" if cast == "float" else inner
        inner = f"(CASE WHEN json_valid({c}) THEN json_extract({c}, '$.{path}') END)"
        return f"CAST({inner} AS REAL)" if cast == "float" else inner

    def render(self, template: str) -> str:
        def sub(m: re.Match[str]) -> str:
            token = m.group(1)
            if token == "key":
                return "w.key"
            if token == "ts":
                return "w.ts"
            if token == "root":
                return "CAST(:root AS BIGINT)" if self.pg else ":root"
            if token.startswith("json_float:") or token.startswith("json_text:"):
                fn, name, path = token.split(":")
                return self.json_member(name, path, "float" if fn == "json_float" else "text")
            return self.field(token)

        return _PLACEHOLDER.sub(sub, template)


def _winners(conn: Connection, t: Cd2Table, sql: _Sql) -> None:
    stage = stage_name(t)
    conn.exec_driver_sql("DROP TABLE IF EXISTS cd2_win")
    if sql.pg:
        # Two steps, so the join with cd2_rows is planned on exact counts (an incremental's
        # few keys probe cd2_rows' index instead of scanning it).
        ts = pg_timestamp("ts")
        conn.exec_driver_sql("DROP TABLE IF EXISTS cd2_win0")
        conn.exec_driver_sql(
            "CREATE TEMP TABLE cd2_win0 AS SELECT DISTINCT ON (k) seq, k, t, a FROM ("
            f"SELECT seq, CAST(key AS bigint) AS k, {ts} AS t, COALESCE(action, 'U') AS a"
            f" FROM {stage}) y ORDER BY k, t DESC, seq DESC"
        )
        conn.exec_driver_sql("ANALYZE cd2_win0")
        conn.exec_driver_sql(
            "CREATE TEMP TABLE cd2_win AS SELECT x.seq, x.k AS key, x.t AS ts, x.a AS action,"
            " (r.ts IS NULL OR r.ts < x.t) AS newer,"
            " (r.key IS NOT NULL AND NOT r.deleted) AS known"
            " FROM cd2_win0 x LEFT JOIN cd2_rows r ON r.cd2_table = %(t)s AND r.key = x.k",
            {"t": t.name},
        )
        conn.exec_driver_sql("DROP TABLE cd2_win0")
        conn.exec_driver_sql("CREATE INDEX ON cd2_win (key)")
        conn.exec_driver_sql("ANALYZE cd2_win")
    else:
        conn.exec_driver_sql(
            "CREATE TEMP TABLE cd2_win AS SELECT x.seq AS seq, x.key AS key, x.ts AS ts,"
            " x.action AS action, (r.ts IS NULL OR r.ts < x.ts) AS newer,"
            " (r.key IS NOT NULL AND NOT r.deleted) AS known"
            f" FROM (SELECT seq, CAST(key AS INTEGER) AS key, {sqlite_timestamp('ts')} AS ts,"
            " COALESCE(action, 'U') AS action,"
            " ROW_NUMBER() OVER (PARTITION BY CAST(key AS INTEGER)"
            f" ORDER BY {sqlite_timestamp('ts')} DESC, seq DESC) AS rn"
            f" FROM {stage}) x"
            " LEFT JOIN cd2_rows r ON r.cd2_table = ? AND r.key = x.key WHERE x.rn = 1",
            (t.name,),
        )
        conn.exec_driver_sql("CREATE INDEX temp.ix_cd2_win_key ON cd2_win (key)")
        conn.exec_driver_sql("CREATE INDEX temp.ix_cd2_win_seq ON cd2_win (seq)")


def _check_staged(conn: Connection, t: Cd2Table, sql: _Sql) -> None:
    """Records without key or ts, with an unknown action or (SQLite) a value that cannot be
    typed fail the load; the importer then reads the files again to name file and line."""
    from reportcard.lms.cd2.errors import Cd2Error

    key_bad = "s.key IS NULL OR s.ts IS NULL OR COALESCE(s.action, 'U') NOT IN ('U', 'D')"
    if not sql.pg:
        key_bad += (
            " OR (typeof(s.key) = 'text' AND (ltrim(s.key, '-') = '' OR ltrim(s.key, '-') GLOB"
            " '*[^0-9]*')) OR typeof(s.key) NOT IN ('integer', 'text')"
        )
    cases = [("the key, meta.ts or meta.action", key_bad)]
    if not sql.pg:
        for name in t.fields:
            cond = sql.invalid(name)
            if cond:
                cases.append((f"value.{name}", cond))
    where = " OR ".join(f"({c})" for _, c in cases)
    which = " ".join(f"WHEN {c} THEN '{label}'" for label, c in cases)
    bad = conn.exec_driver_sql(
        f"SELECT s.seq, CASE {which} END FROM {stage_name(t)} s WHERE {where} LIMIT 1"
    ).first()
    if bad is not None:
        field = str(bad[1])
        raise Cd2Error(
            f"a value that cannot be applied (record {bad[0]} of the load)",
            table=t.name,
            field=None if " " in field else field,
        )


def _upsert(
    conn: Connection, t: Cd2Table, target: Target, sql: _Sql, root: int, empty: bool = False
) -> int:
    cols = [target.key] + [c for c in target.columns if c != target.key]
    exprs = ["w.key"] + [sql.render(target.columns[c]) for c in cols[1:]]
    where = f" AND ({sql.render(target.where)})" if target.where else ""
    sets = ", ".join(f"{c} = excluded.{c}" for c in cols[1:])
    guard = f" WHERE {target.guard}" if target.guard else ""
    stmt = (
        f"INSERT INTO {target.table} ({', '.join(cols)}) SELECT {', '.join(exprs)}"
        f" FROM cd2_win w JOIN {stage_name(t)} s ON s.seq = w.seq"
        f" WHERE w.newer AND w.action = 'U'{where}"
    )
    if not empty:  # an empty table (a first snapshot) needs no conflict handling
        stmt += f" ON CONFLICT ({target.key}) DO UPDATE SET {sets}{guard}"
    return conn.execute(text(stmt), {"root": root}).rowcount or 0


def _delete_newer(conn: Connection, t: Cd2Table, target: Target, sql: _Sql, root: int) -> int:
    gone = "w.action = 'D'"
    if target.where:
        gone += f" OR NOT COALESCE(({sql.render(target.where)}), FALSE)"
    guard = f" AND {target.guard}" if target.guard else ""
    stmt = (
        f"DELETE FROM {target.table} WHERE {target.key} IN (SELECT w.key FROM cd2_win w"
        f" JOIN {stage_name(t)} s ON s.seq = w.seq WHERE w.newer AND ({gone})){guard}"
    )
    return conn.execute(text(stmt), {"root": root}).rowcount or 0


_MISSING = (
    "SELECT r.key FROM cd2_rows r WHERE r.cd2_table = :t AND r.root_account_id = :root"
    " AND NOT r.deleted AND NOT EXISTS (SELECT 1 FROM cd2_win w WHERE w.key = r.key)"
)


# PostgreSQL checks a foreign key row by row (a query per row and key); a load of at least
# this many upserts drops the target's foreign keys inside its transaction and adds them back
# after the upsert, which checks every row in one join. Readers of the table wait meanwhile.
BULK_ROWS = 20_000


def _drop_foreign_keys(conn: Connection, table: str) -> list[tuple[str, str]]:
    found = [
        (str(name), str(definition))
        for name, definition in conn.execute(
            text(
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
                " WHERE conrelid = CAST(:t AS regclass) AND contype = 'f' ORDER BY conname"
            ),
            {"t": table},
        )
    ]
    for name, _ in found:
        conn.exec_driver_sql(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    return found


def _drop_indexes(conn: Connection, table: str) -> list[str]:
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


def _cd2_ts(v: Any) -> str | None:
    from reportcard.lms.cd2.convert import TS_FORMAT, parse_ts

    return None if v is None else parse_ts(v).strftime(TS_FORMAT)


def apply_staged(
    conn: Connection, t: Cd2Table | str, *, root_id: int, snapshot: bool = False
) -> TableSummary:
    """Apply the staging table of ``t`` (see the module docstring); returns the summary."""
    if isinstance(t, str):
        t = table_named(t)
    sql = _Sql(conn, t)
    if sql.pg:
        conn.exec_driver_sql("SET LOCAL TimeZone = 'UTC'")
        conn.exec_driver_sql(f"ANALYZE {stage_name(t)}")
        conn.exec_driver_sql(_PG_JSON)
    else:
        raw = conn.connection.driver_connection
        assert raw is not None
        raw.create_function("cd2_ts", 1, _cd2_ts, deterministic=True)
    summary = TableSummary(t.name, lacks=t.lacks)
    _check_staged(conn, t, sql)
    _winners(conn, t, sql)
    counts = conn.exec_driver_sql(
        "SELECT COUNT(*),"
        " SUM(CASE WHEN newer AND action = 'U' THEN 1 ELSE 0 END),"
        " SUM(CASE WHEN newer AND action = 'D' AND known THEN 1 ELSE 0 END),"
        " SUM(CASE WHEN newer THEN 0 ELSE 1 END), MAX(ts),"
        " SUM(CASE WHEN newer AND action = 'D' THEN 1 ELSE 0 END) FROM cd2_win"
    ).one()
    newer_deletes = int(counts[5] or 0)
    summary.records = int(
        conn.exec_driver_sql(f"SELECT COUNT(*) FROM {stage_name(t)}").scalar() or 0
    )
    summary.upserted = int(counts[1] or 0)
    summary.deleted = int(counts[2] or 0)
    summary.unchanged = summary.records - summary.upserted - newer_deletes
    max_ts = counts[4]
    if isinstance(max_ts, str):
        max_ts = datetime.fromisoformat(max_ts)
    summary.max_ts = max_ts
    params = {"t": t.name, "root": root_id}
    bulk = sql.pg and summary.upserted >= BULK_ROWS
    _touch_users(conn, t, sql, snapshot, params)
    for target in t.targets:
        if newer_deletes or target.where:
            _delete_newer(conn, t, target, sql, root_id)
        big = summary.upserted >= BULK_ROWS
        empty = (
            big and conn.exec_driver_sql(f"SELECT 1 FROM {target.table} LIMIT 1").first() is None
        )
        dropped = _drop_foreign_keys(conn, target.table) if bulk else []
        indexes = _drop_indexes(conn, target.table) if empty else []
        _upsert(conn, t, target, sql, root_id, empty=empty)
        for definition in indexes:
            conn.exec_driver_sql(definition)
        for name, definition in dropped:
            conn.exec_driver_sql(f'ALTER TABLE {target.table} ADD CONSTRAINT "{name}" {definition}')
        if snapshot:
            guard = f" AND {target.guard}" if target.guard else ""
            conn.execute(
                text(f"DELETE FROM {target.table} WHERE {target.key} IN ({_MISSING}){guard}"),
                params,
            )
        _fix_sequence(conn, target)
    if snapshot:
        removed = conn.execute(
            text(f"DELETE FROM cd2_rows WHERE key IN ({_MISSING}) AND cd2_table = :t"), params
        ).rowcount
        summary.deleted += int(removed or 0)
    _touch_users(conn, t, sql, False, params)
    from reportcard.lms.cd2.derived import from_stage

    from_stage(conn, t)
    _record_rows(conn, t, root_id)
    conn.exec_driver_sql("DROP TABLE IF EXISTS cd2_win")
    return summary


def _touch_users(
    conn: Connection, t: Cd2Table, sql: _Sql, snapshot: bool, params: dict[str, Any]
) -> None:
    """Note (in the temporary table ``cd2_touched``) the users of the rows about to change
    (before and after), so their account associations alone are rebuilt."""
    if t.touches is None:
        return
    conn.exec_driver_sql("CREATE TEMP TABLE IF NOT EXISTS cd2_touched (user_id BIGINT)")
    keys = "SELECT key FROM cd2_win WHERE newer"
    if snapshot:
        keys += f" UNION ALL {_MISSING}"
    users = sql.render(t.touches.replace("{keys}", keys))
    conn.execute(text(f"INSERT INTO cd2_touched (user_id) {users}"), params)


def _record_rows(conn: Connection, t: Cd2Table, root: int) -> None:
    params = {"t": t.name, "root": root}
    first = (
        conn.execute(text("SELECT 1 FROM cd2_rows WHERE cd2_table = :t LIMIT 1"), params).first()
        is None
    )
    stmt = (
        "INSERT INTO cd2_rows (cd2_table, key, root_account_id, ts, deleted)"
        " SELECT :t, w.key, :root, w.ts, w.action = 'D' FROM cd2_win w WHERE w.newer"
    )
    if not first:  # the table's first load has no rows to meet
        stmt += (
            " ON CONFLICT (cd2_table, key) DO UPDATE SET ts = excluded.ts,"
            " deleted = excluded.deleted, root_account_id = excluded.root_account_id"
        )
    conn.execute(text(stmt), params)
