"""``grade_export_csv`` and ``mgp_grade_export_csv`` on the hand-built institution.

Expected rows are derived from the spec (other-reports.md §3, §4.1, §4.2) and the data in
``learning_institution.py``: the Letters scheme is A .9, B .8, C .7, D .6, F 0; Choir uses
Canvas's default scheme (A .94, A- .90, ..., D- .61, F 0); Physics has none.
"""

from __future__ import annotations

import math
from random import Random

import pytest
from sqlalchemy import (
    Connection,
    Exists,
    Float,
    ScalarSelect,
    case,
    insert,
    literal,
    select,
    union_all,
    update,
)
from sqlalchemy.sql.visitors import iterate

from reportcard.db.learning_tables import grading_standard_entries, scores
from reportcard.reports import grades
from reportcard.reports.catalog import ONE_RANGE_SCALE, RunContext, get_report
from reportcard.reports.grades import GRADES_CACHE_KIB, least_score, ruby_to_i
from reportcard.reports.learning_common import ruby_float

from .learning_institution import (
    build,
    context,
    extra_text,
    lines,
    run_file,
    run_files,
    set_flag,
    set_setting,
)

GRADES = "grade_export_csv"
MGP = "mgp_grade_export_csv"


BUILD = build  # what the conn fixture (conftest.py) writes


# ---------------------------------------------------------------- grade_export_csv

WHO = "student name,student id,student sis"
WHERE = "course,course id,course sis,section,section id,section sis,term,term id,term sis"
SCORES = "current score,final score,enrollment state,unposted current score,unposted final score"
GRADE_COLS = "current grade,final grade,unposted current grade,unposted final grade"
HEADER = f"{WHO},{WHERE},{SCORES},{GRADE_COLS}"

PAINT_A = "Painting,1,PAINT101,Painting A,1,PAINT-A,Fall 2024,2,FA24"
PAINT_B = "Painting,1,PAINT101,Painting B,2,,Fall 2024,2,FA24"
CHOIR = "Choir,2,CHOIR200,Choir 1,3,CHOIR-1,Fall 2024,2,FA24"
PHYSICS = "Physics,3,PHYS100,Physics 1,4,PHYS-1,Spring 2025,3,SP25"
SCULPTURE = "Sculpture,4,SCULP300,Sculpture 1,5,SCULP-1,Fall 2024,2,FA24"
CERAMICS = "Ceramics,5,,Ceramics 1,6,,Fall 2024,2,FA24"
CHEMISTRY = "Chemistry,6,CHEM100,Chemistry 1,7,CHEM-1,Spring 2025,3,SP25"
OLD_LAB = "Old Lab,7,,Old Lab 1,8,,Default Term,1,"

# Ann has no recorded login on her enrollments: her SIS login "ann" is chosen.
E1 = f"Ann Archer,1,S1,{PAINT_A},88.0,85.0,active,90.0,86.5,B,B,A,B"
# Ben's Painting enrollment records his login without a SIS id.
E2 = f"Ben Baker,2,,{PAINT_B},72.5,70.0,active,72.5,70.0,C,C,C,C"
E3 = f"Cara Chen,3,,{PAINT_A},95.0,95.0,concluded,95.0,95.0,A,A,A,A"
# Ann's second Painting section; 89.99 stays a B, exactly 90 is an A.
E14 = f"Ann Archer,1,S1,{PAINT_B},90.0,89.99,active,90.0,89.99,A,B,A,B"
# Choir: the default scheme; above 100 is the top grade.
E5 = f"Ann Archer,1,S1,{CHOIR},101.5,99.0,active,101.5,99.0,A,A,A,A"
# Physics: a score row with no scores and no scheme.
E8 = f"Ann Archer,1,S1,{PHYSICS},,,active,,,,,,"
# With include_deleted only:
E4 = f"Dev Diaz,4,S4B,{PAINT_A},55.0,40.0,inactive,55.0,40.0,F,F,F,F"
E6 = f"Ben Baker,2,S2,{CHOIR},60.0,60.0,deleted,60.0,60.0,F,F,F,F"  # deleted score row too
E10 = f"Ben Baker,2,S2,{SCULPTURE},82.0,82.0,concluded,82.0,82.0,B,B,B,B"
E11 = f"Cara Chen,3,,{CERAMICS},77.0,77.0,active,77.0,77.0,,,,"
E13 = f"Ben Baker,2,S2,{CHEMISTRY},,,active,,,,,,"  # no score row at all
E15 = f"Gus Gray,7,S7,{OLD_LAB},65.0,65.0,concluded,65.0,65.0,,,,"


