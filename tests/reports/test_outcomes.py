"""The outcome reports on the hand-built institution (spec other-reports.md §4.5, §4.6, §4.18).

Outcomes linked in the root account: Thesis (1; own criterion 4/3/0, mastery 3; linked into
Writing and Essays), Evidence (2; no criterion, so the default 5/3/0 with mastery 3; Essays),
Counting (3; global; criterion 3/2/0, mastery 2; Numeracy), Old outcome (4; deleted) and Root
only (6; linked into the root group). Color theory (5) is linked in the School of Arts only.
Times are written in America/Denver (UTC-7 in November).
"""

from __future__ import annotations

import csv

import pytest
from sqlalchemy import Connection, insert, update

from reportcard.db.learning_tables import (
    learning_outcome_ratings,
    learning_outcome_results,
    quizzes,
)
from reportcard.db.tables import enrollments
from reportcard.reports import outcome_scales
from reportcard.reports.catalog import get_report

from .learning_institution import T0, build, extra_text, lines, run_file, set_flag, set_setting

EXPORT = "outcome_export_csv"
RESULTS = "outcome_results_csv"
MAP = "student_assignment_outcome_map_csv"
URL = "https://lakeside.example.edu/courses"


BUILD = build  # what the conn fixture (conftest.py) writes


# ---------------------------------------------------------------- outcome_export_csv

EXPORT_HEADER = (
    "vendor_guid,object_type,title,description,friendly_description,display_name,"
    "calculation_method,calculation_int,parent_guids,workflow_state,mastery_points,ratings"
)
# Groups breadth first (the root group, Archived (deleted) and its child are left out); a
# blank vendor guid falls back to canvas_outcome_group:<id>; top-level groups have no parent.
# A group row has Canvas's 11 group cells: it ends with the empty mastery_points cell, with no
# ratings cell (outcome_export.rb writes groups from OUTCOME_EXPORT_SCALAR_HEADERS).
G_WRITING = "wr-group,group,Writing,Writing skills,,,,,,active,"
G_NUMERACY = "canvas_outcome_group:4,group,Numeracy,Numbers,,,,,,active,"
G_ESSAYS = "canvas_outcome_group:3,group,Essays,,,,,,wr-group,active,"
DEFAULT_RATINGS = "5.0,Exceeds Expectations,3.0,Meets Expectations,0.0,Does Not Meet Expectations"
O_THESIS = (
    "thesis-guid,outcome,Thesis,States a clear thesis,Make a clear claim,Thesis statement,"
    "decaying_average,65,wr-group canvas_outcome_group:3,active,3.0,4.0,Exemplary,3.0,Proficient,"
    "0.0,Beginning"
)
# Evidence is also linked (an active link) into the deleted group Archived, which is not
# exported: its guid is a parent guid all the same, as Canvas aggregates the guids of the
# links' groups whatever their state (only a root group's is left out).
O_EVIDENCE = (
    'canvas_outcome:2,outcome,Evidence,"Uses evidence, well",,,highest,,'
    f"canvas_outcome_group:3 canvas_outcome_group:5,active,3.0,{DEFAULT_RATINGS}"
)
# A global outcome; its account friendly description is deleted.
O_COUNTING = (
    "count-guid,outcome,Counting,Counts objects,,Counting,n_mastery,2,canvas_outcome_group:4,"
    "active,2.0,3.0,Great,2.0,OK,0.0,Not yet"
)
O_ROOT_ONLY = f"canvas_outcome:6,outcome,Root only,Linked at the root,,,highest,,,active,3.0,{DEFAULT_RATINGS}"  # noqa: E501


def test_outcome_export(conn: Connection) -> None:
    assert run_file(conn, EXPORT) == lines(
        EXPORT_HEADER,
        G_WRITING,
        G_NUMERACY,
        G_ESSAYS,
        O_THESIS,
        O_EVIDENCE,
        O_COUNTING,
        O_ROOT_ONLY,
    )
    assert extra_text(conn, EXPORT) == ""


def test_outcome_export_sub_account(conn: Connection) -> None:
    # The School of Arts' own tree. Thesis has a friendly description for the School; Color
    # theory inherits the root account's.
    assert run_file(conn, EXPORT, account_id=2) == lines(
        EXPORT_HEADER,
        "arts-skills,group,Arts Skills,,,,,,,active,",
        'thesis-guid,outcome,Thesis,States a clear thesis,"Claim it, artfully",Thesis statement,'
        "decaying_average,65,arts-skills,active,3.0,4.0,Exemplary,3.0,Proficient,0.0,Beginning",
        "canvas_outcome:5,outcome,Color theory,Mixes colors,Blends colors,,latest,,arts-skills,"
        "active,1.0,2.0,Mastered,1.0,Near,0.0,Below",
    )
    # Music has no groups and no links.
    assert run_file(conn, EXPORT, account_id=3) == lines(EXPORT_HEADER)


