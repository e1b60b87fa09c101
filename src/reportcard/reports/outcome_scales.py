"""Rating scales of the outcome reports, in SQL (spec other-reports.md §4.6 steps 2-7, §4.18).

A row's scale is the course's mastery scale when account-level mastery scales are enabled and
one resolves (the course's own, else the nearest account's up the chain); otherwise the
outcome's own rubric criterion; otherwise the default criterion (5 "Exceeds Expectations",
3 "Meets Expectations", 0 "Does Not Meet Expectations"; mastery 3, points possible 5).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    FromClause,
    Select,
    String,
    case,
    cast,
    func,
    literal,
    null,
    select,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import ARRAY, DOUBLE_PRECISION
from sqlalchemy.dialects.postgresql import array as pg_array
from sqlalchemy.sql.elements import Grouping

from reportcard.db.learning_tables import (
    learning_outcome_ratings,
    outcome_proficiencies,
    outcome_proficiency_ratings,
)
from reportcard.db.tables import account_ancestors
from reportcard.reports.aliases import named_alias

DEFAULT_RATINGS = (
    (5.0, "Exceeds Expectations"),
    (3.0, "Meets Expectations"),
    (0.0, "Does Not Meet Expectations"),
)
DEFAULT_MASTERY = 3.0
DEFAULT_POINTS_POSSIBLE = 5.0
# At most this many ratings (over all outcomes) are written into the statement as CASE arms;
# more and every rating is looked up per row (docs/decisions/performance.md).
MAX_INLINE_RATINGS = 240

# outcome id -> [(points, description)] in lookup order: points descending, position.
Ratings = dict[int, list[tuple[float, str | None]]]


def read_ratings(conn: Connection, outcome_ids: Select[Any]) -> Ratings | None:
    """The rubric ratings of the outcomes ``outcome_ids`` selects, or None when there are more
    than :data:`MAX_INLINE_RATINGS`."""
    lor = learning_outcome_ratings
    rows = conn.execute(
        select(lor.c.learning_outcome_id, lor.c.points, lor.c.description)
        .where(lor.c.learning_outcome_id.in_(outcome_ids))
        .order_by(lor.c.learning_outcome_id, lor.c.points.desc(), lor.c.position)
        .limit(MAX_INLINE_RATINGS + 1)
    ).all()
    if len(rows) > MAX_INLINE_RATINGS:
        return None
    ratings: Ratings = {}
    for row in rows:
        ratings.setdefault(int(row.learning_outcome_id), []).append(
            (float(row.points), row.description)
        )
    return ratings


@dataclass(frozen=True)
class Scale:
    """SQL for one row's scale: points possible, mastery points, and rating lookups."""

    points_possible: ColumnElement[Any]
    mastery_points: ColumnElement[Any]
    proficiency: ColumnElement[Any] | None  # the resolved mastery scale id (flag on only)
    outcome: FromClause
    # The outcomes' ratings read when the run was resolved (CASE arms), or None (lookups).
    ratings: Ratings | None = None
    dialect: str = "sqlite"

    def _bucketed(self, x: ColumnElement[Any], column: str) -> ColumnElement[Any]:
        """PostgreSQL: the read ratings as one ``width_bucket`` over the outcome's points
        (ascending; the last of tied points is the lowest position, the one the lookup
        picks; none at most ``x``: NULL), the outcome choosing the arrays (an outcome not
        read gives NULL: the caller looks it up). ``x`` is written once, not once per
        rating, which keeps the statement small (less to interpret, less for JIT to
        compile). NaN counts every bound, as ``>=`` does on PostgreSQL."""
        assert self.ratings
        o = self.outcome
        kind: Any = DOUBLE_PRECISION if column == "points" else String
        index = 0 if column == "points" else 1
        bounds: list[tuple[Any, Any]] = []
        items: list[tuple[Any, Any]] = []
        for outcome_id, rows in self.ratings.items():
            ascending = list(reversed(rows))
            bounds.append(
                (
                    o.c.id == outcome_id,
                    pg_array([literal(r[0], DOUBLE_PRECISION) for r in ascending]),
                )
            )
            items.append(
                (
                    o.c.id == outcome_id,
                    pg_array([null(), *[literal(r[index], kind) for r in ascending]]),
                )
            )
        chosen = type_coerce(Grouping(cast(case(*items), ARRAY(kind))), ARRAY(kind))
        return chosen[func.width_bucket(x, cast(case(*bounds), ARRAY(DOUBLE_PRECISION))) + 1]

    def _criterion(self, x: ColumnElement[Any], column: str) -> ColumnElement[Any]:
        o = self.outcome
        lor = named_alias(learning_outcome_ratings, "lor")
        own: ColumnElement[Any] = (
            select(lor.c[column])
            .where(lor.c.learning_outcome_id == o.c.id, lor.c.points <= x)
            .order_by(lor.c.points.desc(), lor.c.position)
            .limit(1)
            .correlate_except(lor)
            .scalar_subquery()
        )
        index = 0 if column == "points" else 1
        if self.ratings and self.dialect == "postgresql":
            # An outcome not read then (linked since) is looked up per row.
            own = case((o.c.id.in_(list(self.ratings)), self._bucketed(x, column)), else_=own)
        elif self.ratings:
            # The first rating (points descending, position) at most x, as the lookup finds
            # it; an outcome not read then (linked since) is looked up per row.
            arms = [
                (
                    o.c.id == outcome_id,
                    case(*[(x >= literal(r[0]), literal(r[index])) for r in rows], else_=null()),
                )
                for outcome_id, rows in self.ratings.items()
            ]
            own = case(*arms, else_=own)
        default = case(
            *[(x >= r[0], literal(r[index])) for r in DEFAULT_RATINGS],
            else_=null(),
        )
        return case((o.c.points_possible.is_not(None), own), else_=default)

    def _rating(self, x: ColumnElement[Any], column: str) -> ColumnElement[Any]:
        by_criterion = self._criterion(x, column)
        if self.proficiency is None:
            return by_criterion
        opr = named_alias(outcome_proficiency_ratings, "opr")
        scale = (
            select(opr.c[column])
            .where(opr.c.outcome_proficiency_id == self.proficiency, opr.c.points <= x)
            .order_by(opr.c.points.desc(), opr.c.position)
            .limit(1)
            .correlate_except(opr)
            .scalar_subquery()
        )
        return case((self.proficiency.is_not(None), scale), else_=by_criterion)

    def rating(self, x: ColumnElement[Any]) -> ColumnElement[Any]:
        """The description of the first rating (points descending) at most ``x``."""
        return case((x.is_(None), null()), else_=self._rating(x, "description"))

    def rating_points(self, x: ColumnElement[Any]) -> ColumnElement[Any]:
        return case((x.is_(None), null()), else_=self._rating(x, "points"))