def test_grade_export(conn: Connection) -> None:
    # Available courses, active and completed student enrollments with a root login, ordered
    # by course id then enrollment id. Eve (no login on this root), Gus (invited), Ben's
    # deleted Choir enrollment, Dev (inactive, rejected) and the teacher are left out.
    assert run_file(conn, GRADES) == lines(HEADER, E1, E2, E3, E14, E5, E8)
    assert extra_text(conn, GRADES) == "Term: All Terms;"


def test_grade_export_include_deleted(conn: Connection) -> None:
    # Any course state; inactive and deleted enrollments (never invited or rejected); deleted
    # score rows; deleted logins are candidates too (Dev's active one still wins).
    assert run_file(conn, GRADES, include_deleted="true") == lines(
        HEADER, E1, E2, E3, E4, E14, E5, E6, E8, E10, E11, E13, E15
    )
    assert (
        extra_text(conn, GRADES, include_deleted="1")
        == "Term: All Terms; Include Deleted/Concluded Objects;"
    )


def test_grade_export_deleted_course_score_drops_the_row(conn: Connection) -> None:
    # Canvas left-joins the course score and filters it in WHERE (``sc.workflow_state IS
    # DISTINCT FROM 'deleted'``): Cara's enrollment with a deleted score row is not listed
    # (a row with blank scores is only for an enrollment without a score row, E13). With
    # include_deleted the deleted score row's values are written.
    conn.execute(update(scores).where(scores.c.id == 3).values(workflow_state="deleted"))
    assert run_file(conn, GRADES) == lines(HEADER, E1, E2, E14, E5, E8)
    assert run_file(conn, GRADES, include_deleted="true") == lines(
        HEADER, E1, E2, E3, E4, E14, E5, E6, E8, E10, E11, E13, E15
    )


def test_grade_export_limiting_period(conn: Connection) -> None:
    # Within 30 days of 2024-12-01: active enrollments; Sculpture concluded 2024-11-20; Dev's
    # inactive enrollment updated 2024-11-25. Cara's completed Painting enrollment (no
    # conclude date), Ben's old deleted one and the long-concluded Old Lab drop out.
    assert run_file(conn, GRADES, include_deleted="true", limiting_period="30") == lines(
        HEADER, E1, E2, E4, E14, E5, E8, E10, E11, E13
    )
    assert extra_text(conn, GRADES, include_deleted="true", limiting_period="30") == (
        "Term: All Terms; Include Deleted/Concluded Objects; "
        "deleted objects limited by days specified;"
    )
    # Without include_deleted the period limits no row, but Canvas writes its fragment
    # whenever the parameter is present (grade_reports.rb#initialize).
    assert run_file(conn, GRADES, limiting_period="30") == run_file(conn, GRADES)
    assert extra_text(conn, GRADES, limiting_period="30") == (
        "Term: All Terms; deleted objects limited by days specified;"
    )
    assert extra_text(conn, GRADES, limiting_period=" ") == "Term: All Terms;"


def test_grade_export_limiting_period_is_read_as_ruby_to_i(conn: Connection) -> None:
    # Canvas reads the days with String#to_i: the leading integer ("30 days" is 30), and 0
    # for text without one: only active enrollments (and courses concluding from now on).
    deleted = {"include_deleted": "true"}
    assert run_file(conn, GRADES, limiting_period="30 days", **deleted) == run_file(
        conn, GRADES, limiting_period="30", **deleted
    )
    zero = run_file(conn, GRADES, limiting_period="0", **deleted)
    assert zero == lines(HEADER, E1, E2, E14, E5, E8, E11, E13)
    assert run_file(conn, GRADES, limiting_period="abc", **deleted) == zero
    assert [ruby_to_i(t) for t in ["12", " -3x", "1_000", "_1", "abc", ""]] == [
        12,
        -3,
        1000,
        0,
        0,
        0,
    ]