def test_outcome_export_locale(conn: Connection) -> None:
    # Points in the account's default locale; the School of Arts inherits the root's.
    set_setting(conn, "default_locale", "de")
    text = run_file(conn, EXPORT)
    assert text.splitlines()[4] == (
        "thesis-guid,outcome,Thesis,States a clear thesis,Make a clear claim,Thesis statement,"
        'decaying_average,65,wr-group canvas_outcome_group:3,active,"3,0","4,0",Exemplary,'
        '"3,0",Proficient,"0,0",Beginning'
    )
    assert (
        run_file(conn, EXPORT, account_id=2)
        .splitlines()[3]
        .endswith('"1,0","2,0",Mastered,"1,0",Near,"0,0",Below')
    )


def test_outcome_export_with_account_mastery_scales(conn: Connection) -> None:
    set_flag(conn, "account_level_mastery_scales", "on")
    assert run_file(conn, EXPORT) == lines(
        "vendor_guid,object_type,title,description,friendly_description,display_name,"
        "parent_guids,workflow_state",
        "wr-group,group,Writing,Writing skills,,,,active",
        "canvas_outcome_group:4,group,Numeracy,Numbers,,,,active",
        "canvas_outcome_group:3,group,Essays,,,,wr-group,active",
        "thesis-guid,outcome,Thesis,States a clear thesis,Make a clear claim,Thesis statement,"
        "wr-group canvas_outcome_group:3,active",
        'canvas_outcome:2,outcome,Evidence,"Uses evidence, well",,,'
        "canvas_outcome_group:3 canvas_outcome_group:5,active",
        "count-guid,outcome,Counting,Counts objects,,Counting,canvas_outcome_group:4,active",
        "canvas_outcome:6,outcome,Root only,Linked at the root,,,,active",
    )


# ---------------------------------------------------------------- outcome_results_csv

