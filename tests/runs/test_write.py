"""The fast paths (PostgreSQL's COPY, SQLite's SQL-built lines) write the csv path's bytes."""

from __future__ import annotations

import io
import random
import threading
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Float,
    Integer,
    MetaData,
    Table,
    Text,
    func,
    insert,
    literal_column,
    select,
    type_coerce,
    update,
)

from reportcard.db import tables
from reportcard.names import stored_names
from reportcard.reports.catalog import (
    SORT_KIB,
    TIME,
    Col,
    PartQuery,
    RunContext,
    all_reports,
    get_report,
)
from reportcard.reports.formatting import time_formatter
from reportcard.reports.sis_scope import STANDARD_FILES
from reportcard.rubyfloat import ruby_float
from reportcard.runs import write
from reportcard.runs.csvtext import line
from reportcard.runs.query import BATCH, Fallback, bounds_select, sql_formatted
from reportcard.runs.write import (
    LINES_CACHE_KIB,
    _column_text,
    _lines_text,
    _LineShape,
    _plain_text,
    _wrapped_fields_text,
    cache_kib,
    copy_eligible,
    lines_eligible,
    write_copy,
    write_lines,
    write_python,
)
from tests.databases import lane
from tests.factories import login_values
from tests.reports.institution import ROOT, STAMPS, build, context

FILES = STANDARD_FILES


def test_copy_is_only_offered_on_postgresql(engine: Engine) -> None:
    report = get_report("provisioning_csv")
    assert report is not None
    with engine.begin() as conn:
        build(conn)
        ctx = context(conn, "provisioning_csv", include_deleted="true")
    pq = report.part("enrollments").build(ctx)
    assert copy_eligible(engine, pq) is (lane() == "postgresql")


@pytest.mark.parametrize("hostile", [False, True], ids=["clean", "hostile"])
@pytest.mark.parametrize("report_type", ["sis_export_csv", "provisioning_csv"])
@pytest.mark.parametrize("include_deleted", ["false", "true"])
def test_copy_and_python_paths_are_byte_identical(
    engine: Engine, report_type: str, include_deleted: str, hostile: bool
) -> None:
    if lane() != "postgresql":
        pytest.skip("COPY exists only in the PostgreSQL lane")
    report = get_report(report_type)
    assert report is not None
    with engine.begin() as conn:
        build(conn)
        if hostile:
            _make_hostile(conn)
        ctx = context(conn, report_type, include_deleted=include_deleted)
    compared = 0
    for name in FILES:
        pq = report.part(name).build(ctx)
        if not copy_eligible(engine, pq):
            continue
        by_copy, by_python = io.BytesIO(), io.BytesIO()
        counts: list[int] = []
        n_copy = write_copy(engine, pq, 0, 10**12, by_copy, counts.append)  # type: ignore[arg-type]
        n_py = write_python(engine, pq, ctx, 0, 10**12, by_python, lambda n: None)  # type: ignore[arg-type]
        assert by_copy.getvalue() == by_python.getvalue(), name
        assert n_copy == n_py == sum(counts), name
        compared += 1
    # the hot files take the COPY path
    assert compared >= 4


def test_copy_may_run_with_the_servers_parallel_query_and_leaves_its_connection_serial(
    engine: Engine,
) -> None:
    """A shard that no other waits behind (``parallel``) runs its COPY with the server's
    ``max_parallel_workers_per_gather``; its connection goes back to the pool serial."""
    if lane() != "postgresql":
        pytest.skip("COPY exists only in the PostgreSQL lane")
    u = tables.users
    with engine.begin() as conn:
        build(conn)
        configured = conn.exec_driver_sql(
            "SELECT reset_val FROM pg_settings WHERE name = 'max_parallel_workers_per_gather'"
        ).scalar_one()
    setting = func.current_setting("max_parallel_workers_per_gather")
    pq = PartQuery([Col("id", u.c.id), Col("workers", setting)], u, [], u.c.id)
    for parallel, expected in ((False, "0"), (True, configured), (False, "0")):
        out = io.BytesIO()
        n = write_copy(engine, pq, 0, 10**12, out, lambda n: None, parallel)  # type: ignore[arg-type]
        lines = out.getvalue().decode().splitlines()
        assert n == len(lines) > 0
        assert {line.split(",")[1] for line in lines} == {expected}, parallel
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SHOW max_parallel_workers_per_gather").scalar() == "0"


ALL_FILES = {name: "true" for name in FILES}
# Values that need quoting, or hold the line path's own separators, or are empty.
HOSTILE = [
    ("courses", "sis_source_id", 'C,1 "quoted"'),
    ("course_sections", "sis_source_id", "S\n2"),
    ("pseudonyms", "sis_user_id", "U\x1f3"),
    ("roles", "name", "Role\r4"),
    ("accounts", "name", 'Arts, "Music" \x1f\n'),
    ("accounts", "sis_source_id", 'A"5'),
    ("groups", "name", "Grüppe ✓"),
    (
        "courses",
        "name",
        "Supply Chain, Logistics",
    ),  # a comma alone, in a part with no commas column
    ("group_categories", "sis_source_id", ""),
    # The line path's wrapper around a value without a comma: SQL marks it in a part with a
    # comma-prone column (as it does a leading mark: HOSTILE_NAMES), whose line goes alone.
    ("course_sections", "name", "\x1dSection 9\x1d"),
]


