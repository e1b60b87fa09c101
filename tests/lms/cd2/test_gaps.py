"""The list of columns CD2 cannot fill (tests/lms/cd2/gaps.py) agrees with docs/canvas-data-2.md,
and every entry names a real report, file and header; the masks do what gaps.py says."""

from __future__ import annotations

import re
from fnmatch import fnmatchcase
from pathlib import Path

import pytest

from reportcard.reports.catalog import RunContext, all_reports
from reportcard.reports.grades import TermFile
from tests.lms.cd2.gaps import EMPTY, GAPS, HEADER, KINDS, ROWS, VALUE, Gap, applicable, comparable

DOC = Path(__file__).resolve().parents[3] / "docs" / "canvas-data-2.md"
START = "<!-- gaps:start -->"
END = "<!-- gaps:end -->"
MGP_PART = "Fall"


def _context(report: str) -> RunContext:
    """A context with every optional column on: settings, flags, a domain, a term file."""
    ctx = RunContext(
        report_id=1,
        report_type=report,
        account_id=1,
        root_account_id=1,
        account_name="Root",
        time_zone="UTC",
        params={"include_enrollment_state": "true"},
        is_root=True,
        settings={"can_add_pronouns": True},
    )
    ctx.facts.update(
        integration_ids=True,
        override=True,
        mastery_scales=False,
        domain="canvas.example.edu",
        locale=None,
        group_rank={},
        export_outcomes={},
        term_files={MGP_PART: TermFile(1, 2, "Set", ((3, "Q1"), (4, "Q2")))},
    )
    return ctx


def headers(report: str, part: str) -> list[str]:
    """The headers of one part, built (no database needed) with every option on."""
    declared = all_reports()[report]
    ctx = _context(report)
    return [col.header for col in declared.part(part).build(ctx).columns]


def parts(report: str) -> list[str]:
    declared = all_reports()[report]
    names = [p.name for p in declared.parts]
    return names or [MGP_PART]


def doc_table() -> set[tuple[str, str, str, str]]:
    """(report, file, column, kind) of every row of the doc's gap table."""
    text = DOC.read_text()
    assert START in text and END in text, "docs/canvas-data-2.md lost its gap table markers"
    table = text.split(START, 1)[1].split(END, 1)[0]
    rows = set()
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 4 or not cells[0].startswith("`"):
            continue
        report, part, column, kind = (re.sub(r"^`|`$", "", c) for c in cells[:4])
        rows.add((report, part, column, kind))
    return rows


def test_the_doc_table_and_the_list_agree() -> None:
    listed = {(g.report, g.part, g.column, g.kind) for g in GAPS}
    documented = doc_table()
    assert documented - listed == set(), "in the doc, not in tests/lms/cd2/gaps.py"
    assert listed - documented == set(), "in tests/lms/cd2/gaps.py, not in the doc"


@pytest.mark.parametrize("gap", GAPS, ids=lambda g: f"{g.report}:{g.part}:{g.column}")
def test_every_gap_names_a_real_report_file_and_header(gap: Gap) -> None:
    assert gap.kind in KINDS
    assert gap.report in all_reports()
    matching = [p for p in parts(gap.report) if fnmatchcase(p, gap.part)]
    assert matching, f"{gap.report} has no file {gap.part}"
    if gap.column != "*":
        found = [h for p in matching for h in headers(gap.report, p) if fnmatchcase(h, gap.column)]
        assert found, f"{gap.report}/{gap.part} has no column {gap.column}"
    if gap.kind == ROWS:
        assert gap.rows_where is not None
        assert gap.rows_where[0] in headers(gap.report, matching[0])
    if gap.param:
        assert gap.param in all_reports()[gap.report].parameters


def test_the_twenty_reports_are_all_described() -> None:
    text = DOC.read_text()
    names = [n for n, r in all_reports().items() if not r.description.endswith("(tests only).")]
    assert len(names) == 20, names  # other tests may register a sample report of their own
    for name in names:
        assert f"`{name}`" in text, name


def test_masks() -> None:
    header = ["Global ID", "Key Name", "Inherited from Parent Account", "Placements"]
    rows = [["1", "own", "false", '["a"]'], ["2", "site", "true", "None"]]
    h, r = comparable("developer_key_report_csv", "developer_key_report", header, rows)
    assert h == header
    assert r == [["", "own", "false", ""]]  # Global ID and Placements blanked, site key dropped

    header = ["student name", "current score", "override score", "Q1 override grade"]
    h, r = comparable("mgp_grade_export_csv", "Fall", header, [["a", "1.0", "2.0", "B"]])
    assert h == ["student name", "current score"] and r == [["a", "1.0"]]
    # The flag off in the original: nothing to mask.
    h, _ = comparable("mgp_grade_export_csv", "Fall", header, [], settings=[])
    assert h == header

    # created_by_sis empties accounts.csv only when asked for.
    assert [g.kind for g in applicable("sis_export_csv", "accounts")] == []
    kinds = [g.kind for g in applicable("sis_export_csv", "accounts", {"created_by_sis": "true"})]
    assert kinds == [EMPTY]
    _, r = comparable("sis_export_csv", "user_observers", ["observer_id"], [["x"]])
    assert r == []

    # The outcome export's rating cells follow the last column.
    header = ["vendor_guid", "friendly_description", "ratings"]
    _, r = comparable("outcome_export_csv", "outcomes", header, [["g", "nice", "5", "Top"]], {}, [])
    assert r == [["g", "", "5", "Top"]]
    kinds = {g.kind for g in applicable("outcome_export_csv", "outcomes")}
    assert kinds == {VALUE, HEADER}