RESULTS_HEADER = (
    "student name,student id,student sis id,assessment title,assessment id,assessment type,"
    "submission date,submission score,learning outcome name,learning outcome id,attempt,"
    "outcome score,assessment question,assessment question id,course name,course id,"
    "course sis id,section name,section id,section sis id,assignment url,"
    "learning outcome friendly name,learning outcome points possible,"
    "learning outcome mastery score,learning outcome mastered,learning outcome rating,"
    "learning outcome rating points,learning outcome group title,learning outcome group id,"
    "account id,account name,enrollment state"
)
ANN = '"Archer, Ann",1,S1'
PAINT_A = "Painting,1,PAINT101,Painting A,1,PAINT-A"
PAINT_B = "Painting,1,PAINT101,Painting B,2,"
PHYSICS = "Physics,3,PHYS100,Physics 1,4,PHYS-1"
ESSAY_1 = "Essay 1,1,assignment,2024-11-20T10:30:00-07:00,9.0"
ARTS = "2,School of Arts"
SCIENCE = "4,School of Science"
# Thesis by percent: 0.75 of 4 points is 3.0, Proficient. The outcome is linked into Writing
# (link 1) and Essays (link 2): the first link's group is reported, once.
R1A = f"{ANN},{ESSAY_1},Thesis,1,1,3.0,,,{PAINT_A},{URL}/1/assignments/1,Thesis statement,4.0,3.0,1,Proficient,3.0,Writing,2,{ARTS},active"  # noqa: E501
R1B = f"{ANN},{ESSAY_1},Thesis,1,1,3.0,,,{PAINT_B},{URL}/1/assignments/1,Thesis statement,4.0,3.0,1,Proficient,3.0,Writing,2,{ARTS},active"  # noqa: E501
# hide_points: scores, points possible and mastery blank; the rating stays (0.8 of 5).
R3A = f"{ANN},{ESSAY_1},Evidence,2,1,,,,{PAINT_A},{URL}/1/assignments/1,,,,1,Meets Expectations,,Essays,3,{ARTS},active"  # noqa: E501
R3B = f"{ANN},{ESSAY_1},Evidence,2,1,,,,{PAINT_B},{URL}/1/assignments/1,,,,1,Meets Expectations,,Essays,3,{ARTS},active"  # noqa: E501
# A quiz result: one row per question result (the deleted one is left out); the quiz's
# submission gives date and score; the url points at the quiz's assignment.
QUIZ = "Quiz 1,1,quiz,2024-11-22T08:05:00-07:00,4.0,Counting,3,2"
R4Q1 = f"{ANN},{QUIZ},1.0,Q: add,1,{PHYSICS},{URL}/3/assignments/4,Counting,1.0,2.0,1,Great,3.0,Numeracy,4,{SCIENCE},active"  # noqa: E501
R4Q2 = f"{ANN},{QUIZ},0.0,Q: subtract,2,{PHYSICS},{URL}/3/assignments/4,Counting,1.0,2.0,0,Not yet,0.0,Numeracy,4,{SCIENCE},active"  # noqa: E501
R6 = f"{ANN},Lab report,3,assignment,2024-11-25T09:00:00-07:00,15.5,Counting,3,1,3.0,,,{PHYSICS},{URL}/3/assignments/3,Counting,3.0,2.0,1,Great,3.0,Numeracy,4,{SCIENCE},active"  # noqa: E501
# Ben: one row per login (ben.alt without a SIS id, then ben); by ratio 2/4 of 4 = Beginning.
BEN_ESSAY = "Essay 1,1,assignment,2024-11-21T11:00:00-07:00,8.0,Thesis,1,1,2.0,,"
BEN_TAIL = "Thesis statement,4.0,3.0,0,Beginning,0.0,Writing,2"
R2A = f'"Baker, Ben",2,,{BEN_ESSAY},{PAINT_B},{URL}/1/assignments/1,{BEN_TAIL},{ARTS},active'
R2B = f'"Baker, Ben",2,S2,{BEN_ESSAY},{PAINT_B},{URL}/1/assignments/1,{BEN_TAIL},{ARTS},active'
# A concluded course is reported.
SCULPT = "Final sculpture,6,assignment,2024-11-10T11:00:00-07:00,9.0,Thesis,1,1,2.5,,"
SCULPTURE = "Sculpture,4,SCULP300,Sculpture 1,5,SCULP-1"
R8A = f'"Baker, Ben",2,,{SCULPT},{SCULPTURE},{URL}/4/assignments/6,{BEN_TAIL},{ARTS},completed'
R8B = f'"Baker, Ben",2,S2,{SCULPT},{SCULPTURE},{URL}/4/assignments/6,{BEN_TAIL},{ARTS},completed'
# Dev's enrollment is inactive (not deleted); his deleted login is left out.
DEV_ESSAY = "Essay 1,1,assignment,2024-11-28T12:00:00-07:00,6.0,Thesis,1,1,1.0,,"
R10 = f'"Diaz, Dev",4,S4B,{DEV_ESSAY},{PAINT_A},{URL}/1/assignments/1,{BEN_TAIL},{ARTS},inactive'
R10_DELETED_LOGIN = R10.replace(",S4B,", ",S4,")
# Gus: invited; a percent without score: 0.5 of 3 = 1.5, Not yet; no submission. His
# Instructure Identity login gives no row.
R13 = f'"Gray, Gus",7,S7,Lab report,3,assignment,,,Counting,3,1,,,,{PHYSICS},{URL}/3/assignments/3,Counting,,2.0,,Not yet,0.0,Numeracy,4,{SCIENCE},invited'  # noqa: E501
DEFAULT_ORDER = (R1A, R1B, R3A, R3B, R4Q1, R4Q2, R6, R2A, R2B, R8A, R8B, R10, R13)


def test_outcome_results(conn: Connection) -> None:
    # Left out: a result with a Submission artifact, one without an artifact type, a deleted
    # result, results in the deleted course and those of Color theory (not linked here).
    assert run_file(conn, RESULTS) == lines(RESULTS_HEADER, *DEFAULT_ORDER)
    assert extra_text(conn, RESULTS) == "Term: All Terms;"


@pytest.mark.parametrize("order", ["courses", "COURSES"])
def test_outcome_results_by_course(conn: Connection, order: str) -> None:
    assert run_file(conn, RESULTS, order=order) == lines(
        RESULTS_HEADER, R1A, R1B, R3A, R3B, R2A, R2B, R10, R4Q1, R4Q2, R6, R13, R8A, R8B
    )
    assert extra_text(conn, RESULTS, order=order) == "Term: All Terms; Order: courses"


def test_outcome_results_by_outcome(conn: Connection) -> None:
    assert run_file(conn, RESULTS, order="outcomes") == lines(
        RESULTS_HEADER, R1A, R1B, R2A, R2B, R8A, R8B, R10, R3A, R3B, R4Q1, R4Q2, R6, R13
    )