# Sortable names (with the stored parts): the users files' and last_user_access's column that
# the SQLite line path quotes itself (Col.commas), which nearly always holds one comma.
HOSTILE_NAMES = [
    'Clark, Katherine "Kate"',
    "Cher",
    "Smith, John, Jr.",
    "Ng,\nMary",
    "Ng, Mary\r",
    "\x1dQuoted, Marker\x1d",
    "Sep\x1f, Arated",
    "\x1eMark, Leading",
    "",
    None,
]


def _make_hostile(conn: Connection) -> None:
    for table_name, column, value in HOSTILE:
        table = tables.metadata.tables[table_name]
        rows = conn.execute(select(table.c.id).order_by(table.c.id)).scalars().all()
        for row_id in {*rows[1::3], *rows[-2:]}:  # every third, the last two: clean rows between
            conn.execute(update(table).where(table.c.id == row_id).values({column: value}))
    users = tables.users
    ids = conn.execute(select(users.c.id).order_by(users.c.id)).scalars().all()
    for i, user_id in enumerate(ids[2::3]):
        name = HOSTILE_NAMES[i % len(HOSTILE_NAMES)]
        conn.execute(
            update(users)
            .where(users.c.id == user_id)
            .values(sortable_name=name, **stored_names(name))
        )
    # And a user with a SIS login of the root for every name, so that each reaches the files.
    # (Explicit ids: the institution's rows were given theirs, PostgreSQL's sequences are behind.)
    p = tables.pseudonyms
    next_user = int(conn.execute(select(func.max(users.c.id))).scalar_one()) + 1
    next_login = int(conn.execute(select(func.max(p.c.id))).scalar_one()) + 1
    for i, name in enumerate(HOSTILE_NAMES):
        user = {"id": next_user + i, "name": f"Hostile {i}", "sortable_name": name}
        conn.execute(insert(users).values(**user, uuid=f"uuid-hostile-{i}", **STAMPS))
        login = login_values(next_user + i, ROOT, f"hostile{i}")
        conn.execute(insert(p).values(**login, id=next_login + i, sis_user_id=f"H{i}"))


def _params(report_type: str) -> dict[str, str]:
    return dict(ALL_FILES) if report_type in ("sis_export_csv", "provisioning_csv") else {}


def test_lines_are_only_offered_on_sqlite(engine: Engine) -> None:
    report = get_report("provisioning_csv")
    assert report is not None
    with engine.begin() as conn:
        build(conn)
        ctx = context(conn, "provisioning_csv", enrollments="true")
    pq = report.part("enrollments").build(ctx)
    assert lines_eligible(engine, pq) is (lane() == "sqlite")


def _cache_probe_table(engine: Engine) -> Table:
    """A table of three batches' rows, read by the page cache tests."""
    n = Table("cache_probe", MetaData(), Column("i", Integer, primary_key=True))
    n.create(engine)
    with engine.begin() as conn:
        conn.execute(insert(n), [{"i": i} for i in range(1, 3 * BATCH + 1)])
    return n


def test_sqlite_csv_path_reads_with_the_bigger_cache_once_started(engine: Engine) -> None:
    """``write_python``'s statement gets :data:`LINES_CACHE_KIB` of page cache after its first
    batch (a sort it does was sized by the connection's own 8 MB), and the connection gets
    its own back. Each row reads the cache size its statement runs with."""
    if lane() != "sqlite":
        pytest.skip("SQLite's page cache")
    n = _cache_probe_table(engine)
    # Correlated to the row, so that SQLite reads the pragma again for every row; the rows
    # come in key order from the table (no sort computing them all first).
    cache = literal_column("(SELECT cache_size FROM pragma_cache_size() WHERE cache_probe.i > 0)")
    pq = PartQuery([Col("i", n.c.i), Col("cache", cache)], n, [], n.c.i)
    with engine.begin() as conn:
        build(conn)
        ctx = context(conn, "provisioning_csv")
    out = io.BytesIO()
    assert write_python(engine, pq, ctx, 1, 3 * BATCH, out, lambda k: None) == 3 * BATCH  # type: ignore[arg-type]
    caches = [line.split(",")[1] for line in out.getvalue().decode().splitlines()]
    assert set(caches[:BATCH]) == {"-8192"}
    assert set(caches[-BATCH:]) == {f"-{LINES_CACHE_KIB}"}
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA cache_size").scalar() == -8192


