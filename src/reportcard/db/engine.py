"""Engine factory: SQLite (WAL, busy timeout, immediate write transactions) or PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url

_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def is_sqlite(engine_or_conn: Engine | Connection) -> bool:
    return engine_or_conn.dialect.name == "sqlite"


# How long an SQLite statement waits for another connection's write lock before it fails with
# "database is locked" (an OperationalError: the API answers 503, workers retry). A database
# URL may set it: ``sqlite:///path/reportcard.sqlite3?timeout=5`` (seconds).
SQLITE_BUSY_SECONDS = 30.0


def sqlite_busy_seconds(url: str) -> float:
    """The busy timeout an SQLite URL asks for (``?timeout=SECONDS``), else the default."""
    raw = make_url(url).query.get("timeout")
    value = raw[-1] if isinstance(raw, tuple) else raw
    if value is None:
        return SQLITE_BUSY_SECONDS
    seconds = float(value)
    if not seconds >= 0:  # also refuses NaN
        raise ValueError(f"SQLite timeout must be a number of seconds >= 0, got {value!r}")
    return seconds


def _sqlite_pragmas(dbapi_conn: Any, record: Any, busy_ms: int = 30000) -> None:
    # Let SQLAlchemy/BEGIN handle transactions explicitly (see the "begin" hook below).
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
    cur.execute("PRAGMA foreign_keys=OFF")
    # 8 MB of page cache per connection, and sorts that outgrow it spill to a temporary file
    # (the default temp_store): a planner that sorts a shard must not hold it all in memory
    # (docs/decisions/performance.md, "Worker memory").
    cur.execute("PRAGMA cache_size=-8192")
    cur.close()


def _sqlite_begin(conn: Connection) -> None:
    # BEGIN IMMEDIATE takes the write lock up front, so two writers never deadlock on upgrade.
    # Reads (read_conn) run in autocommit: each SELECT sees one consistent snapshot by itself,
    # and no transaction is held open between a read connection's statements.
    if conn.info.get("write", True):
        conn.exec_driver_sql("BEGIN IMMEDIATE")


# reportcard's PostgreSQL session settings (see make_engine), as libpq ``options``.
PG_SESSION_OPTIONS = "-c jit=off -c cursor_tuple_fraction=1 -c extra_float_digits=1"

# No parallel query inside a statement, set on each new connection after it opens rather than
# in PG_SESSION_OPTIONS: a setting made by SET is what RESET undoes, back to the server's own
# configuration (postgresql.conf, ALTER DATABASE/ROLE), which a shard with no other shard
# waiting for a worker may use (``allow_parallel_query``).
PG_SERIAL = "SET max_parallel_workers_per_gather = 0"
# What undoes it: in a transaction, for the statements until its rollback.
PARALLEL_QUERY = "RESET max_parallel_workers_per_gather"


def _pg_serial(dbapi_conn: Any, record: Any) -> None:
    with dbapi_conn.cursor() as cur:
        cur.execute(PG_SERIAL)
    dbapi_conn.commit()


def allow_parallel_query(dbapi_conn: Any) -> None:
    """Let the next statements on a pooled psycopg connection use parallel query as the
    server is configured to (``max_parallel_workers_per_gather`` reset, in a transaction).

    The RESET opens a transaction; the pool's rollback when the connection is returned
    undoes it, so the connection goes back serial (docs/decisions/performance.md, "Issue 19:
    PostgreSQL parts in one range, with parallel query when no shard waits").
    """
    dbapi_conn.execute(PARALLEL_QUERY)


RELAXED_COMMIT = "SET LOCAL synchronous_commit = off"


def relaxed_commit(conn: Connection) -> None:
    """Let the current transaction commit without waiting for its WAL flush (PostgreSQL).

    For the run machinery's intermediate bookkeeping only (a run claimed or planned, a shard
    claimed or finished): each state they write is one the reaper recovers from should a
    server crash lose it, and PostgreSQL writes the WAL in order, so the synchronous commit
    that completes the run makes every earlier one durable too. A synchronous commit waits
    for an fsync, 1-12 ms on the project's machine, four of them in every run
    (docs/decisions/performance.md, "Issue 19: a small part's run, commits and round trips").
    The setting lasts until the transaction ends. SQLite: nothing (WAL with
    ``synchronous=NORMAL`` syncs no commit).
    """
    if not is_sqlite(conn):
        conn.exec_driver_sql(RELAXED_COMMIT)


def make_engine(url: str) -> Engine:
    """Create an engine for ``url`` (cached per URL within the process)."""
    with _lock:
        if url in _engines:
            return _engines[url]
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            busy = sqlite_busy_seconds(url)
            engine = create_engine(
                url,
                connect_args={"check_same_thread": False, "timeout": busy},
                pool_size=20,
                max_overflow=20,
            )
            busy_ms = int(busy * 1000)

            def pragmas(dbapi_conn: Any, record: Any) -> None:
                _sqlite_pragmas(dbapi_conn, record, busy_ms)

            event.listen(engine, "connect", pragmas)
            event.listen(engine, "begin", _sqlite_begin)
        else:
            if parsed.drivername in ("postgresql", "postgres"):
                url = str(parsed.set(drivername="postgresql+psycopg"))
            engine = create_engine(
                url,
                pool_size=10,
                max_overflow=20,
                pool_pre_ping=True,
                # Session settings for report queries (docs/decisions/performance.md):
                # - no JIT: compiling a wide shard query cost seconds per shard and worker
                #   while saving nothing on streamed rows;
                # - plan for all rows (every report cursor is read to the end), not for the
                #   first tenth, PostgreSQL's default;
                # - no parallel query inside one statement (PG_SERIAL, on connect): a report's
                #   parallelism is its shards, one per worker process; per-query helpers on
                #   top of two workers only fought them for the same cores (a shard that no
                #   other waits behind may use them: allow_parallel_query);
                # - floats as their shortest round-trip text (PostgreSQL 12's default, set
                #   here whatever the server's): the float columns' SQL form
                #   (reports.sqlformat.sql_ruby_float) relies on it.
                connect_args={"options": PG_SESSION_OPTIONS},
            )
            event.listen(engine, "connect", _pg_serial)
        _engines[url] = engine
        return engine


def dispose_all() -> None:
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


@contextmanager
def read_conn(engine: Engine) -> Iterator[Connection]:
    """A connection for reads only (SQLite: a plain deferred BEGIN, so it never blocks writers)."""
    with engine.connect() as conn:
        conn.info["write"] = False
        try:
            yield conn
        finally:
            conn.info["write"] = True