def test_outcome_results_unknown_order_is_users(conn: Connection) -> None:
    assert run_file(conn, RESULTS, order="sideways") == lines(RESULTS_HEADER, *DEFAULT_ORDER)
    assert extra_text(conn, RESULTS, order="sideways") == "Term: All Terms;"


def test_outcome_results_include_deleted(conn: Connection) -> None:
    # The deleted course's result (both of Cara's logins, whatever their root account) and
    # Dev's deleted login.
    glaze = (
        "Glaze,8,assignment,2024-11-29T18:00:00-07:00,7.5,Evidence,2,1,5.0,,,"
        f"Ceramics,5,,Ceramics 1,6,,{URL}/5/assignments/8,,5.0,3.0,1,Exceeds Expectations,5.0,"
        f"Essays,3,{ARTS},active"
    )
    assert run_file(conn, RESULTS, include_deleted="true") == lines(
        RESULTS_HEADER,
        R1A,
        R1B,
        R3A,
        R3B,
        R4Q1,
        R4Q2,
        R6,
        R2A,
        R2B,
        R8A,
        R8B,
        f'"Chen, Cara",3,,{glaze}',
        f'"Chen, Cara",3,CH3,{glaze}',
        R10_DELETED_LOGIN,
        R10,
        R13,
    )
    assert extra_text(conn, RESULTS, include_deleted="true", order="users") == (
        "Term: All Terms; Include Deleted/Concluded Objects; Order: users"
    )


def test_outcome_results_term(conn: Connection) -> None:
    assert run_file(conn, RESULTS, enrollment_term_id="3") == lines(
        RESULTS_HEADER, R4Q1, R4Q2, R6, R13
    )


def test_outcome_results_sub_account(conn: Connection) -> None:
    # Only outcomes linked in the School of Arts (its group Arts Skills), in its courses.
    def arts(row: str) -> str:
        return row.replace(",Writing,2,", ",Arts Skills,11,")

    solo = (
        f"{ANN},Solo,5,assignment,2024-11-29T13:00:00-07:00,7.0,Color theory,5,1,1.5,,,"
        f"Choir,2,CHOIR200,Choir 1,3,CHOIR-1,{URL}/2/assignments/5,,2.0,1.0,1,Near,1.0,"
        "Arts Skills,11,3,Music,active"
    )
    assert run_file(conn, RESULTS, account_id=2) == lines(
        RESULTS_HEADER,
        arts(R1A),
        arts(R1B),
        solo,
        arts(R2A),
        arts(R2B),
        arts(R8A),
        arts(R8B),
        arts(R10),
    )


def test_outcome_results_no_rows(conn: Connection) -> None:
    assert run_file(conn, RESULTS, enrollment_term_id="1") == lines(
        RESULTS_HEADER, "No outcomes found"
    )
    assert run_file(conn, RESULTS, account_id=4) == lines(RESULTS_HEADER, "No outcomes found")


def test_outcome_results_account_mastery_scales(conn: Connection) -> None:
    # Physics has its own scale (Got it 2 mastery, Not yet 0): points possible 2 except on
    # quiz rows. Painting's chain (School of Arts, deleted scale; root) gives the root's
    # (Exceeds 5, Mastery 4 mastery, Near 2, Well below 0).
    set_flag(conn, "account_level_mastery_scales", "on")
    assert run_file(conn, RESULTS, enrollment_term_id="3") == lines(
        RESULTS_HEADER,
        R4Q1.replace("1.0,2.0,1,Great,3.0", "1.0,2.0,1,Got it,2.0"),
        R4Q2,
        R6.replace("3.0,2.0,1,Great,3.0", "2.0,2.0,1,Got it,2.0"),
        R13.replace("Counting,,2.0,,Not yet,0.0", "Counting,2.0,2.0,,Not yet,0.0"),
    )
    first = run_file(conn, RESULTS).splitlines()[1]
    assert first == R1A.replace("4.0,3.0,1,Proficient,3.0", "5.0,4.0,1,Near,2.0")


def test_outcome_results_question_rows_rated_from_the_result_percent(conn: Connection) -> None:
    # Canvas's "includes ratings for quiz questions" case: a quiz result of 50% whose first
    # question was answered fully. Every question row is rated (and given rating points) from
    # the whole result's percent, 0.5 of 3 = 1.5, Not yet; the question's own score, possible
    # and mastered stay on its row (outcome_results_report.rb selects only r.percent as the
    # "total percent outcome score", base_outcome_report.rb#set_score rates from it).
    conn.execute(
        update(learning_outcome_results)
        .where(learning_outcome_results.c.id == 4)
        .values(percent=0.5)
    )
    assert run_file(conn, RESULTS, enrollment_term_id="3") == lines(
        RESULTS_HEADER,
        R4Q1.replace(",Counting,1.0,2.0,1,Great,3.0,", ",Counting,1.0,2.0,1,Not yet,0.0,"),
        R4Q2,
        R6,
        R13,
    )