@pytest.mark.parametrize("path", ["lines", "python"])
def test_sqlite_a_parts_own_cache_once_started(engine: Engine, path: str) -> None:
    """A part declaring its page cache (``PartQuery.sqlite_cache_kib``: the grade files) gets
    that one instead of :data:`LINES_CACHE_KIB` after the first batch, on both SQLite paths."""
    if lane() != "sqlite":
        pytest.skip("SQLite's page cache")
    n = _cache_probe_table(engine)
    probe = "(SELECT cache_size FROM pragma_cache_size() WHERE cache_probe.i > 0)"
    cache = type_coerce(literal_column(probe), Integer)
    pq = PartQuery([Col("i", n.c.i), Col("cache", cache)], n, [], n.c.i, sqlite_cache_kib=2000)
    assert cache_kib(pq) == 2000
    assert cache_kib(replace(pq, sqlite_cache_kib=None)) == LINES_CACHE_KIB
    with engine.begin() as conn:
        build(conn)
        ctx = context(conn, "provisioning_csv")
    out = io.BytesIO()
    if path == "lines":
        assert lines_eligible(engine, pq)
        written = write_lines(engine, pq, 1, 3 * BATCH, out, lambda k: None, ctx=ctx)  # type: ignore[arg-type]
    else:
        written = write_python(engine, pq, ctx, 1, 3 * BATCH, out, lambda k: None)  # type: ignore[arg-type]
    assert written == 3 * BATCH
    caches = [line.split(",")[1] for line in out.getvalue().decode().splitlines()]
    assert set(caches[-BATCH:]) == {"-2000"}
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA cache_size").scalar() == -8192


@pytest.mark.parametrize("sort_kib", [None, SORT_KIB])
def test_sqlite_line_statement_starts_with_the_parts_sort_cache(
    engine: Engine, sort_kib: int | None
) -> None:
    """``write_lines``'s statement starts with the part's ``sort_kib`` of page cache when it
    declares one (which sizes its sort), else the connection's 8 MB; after its first batch it
    gets :data:`LINES_CACHE_KIB`, and the connection gets its own back."""
    if lane() != "sqlite":
        pytest.skip("SQLite's page cache")
    n = _cache_probe_table(engine)
    cache = literal_column("(SELECT cache_size FROM pragma_cache_size() WHERE cache_probe.i > 0)")
    pq = PartQuery(
        [Col("i", n.c.i), Col("cache", cache)],
        n,
        [],
        n.c.i,
        sort_kib=sort_kib,
    )
    out = io.BytesIO()
    assert write_lines(engine, pq, 1, 3 * BATCH, out, lambda k: None) == 3 * BATCH  # type: ignore[arg-type]
    caches = [line.split(",")[1] for line in out.getvalue().decode().splitlines()]
    assert set(caches[:BATCH]) == {"-8192" if sort_kib is None else f"-{sort_kib}"}
    assert set(caches[-BATCH:]) == {f"-{LINES_CACHE_KIB}"}
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA cache_size").scalar() == -8192


def test_zero_activity_sorts_in_the_sqlite_clis_cache(engine: Engine) -> None:
    """Zero activity's SQLite statement, which sorts every row of its shard, starts with the
    sqlite3 CLI's page cache (``SORT_KIB``); PostgreSQL has no such setting."""
    report = get_report("zero_activity_csv")
    assert report is not None
    with engine.begin() as conn:
        build(conn)
        ctx = context(conn, "zero_activity_csv")
    pq = report.part("zero_activity").build(ctx)
    assert pq.sort_kib == (SORT_KIB if lane() == "sqlite" else None)


@pytest.mark.parametrize("hostile", [False, True], ids=["clean", "hostile"])
@pytest.mark.parametrize("batch", [1, 2, 1000])
def test_sqlite_lines_and_python_paths_are_byte_identical(
    engine: Engine, hostile: bool, batch: int
) -> None:
    """Every part of every report that takes the SQLite line path, batch by batch."""
    if lane() != "sqlite":
        pytest.skip("SQL-built lines are the SQLite lane's path")
    with engine.begin() as conn:
        build(conn)
        if hostile:
            _make_hostile(conn)
    compared: list[str] = []
    everything = b""
    for report_type, report in sorted(all_reports().items()):
        with engine.begin() as conn:
            ctx = context(conn, report_type, include_deleted="true", **_params(report_type))
        for name in report.select_parts(ctx):
            pq = report.part(name).build(ctx)
            if not lines_eligible(engine, pq):
                continue
            by_lines, by_python = io.BytesIO(), io.BytesIO()
            counts: list[int] = []
            n_lines = write_lines(engine, pq, 0, 10**12, by_lines, counts.append, batch, ctx)  # type: ignore[arg-type]
            n_py = write_python(engine, pq, ctx, 0, 10**12, by_python, lambda n: None)  # type: ignore[arg-type]
            assert by_lines.getvalue() == by_python.getvalue(), f"{report_type}/{name}"
            assert n_lines == n_py == sum(counts), f"{report_type}/{name}"
            compared.append(f"{report_type}/{name}")
            everything += by_python.getvalue()
    assert "provisioning_csv/enrollments" in compared
    assert "provisioning_csv/users" in compared
    assert "sis_export_csv/users" in compared
    # comma-prone columns (Col.comma_prone)
    assert "zero_activity_csv/zero_activity" in compared
    assert "students_with_no_submissions_csv/students" in compared
    assert len(compared) >= 10
    if hostile:  # the hostile values reached the compared files, quoted where they must be
        for quoted in (
            b'"C,1 ""quoted"""',
            b'"S\n2"',
            b"U\x1f3",
            b'"Role\r4"',
            b'"A""5"',
            b'"Supply Chain, Logistics"',
            "Grüppe ✓".encode(),
            b'"Clark, Katherine ""Kate"""',
            b'"Ng,\nMary"',
            b",Cher,",
        ):
            assert quoted in everything, quoted


