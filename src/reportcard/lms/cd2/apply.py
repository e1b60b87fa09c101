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


class _Sql:
    """Renders a declaration's templates for one dialect and one staging table."""

    def __init__(self, conn: Connection, t: Cd2Table) -> None:
        self.pg = conn.dialect.name == "postgresql"
        self.t = t
        self.cols = set(stage_columns(conn, t))

    def raw(self, name: str) -> str:
        col = "s." + value_column(name)
        if self.pg and "." in name:
            parent, member = name.split(".", 1)
            if f"value.{parent}" in self.cols:
                path = "{" + ",".join(member.split(".")) + "}"
                cond = "s." + value_column(parent)
                condensed = f"(CAST({cond} AS jsonb) #>> '{path}')"
                return (
                    f"COALESCE({col}, {condensed})" if f"value.{name}" in self.cols else condensed
                )
        if self.pg and f"value.{name}" not in self.cols:
            return "CAST(NULL AS text)"
        return col

    def field(self, name: str) -> str:
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
            return f"(CASE WHEN {c} IN ({marks}) THEN NULL ELSE CAST({c} AS json) END)"
        if kind == "list":
            return (
                f"(SELECT string_agg(e.v, ',' ORDER BY e.n) FROM "
                f"jsonb_array_elements_text(CAST({c} AS jsonb)) WITH ORDINALITY AS e(v, n))"
            )
        return c  # state

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
        ts = pg_timestamp("ts")
        conn.exec_driver_sql(
            "CREATE TEMP TABLE cd2_win AS SELECT x.seq, x.k AS key, x.t AS ts, x.a AS action,"
            " (r.ts IS NULL OR r.ts < x.t) AS newer,"
            " (r.key IS NOT NULL AND NOT r.deleted) AS known"
            " FROM (SELECT DISTINCT ON (k) seq, k, t, a FROM ("
            f"SELECT seq, CAST(key AS bigint) AS k, {ts} AS t, COALESCE(action, 'U') AS a"
            f" FROM {stage}) y ORDER BY k, t DESC, seq DESC) x"
            " LEFT JOIN cd2_rows r ON r.cd2_table = %(t)s AND r.key = x.k",
            {"t": t.name},
        )
        conn.exec_driver_sql("CREATE INDEX ON cd2_win (key)")
        conn.exec_driver_sql("ANALYZE cd2_win")
    else:
        conn.exec_driver_sql(
            "CREATE TEMP TABLE cd2_win AS SELECT x.seq AS seq, x.key AS key, x.ts AS ts,"
            " x.action AS action, (r.ts IS NULL OR r.ts < x.ts) AS newer,"
            " (r.key IS NOT NULL AND NOT r.deleted) AS known"
            " FROM (SELECT seq, key, ts, COALESCE(action, 'U') AS action,"
            " ROW_NUMBER() OVER (PARTITION BY key ORDER BY ts DESC, seq DESC) AS rn"
            f" FROM {stage}) x"
            " LEFT JOIN cd2_rows r ON r.cd2_table = ? AND r.key = x.key WHERE x.rn = 1",
            (t.name,),
        )
        conn.exec_driver_sql("CREATE INDEX temp.ix_cd2_win_key ON cd2_win (key)")
        conn.exec_driver_sql("CREATE INDEX temp.ix_cd2_win_seq ON cd2_win (seq)")


def _check_staged(conn: Connection, t: Cd2Table) -> None:
    """Records without key or ts, or with an unknown action, fail the load."""
    from reportcard.lms.cd2.errors import Cd2Error

    bad = conn.exec_driver_sql(
        f"SELECT seq, key, ts, action FROM {stage_name(t)} WHERE key IS NULL OR ts IS NULL"
        " OR COALESCE(action, 'U') NOT IN ('U', 'D') LIMIT 1"
    ).first()
    if bad is not None:
        what = "the key" if bad.key is None else "meta.ts" if bad.ts is None else "meta.action"
        raise Cd2Error(f"{what} is missing or invalid", table=t.name)


def _upsert(conn: Connection, t: Cd2Table, target: Target, sql: _Sql, root: int) -> int:
    cols = [target.key] + [c for c in target.columns if c != target.key]
    exprs = ["w.key"] + [sql.render(target.columns[c]) for c in cols[1:]]
    where = f" AND ({sql.render(target.where)})" if target.where else ""
    sets = ", ".join(f"{c} = excluded.{c}" for c in cols[1:])
    guard = f" WHERE {target.guard}" if target.guard else ""
    stmt = (
        f"INSERT INTO {target.table} ({', '.join(cols)}) SELECT {', '.join(exprs)}"
        f" FROM cd2_win w JOIN {stage_name(t)} s ON s.seq = w.seq"
        f" WHERE w.newer AND w.action = 'U'{where}"
        f" ON CONFLICT ({target.key}) DO UPDATE SET {sets}{guard}"
    )
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


def apply_staged(
    conn: Connection, t: Cd2Table | str, *, root_id: int, snapshot: bool = False
) -> TableSummary:
    """Apply the staging table of ``t`` (see the module docstring); returns the summary."""
    if isinstance(t, str):
        t = table_named(t)
    sql = _Sql(conn, t)
    if sql.pg:
        conn.exec_driver_sql("SET LOCAL TimeZone = 'UTC'")
    summary = TableSummary(t.name, lacks=t.lacks)
    _check_staged(conn, t)
    _winners(conn, t, sql)
    counts = conn.exec_driver_sql(
        "SELECT COUNT(*),"
        " SUM(CASE WHEN newer AND action = 'U' THEN 1 ELSE 0 END),"
        " SUM(CASE WHEN newer AND action = 'D' AND known THEN 1 ELSE 0 END),"
        " SUM(CASE WHEN newer THEN 0 ELSE 1 END), MAX(ts) FROM cd2_win"
    ).one()
    summary.records = int(
        conn.exec_driver_sql(f"SELECT COUNT(*) FROM {stage_name(t)}").scalar() or 0
    )
    summary.upserted = int(counts[1] or 0)
    summary.deleted = int(counts[2] or 0)
    summary.unchanged = (
        summary.records
        - summary.upserted
        - int(
            conn.exec_driver_sql(
                "SELECT COUNT(*) FROM cd2_win WHERE newer AND action = 'D'"
            ).scalar()
            or 0
        )
    )
    max_ts = counts[4]
    if isinstance(max_ts, str):
        max_ts = datetime.fromisoformat(max_ts)
    summary.max_ts = max_ts
    params = {"t": t.name, "root": root_id}
    for target in t.targets:
        _delete_newer(conn, t, target, sql, root_id)
        _upsert(conn, t, target, sql, root_id)
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
    from reportcard.lms.cd2.derived import from_stage

    from_stage(conn, t)
    _record_rows(conn, t, root_id)
    conn.exec_driver_sql("DROP TABLE IF EXISTS cd2_win")
    return summary


def _record_rows(conn: Connection, t: Cd2Table, root: int) -> None:
    deleted = "w.action = 'D'"
    conn.execute(
        text(
            "INSERT INTO cd2_rows (cd2_table, key, root_account_id, ts, deleted)"
            f" SELECT :t, w.key, :root, w.ts, {deleted} FROM cd2_win w WHERE w.newer"
            " ON CONFLICT (cd2_table, key) DO UPDATE SET ts = excluded.ts,"
            " deleted = excluded.deleted, root_account_id = excluded.root_account_id"
        ),
        {"t": t.name, "root": root},
    )