def test_outcome_results_one_row_per_section_whatever_the_states(conn: Connection) -> None:
    # A second, completed enrollment of Ann in Painting A: Canvas's DISTINCT ON (order, login,
    # section, result, ...) has no enrollment state, so Outcome Results still gives one row
    # per section (the lowest enrollment's state); Student Competency groups by state and
    # gives the completed enrollment its own rows.
    conn.execute(
        insert(enrollments).values(
            id=99,
            root_account_id=1,
            user_id=1,
            course_id=1,
            course_section_id=1,
            role_id=1,
            type="StudentEnrollment",
            workflow_state="completed",
            created_at=T0,
            updated_at=T0,
        )
    )
    assert run_file(conn, RESULTS) == lines(RESULTS_HEADER, *DEFAULT_ORDER)
    competency = run_file(conn, MAP).splitlines()
    completed_painting_a = [r for r in competency if r.endswith(",completed") and "PAINT-A" in r]
    assert [r for r in completed_painting_a if r.startswith(ANN)] == archived(
        [
            M_ANN[0].removesuffix("active") + "completed",
            M_ANN[2].removesuffix("active") + "completed",
            M_ANN[4].removesuffix("active") + "completed",
        ]
    )


def test_outcome_results_checkpoint_alignment_has_no_assignment(conn: Connection) -> None:
    # A result of Ann on Thesis aligned to the Checkpoint (a SubAssignment): Canvas joins
    # only ``a.type = 'Assignment'``, so the row has no assessment title or id, no submission
    # and an assignment url without an id; its type is still ``assignment`` (the alignment's).
    conn.execute(
        insert(learning_outcome_results).values(
            id=99,
            user_id=1,
            learning_outcome_id=1,
            alignment_id=8,
            course_id=1,
            association_type="Assignment",
            association_id=7,
            artifact_type="RubricAssessment",
            artifact_id=99,
            attempt=1,
            score=4.0,
            possible=4.0,
            percent=1.0,
            mastery=True,
            hide_points=False,
            workflow_state="active",
            created_at=T0,
            updated_at=T0,
        )
    )

    def checkpoint(section: str) -> str:
        return (
            f"{ANN},,,assignment,,,Thesis,1,1,4.0,,,{section},{URL}/1/assignments/,"
            f"Thesis statement,4.0,3.0,1,Exemplary,4.0,Writing,2,{ARTS},active"
        )

    expected = list(DEFAULT_ORDER)
    expected[2:2] = [checkpoint(PAINT_A), checkpoint(PAINT_B)]
    assert run_file(conn, RESULTS) == lines(RESULTS_HEADER, *expected)


def test_outcome_results_quiz_spellings_and_a_quiz_without_assignment(conn: Connection) -> None:
    # Canvas takes both spellings of quiz associations ('Quiz', 'Quizzes::Quiz') and quiz
    # submission artifacts ('QuizSubmission', 'Quizzes::QuizSubmission'), and writes the
    # assignment url whatever the row: a quiz without an assignment ends ``/assignments/``.
    conn.execute(
        update(learning_outcome_results)
        .where(learning_outcome_results.c.id == 4)
        .values(association_type="Quizzes::Quiz", artifact_type="QuizSubmission")
    )
    assert run_file(conn, RESULTS, enrollment_term_id="3") == lines(
        RESULTS_HEADER, R4Q1, R4Q2, R6, R13
    )
    conn.execute(update(quizzes).where(quizzes.c.id == 1).values(assignment_id=None))
    no_url = f"{URL}/3/assignments/,"
    assert run_file(conn, RESULTS, enrollment_term_id="3") == lines(
        RESULTS_HEADER,
        R4Q1.replace(f"{URL}/3/assignments/4,", no_url),
        R4Q2.replace(f"{URL}/3/assignments/4,", no_url),
        R6,
        R13,
    )


# ------------------------------------------------------- student_assignment_outcome_map_csv