def test_line_batches_quote_the_commas_column_and_write_odd_lines_alone() -> None:
    """``write._lines_text`` on hand-made SQLite lines: the commas column's wrappers become
    quotes, lines with a quote or a mark are written alone, anything else it cannot prove
    right is refused (None), and the fetched lines are never changed."""
    u = tables.users
    pq = PartQuery(
        [Col("id", u.c.id), Col("name", u.c.sortable_name, commas=True), Col("x", u.c.uuid)],
        u,
        [],
        u.c.id,
    )
    shape = _LineShape(pq)
    plain = [b"1\x1f\x1dSmith, Ann\x1d\x1fa", b"2\x1f\x1dNg, Bo\x1d\x1f"]
    assert _lines_text(list(plain), shape) == b'1,"Smith, Ann",a\n2,"Ng, Bo",\n'
    odd = [
        *plain,
        b'3\x1f\x1dClark, Kate "K"\x1d\x1fc',
        b"4\x1f\x1d\x1eCher\x1d\x1fd",
        b"5\x1f\x1dLee, Al\x1d\x1fe\nf",
    ]
    fetched = list(odd)
    assert _lines_text(odd, shape) == (
        b'1,"Smith, Ann",a\n2,"Ng, Bo",\n3,"Clark, Kate ""K""",c\n4,Cher,d\n5,"Lee, Al","e\nf"\n'
    )
    assert odd == fetched
    for refused in (
        b"6\x1f\x1dLee, Al\x1d\x1fe\x1fg",  # a separator in a value
        b"6\x1f\x1dLee, Al\x1d\x1fe\x1dg",  # a wrapper in a value
    ):
        batch = [*odd, refused]
        assert _lines_text(batch, shape) is None, refused
        assert batch == [*fetched, refused]
        # Without a newline in a value the counts are taken in one pass: refused there too.
        assert _lines_text([*plain, b'3\x1f\x1dClark, Kate "K"\x1d\x1fc', refused], shape) is None
    # Two commas in the commas column: inside its wrappers, the line is written as it is.
    two = b"6\x1f\x1dLee, Al, Jr.\x1d\x1fe"
    assert _lines_text([*odd, two], shape) == _lines_text(odd, shape) + b'6,"Lee, Al, Jr.",e\n'
    assert _lines_text([*plain, two], shape) == _lines_text(plain, shape) + b'6,"Lee, Al, Jr.",e\n'
    # A comma in another column: its line is written alone (found between its newlines), but
    # refused in a batch where a value holds a newline (the lines' bounds are not those).
    other = b"6\x1f\x1dLee, Al\x1d\x1fe,f"
    assert _lines_text([*plain, other, plain[0]], shape) == (
        b'1,"Smith, Ann",a\n2,"Ng, Bo",\n6,"Lee, Al","e,f"\n1,"Smith, Ann",a\n'
    )
    assert _lines_text([*odd, other], shape) is None
    # From then on the part's batches go straight to the stray commas' way: the same bytes.
    assert shape.stray
    assert _lines_text(list(plain), shape) == b'1,"Smith, Ann",a\n2,"Ng, Bo",\n'
    assert _lines_text(odd, shape) == (
        b'1,"Smith, Ann",a\n2,"Ng, Bo",\n3,"Clark, Kate ""K""",c\n4,Cher,d\n5,"Lee, Al","e\nf"\n'
    )


def test_commas_line_batches_quote_their_odd_fields_where_they_are() -> None:
    """A batch of a part with commas columns whose separators, newlines and wrappers are
    exactly its lines' own and which holds no mark is written by quoting, in place, each
    field outside the wrappers holding a comma, a quote or a carriage return and doubling the
    quotes of a wrapped value (``write._wrapped_fields_text``, the way of a part whose
    batches had such a comma): over random batches built as SQL builds them (a commas value
    without a comma marked), each batch is exactly its values' CSV (``csvtext.line``), taken
    that way whenever nothing odd is in it; a separator, newline, wrapper or mark in a value
    leaves the batch to the stray commas' way (written right there, or refused)."""
    c = tables.courses
    pq = PartQuery(
        [
            Col("name", c.c.name, commas=True),
            Col("id", c.c.id),
            Col("title", c.c.sis_source_id),
            Col("other", c.c.course_code, commas=True),
            Col("x", c.c.workflow_state),
        ],
        c,
        [],
        c.c.id,
    )
    shape = _LineShape(pq)
    shape.stray = True
    assert shape.commas == [0, 3]
    rng = random.Random(2019)
    pieces = ["a", "Zoë", "€", " ", ",", '"', "\r", "", "b c", ", ", '""']
    odd = ["\x1f", "\x1d", "\n", "\x1e"]
    fast = written = 0
    for _ in range(3000):
        rows = []
        for i in range(rng.randint(1, 8)):
            row = ["".join(rng.choices(pieces, k=rng.randint(0, 4))) for _ in range(5)]
            row[1] = str(i)
            for at in (0, 3):  # a commas value nearly always holds a comma
                if rng.random() < 0.95:
                    row[at] = "Lee, " + row[at]
            rows.append(row)
        if rng.random() < 0.15:
            rows[rng.randrange(len(rows))][rng.choice([0, 2, 3, 4])] += rng.choice(odd)

        def wrapped(value: str) -> str:
            ok = "," in value and not value.startswith("\x1e")
            return "\x1d" + (value if ok else "\x1e" + value) + "\x1d"

        lines = [
            "\x1f".join(wrapped(v) if i in (0, 3) else v for i, v in enumerate(row)).encode()
            for row in rows
        ]
        data = b"\n".join([*lines, b""])
        expected = "".join(line(row) for row in rows).encode()
        values = "".join(v for row in rows for v in row)
        held = any(ch in values for ch in odd) or b"\x1e" in data
        got = _wrapped_fields_text(data, len(rows), shape)
        assert (got is None) == held, rows
        if got is not None:
            fast += 1
            assert got == expected, rows
        through = _lines_text(list(lines), shape)
        if through is not None:
            written += 1
            assert through == expected, rows
    assert fast > 1500 and written > fast
    lines = [
        b"\x1dSmith, Ann\x1d\x1f1\x1fBiology\x1f\x1dA, B\x1d\x1fa",
        b'\x1dClark, Kate "K"\x1d\x1f2\x1fSupply Chain, Logistics\x1f\x1dA, B\x1d\x1fb',
        b'\x1dNg, Bo\x1d\x1f3\x1fThe "Great Ideas"\x1f\x1dA, B\x1d\x1fCR\rLF',
    ]
    assert _wrapped_fields_text(b"\n".join([*lines, b""]), 3, shape) == (
        b'"Smith, Ann",1,Biology,"A, B",a\n'
        b'"Clark, Kate ""K""",2,"Supply Chain, Logistics","A, B",b\n'
        b'"Ng, Bo",3,"The ""Great Ideas""","A, B","CR\rLF"\n'
    )


