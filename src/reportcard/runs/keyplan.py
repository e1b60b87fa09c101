"""Whether SQLite walks a part's statement by its key: the condition for reading a big shard's
lines in key ranges (``runs.write``, :func:`walks_key`).

A shard read in chunks runs its statement once per chunk of keys. That costs what one run
costs only when the statement's outermost loop is a search of the key's table over the
key's range (``SEARCH enrollments USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)``): each
chunk then reads its own keys and nothing else. A statement that starts from another table
(the groups of the root account, each group's memberships in the key range; every course,
each course's candidates) would read that table again for every chunk. SQLite's own plan
(``EXPLAIN QUERY PLAN``) tells them apart. It is asked for every such shard, on the shard's
own connection, not remembered: the plan follows the tables' statistics, which a load's
``ANALYZE`` changes (about a millisecond, against the tenths of a second of a shard of more
than ``write.WHOLE_ROWS`` rows).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Column, Connection, Select

from reportcard.db.compiled import cached_compile


def key_range_search(plan: Sequence[Sequence[Any]], table: str, column: str) -> bool:
    """Whether the outermost loop of ``plan`` (the rows of ``EXPLAIN QUERY PLAN``: id,
    parent, unused, detail) searches ``table`` over a range of ``column`` (its rowid when the
    column is the table's integer primary key), after any equalities on the index's leading
    columns."""
    details = [
        (r[3].decode() if isinstance(r[3], bytes) else str(r[3])) for r in plan if int(r[1]) == 0
    ]
    first = next((d for d in details if d.startswith(("SEARCH ", "SCAN "))), None)
    if first is None:
        return False
    names = "rowid|" + re.escape(column)
    pattern = (
        rf"SEARCH {re.escape(table)} USING (?:INTEGER PRIMARY KEY|(?:COVERING )?INDEX \S+) "
        rf"\((?:\w+=\? AND )*({names})>\? AND \1<\?\)"
    )
    return re.fullmatch(pattern, first) is not None


def walks_key(conn: Connection, stmt: Select, key: Any, params: dict[str, Any]) -> bool:
    """Whether SQLite runs ``stmt`` (executed with ``params``) searching ``key``'s table over
    a range of ``key`` as its outermost loop (:func:`key_range_search`); False when ``key`` is
    not a table's column."""
    if not isinstance(key, Column) or key.table is None:
        return False
    # The cached form's own values fill the parameters not given (an IN list may then have
    # another length than this statement's: the same plan).
    compiled = cached_compile(conn, stmt, params)
    state = compiled.construct_expanded_state(params)
    dbapi = conn.connection.dbapi_connection
    assert dbapi is not None
    # Bound as executing it binds them: a value decides whether a partial index applies.
    names = state.positiontup or ()
    procs = state.processors
    values = [procs[n](state.parameters[n]) if n in procs else state.parameters[n] for n in names]
    plan = dbapi.execute("EXPLAIN QUERY PLAN " + state.statement, values).fetchall()
    return key_range_search(plan, str(key.table.name), str(key.name))
