"""Grades, assignments, submissions and outcomes for a seeded root account.

:func:`fill_learning` runs after the institution's own tables are written (same connection,
same transaction). It reads back the root's terms, accounts, courses and student enrollments
(compact arrays: ``large`` has about 1,750,000 student enrollments) and streams through the
bulk loader:

* a letter grading scheme (about half the courses use it, a fifth Canvas's default one), a
  grading period set with two periods on the most recent started term, and Final Grades
  Override allowed on the root;
* a course score for every student enrollment that can have one, and a score per grading
  period where the course's term has a set;
* three to six assignments per course (one course in six also has a quiz), submissions for a
  sample of students sized so that ``large`` writes about a million of them;
* an outcome tree on the root and on the first few sub-accounts (groups, outcomes with and
  without a rubric criterion, links, friendly descriptions, a mastery scale), outcome
  alignments on about a quarter of the courses, and rubric and quiz results (with question
  results) for the students who submitted the aligned work.

Every random choice comes from ``Random`` instances seeded by ``seed`` and the table, in a
fixed order over rows read in id order, so a seed always gives the same data.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from random import Random
from typing import Any

from sqlalchemy import Connection, select

from reportcard.db.tables import accounts, courses, enrollment_terms, enrollments

from .build import Row, TableRows
from .clock import ANCHOR, ts
from .load import BulkLoader
from .sizes import Size

Progress = Callable[[str, int, int], None]

# Tables with an ``id`` written here (sequences to fix, id bases to read).
ID_TABLES: tuple[str, ...] = (
    "feature_flags",
    "grading_period_groups",
    "grading_periods",
    "grading_standards",
    "scores",
    "assignments",
    "quizzes",
    "assessment_questions",
    "rubrics",
    "learning_outcomes",
    "learning_outcome_groups",
    "learning_outcome_links",
    "learning_outcome_alignments",
    "outcome_friendly_descriptions",
    "outcome_proficiencies",
    "outcome_proficiency_ratings",
    "submissions",
    "quiz_submissions",
    "rubric_assessments",
    "learning_outcome_results",
    "learning_outcome_question_results",
)
BIG_TABLES = ("scores", "submissions", "learning_outcome_results")
# Roughly how many submissions the biggest institution gets.
SUBMISSION_TARGET = 1_000_000
SCORED_STATES = ("active", "completed", "inactive", "deleted")
WORKING_STATES = ("active", "completed", "inactive")
STATE_CODES = {
    s: i
    for i, s in enumerate(
        ("active", "completed", "inactive", "deleted", "invited", "creation_pending", "rejected")
    )
}
DAY = 86_400

LETTERS = (
    ("A", 0.93),
    ("A-", 0.90),
    ("B+", 0.87),
    ("B", 0.83),
    ("B-", 0.80),
    ("C+", 0.77),
    ("C", 0.73),
    ("C-", 0.70),
    ("D+", 0.67),
    ("D", 0.63),
    ("D-", 0.60),
    ("F", 0.0),
)
ASSIGNMENT_WORDS = (
    "Homework",
    "Essay",
    "Problem Set",
    "Lab Report",
    "Reading Response",
    "Project",
    "Presentation",
    "Case Study",
    "Reflection",
    "Worksheet",
)
QUESTION_WORDS = ("Define", "Compute", "Compare", "Explain", "Estimate", "Classify")
# (group title, vendor guid, [(outcome, description, has a criterion)])
ROOT_OUTCOMES = (
    (
        "Communication",
        "comm",
        [
            ("Clear thesis", "States a clear, arguable thesis", True),
            ("Use of evidence", "Supports claims with relevant evidence", True),
            ("Audience awareness", "Writes for the intended audience", False),
        ],
    ),
    (
        "Quantitative Reasoning",
        None,
        [
            ("Interpret data", "Reads tables and graphs correctly", True),
            ("Model problems", "Turns a situation into a mathematical model", True),
            ("Estimate", "Checks results by estimation", False),
        ],
    ),
    (
        "Scientific Inquiry",
        "sci",
        [
            ("Form hypotheses", "Forms testable hypotheses", True),
            ("Design experiments", "Designs controlled experiments", True),
        ],
    ),
)
CRITERION = ((4.0, "Exemplary"), (3.0, "Proficient"), (2.0, "Developing"), (0.0, "Beginning"))
SCALE = (
    ("Exceeds Mastery", 4.0, False),
    ("Mastery", 3.0, True),
    ("Near Mastery", 2.0, False),
    ("Well Below Mastery", 0.0, False),
)


@dataclass
class _Course:
    id: int
    account: int
    term: int
    state: str
    window: tuple[datetime, datetime] | None  # when its work is submitted (None: never)
    assignments: list[int] = field(default_factory=list)  # live ones
    quiz: tuple[int, int] | None = None  # (quiz id, its assignment id)
    aligned: list[tuple[int, int, int, int]] = field(default_factory=list)
    # (alignment id, assignment id, outcome id, rubric id)
    bank: tuple[int, int] | None = None  # (bank alignment id, outcome id)
    periods: tuple[int, ...] = ()


@dataclass
class _Source:
    root_id: int
    accounts: list[int]  # sub-accounts, by id
    courses: dict[int, _Course]
    terms: list[tuple[int, datetime | None, datetime | None, bool]]  # id, start, end, default
    # Student enrollments in id order.
    e_id: array[int] = field(default_factory=lambda: array("q"))
    e_user: array[int] = field(default_factory=lambda: array("q"))
    e_course: array[int] = field(default_factory=lambda: array("q"))
    e_state: bytearray = field(default_factory=bytearray)
    questions: list[int] = field(default_factory=list)  # assessment question ids


class _Ids:
    """Next ids per table, after what the database already holds."""

    def __init__(self, loader: BulkLoader) -> None:
        self.next = {t: n + 1 for t, n in loader.max_ids(ID_TABLES).items()}

    def __call__(self, table: str) -> int:
        value = self.next[table]
        self.next[table] = value + 1
        return value


def _dt(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def _read(conn: Connection, root_id: int) -> _Source:
    t = enrollment_terms.c
    terms = [
        (int(r.id), _dt(r.start_at), _dt(r.end_at), bool(r.is_default))
        for r in conn.execute(
            select(t.id, t.start_at, t.end_at, t.is_default)
            .where(t.root_account_id == root_id, t.workflow_state == "active")
            .order_by(t.id)
        )
    ]
    windows = {}
    for tid, start, end, _default in terms:
        if start is None:
            windows[tid] = (ANCHOR - timedelta(days=120), ANCHOR)
        elif start < ANCHOR:
            windows[tid] = (start, min(end or ANCHOR, ANCHOR))
    subs = [
        int(i)
        for i in conn.execute(
            select(accounts.c.id)
            .where(accounts.c.root_account_id == root_id, accounts.c.workflow_state == "active")
            .order_by(accounts.c.id)
        ).scalars()
    ]
    c = courses.c
    course_map = {
        int(r.id): _Course(
            int(r.id),
            int(r.account_id),
            int(r.enrollment_term_id),
            str(r.workflow_state),
            windows.get(int(r.enrollment_term_id)),
        )
        for r in conn.execute(
            select(c.id, c.account_id, c.enrollment_term_id, c.workflow_state)
            .where(c.root_account_id == root_id)
            .order_by(c.id)
        )
    }
    src = _Source(root_id, subs, course_map, terms)
    e = enrollments.c
    result = conn.execute(
        select(e.id, e.user_id, e.course_id, e.workflow_state)
        .where(e.root_account_id == root_id, e.type == "StudentEnrollment")
        .order_by(e.id),
        execution_options={"stream_results": True, "yield_per": 50_000},
    )
    for rows in result.partitions(50_000):
        for eid, uid, cid, state in rows:
            src.e_id.append(eid)
            src.e_user.append(uid)
            src.e_course.append(cid)
            src.e_state.append(STATE_CODES.get(state, 6))
    return src


# ---------------------------------------------------------------- small tables


@dataclass
class _Small:
    """Rows of the small tables, built in memory before anything is written."""

    rows: dict[str, list[Row]] = field(default_factory=dict)

    def add(self, table: str, row: Row) -> None:
        self.rows.setdefault(table, []).append(row)


COLUMNS: dict[str, tuple[str, ...]] = {
    "account_settings": ("account_id", "name", "value"),
    "feature_flags": ("id", "context_type", "context_id", "feature", "state"),
    "grading_standards": (
        "id", "context_type", "context_id", "title", "workflow_state", "created_at", "updated_at",
    ),
    "grading_standard_entries": ("grading_standard_id", "position", "name", "lower_bound"),
    "course_grading_schemes": ("course_id", "grading_standard_id"),
    "grading_period_groups": (
        "id", "root_account_id", "title", "workflow_state", "created_at", "updated_at",
    ),
    "grading_period_group_terms": ("enrollment_term_id", "grading_period_group_id"),
    "grading_periods": (
        "id", "grading_period_group_id", "title", "start_date", "end_date", "close_date",
        "weight", "workflow_state", "created_at", "updated_at",
    ),
    "assignments": (
        "id", "course_id", "title", "type", "submission_types", "points_possible", "due_at",
        "workflow_state", "created_at", "updated_at",
    ),
    "quizzes": (
        "id", "course_id", "title", "assignment_id", "workflow_state", "created_at", "updated_at",
    ),
    "assessment_questions": ("id", "name", "workflow_state", "created_at", "updated_at"),
    "rubrics": (
        "id", "course_id", "title", "points_possible", "workflow_state", "created_at",
        "updated_at",
    ),
    "learning_outcome_groups": (
        "id", "context_type", "context_id", "parent_group_id", "title", "description",
        "vendor_guid", "workflow_state", "created_at", "updated_at",
    ),
    "learning_outcomes": (
        "id", "context_type", "context_id", "short_description", "description", "display_name",
        "vendor_guid", "calculation_method", "calculation_int", "mastery_points",
        "points_possible", "workflow_state", "created_at", "updated_at",
    ),
    "learning_outcome_ratings": ("learning_outcome_id", "position", "points", "description"),
    "learning_outcome_links": (
        "id", "context_type", "context_id", "learning_outcome_group_id", "learning_outcome_id",
        "workflow_state", "created_at", "updated_at",
    ),
    "outcome_friendly_descriptions": (
        "id", "learning_outcome_id", "context_type", "context_id", "description",
        "workflow_state", "created_at", "updated_at",
    ),
    "outcome_proficiencies": (
        "id", "context_type", "context_id", "workflow_state", "created_at", "updated_at",
    ),
    "outcome_proficiency_ratings": (
        "id", "outcome_proficiency_id", "description", "points", "mastery", "color", "position",
    ),
    "learning_outcome_alignments": (
        "id", "course_id", "learning_outcome_id", "content_type", "content_id",
        "workflow_state", "created_at", "updated_at",
    ),
    "scores": (
        "id", "enrollment_id", "course_score", "grading_period_id", "current_score",
        "final_score", "unposted_current_score", "unposted_final_score", "override_score",
        "workflow_state", "created_at", "updated_at",
    ),
    "submissions": (
        "id", "assignment_id", "user_id", "submitted_at", "score", "attempt", "workflow_state",
        "created_at", "updated_at",
    ),
    "quiz_submissions": (
        "id", "quiz_id", "user_id", "submission_id", "attempt", "score", "finished_at",
        "workflow_state", "created_at", "updated_at",
    ),
    "rubric_assessments": (
        "id", "rubric_id", "user_id", "submission_id", "score", "created_at", "updated_at",
    ),
    "learning_outcome_results": (
        "id", "user_id", "learning_outcome_id", "alignment_id", "course_id", "association_type",
        "association_id", "artifact_type", "artifact_id", "attempt", "score", "possible",
        "percent", "mastery", "hide_points", "submitted_at", "assessed_at", "workflow_state",
        "created_at", "updated_at",
    ),
    "learning_outcome_question_results": (
        "id", "learning_outcome_result_id", "assessment_question_id", "attempt", "score",
        "possible", "percent", "mastery", "workflow_state", "created_at", "updated_at",
    ),
}  # fmt: skip

CREATED = ts(ANCHOR - timedelta(days=400))


def _grading(src: _Source, ids: _Ids, rng: Random, small: _Small) -> None:
    root = src.root_id
    small.add(
        "feature_flags", (ids("feature_flags"), "Account", root, "final_grades_override", "allowed")
    )
    std = ids("grading_standards")
    small.add(
        "grading_standards", (std, "Account", root, "Letter grades", "active", CREATED, CREATED)
    )
    for pos, (name, bound) in enumerate(LETTERS, start=1):
        small.add("grading_standard_entries", (std, pos, name, bound))
    for cid in src.courses:
        r = rng.random()
        if r < 0.45:
            small.add("course_grading_schemes", (cid, std))
        elif r < 0.65:
            small.add("course_grading_schemes", (cid, None))
    dated = [
        (start, tid, end)
        for tid, start, end, default in src.terms
        if start and end and not default and start < ANCHOR
    ]
    started = sorted(dated, reverse=True)[:1]
    for start, tid, end in started:
        group = ids("grading_period_groups")
        small.add(
            "grading_period_groups", (group, root, f"Periods {tid}", "active", CREATED, CREATED)
        )
        small.add("grading_period_group_terms", (tid, group))
        middle = start + (end - start) / 2
        periods = []
        for title, a, b in (("Marking Period 1", start, middle), ("Marking Period 2", middle, end)):
            pid = ids("grading_periods")
            periods.append(pid)
            small.add(
                "grading_periods",
                (pid, group, title, ts(a), ts(b), ts(b), 50.0, "active", CREATED, CREATED),
            )
        for course in src.courses.values():
            if course.term == tid:
                course.periods = tuple(periods)


def _work(src: _Source, ids: _Ids, rng: Random, small: _Small) -> None:
    for course in src.courses.values():
        for _ in range(rng.randint(3, 6)):
            aid = ids("assignments")
            word = ASSIGNMENT_WORDS[rng.randrange(len(ASSIGNMENT_WORDS))]
            state = "deleted" if rng.random() < 0.03 else "published"
            due = ts(course.window[1]) if course.window else None
            small.add(
                "assignments",
                (
                    aid,
                    course.id,
                    f"{word} {aid}",
                    "Assignment",
                    "online_upload",
                    float(rng.choice((10, 20, 25, 50, 100))),
                    due,
                    state,
                    CREATED,
                    CREATED,
                ),
            )
            if state != "deleted":
                course.assignments.append(aid)
        if rng.random() < 1 / 6:
            aid, qid = ids("assignments"), ids("quizzes")
            small.add(
                "assignments",
                (
                    aid,
                    course.id,
                    f"Quiz {qid}",
                    "Assignment",
                    "online_quiz",
                    10.0,
                    None,
                    "published",
                    CREATED,
                    CREATED,
                ),
            )
            small.add(
                "quizzes", (qid, course.id, f"Quiz {qid}", aid, "available", CREATED, CREATED)
            )
            course.quiz = (qid, aid)
            course.assignments.append(aid)


def _outcomes(src: _Source, ids: _Ids, rng: Random, small: _Small) -> None:
    root = src.root_id

    def group(context: int, parent: int | None, title: str, guid: str | None) -> int:
        gid = ids("learning_outcome_groups")
        small.add(
            "learning_outcome_groups",
            (gid, "Account", context, parent, title, None, guid, "active", CREATED, CREATED),
        )
        return gid

    def outcome(context: int | None, name: str, description: str, criterion: bool) -> int:
        oid = ids("learning_outcomes")
        method, cint = rng.choice(
            (("decaying_average", 65), ("highest", None), ("n_mastery", 2), ("latest", None))
        )
        small.add(
            "learning_outcomes",
            (
                oid,
                None if context is None else "Account",
                context,
                name,
                description,
                name if rng.random() < 0.5 else None,
                None,
                method,
                cint,
                3.0 if criterion else None,
                4.0 if criterion else None,
                "active",
                CREATED,
                CREATED,
            ),
        )
        if criterion:
            for pos, (points, label) in enumerate(CRITERION, start=1):
                small.add("learning_outcome_ratings", (oid, pos, points, label))
        return oid

    def link(context: int, gid: int, oid: int) -> None:
        small.add(
            "learning_outcome_links",
            (
                ids("learning_outcome_links"),
                "Account",
                context,
                gid,
                oid,
                "active",
                CREATED,
                CREATED,
            ),
        )

    root_group = group(root, None, "Institution outcomes", None)
    linked: dict[int, list[int]] = {root: []}
    first_group = None
    for title, guid, items in ROOT_OUTCOMES:
        gid = group(root, root_group, title, guid)
        first_group = first_group or gid
        for i, (name, description, criterion) in enumerate(items):
            oid = outcome(None if i == 0 else root, name, description, criterion)
            link(root, gid, oid)
            linked[root].append(oid)
            if rng.random() < 0.4:
                small.add(
                    "outcome_friendly_descriptions",
                    (
                        ids("outcome_friendly_descriptions"),
                        oid,
                        "Account",
                        root,
                        f"{name}, in plain words",
                        "active",
                        CREATED,
                        CREATED,
                    ),
                )
    assert first_group is not None
    sub = group(root, first_group, "Written Communication", None)
    link(root, sub, linked[root][0])  # the first outcome sits in two groups
    for account in src.accounts[:3]:
        top = group(account, None, f"Account {account} outcomes", None)
        gid = group(account, top, f"Program outcomes {account}", f"prog-{account}")
        linked[account] = []
        for k in range(2):
            oid = outcome(account, f"Program skill {account}.{k + 1}", "A program outcome", k == 0)
            link(account, gid, oid)
            linked[account].append(oid)
        link(account, gid, linked[root][1])
    prof = ids("outcome_proficiencies")
    small.add("outcome_proficiencies", (prof, "Account", root, "active", CREATED, CREATED))
    for pos, (label, points, mastery) in enumerate(SCALE, start=1):
        small.add(
            "outcome_proficiency_ratings",
            (ids("outcome_proficiency_ratings"), prof, label, points, mastery, None, pos),
        )
    questions = []
    for k in range(20):
        qid = ids("assessment_questions")
        questions.append(qid)
        small.add(
            "assessment_questions",
            (qid, f"{QUESTION_WORDS[k % 6]} #{k + 1}", "active", CREATED, CREATED),
        )
    bank = 0
    own = {a: outs for a, outs in linked.items() if a != root}
    for course in src.courses.values():
        if course.state == "deleted" or not course.assignments:
            continue
        if rng.random() < 0.25:
            pool = linked[root] + own.get(course.account, [])
            for aid in rng.sample(course.assignments, min(len(course.assignments), 2)):
                oid = pool[rng.randrange(len(pool))]
                al = ids("learning_outcome_alignments")
                rubric = ids("rubrics")
                small.add(
                    "learning_outcome_alignments",
                    (al, course.id, oid, "Assignment", aid, "active", CREATED, CREATED),
                )
                small.add(
                    "rubrics",
                    (rubric, course.id, f"Rubric {rubric}", 4.0, "active", CREATED, CREATED),
                )
                course.aligned.append((al, aid, oid, rubric))
        if course.quiz is not None and rng.random() < 0.5:
            bank += 1
            oid = linked[root][rng.randrange(len(linked[root]))]
            al = ids("learning_outcome_alignments")
            small.add(
                "learning_outcome_alignments",
                (al, course.id, oid, "AssessmentQuestionBank", bank, "active", CREATED, CREATED),
            )
            course.bank = (al, oid)
    src.questions = questions


# ---------------------------------------------------------------- big tables


def _score(rng: Random) -> tuple[float, float, float, float]:
    current = round(min(108.0, max(0.0, rng.gauss(82.0, 11.0))), 2)
    final = round(current * rng.uniform(0.82, 1.0), 2)
    unposted = round(min(108.0, current + rng.uniform(0.0, 3.0)), 2)
    return current, final, unposted, round(min(unposted, final + rng.uniform(0.0, 3.0)), 2)


def _scores(src: _Source, ids: _Ids, seed: int) -> Iterator[Row]:
    rng = Random(f"learning-scores-{seed}")
    deleted = STATE_CODES["deleted"]
    scored = {STATE_CODES[s] for s in SCORED_STATES}
    for i, eid in enumerate(src.e_id):
        code = src.e_state[i]
        if code not in scored:
            continue
        course = src.courses[src.e_course[i]]
        state = "deleted" if code == deleted and rng.random() < 0.5 else "active"
        cur, fin, ucur, ufin = _score(rng)
        override = round(cur + rng.uniform(-5, 5), 2) if rng.random() < 0.05 else None
        yield (
            ids("scores"),
            eid,
            True,
            None,
            cur,
            fin,
            ucur,
            ufin,
            override,
            state,
            CREATED,
            CREATED,
        )
        for pid in course.periods:
            cur, fin, ucur, ufin = _score(rng)
            yield (
                ids("scores"),
                eid,
                False,
                pid,
                cur,
                fin,
                ucur,
                ufin,
                None,
                state,
                CREATED,
                CREATED,
            )


@dataclass
class _Side:
    """Rows the submissions pass produces for later tables."""

    quiz_submissions: list[Row] = field(default_factory=list)
    rubric_assessments: list[Row] = field(default_factory=list)
    results: list[Row] = field(default_factory=list)
    question_results: list[Row] = field(default_factory=list)


def _submission_rate(src: _Source) -> float:
    working = {STATE_CODES[s] for s in WORKING_STATES}
    pairs = 0
    for i in range(len(src.e_id)):
        if src.e_state[i] in working:
            course = src.courses[src.e_course[i]]
            if course.window is not None:
                pairs += len(course.assignments)
    return min(0.7, SUBMISSION_TARGET / (0.8 * pairs)) if pairs else 0.0


def _submissions(src: _Source, ids: _Ids, seed: int, side: _Side) -> Iterator[Row]:
    rng = Random(f"learning-submissions-{seed}")
    rate = _submission_rate(src)
    working = {STATE_CODES[s] for s in WORKING_STATES}
    questions = src.questions
    for i in range(len(src.e_id)):
        if src.e_state[i] not in working:
            continue
        course = src.courses[src.e_course[i]]
        if course.window is None or not course.assignments or rng.random() >= rate:
            continue
        user = src.e_user[i]
        start, end = course.window
        span = max(1, int((end - start).total_seconds()))
        submitted: dict[int, tuple[int, str]] = {}
        for aid in course.assignments:
            if rng.random() >= 0.8:
                continue
            when = ts(start + timedelta(seconds=rng.randrange(span)))
            score = float(rng.randint(40, 100))
            sid = ids("submissions")
            submitted[aid] = (sid, when)
            state = "graded" if rng.random() < 0.85 else "submitted"
            kept = score if state == "graded" else None
            yield (sid, aid, user, when, kept, 1, state, when, when)
        for al, aid, oid, rubric in course.aligned:
            if aid not in submitted or rng.random() >= 0.7:
                continue
            sid, when = submitted[aid]
            points = float(rng.choice((4, 3, 3, 2, 2, 0)))
            ra = ids("rubric_assessments")
            side.rubric_assessments.append((ra, rubric, user, sid, points, when, when))
            side.results.append(
                (
                    ids("learning_outcome_results"),
                    user,
                    oid,
                    al,
                    course.id,
                    "Assignment",
                    aid,
                    "RubricAssessment",
                    ra,
                    1,
                    points,
                    4.0,
                    points / 4.0,
                    points >= 3.0,
                    False,
                    when,
                    when,
                    "active",
                    when,
                    when,
                )
            )
        if course.quiz is not None and course.quiz[1] in submitted:
            qid, aid = course.quiz
            sid, when = submitted[aid]
            qs = ids("quiz_submissions")
            correct = rng.randint(0, 2)
            side.quiz_submissions.append(
                (qs, qid, user, sid, 1, float(correct * 5), when, "complete", when, when)
            )
            if course.bank is not None:
                al, oid = course.bank
                rid = ids("learning_outcome_results")
                side.results.append(
                    (
                        rid,
                        user,
                        oid,
                        al,
                        course.id,
                        "Quiz",
                        qid,
                        "Quizzes::QuizSubmission",
                        qs,
                        1,
                        float(correct),
                        2.0,
                        correct / 2.0,
                        correct == 2,
                        False,
                        when,
                        when,
                        "active",
                        when,
                        when,
                    )
                )
                for k in range(2):
                    right = k < correct
                    side.question_results.append(
                        (
                            ids("learning_outcome_question_results"),
                            rid,
                            questions[(qid + k) % len(questions)],
                            1,
                            1.0 if right else 0.0,
                            1.0,
                            1.0 if right else 0.0,
                            right,
                            "active",
                            when,
                            when,
                        )
                    )


def fill_learning(
    loader: BulkLoader, root_id: int, size: Size, seed: int, progress: Progress | None = None
) -> dict[str, int]:
    """Write the grades, work and outcomes of the seeded root ``root_id``; rows per table."""
    conn = loader.conn
    src = _read(conn, root_id)
    ids = _Ids(loader)
    small = _Small()
    _grading(src, ids, Random(f"learning-grading-{seed}-{size.name}"), small)
    _work(src, ids, Random(f"learning-work-{seed}-{size.name}"), small)
    _outcomes(src, ids, Random(f"learning-outcomes-{seed}-{size.name}"), small)
    counts: dict[str, int] = {}

    def write(table: str, rows: Any, estimate: int) -> None:
        counts[table] = loader.write(TableRows(table, COLUMNS[table], rows, estimate), progress)

    for table in COLUMNS:
        if table in small.rows:
            write(table, small.rows[table], len(small.rows[table]))
    # Big loads: the big tables' secondary indexes are rebuilt once at the end.
    restore = loader.relax(BIG_TABLES) if size.bulk else []
    n = len(src.e_id)
    periods = sum(len(c.periods) for c in src.courses.values())
    write("scores", _scores(src, ids, seed), n + n * periods // max(1, len(src.courses)))
    side = _Side()
    write("submissions", _submissions(src, ids, seed, side), min(n * 3, SUBMISSION_TARGET))
    write("quiz_submissions", side.quiz_submissions, len(side.quiz_submissions))
    write("rubric_assessments", side.rubric_assessments, len(side.rubric_assessments))
    write("learning_outcome_results", side.results, len(side.results))
    write("learning_outcome_question_results", side.question_results, len(side.question_results))
    loader.restore(restore)
    loader.fix_sequences(ID_TABLES)
    loader.analyze([t for t in COLUMNS if counts.get(t)])
    return counts