def test_grade_export_plans_one_range_on_postgresql(conn: Connection) -> None:
    """PostgreSQL's Grade Export shards and the MGP export's per-term files' are
    ONE_RANGE_SCALE times the setting's rows (one range on `large`, whose COPY gets parallel
    query), SQLite's the setting's."""
    from .learning_institution import context

    pg = conn.dialect.name == "postgresql"
    for report_type in (GRADES, MGP):
        scale = ONE_RANGE_SCALE if pg else 1
        report = get_report(report_type)
        assert report is not None
        ctx = context(conn, report_type, enrollment_term_id="2")
        parts = report.select_parts(ctx)
        assert [report.part(p).build(ctx).shard_scale for p in parts] == [scale] * len(parts)


def test_grade_export_term(conn: Connection) -> None:
    assert run_file(conn, GRADES, enrollment_term_id="3") == lines(HEADER, E8)
    assert run_file(conn, GRADES, enrollment_term="sis_term_id:FA24") == lines(
        HEADER, E1, E2, E3, E14, E5
    )
    assert extra_text(conn, GRADES, enrollment_term_id="3") == "Term: Spring 2025;"


def test_grade_export_sub_account(conn: Connection) -> None:
    # School of Arts holds Painting, Choir (in Music below it), Sculpture and Ceramics.
    assert run_file(conn, GRADES, account_id=2) == lines(HEADER, E1, E2, E3, E14, E5)
    assert run_file(conn, GRADES, account_id=3, include_deleted="true") == lines(HEADER, E5, E6)


def test_grade_export_integration_ids_and_override(conn: Connection) -> None:
    set_setting(conn, "include_integration_ids_in_gradebook_exports", "true")
    set_flag(conn, "final_grades_override", "allowed")
    header = (
        "student name,student id,student sis,student integration id,"
        f"{WHERE},current score,final score,enrollment state,unposted current score,"
        "unposted final score,override score,current grade,final grade,"
        "unposted current grade,unposted final grade,override grade"
    )
    assert run_file(conn, GRADES, enrollment_term_id="2") == lines(
        header,
        f"Ann Archer,1,S1,INT-1,{PAINT_A},88.0,85.0,active,90.0,86.5,92.0,B,B,A,B,A",
        f"Ben Baker,2,,,{PAINT_B},72.5,70.0,active,72.5,70.0,,C,C,C,C,",
        f"Cara Chen,3,,,{PAINT_A},95.0,95.0,concluded,95.0,95.0,,A,A,A,A,",
        f"Ann Archer,1,S1,INT-1,{PAINT_B},90.0,89.99,active,90.0,89.99,,A,B,A,B,",
        f"Ann Archer,1,S1,INT-1,{CHOIR},101.5,99.0,active,101.5,99.0,,A,A,A,A,",
    )


def test_override_flag_is_read_along_the_account_chain(conn: Connection) -> None:
    # Allowed on the School of Arts only: its report has the column, the root's does not;
    # a flag that is off on Music hides it again below.
    set_flag(conn, "final_grades_override", "on", account_id=2)
    set_flag(conn, "final_grades_override", "off", account_id=3)
    assert "override score" not in run_file(conn, GRADES).splitlines()[0]
    assert "override score" in run_file(conn, GRADES, account_id=2).splitlines()[0]
    assert "override score" not in run_file(conn, GRADES, account_id=3).splitlines()[0]


# ---------------------------------------------------------------- mgp_grade_export_csv

NO_PERIODS = "no grading periods configured for this term\n"


def _period(title: str) -> str:
    return (
        f"{title} grading period id,{title} current score,{title} final score,"
        f"{title} unposted current score,{title} unposted final score,{title} current grade,"
        f"{title} final grade,{title} unposted current grade,{title} unposted final grade"
    )