MAP_HEADER = (
    "student name,student id,student sis id,assignment title,assignment id,submission date,"
    "submission score,learning outcome name,learning outcome id,attempt,outcome score,"
    "course name,course id,course sis id,section name,section id,section sis id,"
    "assignment url,learning outcome friendly name,learning outcome points possible,"
    "learning outcome mastery score,learning outcome mastered,learning outcome rating,"
    "learning outcome rating points,learning outcome group title,learning outcome group id,"
    "account id,account name,enrollment state"
)
E1_URL = f"{URL}/1/assignments/1"
ANN_ESSAY = f"{ANN},Essay 1,1,2024-11-20T10:30:00-07:00,9.0"
# Thesis by ratio (the percent is not used here): 3/4 of 4 = 3, Proficient. One row per
# linking group (Writing, Essays) and per section.
ANN_THESIS = "Thesis,1,1,3.0"
ANN_THESIS_TAIL = "Thesis statement,4.0,3.0,1,Proficient,3.0"
M_ANN = (
    f"{ANN_ESSAY},{ANN_THESIS},{PAINT_A},{E1_URL},{ANN_THESIS_TAIL},Writing,2,{ARTS},active",
    f"{ANN_ESSAY},{ANN_THESIS},{PAINT_B},{E1_URL},{ANN_THESIS_TAIL},Writing,2,{ARTS},active",
    f"{ANN_ESSAY},{ANN_THESIS},{PAINT_A},{E1_URL},{ANN_THESIS_TAIL},Essays,3,{ARTS},active",
    f"{ANN_ESSAY},{ANN_THESIS},{PAINT_B},{E1_URL},{ANN_THESIS_TAIL},Essays,3,{ARTS},active",
    f"{ANN_ESSAY},Evidence,2,1,,{PAINT_A},{E1_URL},,,,1,Meets Expectations,,Essays,3,{ARTS},active",
    f"{ANN_ESSAY},Evidence,2,1,,{PAINT_B},{E1_URL},,,,1,Meets Expectations,,Essays,3,{ARTS},active",
    f"{ANN},Lab report,3,2024-11-25T09:00:00-07:00,15.5,Counting,3,1,3.0,{PHYSICS},"
    f"{URL}/3/assignments/3,Counting,3.0,2.0,1,Great,3.0,Numeracy,4,{SCIENCE},active",
)


def archived(rows: tuple[str, ...] | list[str]) -> list[str]:
    """The rows with Canvas's extra Evidence rows for the deleted group Archived (5).

    Evidence has an active link into Archived; Canvas joins the linking group whatever its
    state, so every Evidence row under Essays (3) has a twin under Archived, ordered after
    the Essays block (rows are ordered by outcome, then group, then section).
    """
    out: list[str] = []
    block: list[str] = []

    def flush() -> None:
        out.extend(block + [r.replace(",Essays,3,", ",Archived,5,") for r in block])
        block.clear()

    def login_and_assignment(row: str) -> list[str]:
        return next(csv.reader([row]))[:5]  # student name, id, sis id, assignment title, id

    for row in rows:
        if ",Evidence,2," in row and ",Essays,3," in row:
            if block and login_and_assignment(block[0]) != login_and_assignment(row):
                flush()
            block.append(row)
            continue
        flush()
        out.append(row)
    flush()
    return out


def _ben(sis: str) -> tuple[str, ...]:
    ben = f'"Baker, Ben",2,{sis}'
    essay = f"{ben},Essay 1,1,2024-11-21T11:00:00-07:00,8.0"
    sculpt = f"{ben},Final sculpture,6,2024-11-10T11:00:00-07:00,9.0"
    thesis = f"Thesis,1,1,2.0,{PAINT_B},{E1_URL},Thesis statement,4.0,3.0,0,Beginning,0.0"
    s_thesis = (
        f"Thesis,1,1,2.5,{SCULPTURE},{URL}/4/assignments/6,Thesis statement,4.0,3.0,0,Beginning,0.0"
    )
    return (
        f"{essay},{thesis},Writing,2,{ARTS},active",
        f"{essay},{thesis},Essays,3,{ARTS},active",
        # No result for Evidence: only the mastery score (default criterion) is shown.
        f"{essay},Evidence,2,,,{PAINT_B},{E1_URL},,,3.0,,,,Essays,3,{ARTS},active",
        f"{sculpt},{s_thesis},Writing,2,{ARTS},completed",
        f"{sculpt},{s_thesis},Essays,3,{ARTS},completed",
    )


# Cara was never assessed and her submission is unsubmitted: all blank but mastery score.
CARA = '"Chen, Cara",3,,Essay 1,1,,'
M_CARA = (
    f"{CARA},Thesis,1,,,{PAINT_A},{E1_URL},Thesis statement,,3.0,,,,Writing,2,{ARTS},completed",
    f"{CARA},Thesis,1,,,{PAINT_A},{E1_URL},Thesis statement,,3.0,,,,Essays,3,{ARTS},completed",
    f"{CARA},Evidence,2,,,{PAINT_A},{E1_URL},,,3.0,,,,Essays,3,{ARTS},completed",
)


