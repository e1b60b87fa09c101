"""A small hand-built institution for the grade, outcome and submission report tests.

Every id is explicit so that the expected CSVs can be derived from the spec by hand.

Root 1 "Lakeside University" (America/Denver, domain lakeside.example.edu)
  2 School of Arts            4 School of Science          5 Closed School (deleted)
    3 Music
Root 9 "Hilltop College" (UTC): nothing of it may appear in root 1's reports.

Courses (account, term, state):
  1 Painting (2, Fall 2024, available)   scheme: Letters (A .9, B .8, C .7, D .6, F 0)
  2 Choir (3, Fall 2024, available)      scheme: Canvas's default
  3 Physics (4, Spring 2025, available)  no scheme; has a quiz
  4 Sculpture (2, Fall 2024, completed, concluded 2024-11-20)  scheme: Letters
  5 Ceramics (2, Fall 2024, deleted)
  6 Chemistry (4, Spring 2025, claimed)
  7 Old Lab (4, Default Term, completed, concluded 2023-01-01)

Students and logins on root 1: Ann (ann S1 INT-1), Ben (ben S2, ben.alt without SIS id; his
Painting enrollment records ben.alt), Cara (cara without SIS id; cara-hill on root 9), Dev (dev
S4 deleted, dev.new S4B), Gus (gus S7 and an Instructure Identity login); Eve has a login on
root 9 only; Finn teaches. The run's "now" is 2024-12-01 12:00 UTC; Denver is UTC-7 then.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection, Table, insert

from reportcard.db.learning_tables import (
    account_settings,
    assessment_questions,
    assignments,
    course_grading_schemes,
    feature_flags,
    grading_period_group_terms,
    grading_period_groups,
    grading_periods,
    grading_standard_entries,
    grading_standards,
    learning_outcome_alignments,
    learning_outcome_groups,
    learning_outcome_links,
    learning_outcome_question_results,
    learning_outcome_ratings,
    learning_outcome_results,
    learning_outcomes,
    outcome_friendly_descriptions,
    outcome_proficiencies,
    outcome_proficiency_ratings,
    quiz_submissions,
    quizzes,
    scores,
    submissions,
)
from reportcard.db.tables import (
    accounts,
    course_sections,
    courses,
    enrollment_terms,
    enrollments,
    pseudonyms,
    roles,
    users,
)
from reportcard.lms.tree import refresh
from reportcard.reports.catalog import RunContext, get_report
from reportcard.runs.context import build_context
from reportcard.runs.query import part_rows
from tests.clocks import T0_2024 as T0

ROOT = 1
OTHER_ROOT = 9
NOW = datetime(2024, 12, 1, 12, 0, 0)
STAMPS = {"created_at": T0, "updated_at": T0}

Rows = tuple[Table, list[dict[str, Any]]]


def _rows(table: Table, cols: str, data: list[tuple[Any, ...]], **extra: Any) -> Rows:
    names = cols.split()
    return table, [{**extra, **dict(zip(names, row, strict=True))} for row in data]


def _core() -> list[Rows]:
    acct_rows = _rows(
        accounts,
        "id name parent_account_id root_account_id workflow_state default_time_zone domain",
        [
            (
                1,
                "Lakeside University",
                None,
                None,
                "active",
                "America/Denver",
                "lakeside.example.edu",
            ),
            (2, "School of Arts", 1, 1, "active", "UTC", None),
            (3, "Music", 2, 1, "active", "UTC", None),
            (4, "School of Science", 1, 1, "active", "UTC", None),
            (5, "Closed School", 1, 1, "deleted", "UTC", None),
            (9, "Hilltop College", None, None, "active", "UTC", "hilltop.example.edu"),
        ],
        **STAMPS,
    )
    for row in acct_rows[1]:
        row["uuid"] = f"acct-{row['id']}"
    return [
        acct_rows,
        _rows(
            enrollment_terms,
            "id root_account_id name workflow_state is_default sis_source_id",
            [
                (1, 1, "Default Term", "active", True, None),
                (2, 1, "Fall 2024", "active", False, "FA24"),
                (3, 1, "Spring 2025", "active", False, "SP25"),
                (4, 1, "Old Term", "deleted", False, "OLD"),
                (9, 9, "Default Term", "active", True, None),
            ],
            **STAMPS,
        ),
        _rows(
            courses,
            "id root_account_id account_id enrollment_term_id name course_code sis_source_id "
            "workflow_state conclude_at",
            [
                (1, 1, 2, 2, "Painting", "PAINT101", "PAINT101", "available", None),
                (2, 1, 3, 2, "Choir", "CHOIR200", "CHOIR200", "available", None),
                (3, 1, 4, 3, "Physics", "PHYS100", "PHYS100", "available", None),
                (
                    4,
                    1,
                    2,
                    2,
                    "Sculpture",
                    "SCULP300",
                    "SCULP300",
                    "completed",
                    datetime(2024, 11, 20),
                ),
                (5, 1, 2, 2, "Ceramics", "CER100", None, "deleted", None),
                (6, 1, 4, 3, "Chemistry", "CHEM100", "CHEM100", "claimed", None),
                (7, 1, 4, 1, "Old Lab", "LAB1", None, "completed", datetime(2023, 1, 1)),
                (9, 9, 9, 9, "Hilltop Art", "PAINT101", "PAINT101", "available", None),
            ],
            **STAMPS,
        ),
        _rows(
            course_sections,
            "id root_account_id course_id name sis_source_id",
            [
                (1, 1, 1, "Painting A", "PAINT-A"),
                (2, 1, 1, "Painting B", None),
                (3, 1, 2, "Choir 1", "CHOIR-1"),
                (4, 1, 3, "Physics 1", "PHYS-1"),
                (5, 1, 4, "Sculpture 1", "SCULP-1"),
                (6, 1, 5, "Ceramics 1", None),
                (7, 1, 6, "Chemistry 1", "CHEM-1"),
                (8, 1, 7, "Old Lab 1", None),
                (9, 9, 9, "Hilltop 1", "PAINT-A"),
            ],
            **STAMPS,
        ),
        _rows(
            users,
            "id name sortable_name uuid",
            [
                (1, "Ann Archer", "Archer, Ann", "u-ann"),
                (2, "Ben Baker", "Baker, Ben", "u-ben"),
                (3, "Cara Chen", "Chen, Cara", "u-cara"),
                (4, "Dev Diaz", "Diaz, Dev", "u-dev"),
                (5, "Eve Ito", "Ito, Eve", "u-eve"),
                (6, "Finn Fox", "Fox, Finn", "u-finn"),
                (7, "Gus Gray", "Gray, Gus", "u-gus"),
                (9, "Hal Hill", "Hill, Hal", "u-hal"),
            ],
            **STAMPS,
        ),
        _rows(
            pseudonyms,
            "id user_id account_id unique_id sis_user_id integration_id workflow_state position "
            "is_inst_id",
            [
                (1, 1, 1, "ann", "S1", "INT-1", "active", 1, False),
                (2, 2, 1, "ben.alt", None, None, "active", 2, False),
                (3, 2, 1, "ben", "S2", None, "active", 1, False),
                (4, 3, 1, "cara", None, None, "active", 1, False),
                (5, 4, 1, "dev", "S4", None, "deleted", 1, False),
                (6, 4, 1, "dev.new", "S4B", None, "active", 2, False),
                (7, 6, 1, "finn", "T6", None, "active", 1, False),
                (8, 7, 1, "gus", "S7", None, "active", 1, False),
                (9, 7, 1, "gus@instructure.com", None, None, "active", 2, True),
                (10, 5, 9, "eve", "E5", None, "active", 1, False),
                (11, 9, 9, "hal", "H9", None, "active", 1, False),
                (12, 3, 9, "cara-hill", "CH3", None, "active", 1, False),
            ],
            **STAMPS,
        ),
        _rows(
            roles,
            "id root_account_id account_id name base_role_type built_in",
            [
                (1, None, None, "StudentEnrollment", "StudentEnrollment", True),
                (2, None, None, "TeacherEnrollment", "TeacherEnrollment", True),
            ],
        ),
        _rows(
            enrollments,
            "id root_account_id user_id course_id course_section_id role_id type workflow_state "
            "sis_pseudonym_id updated_at",
            [
                (1, 1, 1, 1, 1, 1, "StudentEnrollment", "active", None, T0),
                (2, 1, 2, 1, 2, 1, "StudentEnrollment", "active", 2, T0),
                (3, 1, 3, 1, 1, 1, "StudentEnrollment", "completed", None, T0),
                (4, 1, 4, 1, 1, 1, "StudentEnrollment", "inactive", None, datetime(2024, 11, 25)),
                (5, 1, 1, 2, 3, 1, "StudentEnrollment", "active", None, T0),
                (6, 1, 2, 2, 3, 1, "StudentEnrollment", "deleted", None, datetime(2024, 6, 1)),
                (7, 1, 5, 2, 3, 1, "StudentEnrollment", "active", None, T0),
                (8, 1, 1, 3, 4, 1, "StudentEnrollment", "active", None, T0),
                (9, 1, 7, 3, 4, 1, "StudentEnrollment", "invited", None, T0),
                (10, 1, 2, 4, 5, 1, "StudentEnrollment", "completed", None, T0),
                (11, 1, 3, 5, 6, 1, "StudentEnrollment", "active", None, T0),
                (12, 1, 6, 1, 1, 2, "TeacherEnrollment", "active", None, T0),
                (13, 1, 2, 6, 7, 1, "StudentEnrollment", "active", None, T0),
                (14, 1, 1, 1, 2, 1, "StudentEnrollment", "active", None, T0),
                (15, 1, 7, 7, 8, 1, "StudentEnrollment", "completed", None, T0),
                (16, 1, 4, 2, 3, 1, "StudentEnrollment", "rejected", None, T0),
                (19, 9, 9, 9, 9, 1, "StudentEnrollment", "active", None, T0),
            ],
            created_at=T0,
        ),
    ]


def _grading() -> list[Rows]:
    return [
        _rows(
            grading_standards,
            "id context_type context_id title",
            [(1, "Account", 1, "Letters")],
            **STAMPS,
        ),
        _rows(
            grading_standard_entries,
            "grading_standard_id position name lower_bound",
            [
                (1, 1, "A", 0.9),
                (1, 2, "B", 0.8),
                (1, 3, "C", 0.7),
                (1, 4, "D", 0.6),
                (1, 5, "F", 0.0),
            ],
        ),
        _rows(
            course_grading_schemes,
            "course_id grading_standard_id",
            [(1, 1), (2, None), (4, 1)],
        ),
        _rows(
            grading_period_groups,
            "id root_account_id title workflow_state",
            [(1, 1, "Fall Periods", "active"), (2, 1, "Retired Periods", "deleted")],
            **STAMPS,
        ),
        _rows(
            grading_period_group_terms,
            "enrollment_term_id grading_period_group_id",
            [(2, 1), (4, 2)],
        ),
        _rows(
            grading_periods,
            "id grading_period_group_id title start_date end_date workflow_state",
            [
                (2, 1, "Q2", datetime(2024, 10, 15), datetime(2024, 12, 20), "active"),
                (1, 1, "Q1", datetime(2024, 8, 20), datetime(2024, 10, 15), "active"),
                (3, 1, "Q0", datetime(2024, 8, 1), datetime(2024, 8, 20), "deleted"),
            ],
            **STAMPS,
        ),
        _rows(
            scores,
            "id enrollment_id course_score grading_period_id current_score final_score "
            "unposted_current_score unposted_final_score override_score workflow_state",
            [
                (1, 1, True, None, 88.0, 85.0, 90.0, 86.5, 92.0, "active"),
                (2, 2, True, None, 72.5, 70.0, 72.5, 70.0, None, "active"),
                (3, 3, True, None, 95.0, 95.0, 95.0, 95.0, None, "active"),
                (4, 4, True, None, 55.0, 40.0, 55.0, 40.0, None, "active"),
                (5, 5, True, None, 101.5, 99.0, 101.5, 99.0, None, "active"),
                (6, 6, True, None, 60.0, 60.0, 60.0, 60.0, None, "deleted"),
                (7, 8, True, None, None, None, None, None, None, "active"),
                (8, 10, True, None, 82.0, 82.0, 82.0, 82.0, None, "active"),
                (9, 14, True, None, 90.0, 89.99, 90.0, 89.99, None, "active"),
                (11, 11, True, None, 77.0, 77.0, 77.0, 77.0, None, "active"),
                (12, 15, True, None, 65.0, 65.0, 65.0, 65.0, None, "active"),
                (21, 1, False, 1, 80.0, 80.0, 81.0, 81.0, None, "active"),
                (22, 1, False, 2, 93.0, 90.0, 94.0, 91.0, 95.0, "active"),
                (23, 2, False, 1, 70.0, 65.0, 70.0, 65.0, None, "active"),
                (24, 3, False, 2, 95.0, 95.0, 95.0, 95.0, None, "deleted"),
                (25, 5, False, 1, 100.0, 100.0, 100.0, 100.0, None, "active"),
                (26, 3, False, 3, 50.0, 50.0, 50.0, 50.0, None, "active"),
            ],
            **STAMPS,
        ),
    ]


def _work() -> list[Rows]:
    return [
        _rows(
            assignments,
            "id course_id title type workflow_state points_possible",
            [
                (1, 1, "Essay 1", "Assignment", "published", 10.0),
                (2, 6, "Essay 2", "Assignment", "deleted", 10.0),
                (3, 3, "Lab report", "Assignment", "published", 20.0),
                (4, 3, "Quiz 1", "Assignment", "published", 5.0),
                (5, 2, "Solo", "Assignment", "published", 10.0),
                (6, 4, "Final sculpture", "Assignment", "published", 10.0),
                (7, 1, "Checkpoint", "SubAssignment", "published", 5.0),
                (8, 5, "Glaze", "Assignment", "published", 10.0),
            ],
            **STAMPS,
        ),
        _rows(
            submissions,
            "id assignment_id user_id submitted_at score workflow_state",
            [
                (1, 1, 1, datetime(2024, 11, 20, 17, 30), 9.0, "graded"),
                (2, 1, 2, datetime(2024, 11, 21, 18, 0), 8.0, "graded"),
                (3, 1, 3, None, None, "unsubmitted"),
                (4, 3, 1, datetime(2024, 11, 25, 16, 0), 15.5, "graded"),
                (5, 4, 1, datetime(2024, 11, 22, 15, 0), 4.0, "graded"),
                (6, 5, 1, datetime(2024, 11, 29, 20, 0), 7.0, "submitted"),
                (7, 6, 2, datetime(2024, 11, 10, 18, 0), 9.0, "graded"),
                (8, 2, 1, datetime(2024, 11, 26), 5.0, "deleted"),
                (9, 1, 4, datetime(2024, 11, 28, 19, 0), 6.0, "graded"),
                (10, 8, 3, datetime(2024, 11, 30, 1, 0), 7.5, "submitted"),
                (11, 5, 4, datetime(2024, 11, 5, 12, 0), 3.0, "graded"),
            ],
            **STAMPS,
        ),
        _rows(
            quizzes,
            "id course_id title assignment_id workflow_state",
            [(1, 3, "Quiz 1", 4, "available")],
            **STAMPS,
        ),
        _rows(
            quiz_submissions,
            "id quiz_id user_id submission_id attempt score finished_at workflow_state",
            [(1, 1, 1, 5, 2, 4.0, datetime(2024, 11, 22, 15, 5), "complete")],
            **STAMPS,
        ),
        _rows(
            assessment_questions,
            "id name",
            [(1, "Q: add"), (2, "Q: subtract")],
            **STAMPS,
        ),
    ]


def _outcomes() -> list[Rows]:
    return [
        _rows(
            learning_outcome_groups,
            "id context_type context_id parent_group_id title description vendor_guid "
            "workflow_state",
            [
                (1, "Account", 1, None, "Lakeside University", None, None, "active"),
                (2, "Account", 1, 1, "Writing", "Writing skills", "wr-group", "active"),
                (3, "Account", 1, 2, "Essays", None, "", "active"),
                (4, "Account", 1, 1, "Numeracy", "Numbers", None, "active"),
                (5, "Account", 1, 1, "Archived", None, None, "deleted"),
                (6, "Account", 1, 5, "Under archived", None, None, "active"),
                (10, "Account", 2, None, "School of Arts", None, None, "active"),
                (11, "Account", 2, 10, "Arts Skills", None, "arts-skills", "active"),
                (20, "Course", 1, None, "Painting", None, None, "active"),
                (30, "Account", 9, None, "Hilltop", None, None, "active"),
            ],
            **STAMPS,
        ),
        _rows(
            learning_outcomes,
            "id context_type context_id short_description description display_name vendor_guid "
            "calculation_method calculation_int mastery_points points_possible workflow_state",
            [
                (
                    1,
                    "Account",
                    1,
                    "Thesis",
                    "States a clear thesis",
                    "Thesis statement",
                    "thesis-guid",
                    "decaying_average",
                    65,
                    3.0,
                    4.0,
                    "active",
                ),
                (
                    2,
                    "Account",
                    1,
                    "Evidence",
                    "Uses evidence, well",
                    None,
                    None,
                    "highest",
                    None,
                    None,
                    None,
                    "active",
                ),
                (
                    3,
                    None,
                    None,
                    "Counting",
                    "Counts objects",
                    "Counting",
                    "count-guid",
                    "n_mastery",
                    2,
                    2.0,
                    3.0,
                    "active",
                ),
                (
                    4,
                    "Account",
                    1,
                    "Old outcome",
                    None,
                    None,
                    None,
                    None,
                    None,
                    None,
                    None,
                    "deleted",
                ),
                (
                    5,
                    "Account",
                    2,
                    "Color theory",
                    "Mixes colors",
                    None,
                    None,
                    "latest",
                    None,
                    1.0,
                    2.0,
                    "active",
                ),
                (
                    6,
                    "Account",
                    1,
                    "Root only",
                    "Linked at the root",
                    None,
                    None,
                    "highest",
                    None,
                    None,
                    None,
                    "active",
                ),
            ],
            **STAMPS,
        ),
        _rows(
            learning_outcome_ratings,
            "learning_outcome_id position points description",
            [
                (1, 1, 4.0, "Exemplary"),
                (1, 2, 3.0, "Proficient"),
                (1, 3, 0.0, "Beginning"),
                (3, 1, 3.0, "Great"),
                (3, 2, 2.0, "OK"),
                (3, 3, 0.0, "Not yet"),
                (5, 1, 2.0, "Mastered"),
                (5, 2, 1.0, "Near"),
                (5, 3, 0.0, "Below"),
            ],
        ),
        _rows(
            learning_outcome_links,
            "id context_type context_id learning_outcome_group_id learning_outcome_id "
            "workflow_state",
            [
                (1, "Account", 1, 2, 1, "active"),
                (2, "Account", 1, 3, 1, "active"),
                (3, "Account", 1, 3, 2, "active"),
                (4, "Account", 1, 4, 3, "active"),
                (5, "Account", 1, 2, 4, "active"),
                (6, "Account", 1, 1, 6, "active"),
                (7, "Account", 1, 2, 5, "deleted"),
                (8, "Account", 2, 11, 5, "active"),
                (9, "Account", 2, 11, 1, "active"),
                (10, "Account", 1, 5, 2, "active"),
                (11, "Course", 1, 20, 1, "active"),
            ],
            **STAMPS,
        ),
        _rows(
            outcome_friendly_descriptions,
            "id learning_outcome_id context_type context_id description workflow_state",
            [
                (1, 1, "Account", 1, "Make a clear claim", "active"),
                (2, 1, "Account", 2, "Claim it, artfully", "active"),
                (3, 2, "Course", 1, "course level", "active"),
                (4, 3, "Account", 1, "retired text", "deleted"),
                (5, 5, "Account", 1, "Blends colors", "active"),
            ],
            **STAMPS,
        ),
        _rows(
            learning_outcome_alignments,
            "id course_id learning_outcome_id content_type content_id workflow_state",
            [
                (1, 1, 1, "Assignment", 1, "active"),
                (2, 1, 2, "Assignment", 1, "active"),
                (3, 6, 1, "Assignment", 2, "active"),
                (4, 3, 3, "Assignment", 3, "active"),
                (5, 3, 3, "AssessmentQuestionBank", 1, "active"),
                (6, 2, 5, "Assignment", 5, "active"),
                (7, 4, 1, "Assignment", 6, "active"),
                (8, 1, 1, "Assignment", 7, "active"),
                (9, 1, 2, "Assignment", 1, "deleted"),
                (10, 5, 2, "Assignment", 8, "active"),
            ],
            **STAMPS,
        ),
        _rows(
            learning_outcome_results,
            "id user_id learning_outcome_id alignment_id course_id association_type "
            "association_id artifact_type artifact_id attempt score possible percent mastery "
            "hide_points workflow_state",
            [
                (
                    1,
                    1,
                    1,
                    1,
                    1,
                    "Assignment",
                    1,
                    "RubricAssessment",
                    1,
                    1,
                    3.0,
                    4.0,
                    0.75,
                    True,
                    False,
                    "active",
                ),
                (
                    2,
                    2,
                    1,
                    1,
                    1,
                    "Assignment",
                    1,
                    "RubricAssessment",
                    2,
                    1,
                    2.0,
                    4.0,
                    None,
                    False,
                    False,
                    "active",
                ),
                (
                    3,
                    1,
                    2,
                    2,
                    1,
                    "Assignment",
                    1,
                    "RubricAssessment",
                    1,
                    1,
                    4.0,
                    5.0,
                    0.8,
                    True,
                    True,
                    "active",
                ),
                (
                    4,
                    1,
                    3,
                    5,
                    3,
                    "Quiz",
                    1,
                    "Quizzes::QuizSubmission",
                    1,
                    2,
                    2.0,
                    3.0,
                    None,
                    None,
                    False,
                    "active",
                ),
                (
                    5,
                    1,
                    3,
                    4,
                    3,
                    "Assignment",
                    3,
                    "Submission",
                    4,
                    1,
                    3.0,
                    3.0,
                    None,
                    True,
                    False,
                    "active",
                ),
                (
                    6,
                    1,
                    3,
                    4,
                    3,
                    "Assignment",
                    3,
                    "RubricAssessment",
                    3,
                    1,
                    3.0,
                    3.0,
                    None,
                    True,
                    False,
                    "active",
                ),
                (
                    7,
                    1,
                    5,
                    6,
                    2,
                    "Assignment",
                    5,
                    "RubricAssessment",
                    4,
                    1,
                    1.5,
                    2.0,
                    None,
                    True,
                    False,
                    "active",
                ),
                (
                    8,
                    2,
                    1,
                    7,
                    4,
                    "Assignment",
                    6,
                    "RubricAssessment",
                    5,
                    1,
                    2.5,
                    4.0,
                    None,
                    False,
                    False,
                    "active",
                ),
                (
                    9,
                    3,
                    2,
                    10,
                    5,
                    "Assignment",
                    8,
                    "RubricAssessment",
                    6,
                    1,
                    5.0,
                    5.0,
                    None,
                    True,
                    False,
                    "active",
                ),
                (
                    10,
                    4,
                    1,
                    1,
                    1,
                    "Assignment",
                    1,
                    "RubricAssessment",
                    7,
                    1,
                    1.0,
                    4.0,
                    None,
                    False,
                    False,
                    "active",
                ),
                (
                    11,
                    2,
                    1,
                    1,
                    1,
                    "Assignment",
                    1,
                    "RubricAssessment",
                    9,
                    2,
                    4.0,
                    4.0,
                    None,
                    True,
                    False,
                    "deleted",
                ),
                (
                    13,
                    7,
                    3,
                    4,
                    3,
                    "Assignment",
                    3,
                    "RubricAssessment",
                    8,
                    1,
                    None,
                    None,
                    0.5,
                    None,
                    False,
                    "active",
                ),
                (
                    14,
                    1,
                    3,
                    4,
                    3,
                    "Assignment",
                    3,
                    None,
                    None,
                    1,
                    1.0,
                    3.0,
                    None,
                    False,
                    False,
                    "active",
                ),
            ],
            **STAMPS,
        ),
        _rows(
            learning_outcome_question_results,
            "id learning_outcome_result_id assessment_question_id attempt score possible "
            "percent mastery workflow_state",
            [
                (1, 4, 1, 2, 1.0, 1.0, 1.0, True, "active"),
                (2, 4, 2, 2, 0.0, 1.0, 0.0, False, "active"),
                (3, 4, 2, 1, 0.5, 1.0, 0.5, False, "deleted"),
            ],
            **STAMPS,
        ),
        _rows(
            outcome_proficiencies,
            "id context_type context_id workflow_state",
            [(1, "Account", 1, "active"), (2, "Course", 3, "active"), (3, "Account", 2, "deleted")],
            **STAMPS,
        ),
        _rows(
            outcome_proficiency_ratings,
            "id outcome_proficiency_id description points mastery position",
            [
                (1, 1, "Exceeds", 5.0, False, 1),
                (2, 1, "Mastery", 4.0, True, 2),
                (3, 1, "Near", 2.0, False, 3),
                (4, 1, "Well below", 0.0, False, 4),
                (5, 2, "Got it", 2.0, True, 1),
                (6, 2, "Not yet", 0.0, False, 2),
                (7, 3, "Ignored", 9.0, True, 1),
            ],
        ),
    ]


def build(conn: Connection) -> None:
    """Insert the institution and refresh the derived tree and user associations."""
    for table, rows in [*_core(), *_grading(), *_work(), *_outcomes()]:
        conn.execute(insert(table), rows)
    refresh(conn, ROOT)
    refresh(conn, OTHER_ROOT)


def set_flag(conn: Connection, feature: str, state: str, account_id: int = ROOT) -> None:
    conn.execute(
        insert(feature_flags).values(
            context_type="Account", context_id=account_id, feature=feature, state=state
        )
    )


def set_setting(conn: Connection, name: str, value: str, account_id: int = ROOT) -> None:
    conn.execute(insert(account_settings).values(account_id=account_id, name=name, value=value))


def context(conn: Connection, report: str, account_id: int = ROOT, **params: Any) -> RunContext:
    run = SimpleNamespace(id=1, account_id=account_id, report_type=report, parameters=params)
    return build_context(conn, run, now=NOW)


def run_files(
    conn: Connection, report: str, *, account_id: int = ROOT, **params: Any
) -> dict[str, str]:
    """Every file a run selects, as exact CSV text, keyed by part name.

    Rows come from the same queries and formatters the workers use; a part with no row gets
    its ``if_empty`` rows, as the compile step writes them.
    """
    ctx = context(conn, report, account_id, **params)
    declaration = get_report(report)
    assert declaration is not None
    out = {}
    for name in declaration.select_parts(ctx):
        query = declaration.part(name).build(ctx)
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow([c.header for c in query.columns])
        rows = list(part_rows(conn, query, ctx))
        writer.writerows(rows or query.if_empty)
        out[name] = buf.getvalue()
    return out


def run_file(conn: Connection, report: str, *, account_id: int = ROOT, **params: Any) -> str:
    """The only file of a single-file report."""
    files = run_files(conn, report, account_id=account_id, **params)
    assert len(files) == 1, list(files)
    return next(iter(files.values()))


def extra_text(conn: Connection, report: str, *, account_id: int = ROOT, **params: Any) -> str:
    declaration = get_report(report)
    assert declaration is not None
    return declaration.extra_text(context(conn, report, account_id, **params))


def lines(*rows: str) -> str:
    """Expected CSV text: one literal string per row, each ended with ``\\n``."""
    return "".join(row + "\n" for row in rows)
