"""Parts with formatters in SQL (``runs.query.sql_formatted``) write the Python path's bytes.

Every part of every report, as a shard writes it (its formatters' SQL forms, on the lane's
fast path when it qualifies), against the Python path on the part as declared (Python
formatters on raw values): the same bytes, with names and times that SQL leaves to Python
among them, and values that need quoting.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from datetime import datetime

import pytest
from sqlalchemy import Connection, Engine, literal_column, select, update

from reportcard.db import activity_tables, learning_tables, tables
from reportcard.names import stored_names
from reportcard.reports.catalog import PartQuery, RunContext, all_reports, get_report
from reportcard.runs import write
from reportcard.runs.query import bounds_select, sql_formatted
from reportcard.runs.write import (
    copy_eligible,
    lines_eligible,
    write_copy,
    write_lines,
    write_python,
)
from tests.databases import lane
from tests.reports import activity_institution as activity
from tests.reports import learning_institution as learning
from tests.reports.institution import build, context
from tests.runs.test_write import _make_hostile, _params
from tests.stored_names import ODD_SORTABLE

# The stored-name checks' sortable names, and one with a line break in it.
ODD_NAMES = [*ODD_SORTABLE, "Smith, John\nJr"]
ODD_TIMES = [
    datetime(1, 1, 1, 0, 0, 1),
    datetime(1969, 7, 20, 20, 17, 40),
    datetime(2150, 1, 1, 12),
    datetime(2024, 3, 10, 9, 59, 59, 999999),
]


def _make_odd(conn: Connection) -> None:
    """Names and times SQL leaves to Python, on every other user and login."""
    ids = conn.execute(select(tables.users.c.id).order_by(tables.users.c.id)).scalars().all()
    for i, user_id in enumerate(ids[::2]):
        name = ODD_NAMES[i % len(ODD_NAMES)]
        conn.execute(
            update(tables.users)
            .where(tables.users.c.id == user_id)
            .values(sortable_name=name, **stored_names(name))
        )
    p = tables.pseudonyms
    logins = conn.execute(select(p.c.id).order_by(p.c.id)).scalars().all()
    for i, login_id in enumerate(logins[1::2]):
        conn.execute(update(p).where(p.c.id == login_id).values(last_request_at=ODD_TIMES[i % 4]))
    terms = tables.enrollment_terms
    term_ids = conn.execute(select(terms.c.id).order_by(terms.c.id)).scalars().all()
    for i, term_id in enumerate(term_ids):
        conn.execute(update(terms).where(terms.c.id == term_id).values(end_at=ODD_TIMES[i % 4]))


def _every_part(
    engine: Engine, reports: list[str], ctx_of: Callable[..., RunContext]
) -> Iterator[tuple[str, RunContext, PartQuery, PartQuery]]:
    """Every part of ``reports`` with deleted rows included: its label, its run's context,
    the part as declared and as a shard runs it (``sql_formatted``)."""
    for report_type in reports:
        report = get_report(report_type)
        assert report is not None
        with engine.begin() as conn:
            ctx = ctx_of(conn, report_type, include_deleted="true", **_params(report_type))
        for name in report.select_parts(ctx):
            declared = report.part(name).build(ctx)
            yield f"{report_type}/{name}", ctx, declared, sql_formatted(declared, ctx)


def _compare(
    engine: Engine,
    reports: list[str],
    ctx_of: Callable[..., RunContext],
    whole: dict[str, bool] | None = None,
) -> list[str]:
    """Every part of ``reports``: the shard's bytes against the Python path's; the parts on a
    fast path with SQL forms. With ``whole``, the SQLite line path's parts are written as a
    small shard is (``write_lines(whole=True)``, its fallback fetching one row a batch), and
    ``whole`` records for each whether it was read as one value (its one progress count)."""
    fast: list[str] = []
    for label, ctx, declared, pq in _every_part(engine, reports, ctx_of):
        by_shard, by_python = io.BytesIO(), io.BytesIO()
        counts: list[int] = []
        if copy_eligible(engine, pq):
            n = write_copy(engine, pq, 0, 10**12, by_shard, counts.append)
        elif lines_eligible(engine, pq) and whole is not None:
            n = write_lines(engine, pq, 0, 10**12, by_shard, counts.append, 1, ctx, True)
            whole[label] = n > 1 and counts == [n]
        elif lines_eligible(engine, pq):
            n = write_lines(engine, pq, 0, 10**12, by_shard, counts.append, ctx=ctx)
        else:
            n = write_python(engine, pq, ctx, 0, 10**12, by_shard, counts.append)
        n_py = write_python(engine, declared, ctx, 0, 10**12, by_python, lambda n: None)
        assert by_shard.getvalue() == by_python.getvalue(), label
        assert n == n_py == sum(counts), label
        if pq.columns != declared.columns and (
            copy_eligible(engine, pq) or lines_eligible(engine, pq)
        ):
            fast.append(label)
    return fast


@pytest.mark.parametrize("odd", [False, True], ids=["clean", "odd"])
def test_sql_formatted_parts_write_the_python_bytes(engine: Engine, odd: bool) -> None:
    with engine.begin() as conn:
        build(conn)
        if odd:
            _make_hostile(conn)
            _make_odd(conn)
    fast = _compare(engine, sorted(all_reports()), context)
    # last_user_access writes its times in SQL on both databases, on the fast paths; the
    # users files read the stored names (no formatter left) and take them as declared.
    assert "last_user_access_csv/last_user_access" in fast
    for users_file in ("provisioning_csv", "sis_export_csv"):
        report = get_report(users_file)
        assert report is not None
        with engine.begin() as conn:
            ctx = context(conn, users_file, **_params(users_file))
        pq = report.part("users").build(ctx)
        assert copy_eligible(engine, pq) or lines_eligible(engine, pq)


@pytest.mark.parametrize("odd", [False, True], ids=["clean", "odd"])
def test_small_shards_read_as_one_value_write_the_python_bytes(engine: Engine, odd: bool) -> None:
    """A small shard on SQLite's line path reads its lines as one value (``whole_select``)
    when SQL builds them alone: the Python path's bytes, in the statement's order; a shard
    whose value holds a newline, a separator or a wrapper is read again batch by batch."""
    if lane() != "sqlite":
        pytest.skip("SQL-built lines are the SQLite lane's path")
    with engine.begin() as conn:
        build(conn)
        if odd:
            _make_hostile(conn)
            _make_odd(conn)
    taken: dict[str, bool] = {}
    _compare(engine, sorted(all_reports()), context, taken)
    read_whole = {part for part, one in taken.items() if one}
    for report_type in ("provisioning_csv", "sis_export_csv"):
        # Titles with quotes and commas, hostile or not, quoted in place.
        assert {f"{report_type}/courses", f"{report_type}/groups"} <= read_whole
        if odd:  # a name with a line break, a section's with a separator: batch by batch
            assert f"{report_type}/users" in taken
            assert f"{report_type}/users" not in read_whole
            assert f"{report_type}/sections" not in read_whole
        else:
            for part in ("sections", "users", "enrollments", "group_membership"):
                assert f"{report_type}/{part}" in read_whole
    if not odd:
        assert "zero_activity_csv/zero_activity" in read_whole  # a comma-prone part


def test_a_small_shard_with_more_lines_than_the_cap_is_read_batch_by_batch(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A shard's estimate can be short of its lines (keys denser than equal widths, a count
    from a cheaper bounds query): more than ``WHOLE_ROWS`` lines are never held as one value;
    the shard is read batch by batch instead, its bytes the same."""
    if lane() != "sqlite":
        pytest.skip("SQL-built lines are the SQLite lane's path")
    with engine.begin() as conn:
        build(conn)
    report = get_report("provisioning_csv")
    assert report is not None
    with engine.begin() as conn:
        ctx = context(conn, "provisioning_csv", **_params("provisioning_csv"))
    pq = sql_formatted(report.part("courses").build(ctx), ctx)
    assert lines_eligible(engine, pq)
    whole, batched = io.BytesIO(), io.BytesIO()
    counts: list[int] = []
    n = write_lines(engine, pq, 0, 10**12, whole, counts.append, 2, ctx, True)
    assert n > 3 and counts == [n]  # under the cap: one value, one count
    monkeypatch.setattr(write, "WHOLE_ROWS", n - 1)
    counts.clear()
    assert write_lines(engine, pq, 0, 10**12, batched, counts.append, 2, ctx, True) == n
    assert len(counts) > 1 and sum(counts) == n  # over it: batch by batch
    assert batched.getvalue() == whole.getvalue()