def _dev(sis: str) -> tuple[str, ...]:
    essay = f'"Diaz, Dev",4,{sis},Essay 1,1,2024-11-28T12:00:00-07:00,6.0'
    thesis = f"Thesis,1,1,1.0,{PAINT_A},{E1_URL},Thesis statement,4.0,3.0,0,Beginning,0.0"
    return (
        f"{essay},{thesis},Writing,2,{ARTS},inactive",
        f"{essay},{thesis},Essays,3,{ARTS},inactive",
        f"{essay},Evidence,2,,,{PAINT_A},{E1_URL},,,3.0,,,,Essays,3,{ARTS},inactive",
    )


# Gus's result has a percent but no score: no rating by ratio; points possible blank.
M_GUS = (
    f'"Gray, Gus",7,S7,Lab report,3,,,Counting,3,1,,{PHYSICS},{URL}/3/assignments/3,Counting,'
    f",2.0,,,,Numeracy,4,{SCIENCE},invited",
)


def test_student_competency(conn: Connection) -> None:
    # Ordered by login id. The Quiz 1 assignment has only a question bank alignment and the
    # checkpoint is a sub-assignment: neither gives rows; Color theory is not linked here.
    # Evidence's active link into the deleted group Archived gives rows too (``archived``).
    assert run_file(conn, MAP) == lines(
        MAP_HEADER, *archived([*M_ANN, *_ben(""), *_ben("S2"), *M_CARA, *_dev("S4B"), *M_GUS])
    )
    assert extra_text(conn, MAP) == "Term: All Terms;"


def test_student_competency_drops_students_whose_results_are_all_deleted(
    conn: Connection,
) -> None:
    # Canvas left-joins every result of the student on the alignment and keeps a row only
    # when there is none or a usable one (``r.id IS NULL OR (r.workflow_state <> 'deleted'
    # ...)`` in WHERE). Ben's two Thesis results on Essay 1 are then both deleted: no Thesis
    # row for Essay 1 at all (not an unassessed one); his Evidence and Sculpture rows stay.
    conn.execute(
        update(learning_outcome_results)
        .where(learning_outcome_results.c.id == 2)
        .values(workflow_state="deleted")
    )
    assert run_file(conn, MAP) == lines(
        MAP_HEADER,
        *archived([*M_ANN, *_ben("")[2:], *_ben("S2")[2:], *M_CARA, *_dev("S4B"), *M_GUS]),
    )


def test_student_competency_include_deleted(conn: Connection) -> None:
    # Adds Chemistry (unpublished) with its deleted assignment, Ceramics (deleted) with
    # Cara's assessed Glaze, and Dev's deleted login.
    def chemistry(sis: str, group: str) -> str:
        return (
            f'"Baker, Ben",2,{sis},Essay 2,2,,,Thesis,1,,,Chemistry,6,CHEM100,Chemistry 1,7,'
            f"CHEM-1,{URL}/6/assignments/2,Thesis statement,,3.0,,,,{group},4,School of Science,"
            "active"
        )

    ben_alt, ben = _ben(""), _ben("S2")
    assert run_file(conn, MAP, include_deleted="true") == lines(
        MAP_HEADER,
        *archived(
            [
                *M_ANN,
                *ben_alt,
                chemistry("", "Writing,2"),
                chemistry("", "Essays,3"),
                *ben,
                chemistry("S2", "Writing,2"),
                chemistry("S2", "Essays,3"),
                *M_CARA,
                '"Chen, Cara",3,,Glaze,8,2024-11-29T18:00:00-07:00,7.5,Evidence,2,1,5.0,'
                f"Ceramics,5,,Ceramics 1,6,,{URL}/5/assignments/8,,5.0,3.0,1,"
                f"Exceeds Expectations,5.0,Essays,3,{ARTS},active",
                *_dev("S4"),
                *_dev("S4B"),
                *M_GUS,
            ]
        ),
    )
    assert (
        extra_text(conn, MAP, include_deleted="true")
        == "Term: All Terms; Include Deleted/Concluded Objects;"
    )
    # No order parameter here: an order sent anyway adds no fragment (unlike Outcome Results).
    assert extra_text(conn, MAP, order="courses") == "Term: All Terms;"


