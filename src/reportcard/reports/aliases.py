"""Named aliases of tables, built once per process.

A report's query names the tables it reads twice (``courses.alias("blueprint")``). An alias's
column collection is made on first use, one proxy per column of the table (2-3 ms for a SIS
courses file, two thirds of building its query), and a run builds each part's query three
times: planning, the shard and the compile's headers (docs/decisions/performance.md, "a
report run's fixed cost"). An alias is immutable, and one name means one alias of one table
in every statement, so the same object serves every query that asks for it.
"""

from __future__ import annotations

from functools import cache

from sqlalchemy import Table
from sqlalchemy.sql.selectable import NamedFromClause


@cache
def named_alias(table: Table, name: str) -> NamedFromClause:
    """``table.alias(name)``, the same object for every caller, its columns made."""
    made = table.alias(name)
    made.c  # noqa: B018 - the column collection, made once here, not by two threads at once
    return made