MGP_HEADER = (
    f"{WHO},{WHERE},grading period set,grading period set id,{_period('Q1')},{_period('Q2')},"
    f"{SCORES},{GRADE_COLS}"
)
SET = "Fall Periods,1"
Q1_BLANK = "1,,,,,,,,"
Q2_BLANK = "2,,,,,,,,"
# Periods in start-date order (Q1 has the higher id), Q0 is deleted; a missing or deleted
# period score leaves that period's cells blank but its id.
M1 = f"Ann Archer,1,S1,{PAINT_A},{SET},1,80.0,80.0,81.0,81.0,B,B,B,B,2,93.0,90.0,94.0,91.0,A,A,A,A,88.0,85.0,active,90.0,86.5,B,B,A,B"  # noqa: E501
M2 = f"Ben Baker,2,,{PAINT_B},{SET},1,70.0,65.0,70.0,65.0,C,D,C,D,{Q2_BLANK},72.5,70.0,active,72.5,70.0,C,C,C,C"  # noqa: E501
M3 = f"Cara Chen,3,,{PAINT_A},{SET},{Q1_BLANK},{Q2_BLANK},95.0,95.0,concluded,95.0,95.0,A,A,A,A"
M14 = f"Ann Archer,1,S1,{PAINT_B},{SET},{Q1_BLANK},{Q2_BLANK},90.0,89.99,active,90.0,89.99,A,B,A,B"
M5 = f"Ann Archer,1,S1,{CHOIR},{SET},1,100.0,100.0,100.0,100.0,A,A,A,A,{Q2_BLANK},101.5,99.0,active,101.5,99.0,A,A,A,A"  # noqa: E501


def test_mgp_all_active_terms(conn: Connection) -> None:
    # No term: one file per active term in id order; terms without a set are one line.
    assert run_files(conn, MGP) == {
        "Default Term": NO_PERIODS,
        "Fall 2024": lines(MGP_HEADER, M1, M2, M3, M14, M5),
        "Spring 2025": NO_PERIODS,
    }
    assert extra_text(conn, MGP) == "Term: All Terms;"


def test_mgp_one_term_include_deleted(conn: Connection) -> None:
    # include_deleted widens the rows as in the Grade Export, but a period's values still
    # come from its active score row only: Cara's deleted Q2 score stays out.
    files = run_files(conn, MGP, enrollment_term_id="sis_term_id:FA24", include_deleted="true")
    assert files == {
        "Fall 2024": lines(
            MGP_HEADER,
            M1,
            M2,
            M3,
            f"Dev Diaz,4,S4B,{PAINT_A},{SET},{Q1_BLANK},{Q2_BLANK},55.0,40.0,inactive,55.0,40.0,F,F,F,F",  # noqa: E501
            M14,
            M5,
            f"Ben Baker,2,S2,{CHOIR},{SET},{Q1_BLANK},{Q2_BLANK},60.0,60.0,deleted,60.0,60.0,F,F,F,F",  # noqa: E501
            f"Ben Baker,2,S2,{SCULPTURE},{SET},{Q1_BLANK},{Q2_BLANK},82.0,82.0,concluded,82.0,82.0,B,B,B,B",  # noqa: E501
            f"Cara Chen,3,,{CERAMICS},{SET},{Q1_BLANK},{Q2_BLANK},77.0,77.0,active,77.0,77.0,,,,",
        )
    }
    assert extra_text(conn, MGP, enrollment_term_id="2", include_deleted="true") == (
        "Term: Fall 2024; Include Deleted/Concluded Objects;"
    )


def _tied_and_below_every_bound(conn: Connection) -> str:
    """Standard 1 gains an entry sharing a bound (B2 at 0.8) and a lowest one (Z at 0.0), and
    a final score falls below every bound: the grade export's file then (holding both)."""
    conn.execute(
        insert(grading_standard_entries),
        [
            {"grading_standard_id": 1, "position": 6, "name": "B2", "lower_bound": 0.8},
            {"grading_standard_id": 1, "position": 0, "name": "Z", "lower_bound": 0.0},
        ],
    )
    conn.execute(update(scores).where(scores.c.id == 1).values(final_score=-5.0))
    return run_file(conn, GRADES, include_deleted="true")


