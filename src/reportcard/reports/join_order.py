"""Inner joins in a fixed order on SQLite: ``CROSS JOIN ... ON``.

SQLite's planner never moves the right side of a ``CROSS JOIN`` outside its left side (the
documented way to fix a join order), and otherwise reads it as a plain inner join: the same
rows. Other dialects get the plain ``JOIN``. For a statement whose good order the planner does
not find by itself (docs/decisions/performance.md, "the Student Competency map from its
student enrollments picked once").
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.selectable import FromClause, Join


class CrossJoin(Join):
    """An inner join that SQLite runs with its left side outermost."""

    inherit_cache = True


def cross_join(left: FromClause, right: FromClause, onclause: ColumnElement[bool]) -> Join:
    """``left JOIN right ON onclause``, written ``CROSS JOIN`` on SQLite."""
    return CrossJoin(left, right, onclause)


@compiles(CrossJoin, "sqlite")
def _sqlite_cross_join(
    join: CrossJoin, compiler: SQLCompiler, from_linter: Any = None, **kw: Any
) -> str:
    # SQLCompiler.visit_join with the join's word changed (``asfrom`` is passed to both sides,
    # as there); the linter learns the edges as for a plain join.
    kw.pop("asfrom", None)
    assert join.onclause is not None  # cross_join always gives one
    if from_linter:
        from_linter.edges.update(
            (a._de_clone(), b._de_clone())
            for a in join.left._from_objects
            for b in join.right._from_objects
        )
    return (
        join.left._compiler_dispatch(compiler, asfrom=True, from_linter=from_linter, **kw)
        + " CROSS JOIN "
        + join.right._compiler_dispatch(compiler, asfrom=True, from_linter=from_linter, **kw)
        + " ON "
        + join.onclause._compiler_dispatch(compiler, from_linter=from_linter, **kw)
    )
