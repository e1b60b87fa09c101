"""The check that every users row holds the name parts of its sortable name (``users.first_name``
and ``last_name``, which the users files read as stored)."""

from __future__ import annotations

from sqlalchemy import Connection, Engine, select

from reportcard.db.tables import users
from reportcard.names import name_parts
from tests.databases import rows_of

# Sortable names of every shape: one comma, none, two, spaces and tabs around the parts,
# suffixes, nicknames in quotes, characters SQL leaves to Python (reports.sqlformat), empty.
ODD_SORTABLE = [
    "Smith, John",
    "Smith\t, John",
    "Cher",
    "Smith, John, Jr.",
    "Ng, James  Jr.",
    "Ng, Mary\u00a0Ann",
    'Clark, Katherine "Kate"',
    "Ng, James ſr",
    "\x1eMark, Leading",
    "Ng, Mary Ann III",
    " Lead, Space",
    "",
]


def assert_names_stored(bind: Engine | Connection) -> int:
    """Every users row's ``first_name``/``last_name`` is ``name_parts(sortable_name)``;
    returns the number of rows checked."""
    query = select(users.c.id, users.c.sortable_name, users.c.first_name, users.c.last_name)
    rows = rows_of(bind, query)
    wrong = [
        (r.id, r.sortable_name, r.first_name, r.last_name)
        for r in rows
        if (r.first_name, r.last_name) != name_parts(r.sortable_name)
    ]
    assert not wrong, wrong[:10]
    return len(rows)
