"""PostgreSQL: a first load's secondary indexes built after the import's tables, not on the
applies' chain.

A table's first big load drops its secondary indexes and builds them after the rows (one sort
each, ``apply.drop_indexes``). On two connections the builds of a non-unique index need not
hold the table's transaction: such an index cannot fail on any row, so the table commits
without it (all or nothing still: the rows, keys and foreign keys are the transaction's) and
the import builds it at the end, on the helper connection beside the derived rebuild
(``importer.import_paths``), while the next table's apply starts at once. Unique indexes stay
in the transaction (a duplicate fails the table's load), and so do the indexes of the tables
the derived rebuild locks or writes (``importer.KEEP_INDEXES``): their builds would wait for
it, or it for them.

When the import stops before building them (a failure after the table's commit builds them on
the way out; a killed process does not), the next PostgreSQL import builds what the schema
declares and the database lacks on the tables it loads (:func:`restore_missing`), before
loading anything.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, text
from sqlalchemy.schema import CreateIndex

from reportcard.db.schema import metadata

# conn.info: the target tables whose indexes stay in their load's transaction (a frozenset;
# present only on connections whose loads defer their indexes), and the deferred definitions
# of the load in progress.
DEFER = "cd2_defer_indexes"
PENDING = "cd2_deferred_indexes"


def keep_now(conn: Connection, table: str, definitions: list[str]) -> list[str]:
    """Of the ``CREATE INDEX`` statements of ``table`` dropped for a first load, those to run
    in the load's transaction; the rest are noted on ``conn`` for after the import."""
    kept = conn.info.get(DEFER)
    if kept is None or table in kept:
        return definitions
    now = [d for d in definitions if d.upper().startswith("CREATE UNIQUE")]
    conn.info.setdefault(PENDING, []).extend(d for d in definitions if d not in now)
    return now


def take_pending(conn: Connection) -> list[str]:
    """The definitions deferred by the load that just ended on ``conn`` (committed or not)."""
    return list(conn.info.pop(PENDING, []))


def build(conn: Connection, definitions: Iterable[str], settings: str) -> None:
    """Run the deferred ``CREATE INDEX`` statements, each in its own transaction (one lock at
    a time: none is held while waiting for another), after ``settings`` (SQL run first in
    each: the applies' ``maintenance_work_mem``)."""
    for definition in definitions:
        with conn.begin():
            conn.exec_driver_sql(settings)
            conn.exec_driver_sql(definition)


def restore_missing(conn: Connection, tables: Iterable[str]) -> list[str]:
    """PostgreSQL: build the indexes the schema declares on ``tables`` that the database lacks
    (an import stopped between a table's commit and its deferred builds); returns their
    names. Each in its own transaction."""
    wanted = sorted(set(tables))
    with conn.begin():
        present = {
            str(r[0])
            for r in conn.execute(
                text(
                    "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"
                    " AND tablename = ANY(:t)"
                ),
                {"t": wanted},
            )
        }
    missing = [
        index
        for name in wanted
        if name in metadata.tables
        for index in sorted(metadata.tables[name].indexes, key=lambda i: str(i.name))
        if index.name not in present
    ]
    for index in missing:
        with conn.begin():
            conn.execute(CreateIndex(index))
    return [str(index.name) for index in missing]
