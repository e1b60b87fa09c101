"""The report columns Canvas Data 2 cannot fill: the machine-readable twin of the table in
docs/canvas-data-2.md ("Columns CD2 cannot fill"); ``test_gaps.py`` checks that both agree and
that every entry names a real report, file and header.

A round trip (an institution written out as CD2 files, imported into a fresh database, every
report compared with the same report on the original) must mask exactly these, and compare
everything else byte for byte. :func:`comparable` applies the masks to one side's rows; apply
it to both sides, then compare.

Kinds of gap:

* ``VALUE``: the column is written, but its values cannot come from CD2 (``written`` says what
  the report writes instead). Masked: the cell is blanked on both sides.
* ``HEADER``: the column exists only when an account setting or feature flag (``setting``) is
  on; CD2 does not carry settings or flags, so after an import the column is never written
  (or, for settings that remove columns, always written). Masked: the column is dropped.
* ``EMPTY``: the file has no rows when its data comes from CD2 (only its header, or the
  report's "nothing found" row). Masked: rows are dropped on both sides.
* ``ROWS``: some rows depend on what CD2 lacks; ``rows_where`` (header, value) identifies them
  in the output. Masked: those rows are dropped on both sides.

``param``: the gap applies only when that report parameter is true (``created_by_sis``).
``setting``: the gap applies only when the original institution has that account setting or
feature flag on (a round trip whose original has it off can ignore the entry).
``column`` and ``part`` are ``fnmatch`` patterns (``*`` for every per-term file of
``mgp_grade_export_csv``; ``* override score`` for its per-period columns); ``*`` as ``column``
means the whole file.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

VALUE = "value"
HEADER = "header"
EMPTY = "empty"
ROWS = "rows"
KINDS = (VALUE, HEADER, EMPTY, ROWS)

SIS_REPORTS = ("sis_export_csv", "provisioning_csv")


@dataclass(frozen=True)
class Gap:
    report: str
    part: str
    column: str
    kind: str
    missing: str  # what CD2 lacks, as CD2 names it
    written: str  # what the report writes when its data came from CD2
    param: str = ""
    setting: str = ""
    rows_where: tuple[str, str] | None = None


def _both(part: str, column: str, kind: str, missing: str, written: str, **kw: Any) -> list[Gap]:
    return [Gap(r, part, column, kind, missing, written, **kw) for r in SIS_REPORTS]


PRONOUNS = "account setting can_add_pronouns"
INTEGRATION_IDS = "account setting include_integration_ids_in_gradebook_exports"
OVERRIDE = "feature flag final_grades_override"
MASTERY_SCALES = "feature flag account_level_mastery_scales"

GAPS: tuple[Gap, ...] = (
    # ------------------------------------------------ sis_export_csv / provisioning_csv
    *_both(
        "users",
        "pronouns",
        HEADER,
        "accounts settings (can_add_pronouns)",
        "no pronouns column",
        setting=PRONOUNS,
    ),
    Gap(
        "provisioning_csv",
        "accounts",
        "created_by_sis",
        VALUE,
        "accounts.sis_batch_id (CD2 has only current_sis_batch_id)",
        "false",
    ),
    *_both(
        "accounts",
        "*",
        EMPTY,
        "accounts.sis_batch_id (CD2 has only current_sis_batch_id)",
        "no rows",
        param="created_by_sis",
    ),
    *_both(
        "user_observers",
        "*",
        EMPTY,
        "observer links (user_observers / observer_alerts are not exported)",
        "no rows",
    ),
    Gap(
        "provisioning_csv",
        "admins",
        "created_by_sis",
        VALUE,
        "account_users.sis_batch_id",
        "false",
    ),
    Gap(
        "sis_export_csv",
        "admins",
        "*",
        EMPTY,
        "account_users.sis_batch_id (the SIS export lists only admins created by SIS)",
        "no rows",
    ),
    # ------------------------------------------------ grade exports
    Gap(
        "grade_export_csv",
        "grades",
        "student integration id",
        HEADER,
        "accounts settings (include_integration_ids_in_gradebook_exports)",
        "no student integration id column",
        setting=INTEGRATION_IDS,
    ),
    Gap(
        "grade_export_csv",
        "grades",
        "override *",
        HEADER,
        "feature flags (final_grades_override)",
        "no override score and override grade columns",
        setting=OVERRIDE,
    ),
    Gap(
        "mgp_grade_export_csv",
        "*",
        "student integration id",
        HEADER,
        "accounts settings (include_integration_ids_in_gradebook_exports)",
        "no student integration id column",
        setting=INTEGRATION_IDS,
    ),
    Gap(
        "mgp_grade_export_csv",
        "*",
        "*override *",
        HEADER,
        "feature flags (final_grades_override)",
        "no override score and override grade columns (course and grading periods)",
        setting=OVERRIDE,
    ),
    # ------------------------------------------------ outcome reports
    Gap(
        "outcome_export_csv",
        "outcomes",
        "friendly_description",
        VALUE,
        "outcome_friendly_descriptions (not exported)",
        "empty",
    ),
    *[
        Gap(
            "outcome_export_csv",
            "outcomes",
            column,
            HEADER,
            "feature flags (account_level_mastery_scales)",
            "the column is always written (Canvas leaves it out when the flag is on)",
            setting=MASTERY_SCALES,
        )
        for column in ("calculation_method", "calculation_int", "mastery_points", "ratings")
    ],
    *[
        Gap(
            report,
            part,
            "assignment url",
            VALUE,
            "the root account's domain (accounts has no domain column)",
            "empty",
        )
        for report, part in (
            ("outcome_results_csv", "outcome_results"),
            ("student_assignment_outcome_map_csv", "student_competency"),
        )
    ],
    *[
        Gap(
            report,
            part,
            column,
            VALUE,
            "feature flags (account_level_mastery_scales)",
            "from the outcome's own rubric criterion (learning_outcomes.data), not the "
            "account's mastery scale",
            setting=MASTERY_SCALES,
        )
        for report, part in (
            ("outcome_results_csv", "outcome_results"),
            ("student_assignment_outcome_map_csv", "student_competency"),
        )
        for column in (
            "learning outcome points possible",
            "learning outcome mastery score",
            "learning outcome rating",
            "learning outcome rating points",
        )
    ],
    # ------------------------------------------------ tokens, tools, keys, ePortfolios
    Gap(
        "user_access_tokens_csv",
        "user_access_tokens",
        "token hint",
        VALUE,
        "access_tokens.token_hint (withheld)",
        "empty",
    ),
    Gap(
        "user_access_tokens_csv",
        "user_access_tokens",
        "expiration",
        VALUE,
        "access_tokens.permanent_expires_at (withheld; CD2 has only expires_at)",
        "access_tokens.expires_at (the short expiry of OAuth tokens); never when NULL",
    ),
    Gap(
        "lti_report_csv",
        "lti_report",
        "privacy_level",
        VALUE,
        "the privacy level of a disabled or deleted tool (context_external_tools."
        "workflow_state holds the privacy level only while the tool is active)",
        "empty for disabled and deleted tools",
    ),
    Gap(
        "developer_key_report_csv",
        "developer_key_report",
        "Global ID",
        VALUE,
        "the shard id (a global id is shard id x 10^13 + local id)",
        "10000000000000 + developer_keys.id (right on shard 1 only)",
    ),
    Gap(
        "developer_key_report_csv",
        "developer_key_report",
        "Placements",
        VALUE,
        "LTI tool configurations and their placements",
        "None",
    ),
    Gap(
        "developer_key_report_csv",
        "developer_key_report",
        "*",
        ROWS,
        "developer_keys.visible and site-admin key bindings "
        "(developer_key_account_bindings.account_id is never NULL)",
        "site-admin keys: listed whether visible or not; Status from the account's binding",
        rows_where=("Inherited from Parent Account", "true"),
    ),
    Gap(
        "eportfolio_report_csv",
        "eportfolio_report",
        "*",
        EMPTY,
        "eportfolios (not exported)",
        "no rows",
    ),
)


# ---------------------------------------------------------------- using the list


def applicable(
    report: str,
    part: str,
    params: Mapping[str, Any] | None = None,
    settings: Iterable[str] | None = None,
) -> list[Gap]:
    """The gaps of one file of one run.

    ``params`` are the run's parameters (a gap with ``param`` applies when it is true);
    ``settings`` the settings and flags (``Gap.setting`` strings) on in the original
    institution; ``None`` means "assume every setting on" (mask the most).
    """
    wanted = set(settings) if settings is not None else None
    out = []
    for gap in GAPS:
        if gap.report != report or not fnmatchcase(part, gap.part):
            continue
        if gap.param and not _true((params or {}).get(gap.param)):
            continue
        if gap.setting and wanted is not None and gap.setting not in wanted:
            continue
        out.append(gap)
    return out


def _true(value: Any) -> bool:
    return str(value).strip().lower() in ("true", "1", "yes", "on")


def comparable(
    report: str,
    part: str,
    header: Sequence[str],
    rows: Sequence[Sequence[Any]],
    params: Mapping[str, Any] | None = None,
    settings: Iterable[str] | None = None,
) -> tuple[list[str], list[list[Any]]]:
    """``header`` and ``rows`` of one output file with the applicable gaps masked.

    Apply to the original's and the import's output alike, then compare the results.
    """
    gaps = applicable(report, part, params, settings)
    if any(g.kind == EMPTY for g in gaps):
        rows = []
    for gap in gaps:
        if gap.kind == ROWS and gap.rows_where is not None:
            name, value = gap.rows_where
            if name in header:
                at = list(header).index(name)
                rows = [r for r in rows if not (at < len(r) and r[at] == value)]
    dropped = {
        i
        for i, name in enumerate(header)
        for gap in gaps
        if gap.kind == HEADER and fnmatchcase(name, gap.column)
    }
    blanked = {
        i
        for i, name in enumerate(header)
        for gap in gaps
        if gap.kind == VALUE and fnmatchcase(name, gap.column)
    }
    keep = [i for i in range(len(header)) if i not in dropped]
    last = len(header) - 1
    out_rows = []
    for row in rows:
        cells = ["" if i in blanked else row[i] for i in keep if i < len(row)]
        # Cells past the header (the outcome export's rating pairs) belong to the last column.
        if last not in dropped and last not in blanked:
            cells += list(row[len(header) :])
        out_rows.append(cells)
    return [header[i] for i in keep], out_rows
