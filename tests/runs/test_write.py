"""PostgreSQL's COPY path writes exactly the bytes the Python csv path writes."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import Engine

from reportcard.reports.catalog import get_report
from reportcard.runs.write import copy_eligible, write_copy, write_python
from tests.databases import lane
from tests.reports.institution import build, context

FILES = (
    "users",
    "accounts",
    "terms",
    "courses",
    "sections",
    "enrollments",
    "groups",
    "group_membership",
    "group_categories",
    "xlist",
    "user_observers",
    "admins",
)


def test_copy_is_only_offered_on_postgresql(engine: Engine) -> None:
    report = get_report("provisioning_csv")
    assert report is not None
    with engine.begin() as conn:
        build(conn)
        ctx = context(conn, "provisioning_csv", include_deleted="true")
    pq = report.part("enrollments").build(ctx)
    assert copy_eligible(engine, pq) is (lane() == "postgresql")


@pytest.mark.parametrize("report_type", ["sis_export_csv", "provisioning_csv"])
@pytest.mark.parametrize("include_deleted", ["false", "true"])
def test_copy_and_python_paths_are_byte_identical(
    engine: Engine, report_type: str, include_deleted: str
) -> None:
    if lane() != "postgresql":
        pytest.skip("COPY exists only in the PostgreSQL lane")
    report = get_report(report_type)
    assert report is not None
    with engine.begin() as conn:
        build(conn)
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
