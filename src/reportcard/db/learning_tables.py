"""Tables the grade and outcome reports read: grading, assignments, submissions, outcomes.

Names and columns follow Canvas's own tables where one exists (spec other-reports.md §5), with
three simplifications, each a side table rather than a column on a core table:

* account settings and feature flags are rows (``account_settings``, ``feature_flags``);
* a term's grading period set is a link row (``grading_period_group_terms``);
* a course's grading scheme is a link row (``course_grading_schemes``): a row means "grading
  scheme enabled", its ``grading_standard_id`` NULL means Canvas's default scheme.

Rubric criteria of outcomes are columns (``mastery_points``, ``points_possible``) plus rating
rows (``learning_outcome_ratings``); an outcome whose ``points_possible`` is NULL has no
criterion and is read with the default one. Outcome links (Canvas content tags of type
``learning_outcome_association``) and alignments (tag type ``learning_outcome``) are separate
tables. Course-owned objects (assignments, quizzes, rubrics) have a plain ``course_id``;
objects whose owner varies have ``context_type`` (``Account`` | ``Course``) and ``context_id``.
All timestamps are naive UTC.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Computed,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from reportcard.db import functions
from reportcard.db.tables import ROOM_FOR_UPDATES, Id, metadata

__all__ = ["metadata"]


def _id() -> Column:
    return Column("id", Id, primary_key=True, autoincrement=True)


def _stamps() -> list[Column]:
    return [
        Column("created_at", DateTime, nullable=False),
        Column("updated_at", DateTime, nullable=False),
    ]


def _state(default: str = "active") -> Column:
    return Column("workflow_state", String(32), nullable=False, default=default)


# ---------------------------------------------------------------- settings and flags
# Account settings Canvas keeps in ``accounts.settings``, one row each; values are text
# (``include_integration_ids_in_gradebook_exports`` = ``true``, ``default_locale`` = ``de``).
account_settings = Table(
    "account_settings",
    metadata,
    Column("account_id", Id, ForeignKey("accounts.id"), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("value", Text, nullable=True),
)

# Feature flags set on an account: state on | off | allowed | allowed_on. The nearest flag in
# the account chain wins (``final_grades_override``, ``account_level_mastery_scales``).
feature_flags = Table(
    "feature_flags",
    metadata,
    _id(),
    Column("context_type", String(32), nullable=False, default="Account"),
    Column("context_id", Id, nullable=False),
    Column("feature", String(64), nullable=False),
    Column("state", String(32), nullable=False),
    UniqueConstraint("context_type", "context_id", "feature"),
)

# ---------------------------------------------------------------- grading periods and schemes
grading_period_groups = Table(
    "grading_period_groups",
    metadata,
    _id(),
    Column("root_account_id", Id, ForeignKey("accounts.id"), nullable=False),
    Column("title", String(255), nullable=False),
    _state(),
    *_stamps(),
    postgresql_with=ROOM_FOR_UPDATES,
)

# The grading period set (group) of a term: at most one per term.
grading_period_group_terms = Table(
    "grading_period_group_terms",
    metadata,
    Column("enrollment_term_id", Id, ForeignKey("enrollment_terms.id"), primary_key=True),
    Column("grading_period_group_id", Id, ForeignKey("grading_period_groups.id"), nullable=False),
    postgresql_with=ROOM_FOR_UPDATES,
)

grading_periods = Table(
    "grading_periods",
    metadata,
    _id(),
    Column("grading_period_group_id", Id, ForeignKey("grading_period_groups.id"), nullable=False),
    Column("title", String(255), nullable=False),
    Column("start_date", DateTime, nullable=False),
    Column("end_date", DateTime, nullable=False),
    Column("close_date", DateTime, nullable=True),
    Column("weight", Float, nullable=True),
    _state(),
    *_stamps(),
    Index("ix_grading_periods_group", "grading_period_group_id", "start_date"),
    postgresql_with=ROOM_FOR_UPDATES,
)

grading_standards = Table(
    "grading_standards",
    metadata,
    _id(),
    Column("context_type", String(32), nullable=False, default="Account"),
    Column("context_id", Id, nullable=False),
    Column("title", String(255), nullable=False),
    _state(),
    *_stamps(),
    postgresql_with=ROOM_FOR_UPDATES,
)

# The scheme's entries: a grade name and its lower bound as a fraction (A = 0.9).
grading_standard_entries = Table(
    "grading_standard_entries",
    metadata,
    Column("grading_standard_id", Id, ForeignKey("grading_standards.id"), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("name", String(64), nullable=False),
    Column("lower_bound", Float, nullable=False),
    Index("ix_grading_standard_entries_bound", "grading_standard_id", "lower_bound", "position"),
)

# A course with a grading scheme enabled; grading_standard_id NULL: Canvas's default scheme.
course_grading_schemes = Table(
    "course_grading_schemes",
    metadata,
    Column("course_id", Id, ForeignKey("courses.id"), primary_key=True),
    Column("grading_standard_id", Id, ForeignKey("grading_standards.id"), nullable=True),
    postgresql_with=ROOM_FOR_UPDATES,
)

# ---------------------------------------------------------------- scores
SCORE_KINDS = ("current", "final", "unposted_current", "unposted_final", "override")


def _score_text(kind: str) -> Column:
    """``<kind>_score_text``: the score as the reports write it (Ruby's ``Float#to_s``),
    generated by the database from the stored score on every write (:mod:`.functions`).
    SQLite's alone (:func:`.functions.sqlite_only`): PostgreSQL's table has no such column, so
    a statement naming it (``select(scores)`` too) is for SQLite only."""
    expression = f"{functions.RUBY_FLOAT}({kind}_score)"
    return Column(f"{kind}_score_text", Text, Computed(expression, persisted=True), nullable=True)


# One row per enrollment for the course (course_score true, grading_period_id NULL) and one
# per enrollment and grading period (course_score false).
scores = Table(
    "scores",
    metadata,
    _id(),
    Column("enrollment_id", Id, ForeignKey("enrollments.id"), nullable=False),
    Column("course_score", Boolean, nullable=False, default=False),
    Column("grading_period_id", Id, ForeignKey("grading_periods.id"), nullable=True),
    Column("current_score", Float, nullable=True),
    Column("final_score", Float, nullable=True),
    Column("unposted_current_score", Float, nullable=True),
    Column("unposted_final_score", Float, nullable=True),
    Column("override_score", Float, nullable=True),
    *[_score_text(kind) for kind in SCORE_KINDS],
    _state(),
    *_stamps(),
    # At most one score per enrollment and grading period, and one course score.
    Index("ix_scores_enrollment", "enrollment_id", "grading_period_id", unique=True),
    Index(
        "ix_scores_course_score",
        "enrollment_id",
        unique=True,
        sqlite_where=text("course_score"),
        postgresql_where=text("course_score"),
    ),
    postgresql_with=ROOM_FOR_UPDATES,
)

# ---------------------------------------------------------------- assignments and submissions
assignments = Table(
    "assignments",
    metadata,
    _id(),
    Column("course_id", Id, ForeignKey("courses.id"), nullable=False),
    Column("title", String(255), nullable=False),
    # Assignment, or SubAssignment for a discussion checkpoint.
    Column("type", String(32), nullable=False, default="Assignment"),
    Column("submission_types", String(255), nullable=True),  # external_tool: New Quizzes
    Column("points_possible", Float, nullable=True),
    Column("due_at", DateTime, nullable=True),
    _state("published"),
    *_stamps(),
    Index("ix_assignments_course", "course_id"),
    postgresql_with=ROOM_FOR_UPDATES,
)

submissions = Table(
    "submissions",
    metadata,
    _id(),
    Column("assignment_id", Id, ForeignKey("assignments.id"), nullable=False),
    Column("user_id", Id, ForeignKey("users.id"), nullable=False),
    Column("submitted_at", DateTime, nullable=True),
    Column("score", Float, nullable=True),
    Column("attempt", Integer, nullable=True),
    # unsubmitted | submitted | graded | pending_review | deleted
    _state("unsubmitted"),
    *_stamps(),
    UniqueConstraint("assignment_id", "user_id"),
    # workflow_state and assignment_id cover the "no submission in the window" probe of
    # students_with_no_submissions (docs/decisions/performance.md).
    Index(
        "ix_submissions_user_submitted",
        "user_id",
        "submitted_at",
        "workflow_state",
        "assignment_id",
    ),
    postgresql_with=ROOM_FOR_UPDATES,
)

quizzes = Table(
    "quizzes",
    metadata,
    _id(),
    Column("course_id", Id, ForeignKey("courses.id"), nullable=False),
    Column("title", String(255), nullable=False),
    Column("assignment_id", Id, ForeignKey("assignments.id"), nullable=True),
    _state("available"),
    *_stamps(),
    Index("ix_quizzes_course", "course_id"),
    postgresql_with=ROOM_FOR_UPDATES,
)

quiz_submissions = Table(
    "quiz_submissions",
    metadata,
    _id(),
    Column("quiz_id", Id, ForeignKey("quizzes.id"), nullable=False),
    Column("user_id", Id, ForeignKey("users.id"), nullable=False),
    Column("submission_id", Id, ForeignKey("submissions.id"), nullable=True),
    Column("attempt", Integer, nullable=True),
    Column("score", Float, nullable=True),
    Column("finished_at", DateTime, nullable=True),
    _state("complete"),
    *_stamps(),
    Index("ix_quiz_submissions_quiz", "quiz_id", "user_id"),
    postgresql_with=ROOM_FOR_UPDATES,
)

assessment_questions = Table(
    "assessment_questions",
    metadata,
    _id(),
    Column("name", String(255), nullable=True),
    _state(),
    *_stamps(),
    postgresql_with=ROOM_FOR_UPDATES,
)

rubrics = Table(
    "rubrics",
    metadata,
    _id(),
    Column("course_id", Id, ForeignKey("courses.id"), nullable=False),
    Column("title", String(255), nullable=False),
    Column("points_possible", Float, nullable=True),
    _state(),
    *_stamps(),
    postgresql_with=ROOM_FOR_UPDATES,
)

# A rubric assessment of a submission: the artifact of rubric-based outcome results.
rubric_assessments = Table(
    "rubric_assessments",
    metadata,
    _id(),
    Column("rubric_id", Id, ForeignKey("rubrics.id"), nullable=False),
    Column("user_id", Id, ForeignKey("users.id"), nullable=False),
    Column("submission_id", Id, ForeignKey("submissions.id"), nullable=True),
    Column("score", Float, nullable=True),
    *_stamps(),
    postgresql_with=ROOM_FOR_UPDATES,
)

# ---------------------------------------------------------------- outcomes
learning_outcomes = Table(
    "learning_outcomes",
    metadata,
    _id(),
    Column("context_type", String(32), nullable=True),  # NULL: a global outcome
    Column("context_id", Id, nullable=True),
    Column("short_description", String(255), nullable=False),
    Column("description", Text, nullable=True),
    Column("display_name", String(255), nullable=True),
    Column("vendor_guid", String(255), nullable=True),
    Column("calculation_method", String(32), nullable=True),
    Column("calculation_int", Integer, nullable=True),
    # The rubric criterion; points_possible NULL means none is stored (the default applies).
    Column("mastery_points", Float, nullable=True),
    Column("points_possible", Float, nullable=True),
    _state(),
    *_stamps(),
    postgresql_with=ROOM_FOR_UPDATES,
)

# The criterion's ratings in their stored order (position; normally points descending).
learning_outcome_ratings = Table(
    "learning_outcome_ratings",
    metadata,
    Column("learning_outcome_id", Id, ForeignKey("learning_outcomes.id"), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("points", Float, nullable=False),
    Column("description", String(255), nullable=True),
)

learning_outcome_groups = Table(
    "learning_outcome_groups",
    metadata,
    _id(),
    Column("context_type", String(32), nullable=True),
    Column("context_id", Id, nullable=True),
    # NULL: the context's root group.
    Column("parent_group_id", Id, ForeignKey("learning_outcome_groups.id"), nullable=True),
    Column("title", String(255), nullable=False),
    Column("description", Text, nullable=True),
    Column("vendor_guid", String(255), nullable=True),
    _state(),
    *_stamps(),
    Index("ix_learning_outcome_groups_context", "context_type", "context_id"),
    Index("ix_learning_outcome_groups_parent", "parent_group_id"),
    postgresql_with=ROOM_FOR_UPDATES,
)

# An outcome linked into a group of a context (Canvas: learning_outcome_association tags).
learning_outcome_links = Table(
    "learning_outcome_links",
    metadata,
    _id(),
    Column("context_type", String(32), nullable=False),
    Column("context_id", Id, nullable=False),
    Column(
        "learning_outcome_group_id", Id, ForeignKey("learning_outcome_groups.id"), nullable=False
    ),
    Column("learning_outcome_id", Id, ForeignKey("learning_outcomes.id"), nullable=False),
    _state(),
    *_stamps(),
    Index("ix_learning_outcome_links_context", "context_type", "context_id"),
    Index("ix_learning_outcome_links_outcome", "learning_outcome_id"),
    postgresql_with=ROOM_FOR_UPDATES,
)

# An outcome aligned to an assignment, a question bank or a rubric (tag type learning_outcome).
learning_outcome_alignments = Table(
    "learning_outcome_alignments",
    metadata,
    _id(),
    Column("course_id", Id, ForeignKey("courses.id"), nullable=False),
    Column("learning_outcome_id", Id, ForeignKey("learning_outcomes.id"), nullable=False),
    # Assignment | AssessmentQuestionBank | Rubric
    Column("content_type", String(64), nullable=False),
    Column("content_id", Id, nullable=False),
    _state(),
    *_stamps(),
    Index("ix_learning_outcome_alignments_content", "content_type", "content_id"),
    postgresql_with=ROOM_FOR_UPDATES,
)

learning_outcome_results = Table(
    "learning_outcome_results",
    metadata,
    _id(),
    Column("user_id", Id, ForeignKey("users.id"), nullable=False),
    Column("learning_outcome_id", Id, ForeignKey("learning_outcomes.id"), nullable=False),
    Column(
        "alignment_id", Id, ForeignKey("learning_outcome_alignments.id"), nullable=False
    ),  # Canvas's content_tag_id
    Column("course_id", Id, ForeignKey("courses.id"), nullable=False),  # the result's context
    Column("association_type", String(64), nullable=True),  # Quiz | Assignment | ...
    Column("association_id", Id, nullable=True),
    # RubricAssessment | Quizzes::QuizSubmission | Submission
    Column("artifact_type", String(64), nullable=True),
    Column("artifact_id", Id, nullable=True),
    Column("attempt", Integer, nullable=True),
    Column("score", Float, nullable=True),
    Column("possible", Float, nullable=True),
    Column("percent", Float, nullable=True),
    Column("mastery", Boolean, nullable=True),
    Column("hide_points", Boolean, nullable=False, default=False),
    Column("submitted_at", DateTime, nullable=True),
    Column("assessed_at", DateTime, nullable=True),
    _state(),
    *_stamps(),
    Index("ix_learning_outcome_results_outcome", "learning_outcome_id", "user_id"),
    Index("ix_learning_outcome_results_user", "user_id", "alignment_id"),
    Index("ix_learning_outcome_results_course", "course_id"),
    postgresql_with=ROOM_FOR_UPDATES,
)

# Per-question results of a quiz result (question-bank alignments).
learning_outcome_question_results = Table(
    "learning_outcome_question_results",
    metadata,
    _id(),
    Column(
        "learning_outcome_result_id",
        Id,
        ForeignKey("learning_outcome_results.id"),
        nullable=False,
    ),
    Column("assessment_question_id", Id, ForeignKey("assessment_questions.id"), nullable=False),
    Column("attempt", Integer, nullable=True),
    Column("score", Float, nullable=True),
    Column("possible", Float, nullable=True),
    Column("percent", Float, nullable=True),
    Column("mastery", Boolean, nullable=True),
    _state(),
    *_stamps(),
    Index("ix_learning_outcome_question_results_result", "learning_outcome_result_id"),
    postgresql_with=ROOM_FOR_UPDATES,
)

# A friendlier description of an outcome for one context (an account or a course).
outcome_friendly_descriptions = Table(
    "outcome_friendly_descriptions",
    metadata,
    _id(),
    Column("learning_outcome_id", Id, ForeignKey("learning_outcomes.id"), nullable=False),
    Column("context_type", String(32), nullable=False),
    Column("context_id", Id, nullable=False),
    Column("description", Text, nullable=False),
    _state(),
    *_stamps(),
    Index("ix_outcome_friendly_descriptions_outcome", "learning_outcome_id"),
)

# Mastery scales (Canvas: outcome proficiencies) of an account or a course.
outcome_proficiencies = Table(
    "outcome_proficiencies",
    metadata,
    _id(),
    Column("context_type", String(32), nullable=False),
    Column("context_id", Id, nullable=False),
    _state(),
    *_stamps(),
    Index("ix_outcome_proficiencies_context", "context_type", "context_id"),
    postgresql_with=ROOM_FOR_UPDATES,
)

outcome_proficiency_ratings = Table(
    "outcome_proficiency_ratings",
    metadata,
    _id(),
    Column("outcome_proficiency_id", Id, ForeignKey("outcome_proficiencies.id"), nullable=False),
    Column("description", String(255), nullable=False),
    Column("points", Float, nullable=False),
    Column("mastery", Boolean, nullable=False, default=False),
    Column("color", String(16), nullable=True),
    Column("position", Integer, nullable=False, default=1),
    Index("ix_outcome_proficiency_ratings_scale", "outcome_proficiency_id", "points"),
    postgresql_with=ROOM_FOR_UPDATES,
)