def test_inlined_standards_grade_as_the_per_row_lookups(
    conn: Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The statement writes the standards' entries as CASE arms (grades.resolve_standards);
    # past MAX_INLINE_ENTRIES it looks each grade up per row. Both give the same bytes,
    # including for entries sharing a bound (the higher position wins at or above it, the
    # lower position is the lowest entry) and for a score below every bound.
    inlined = _tied_and_below_every_bound(conn)
    assert ",B2," in inlined and ",Z," in inlined
    monkeypatch.setattr(grades, "MAX_INLINE_ENTRIES", 0)
    assert run_file(conn, GRADES, include_deleted="true") == inlined


def test_a_standard_not_read_when_resolved_grades_as_the_lookups(
    conn: Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A standard added after the run was resolved has no CASE arm: SQLite looks its grades
    # up per row, PostgreSQL reads its entries joined as arrays (grades.standard_entries).
    # Both give the inlined bytes, ties and a score below every bound included.
    inlined = _tied_and_below_every_bound(conn)
    periods = run_files(conn, MGP, enrollment_term_id="2")
    assert ",B2," in inlined and ",Z," in inlined

    def unread(conn: Connection, ctx: RunContext) -> None:
        ctx.facts["standards"] = {99: [("X", 0.0)]}  # read then: another standard only

    monkeypatch.setattr(grades, "resolve_standards", unread)
    assert run_file(conn, GRADES, include_deleted="true") == inlined
    assert run_files(conn, MGP, enrollment_term_id="2") == periods


def test_a_bounds_least_score_is_the_least_reaching_it() -> None:
    # The least double s with s / 100.0 >= bound: it reaches the bound, the double below it
    # does not (0.6's is 59.99999999999999, not 60.0).
    rng = Random(19)
    bounds = [b for _, b in grades.DEFAULT_SCHEME] + [0.6, 1 / 3, -0.0, 1e300, -1e300, 5e-324]
    bounds += [rng.uniform(-2, 2) for _ in range(2000)]
    bounds += [round(rng.random(), 3) for _ in range(2000)]
    for bound in bounds:
        least = least_score(bound)
        assert least / 100.0 >= bound
        assert not math.nextafter(least, -math.inf) / 100.0 >= bound, bound
    assert least_score(0.6) == 59.99999999999999
    assert least_score(math.inf) == math.inf
    with pytest.raises(ValueError):
        least_score(math.nan)


@pytest.mark.sqlite_only
def test_the_grade_by_least_scores_is_the_grade_by_the_ratio(conn: Connection) -> None:
    # SQLite's grade CASE compares the score with each bound's least score, by halves; the
    # database gives the same grade as comparing score / 100.0 with the bound, arm by arm, for
    # scores at, just above and just below every least score (entries sharing a bound too).
    read = [("A", 0.94), ("A-", 0.9), ("B", 0.8), ("B2", 0.8), ("C", 0.6), ("D", 1 / 3)]
    read += [("E", 0.2), ("F", 0.1), ("Z", 0.0)]
    near = {-5.0, 0.0, 101.5, 1e300, -1e300}
    for _, bound in read:
        least = least_score(bound)
        near |= {least, math.nextafter(least, math.inf), math.nextafter(least, -math.inf)}
        near.add(bound * 100.0)
    table = union_all(*[select(literal(s, Float).label("s")) for s in sorted(near)]).subquery()
    score = table.c.s
    by_ratio = case(
        *[(score / 100.0 >= literal(bound), literal(name)) for name, bound in read],
        else_=literal(read[-1][0]),
    )
    rows = conn.execute(
        select(score, by_ratio, grades._reached(score, read)).select_from(table)
    ).all()
    assert len(rows) == len(near)
    for s, ratio_grade, least_grade in rows:
        assert least_grade == ratio_grade, s
    assert {g for _, g, _ in rows} == {"A", "A-", "B", "C", "D", "E", "F", "Z"}


def test_grade_files_read_pages_with_a_small_cache(conn: Connection) -> None:
    # SQLite: the grade files' probes rarely read a page again; their shards keep a small
    # page cache (grades.GRADES_CACHE_KIB) instead of the line path's.
    for report, params in ((GRADES, {}), (MGP, {"enrollment_term_id": "2"})):
        ctx = context(conn, report, **params)
        declaration = get_report(report)
        assert declaration is not None
        for name in declaration.select_parts(ctx):
            query = declaration.part(name).build(ctx)
            if query.columns and len(query.columns) > 1:
                assert query.sqlite_cache_kib == GRADES_CACHE_KIB, (report, name)


def test_grade_login_columns_join_the_preferred_login(conn: Connection) -> None:
    # The enrollment's preferred login is joined by primary key, not probed per row. On
    # PostgreSQL a correlated subquery anywhere in the select list keeps the whole projection
    # in the leader, above the parallel workers, so no column holds one there (the user's
    # first login and the grades of a standard not read are joins too); SQLite looks up the
    # first login only (docs/decisions/performance.md).
    postgres = conn.dialect.name == "postgresql"
    set_setting(conn, "include_integration_ids_in_gradebook_exports", "true")
    for report, params in (
        (GRADES, {}),
        (GRADES, {"include_deleted": "true"}),
        (MGP, {"enrollment_term_id": "2"}),
    ):
        ctx = context(conn, report, **params)
        declaration = get_report(report)
        assert declaration is not None
        for name in declaration.select_parts(ctx):
            query = declaration.part(name).build(ctx)
            logins = {"student sis", "student integration id"}
            assert logins <= {c.header for c in query.columns}
            for col in query.columns:
                if not postgres and col.header not in logins:
                    continue  # SQLite's grades look a standard not read up per row
                found = [e for e in iterate(col.expr) if isinstance(e, ScalarSelect | Exists)]
                assert len(found) == (0 if postgres else 1), (report, col.header)


def test_mgp_deleted_set_and_override(conn: Connection) -> None:
    # Old Term (deleted, so named) links a deleted set: not configured. Override adds a
    # score and a grade column to each period block and to the course block.
    set_flag(conn, "final_grades_override", "allowed_on")
    assert run_files(conn, MGP, enrollment_term_id="4") == {"Old Term": NO_PERIODS}
    header = run_files(conn, MGP, enrollment_term_id="2")["Fall 2024"].splitlines()
    assert "Q2 override score,Q2 current grade" in header[0]
    assert header[0].endswith("unposted final grade,override grade")
    assert header[1].split(",")[11:36] == [
        "FA24", "Fall Periods", "1",
        "1", "80.0", "80.0", "81.0", "81.0", "", "B", "B", "B", "B", "",
        "2", "93.0", "90.0", "94.0", "91.0", "95.0", "A", "A", "A", "A", "A",
    ]  # fmt: skip


def test_mgp_sub_account(conn: Connection) -> None:
    files = run_files(conn, MGP, account_id=3, enrollment_term_id="2")
    assert files == {"Fall 2024": lines(MGP_HEADER, M5)}


def test_duplicate_term_names_get_distinct_entries(conn: Connection) -> None:
    from sqlalchemy import update

    from reportcard.db.tables import enrollment_terms

    conn.execute(update(enrollment_terms).where(enrollment_terms.c.id == 3).values(name="Fall/24"))
    conn.execute(update(enrollment_terms).where(enrollment_terms.c.id == 1).values(name="Fall_24"))
    assert list(run_files(conn, MGP)) == ["Fall_24", "Fall 2024", "Fall_24 (3)"]


# ---------------------------------------------------------------- declarations and values


def test_declarations() -> None:
    grades = get_report(GRADES)
    mgp = get_report(MGP)
    assert grades is not None and mgp is not None
    assert grades.title == "Grade Export"
    assert list(grades.parameters) == ["enrollment_term_id", "include_deleted"]
    assert not any(p.required for p in grades.parameters.values())
    assert mgp.title == "Multiple Grading Periods Grade Export"
    assert list(mgp.parameters) == ["enrollment_term_id"]
    assert mgp.parameters["enrollment_term_id"].required
    assert mgp.always_zip and not grades.always_zip


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (88.0, "88.0"),
        (37.5, "37.5"),
        (0.1 + 0.2, "0.30000000000000004"),
        (1e20, "1.0e+20"),
        (1.5e-05, "1.5e-05"),
        (-2.0, "-2.0"),
        (7, "7.0"),
        (None, None),
    ],
)
def test_ruby_float(value: float | None, text: str | None) -> None:
    assert ruby_float(value) == text