def test_line_batches_without_a_commas_column_write_lines_with_a_comma_alone() -> None:
    """A part with no commas column (a course's title holds a comma now and then): the lines
    holding one are quoted alone, the batch's other lines are written as they are."""
    c = tables.courses
    pq = PartQuery(
        [Col("id", c.c.id), Col("name", c.c.name), Col("x", c.c.sis_source_id)], c, [], c.c.id
    )
    shape = _LineShape(pq)
    lines = [
        b"1\x1fBiology\x1fa",
        b"2\x1fSupply Chain, Logistics\x1fb",
        b'3\x1fWriting, "Rhetoric"\x1f',
        b"4\x1fMath\x1f,d",
    ]
    fetched = list(lines)
    assert _lines_text(lines, shape) == (
        b'1,Biology,a\n2,"Supply Chain, Logistics",b\n3,"Writing, ""Rhetoric""",\n4,Math,",d"\n'
    )
    assert lines == fetched
    # A separator in a value still refuses the batch.
    assert _lines_text([*lines, b"5\x1fA, B\x1fe\x1fg"], shape) is None


def test_line_batches_write_their_lines_alone_together_as_csv_writer_does() -> None:
    """The lines written alone of a part with no commas column are decoded, split and written
    by ``csv.writer`` together (``write._plain_alone``): over random batches of values with
    commas, quotes, carriage returns, non-ASCII text and the odd separator or wrapper, each
    batch written is exactly its fields' CSV (``csvtext.line``, line by line), and a batch
    the line path cannot prove right is refused (None), never written otherwise."""
    c = tables.courses
    pq = PartQuery(
        [Col("id", c.c.id), Col("name", c.c.name), Col("x", c.c.sis_source_id)], c, [], c.c.id
    )
    shape = _LineShape(pq)
    rng = random.Random(19)
    pieces = ["a", "Zoë", "€", " ", ",", '"', "\r", "", "b c"]
    odd = ["\x1f", "\x1d", "\n"]
    written = refused = 0
    for _ in range(3000):
        rows = []
        for i in range(rng.randint(1, 6)):
            rows.append(
                [str(i)] + ["".join(rng.choices(pieces, k=rng.randint(0, 4))) for _ in range(2)]
            )
        if rng.random() < 0.1:
            rows[-1][2] += rng.choice(odd)
        lines = ["\x1f".join(row).encode() for row in rows]
        fetched = list(lines)
        got = _lines_text(lines, shape)
        assert lines == fetched
        if got is None:
            refused += 1
            continue
        written += 1
        assert got == "".join(line(row) for row in rows).encode(), rows
    assert written > 2000 and refused > 0
    # Lines holding a comma and lines holding a quote alone, with plain lines between them.
    lines = [
        b"1\x1fBiology\x1fa",
        b"2\x1fSupply Chain, Logistics\x1fb",
        b'3\x1fSandbox - Kate "K" Lee\x1f',
        b"4\x1fMath\x1fd",
        b"5\x1fCR\rLF\x1fe",
    ]
    assert _lines_text(lines, shape) == (
        b'1,Biology,a\n2,"Supply Chain, Logistics",b\n3,"Sandbox - Kate ""K"" Lee",\n'
        b'4,Math,d\n5,"CR\rLF",e\n'
    )