def scale_for(
    outcome: FromClause,
    course: FromClause,
    mastery_scales: bool,
    ratings: Ratings | None = None,
    dialect: str = "sqlite",
) -> Scale:
    """The scale of rows of ``outcome`` in ``course``; ``ratings`` see :func:`read_ratings`."""
    o = outcome
    has_criterion = o.c.points_possible.is_not(None)
    pp: ColumnElement[Any] = case(
        (has_criterion, o.c.points_possible), else_=literal(DEFAULT_POINTS_POSSIBLE)
    )
    mastery: ColumnElement[Any] = case(
        (has_criterion, o.c.mastery_points), else_=literal(DEFAULT_MASTERY)
    )
    if not mastery_scales:
        return Scale(pp, mastery, None, o, ratings, dialect)
    prof = proficiency_of(course)
    top = named_alias(outcome_proficiency_ratings, "opr_top")
    scale_pp = (
        select(func.max(top.c.points))
        .where(top.c.outcome_proficiency_id == prof)
        .correlate_except(top)
        .scalar_subquery()
    )
    best = named_alias(outcome_proficiency_ratings, "opr_mastery")
    scale_mastery = (
        select(best.c.points)
        .where(best.c.outcome_proficiency_id == prof, best.c.mastery)
        .order_by(best.c.position, best.c.id)
        .limit(1)
        .correlate_except(best)
        .scalar_subquery()
    )
    return Scale(
        case((prof.is_not(None), scale_pp), else_=pp),
        case((prof.is_not(None), scale_mastery), else_=mastery),
        prof,
        o,
        ratings,
        dialect,
    )


def proficiency_of(course: FromClause) -> ColumnElement[Any]:
    """The id of the active mastery scale of the course, else of its nearest account."""
    own = named_alias(outcome_proficiencies, "op_course")
    by_course = (
        select(own.c.id)
        .where(
            own.c.context_type == "Course",
            own.c.context_id == course.c.id,
            own.c.workflow_state == "active",
        )
        .order_by(own.c.id)
        .limit(1)
        .correlate_except(own)
        .scalar_subquery()
    )
    op = named_alias(outcome_proficiencies, "op_account")
    aa = named_alias(account_ancestors, "op_chain")
    by_account = (
        select(op.c.id)
        .select_from(aa.join(op, op.c.context_id == aa.c.ancestor_id))
        .where(
            aa.c.account_id == course.c.account_id,
            op.c.context_type == "Account",
            op.c.workflow_state == "active",
        )
        .order_by(aa.c.depth, op.c.id)
        .limit(1)
        .correlate_except(op, aa)
        .scalar_subquery()
    )
    return func.coalesce(by_course, by_account)


def rating_score(
    scale: Scale,
    score: ColumnElement[Any],
    possible: ColumnElement[Any],
    percent: ColumnElement[Any] | None,
) -> ColumnElement[Any]:
    """The score rated against the scale (§4.6 step 4); NULL when it cannot be computed."""
    pp = scale.points_possible
    by_ratio = case(
        (
            score.is_not(None) & possible.is_not(None) & (possible != 0),
            score / possible * pp,
        ),
        else_=null(),
    )
    if percent is None:
        return by_ratio
    base = case((pp == 0, scale.mastery_points), else_=pp)
    return case((percent.is_not(None), base * percent), else_=by_ratio)