def test_student_competency_term_and_scales(conn: Connection) -> None:
    assert run_file(conn, MAP, enrollment_term_id="3") == lines(MAP_HEADER, M_ANN[-1], *M_GUS)
    # Physics's own scale: 3/3 of its 2 points is Got it; Gus's points possible is the scale's.
    set_flag(conn, "account_level_mastery_scales", "allowed_on")
    assert run_file(conn, MAP, enrollment_term_id="3") == lines(
        MAP_HEADER,
        M_ANN[-1].replace("Counting,3.0,2.0,1,Great,3.0", "Counting,2.0,2.0,1,Got it,2.0"),
        M_GUS[0].replace("Counting,,2.0,", "Counting,2.0,2.0,"),
    )


def test_student_competency_scales_give_unassessed_rows_the_points_possible(
    conn: Connection,
) -> None:
    # With account mastery scales Canvas sets the scale's points possible on every row that
    # is not a quiz's (base_outcome_report.rb#add_outcomes_data), unassessed ones included:
    # Cara (never assessed, Painting: the root's scale, 5 points, mastery 4).
    set_flag(conn, "account_level_mastery_scales", "on")
    rows = run_file(conn, MAP).splitlines()
    cara = [r for r in rows if r.startswith('"Chen, Cara"')]
    assert cara == archived(
        [
            M_CARA[0].replace("Thesis statement,,3.0,", "Thesis statement,5.0,4.0,"),
            M_CARA[1].replace("Thesis statement,,3.0,", "Thesis statement,5.0,4.0,"),
            M_CARA[2].replace(f"{E1_URL},,,3.0,", f"{E1_URL},,5.0,4.0,"),
        ]
    )


def test_student_competency_sub_account(conn: Connection) -> None:
    # Thesis and Color theory are linked into Arts Skills; Dev's rejected Choir enrollment
    # counts (it is not deleted) and shows his submission without a result.
    def arts(row: str) -> str:
        return row.replace(",Writing,2,", ",Arts Skills,11,")

    choir = "Choir,2,CHOIR200,Choir 1,3,CHOIR-1"
    solo_url = f"{URL}/2/assignments/5"
    assert run_file(conn, MAP, account_id=2) == lines(
        MAP_HEADER,
        arts(M_ANN[0]),
        arts(M_ANN[1]),
        f"{ANN},Solo,5,2024-11-29T13:00:00-07:00,7.0,Color theory,5,1,1.5,{choir},{solo_url},"
        ",2.0,1.0,1,Near,1.0,Arts Skills,11,3,Music,active",
        arts(_ben("")[0]),
        arts(_ben("")[3]),
        arts(_ben("S2")[0]),
        arts(_ben("S2")[3]),
        arts(M_CARA[0]),
        arts(_dev("S4B")[0]),
        f'"Diaz, Dev",4,S4B,Solo,5,2024-11-05T05:00:00-07:00,3.0,Color theory,5,,,{choir},'
        f"{solo_url},,,1.0,,,,Arts Skills,11,3,Music,rejected",
    )


def test_student_competency_no_rows(conn: Connection) -> None:
    assert run_file(conn, MAP, enrollment_term_id="1") == lines(MAP_HEADER, "No outcomes found")


def test_inlined_ratings_rate_as_the_per_row_lookups(
    conn: Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The statements write the linked outcomes' ratings as CASE arms
    # (outcome_scales.read_ratings); past MAX_INLINE_RATINGS they look each rating up per
    # row. Both give the same bytes, including for two ratings with the same points (the
    # lower position wins) and one without a description.
    conn.execute(
        insert(learning_outcome_ratings),
        [
            {"learning_outcome_id": 1, "position": 4, "points": 3.0, "description": "Twin"},
            {"learning_outcome_id": 3, "position": 4, "points": 1.0, "description": None},
        ],
    )
    inlined = {report: run_file(conn, report) for report in (RESULTS, MAP)}
    assert "Proficient" in inlined[RESULTS] and "Twin" not in inlined[RESULTS]
    monkeypatch.setattr(outcome_scales, "MAX_INLINE_RATINGS", 0)
    assert {report: run_file(conn, report) for report in (RESULTS, MAP)} == inlined


def test_declarations() -> None:
    export = get_report(EXPORT)
    results = get_report(RESULTS)
    competency = get_report(MAP)
    assert export is not None and results is not None and competency is not None
    assert (export.title, results.title, competency.title) == (
        "Outcome Export",
        "Outcome Results",
        "Student Competency",
    )
    assert export.parameters == {}
    assert list(results.parameters) == ["enrollment_term_id", "order", "include_deleted"]
    assert list(competency.parameters) == ["enrollment_term_id", "include_deleted"]