def test_plain_line_batches_quote_their_odd_fields_where_they_are() -> None:
    """A batch of a part with no commas column whose lines hold exactly the part's fields, no
    wrapper and (with marks) no mark is written by quoting, in place, each field holding a
    comma, a quote or a carriage return (``write._plain_text``): over random batches, with
    and without marks, of values with commas, quotes, carriage returns and non-ASCII text,
    each batch is exactly its fields' CSV (``csvtext.line``), written that way whenever it
    holds nothing odd, and a batch holding a separator, a newline, a wrapper or a mark
    in a value is left to the counts' way (written right there, or refused)."""
    c = tables.courses
    cols = [Col("id", c.c.id), Col("name", c.c.name), Col("x", c.c.sis_source_id)]
    plain = _LineShape(PartQuery(cols, c, [], c.c.id))
    # A column the database formats itself, with a Python fallback: its marks are read back.
    fallback = replace(cols[2], fmt=Fallback(lambda value: f"<{value}>"))
    marked = _LineShape(PartQuery([*cols[:2], fallback], c, [], c.c.id))
    assert not plain.marks and marked.marks
    rng = random.Random(1919)
    pieces = ["a", "Zoë", "€", " ", ",", '"', "\r", "", "b c", ", ", '""']
    odd = ["\x1f", "\x1d", "\n", "\x1e"]
    fast = 0
    for shape in (plain, marked):
        for _ in range(2000):
            rows = []
            for i in range(rng.randint(1, 8)):
                rows.append(
                    [str(i)] + ["".join(rng.choices(pieces, k=rng.randint(0, 4))) for _ in range(2)]
                )
            if rng.random() < 0.15:
                rows[rng.randrange(len(rows))][rng.randint(1, 2)] += rng.choice(odd)
            lines = ["\x1f".join(row).encode() for row in rows]
            data = b"\n".join([*lines, b""])
            values = "".join(v for row in rows for v in row)
            held = any(ch in values for ch in ("\x1f", "\x1d", "\n"))
            held = held or (shape.marks and "\x1e" in values)
            got = _plain_text(data, len(rows), shape)
            assert (got is None) == held, rows
            if got is None:
                continue
            fast += 1
            assert got == "".join(line(row) for row in rows).encode(), rows
            assert _lines_text(lines, shape) == got
    assert fast > 3000
    # A course's title with a comma, one with quotes, a carriage return, amid plain lines.
    lines = [
        b"1\x1fBiology\x1fa",
        b"2\x1fSupply Chain, Logistics\x1f,b",
        b'3\x1fThe "Great Ideas" of Philosophy\x1f',
        b"4\x1fMath\x1fd",
        b'5\x1fCR\rLF\x1f"',
    ]
    data = b"\n".join([*lines, b""])
    assert _plain_text(data, 5, marked) == (
        b'1,Biology,a\n2,"Supply Chain, Logistics",",b"\n3,"The ""Great Ideas"" of Philosophy",\n'
        b'4,Math,d\n5,"CR\rLF",""""\n'
    )


def _comma_prone_shape() -> _LineShape:
    """The line shape of courses' id, name (comma-prone) and SIS source id."""
    c = tables.courses
    pq = PartQuery(
        [
            Col("id", c.c.id),
            Col("name", c.c.name, comma_prone=True),
            Col("x", c.c.sis_source_id),
        ],
        c,
        [],
        c.c.id,
    )
    shape = _LineShape(pq)
    assert shape.wrapped == [1, 2]
    return shape


def test_line_batches_with_a_comma_prone_column_quote_the_wrapped_values() -> None:
    """A part with a comma-prone column (Col.comma_prone): SQL wrapped in ``\\x1d`` every text
    value holding a comma; the wrappers become quotes, lines holding a quote or a mark
    (``\\x1e``) are written alone, and a comma outside the wrappers, a lone wrapper, a wrapper
    in a value or a wrapped value without a comma refuses the batch."""
    shape = _comma_prone_shape()
    lines = [
        b"1\x1fBiology\x1fa",
        b"2\x1f\x1dSupply Chain, Logistics\x1d\x1fb",
        b'3\x1f\x1dWriting, "Rhetoric"\x1d\x1f',
        b"4\x1fMath\x1f\x1d,d\x1d",
        b"5\x1f\x1d\x1eLead, x\x1d\x1fy",
        b"6\x1f\x1eLead\x1f\x1d,\x1d",
    ]
    fetched = list(lines)
    assert _lines_text(lines, shape) == (
        b'1,Biology,a\n2,"Supply Chain, Logistics",b\n3,"Writing, ""Rhetoric""",\n'
        b'4,Math,",d"\n5,"\x1eLead, x",y\n6,\x1eLead,","\n'
    )
    assert lines == fetched
    for refused in (
        b"6\x1fA, B\x1fe",  # a comma outside the wrappers
        b"6\x1f\x1dA, B\x1fe",  # a lone wrapper
        b"6\x1f\x1dA, B\x1d\x1fe\x1fg",  # a separator in a value
        b"6\x1f\x1dSection 9\x1d\x1fe",  # wrappers in a value, no comma: csv.writer's
        b"6\x1f\x1d\x1dA, B\x1d\x1d\x1fe",  # a wrapped value holding wrappers
        b"6\x1f\x1dA,\x1dB\x1d,C\x1d\x1fe",  # wrappers in a wrapped value, pieces with commas
        b"6\x1fA\x1dB\x1fe",  # a wrapper in a value
        b"6\x1f\x1dA, B\x1d\x1d,C\x1d\x1fe",  # a wrapper at a value's end
        b'6\x1f\x1dA, B\x1d\x1fe\x1d"',  # a wrapper in a line written alone
    ):
        batch = [*lines, refused]
        assert _lines_text(batch, shape) is None, refused
        assert batch == [*fetched, refused]