def _chunked_parts(
    engine: Engine,
    odd: bool,
    analyzed: bool = False,
    change: Callable[[Connection], None] | None = None,
) -> dict[str, list[int]]:
    """Every SQLite line-path part of every report written as a big shard is (``write_lines``
    with its estimate, over its own key range), against the Python path's bytes and line
    count; for each, its progress counts (a chunk read as one value counts its lines at once;
    batches here count one line each). ``analyzed``: with SQLite's statistics of the tables
    (``ANALYZE``), which change some plans, as on a loaded institution. ``change``: applied
    to the built institution."""
    with engine.begin() as conn:
        build(conn)
        if change is not None:
            change(conn)
        if odd:
            _make_hostile(conn)
            _make_odd(conn)
        if analyzed:
            conn.exec_driver_sql("ANALYZE")
    chunked: dict[str, list[int]] = {}
    for label, ctx, declared, pq in _every_part(engine, sorted(all_reports()), context):
        if not declared.columns or not lines_eligible(engine, pq):
            continue
        with engine.connect() as conn:
            lo, hi, n = conn.execute(bounds_select(pq)).one()
            conn.rollback()
        if lo is None:
            continue
        by_chunks, by_python = io.BytesIO(), io.BytesIO()
        counts: list[int] = []
        k = write_lines(engine, pq, lo, hi, by_chunks, counts.append, 1, ctx, estimate=n)
        k_py = write_python(engine, declared, ctx, lo, hi, by_python, lambda n: None)
        assert by_chunks.getvalue() == by_python.getvalue(), label
        assert k == k_py == sum(counts), label
        chunked[label] = counts
    return chunked


