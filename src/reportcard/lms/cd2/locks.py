"""The reportcard tables a CD2 table's apply may lock, so that two applies can run at once.

On PostgreSQL a first load's apply drops and adds back its targets' keys, indexes and foreign
keys: ``ACCESS EXCLUSIVE`` on its targets, on the tables they reference and on the tables
referencing them, until it commits. Two applies whose sets (:func:`lock_set`) share no table
never wait for each other, so the importer may run them side by side (see
``importer._pipelined``). The set is a superset, read from the declarations and the schema:

* each target, every table a foreign key of it references and every table referencing it;
* every table named in the declaration's SQL (column templates, filters, guards, the
  ``touches``/``moves`` queries), whether or not a load runs that SQL;
* the tables the apply fills from the staged records (:func:`derived.from_stage`) and their
  foreign-key neighbours.

The apply's own bookkeeping (``cd2_rows_<table>``) and its row of ``cd2_table_state`` are its
alone (different rows of one table take no table lock against each other).
"""

from __future__ import annotations

import re
from functools import cache

from reportcard.db.schema import metadata
from reportcard.lms.cd2.mapping import BY_NAME

# Tables written while the staging table is there (derived.from_stage), by derived name.
FROM_STAGE = {
    "user_names": ("users",),
    "grading_standard_entries": ("grading_standard_entries", "grading_standards"),
    "outcome_ratings": ("learning_outcome_ratings", "learning_outcomes"),
    "proficiency_positions": ("outcome_proficiency_ratings",),
}

_WORD = re.compile(r"[A-Za-z_][A-Za-z_0-9]*")


@cache
def _referencing() -> dict[str, frozenset[str]]:
    """Per table, the tables whose foreign keys reference it (the schema read once, not once
    per lookup: the lock sets are computed before an import's first table is loaded)."""
    found: dict[str, set[str]] = {}
    for other in metadata.tables.values():
        for fk in other.foreign_keys:
            found.setdefault(fk.column.table.name, set()).add(other.name)
    return {name: frozenset(names) for name, names in found.items()}


def _neighbours(table: str) -> set[str]:
    """``table``, the tables its foreign keys reference and the tables referencing it."""
    out = {table}
    found = metadata.tables.get(table)
    if found is not None:
        out.update(fk.column.table.name for fk in found.foreign_keys)
    out.update(_referencing().get(table, ()))
    return out


@cache
def lock_set(name: str) -> frozenset[str]:
    """The tables the apply of CD2 table ``name`` may lock (see the module docstring)."""
    t = BY_NAME[name]
    known = set(metadata.tables)
    out: set[str] = set()
    sqls = [t.touches or "", t.moves or ""]
    for target in t.targets:
        out |= _neighbours(target.table)
        sqls += [*target.columns.values(), target.where or "", target.guard or ""]
    for sql in sqls:
        out |= set(_WORD.findall(sql)) & known
    for derived in t.derived:
        for table in FROM_STAGE.get(derived, ()):
            out |= _neighbours(table)
    return frozenset(out)