def test_line_batches_with_a_comma_prone_column_write_their_lines_alone_together() -> None:
    """The lines written alone of a part with a comma-prone column and no mark in them are
    unwrapped and written by ``csv.writer`` together (``write._plain_alone``): over random
    batches of values with commas, quotes, carriage returns, non-ASCII text and the odd
    separator, newline, wrapper or mark, wrapped and marked as SQL does, each batch written
    is exactly its values' CSV (``csvtext.line``), and a batch the line path cannot prove
    right is refused (None), never written otherwise."""
    shape = _comma_prone_shape()

    def sql(value: str) -> str:  # the line statement's CASE of a wrapped column
        return f"\x1d{value}\x1d" if "," in value else value

    rng = random.Random(1919)
    pieces = ["a", "Zoë", "€", " ", ",", '"', '"', "\r", "", "b c"]
    odd = ["\x1f", "\x1d", "\n", "\x1e"]
    written = refused = together = 0
    for _ in range(3000):
        rows = []
        for i in range(rng.randint(1, 6)):
            rows.append(
                [str(i)] + ["".join(rng.choices(pieces, k=rng.randint(0, 4))) for _ in range(2)]
            )
        if rng.random() < 0.1:
            rows[-1][rng.randint(1, 2)] += rng.choice(odd)
        lines = ["\x1f".join([row[0], *map(sql, row[1:])]).encode() for row in rows]
        fetched = list(lines)
        got = _lines_text(lines, shape)
        assert lines == fetched
        if got is None:
            refused += 1
            continue
        written += 1
        values = "".join(v for row in rows for v in row)
        if '"' in values and not any(ch in values for ch in "\n\x1d\x1e"):
            together += 1  # a line written alone, the batch's lines alone all unwrapped together
        assert got == "".join(line(row) for row in rows).encode(), rows
    assert written > 2000 and refused > 0 and together > 1000


def _users_part(ctx: RunContext) -> PartQuery:
    report = get_report("provisioning_csv")
    assert report is not None
    return report.part("users").build(ctx)