@pytest.mark.parametrize("analyzed", [False, True], ids=["plain", "analyzed"])
@pytest.mark.parametrize("odd", [False, True], ids=["clean", "odd"])
def test_big_shards_read_in_chunks_of_keys_write_the_python_bytes(
    engine: Engine, odd: bool, analyzed: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A big shard on SQLite's line path whose statement SQLite walks by its key reads its
    lines in chunks of keys, each as one value (``write._Chunked``): the Python path's bytes,
    in the statement's order, whatever the chunks' sizes; a chunk whose value holds a
    newline, a separator or a wrapper is read again batch by batch, in its place. A part
    whose statement starts from another table is read batch by batch. Which parts SQLite
    walks by their key depends on its statistics: both ways are checked."""
    if lane() != "sqlite":
        pytest.skip("SQL-built lines are the SQLite lane's path")
    monkeypatch.setattr(write, "CHUNK_ROWS", 3)  # many chunks, keys as sparse as they come
    counts = _chunked_parts(engine, odd, analyzed)
    chunked = {part: any(c > 1 for c in seen) for part, seen in counts.items()}
    for report_type in ("provisioning_csv", "sis_export_csv"):
        if analyzed and not odd:
            assert chunked[f"{report_type}/users"]  # the logins searched by id, as on `large`
        elif not analyzed:
            assert chunked[f"{report_type}/enrollments"]  # searched by their ids
            # The root's logins by the account's index; the root's groups, then each
            # group's memberships in the key range: batch by batch.
            assert not chunked[f"{report_type}/users"]
            assert not chunked[f"{report_type}/group_membership"]


def test_a_chunk_that_cannot_be_shown_from_its_value_is_read_again_in_its_place(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One name with a line break among clean ones: the chunk holding it is read again batch
    by batch, between chunks read as one value, and the file is the Python path's."""
    if lane() != "sqlite":
        pytest.skip("SQL-built lines are the SQLite lane's path")

    def one_odd_name(conn: Connection) -> None:
        ids = conn.execute(select(tables.users.c.id).order_by(tables.users.c.id)).scalars().all()
        name = "Smith, John\nJr"
        conn.execute(
            update(tables.users)
            .where(tables.users.c.id == ids[len(ids) // 2])
            .values(sortable_name=name, **stored_names(name))
        )

    monkeypatch.setattr(write, "CHUNK_ROWS", 3)
    counts = _chunked_parts(engine, False, True, one_odd_name)["provisioning_csv/users"]
    assert any(c > 1 for c in counts)  # chunks read as one value
    assert counts.count(1) >= 2  # and one read again, a line a batch (its lines, at least two)


def test_a_chunk_with_more_lines_than_the_cap_is_read_batch_by_batch(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A chunk's keys may hold more lines than the estimate says: more than ``WHOLE_ROWS``
    are never held as one value; that chunk is read batch by batch, in its place."""
    if lane() != "sqlite":
        pytest.skip("SQL-built lines are the SQLite lane's path")
    monkeypatch.setattr(write, "CHUNK_ROWS", 20)
    monkeypatch.setattr(write, "WHOLE_ROWS", 4)
    cut: list[tuple[int, int]] = []
    read_again = write._Chunked._batches

    def spy(self: write._Chunked, a: int, b: int) -> int:
        cut.append((a, b))
        return read_again(self, a, b)

    monkeypatch.setattr(write._Chunked, "_batches", spy)
    counts = _chunked_parts(engine, False, analyzed=True)["provisioning_csv/users"]
    assert counts and set(counts) == {1}  # every chunk over the cap: batch by batch
    assert len(cut) > 1  # chunks were read, found past the cap, and read again


# Scores SQL leaves to Python (exponents, NaN, infinities) and edge cases it writes itself.
ODD_FLOATS = [1e20, 1e15, 999999999999999.9, 1e-5, 0.0001, -0.0, 0.1 + 0.2, float("nan"), None]


@pytest.mark.parametrize("odd", [False, True], ids=["clean", "odd"])
def test_grade_and_outcome_parts_write_the_python_bytes(engine: Engine, odd: bool) -> None:
    """The float columns (``ruby_float``) of the grade and outcome reports."""
    with engine.begin() as conn:
        learning.build(conn)
        if odd:
            _make_odd_floats(conn)
    reports = [
        "grade_export_csv",
        "mgp_grade_export_csv",
        "outcome_results_csv",
        "student_assignment_outcome_map_csv",
    ]
    fast = _compare(engine, reports, learning.context)
    if lane() == "postgresql":
        assert "grade_export_csv/grades" in fast
        assert "outcome_results_csv/outcome_results" in fast
        assert "student_assignment_outcome_map_csv/student_competency" in fast
    else:
        assert fast == []


def _make_odd_floats(conn: Connection) -> None:
    for table, columns in (
        (learning_tables.scores, ["current_score", "final_score", "unposted_final_score"]),
        (learning_tables.submissions, ["score"]),
        (learning_tables.learning_outcome_results, ["score", "possible"]),
    ):
        ids = conn.execute(select(table.c.id).order_by(table.c.id)).scalars().all()
        for i, row_id in enumerate(ids):
            values = {c: ODD_FLOATS[(i + k) % len(ODD_FLOATS)] for k, c in enumerate(columns)}
            conn.execute(update(table).where(table.c.id == row_id).values(**values))


def test_course_storage_writes_the_python_bytes(engine: Engine) -> None:
    """``megabytes`` in SQL, including sizes far beyond any real course."""
    with engine.begin() as conn:
        activity.build(conn)
        f = activity_tables.course_files
        ids = conn.execute(select(f.c.id).order_by(f.c.id)).scalars().all()
        for i, file_id in enumerate(ids[::3]):
            size = [2**62, 10**15 + 1, 5242, None][i % 4]
            conn.execute(update(f).where(f.c.id == file_id).values(size=size))
    fast = _compare(engine, ["course_storage_csv"], context)
    assert fast == ["course_storage_csv/course_storage"]


# Token hints of every shape token_hint takes apart, and times SQL leaves to Python.
ODD_HINTS = ["1~abcde", "plain", "~", "a~b~c", 'x,"y~z', "", "2~\x1e,mark", "ü~✓"]


@pytest.mark.parametrize("odd", [False, True], ids=["clean", "odd"])
def test_user_access_tokens_write_the_python_bytes(engine: Engine, odd: bool) -> None:
    """``token_hint`` and ``time_or`` (``never`` for NULL) in SQL, and the names' commas."""
    with engine.begin() as conn:
        activity.build(conn)
        t = tables.access_tokens
        if odd:
            _make_hostile(conn)
            ids = conn.execute(select(t.c.id).order_by(t.c.id)).scalars().all()
            for i, token_id in enumerate(ids):
                times = [*ODD_TIMES, None]
                conn.execute(
                    update(t)
                    .where(t.c.id == token_id)
                    .values(
                        hint=ODD_HINTS[i % len(ODD_HINTS)],
                        expires_at=times[i % len(times)],
                        last_used_at=times[(i + 2) % len(times)],
                    )
                )
            if lane() == "sqlite":  # a stored text not in SQLAlchemy's form: to Python
                bad = literal_column("'2024-03-01T10:00:00'")
                conn.execute(update(t).where(t.c.id == ids[0]).values(last_used_at=bad))
    fast = _compare(engine, ["user_access_tokens_csv"], context)
    assert fast == ["user_access_tokens_csv/user_access_tokens"]
    if lane() == "sqlite":  # a small shard's lines as one value
        taken: dict[str, bool] = {}
        _compare(engine, ["user_access_tokens_csv"], context, taken)
        assert taken == {"user_access_tokens_csv/user_access_tokens": True}