def test_sqlite_lines_are_written_and_counted_on_a_second_thread_in_order(engine: Engine) -> None:
    """The line path writes each batch and reports its progress on a thread of its own, one
    batch behind the statement (``write._Behind``), in the statement's order."""
    if lane() != "sqlite":
        pytest.skip("SQL-built lines are the SQLite lane's path")
    with engine.begin() as conn:
        build(conn)
        ctx = context(conn, "provisioning_csv", users="true")
    pq = _users_part(ctx)
    seen: list[tuple[str, str, int]] = []

    class Recorder(io.BytesIO):
        def write(self, data: bytes, /) -> int:  # type: ignore[override]
            seen.append(("write", threading.current_thread().name, len(data)))
            return super().write(data)

    out = Recorder()
    n = write_lines(
        engine,
        pq,
        0,
        10**12,
        out,
        lambda k: seen.append(("progress", threading.current_thread().name, k)),
        2,
    )
    expected = io.BytesIO()
    write_lines(engine, pq, 0, 10**12, expected, lambda k: None, 1000)
    assert out.getvalue() == expected.getvalue()
    assert n > 4
    main = threading.current_thread().name
    assert {name for _, name, _ in seen} != {main}
    assert all(name.startswith("shard-writes") for _, name, _ in seen)
    assert [kind for kind, _, _ in seen] == ["write", "progress"] * (len(seen) // 2)
    assert sum(k for kind, _, k in seen if kind == "progress") == n


@pytest.mark.parametrize("way", ["batches", "chunks"])
@pytest.mark.parametrize("failing", ["write", "progress"])
def test_sqlite_lines_stop_at_a_failed_write_or_checkpoint(
    engine: Engine, failing: str, way: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write or a checkpoint failing on the writes' thread (a full disk, ``RunStopped``)
    stops the shard with its error, within a batch of where it failed; read in chunks of keys
    (``write._Chunked``, a big shard), within a chunk."""
    if lane() != "sqlite":
        pytest.skip("SQL-built lines are the SQLite lane's path")
    chunks = way == "chunks"
    with engine.begin() as conn:
        build(conn)
        if chunks:
            conn.exec_driver_sql("ANALYZE")  # the logins searched by id: chunks
        ctx = context(conn, "provisioning_csv", users="true")
    pq, lo, hi, estimate = _users_part(ctx), 0, 10**12, None
    if chunks:
        pq = sql_formatted(pq, ctx)
        with engine.connect() as conn:
            lo, hi, estimate = conn.execute(bounds_select(pq)).one()
            conn.rollback()
        monkeypatch.setattr(write, "CHUNK_ROWS", 3)
    calls = {"write": 0, "progress": 0}
    threads: set[str] = set()
    counted: list[int] = []

    class Stopped(Exception):
        pass

    def step(kind: str) -> None:
        threads.add(threading.current_thread().name)
        calls[kind] += 1
        if kind == failing and calls[kind] == 2:
            raise Stopped(kind)

    def progress(k: int) -> None:
        counted.append(k)
        step("progress")

    class Failing(io.BytesIO):
        def write(self, data: bytes, /) -> int:  # type: ignore[override]
            step("write")
            return super().write(data)

    with pytest.raises(Stopped, match=failing):
        write_lines(engine, pq, lo, hi, Failing(), progress, 1, ctx, estimate=estimate)
    # A chunk's lines counted at once; a batch of one line, one.
    assert (counted[0] > 1) if chunks else counted[0] == 1
    assert calls[failing] == 2
    assert calls["write"] <= 3
    assert all(name.startswith("shard-writes") for name in threads)  # the writes' own thread


def test_a_batch_of_floats_is_written_as_ruby_float_writes_each() -> None:
    """Each distinct value of a batch's float column is formatted once; the texts are
    ``ruby_float``'s for every value: a zero and a negative zero (equal, written apart), an
    int and the equal float, NaNs (each its own object), NULL as empty."""
    nan, other_nan = float("nan"), float("nan")
    batches: list[list[object]] = [
        [3.0, None, 3, 2.5, 3.0, 1e20, 1e-5, 87.33333333333333, float("inf"), -float("inf")],
        [0.0, -0.0, 3.0, 0, None, -0.0, 0.0, 1.5, nan, other_nan, nan],
        [-0.0, 2.0, -0.0, 0.0],
        [None, None],
        [],
    ]
    for values in batches:
        assert _column_text(ruby_float, values) == [ruby_float(v) or "" for v in values], values
    assert _column_text(ruby_float, [0.0, -0.0, None]) == ["0.0", "-0.0", ""]


def test_a_batch_of_times_is_written_as_the_formatter_writes_each() -> None:
    """Stored times repeat in a batch (a submission beside each of its outcomes): each
    distinct text is formatted once, with the formatter's text for every value; a batch
    holding anything but text and NULL is formatted value by value."""
    fmt = time_formatter("America/Denver")
    stamps = ["2026-03-08 09:30:00", None, "2026-11-01 07:59:59.123456", "2026-03-08 09:30:00"]
    batches: list[list[object]] = [stamps * 3, [None, None], []]
    batches.append([*stamps, datetime(2026, 3, 8, 9, 30, tzinfo=UTC)])
    for values in batches:
        assert _column_text(fmt, values) == [fmt(v) or "" for v in values], values


def test_sqlite_lines_format_times_and_floats_between_sql_pieces(engine: Engine) -> None:
    """A part with stored times and float scores (Python formatters) takes the line path on
    SQLite: the values are formatted between the SQL-built pieces, with the csv path's bytes,
    whatever their shape, beside a commas column and titles with a comma or a quote."""
    if lane() != "sqlite":
        pytest.skip("SQL-built lines are the SQLite lane's path")
    md = MetaData()
    t = Table(
        "line_formatted_probe",
        md,
        Column("id", Integer, primary_key=True),
        Column("name", Text),
        Column("title", Text),
        Column("score", Float),
        Column("at", Text),
    )
    md.create_all(engine)
    scores = [88.0, 37.5, 1e20, 1e-5, float("inf"), -float("inf"), -0.0, 87.33333333333333]
    scores += [0.1 + 0.2, 3, None, 123456789012345.0, 1e16]
    times = ["2026-03-08 09:30:00", "2026-11-01 07:59:59.123456", "2026-11-01 08:00:00", None]
    times += [
        "0001-01-01 00:00:00",
        "9999-12-31 23:59:59",
        "2026-10-15 12:00",
        "2026-01-02T03:04:05",
    ]
    names = ["Smith, Ann", "Cher", "Lee, Al, Jr.", 'Clark, Kate "K"', None, "\x1eMark, Leading"]
    titles = ["Intro", "Supply Chain, Logistics", 'The "Great" Ideas', "a\nb", None, "x\ry"]
    rows = [
        {
            "id": i + 1,
            "name": names[i % len(names)],
            "title": titles[i % len(titles)],
            "score": scores[i % len(scores)],
            "at": times[i % len(times)],
        }
        for i in range(3 * 4 * 13 * 5)
    ]
    with engine.begin() as conn:
        conn.execute(insert(t), rows)
        build(conn)
        ctx = context(conn, "outcome_results_csv")
    ctx.time_zone = "America/Denver"
    pq = PartQuery(
        [
            Col("id", t.c.id),
            Col("name", t.c.name, commas=True),
            Col("at", t.c.at, TIME),
            Col("title", t.c.title),
            Col("score", t.c.score, ruby_float),
            Col("again", t.c.score, ruby_float),
        ],
        t,
        [],
        t.c.id,
    )
    assert lines_eligible(engine, pq)
    expected = io.BytesIO()
    n_py = write_python(engine, pq, ctx, 0, 10**12, expected, lambda n: None)  # type: ignore[arg-type]
    assert n_py == len(rows)
    for batch in (1, 2, 7, 1000):
        out = io.BytesIO()
        counts: list[int] = []
        n = write_lines(engine, pq, 0, 10**12, out, counts.append, batch, ctx)  # type: ignore[arg-type]
        assert out.getvalue() == expected.getvalue(), batch
        assert n == sum(counts) == len(rows)
    text = expected.getvalue()
    for written in (b"1.0e+20", b"Infinity", b"0.30000000000000004", b"3.0", b'"a\nb"'):
        assert written in text, written
