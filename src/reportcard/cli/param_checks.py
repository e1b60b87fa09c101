"""What ``reportcard run`` checks in ``--param`` before starting anything.

The API stays Canvas's (unknown parameters are ignored, an unparsable date is as if not given),
but a person typing a command wants to hear about a typo. The names come from the report's
entry in List Available Reports (so they are the server's own with ``--url``); kinds, choices
and files from the report's declaration (:class:`reportcard.reports.catalog.Parameter`) when
this installation knows the report. ``run --unchecked`` skips all of it.

``schedules create`` (always on this installation's database) makes the same checks with
:func:`check_declared`, the names then coming from the report's declaration.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from reportcard.cli.backends import BadInput

ALWAYS = ("format",)  # reportcard's output format, accepted by every report


def _is_date(value: str) -> bool:
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


def check_params(report: str, entry: Mapping[str, Any] | None, params: Mapping[str, Any]) -> None:
    """Raise :class:`BadInput` (exit 2) for a parameter the report does not take or cannot use."""
    if entry is None:  # an unknown report: starting it says so
        return
    declared = dict(entry.get("parameters") or {})
    known = sorted({*declared, *ALWAYS})
    unknown = [k for k in params if k not in known]
    if unknown:
        names = ", ".join(repr(k) for k in unknown)
        raise BadInput(
            f"{report} has no parameter {names}; it takes: {', '.join(known)} "
            "(`reportcard reports list` describes them; --unchecked sends them anyway)"
        )
    from reportcard.reports.catalog import all_reports
    from reportcard.reports.params import value_to_boolean
    from reportcard.reports.sis_scope import FILE_KEYS

    declaration = all_reports().get(report)
    if declaration is None:
        return
    for name, value in params.items():
        p = declaration.parameters.get(name)
        if p is None:
            continue
        values = value if isinstance(value, list) else [value]
        if p.kind == "date":
            for v in values:
                if str(v).strip() and not _is_date(str(v)):
                    raise BadInput(
                        f"{name}={v!r} is not a date: give YYYY-MM-DD or an ISO 8601 date-time "
                        "(2026-01-31T08:00:00Z)"
                    )
        elif p.kind in ("choice", "list") and p.choices:
            allowed = [c for c, _ in p.choices]
            lowered = {c.lower() for c in allowed}
            items = [s.strip() for v in values for s in str(v).split(",") if s.strip()]
            if p.kind == "choice" and len(items) > 1:
                raise BadInput(f"{name} takes one of: {', '.join(allowed)}")
            bad = [s for s in items if s.lower() not in lowered]
            if bad:
                raise BadInput(f"{name}={bad[0]!r} is not one of: {', '.join(allowed)}")
    files = [k for k, p in declaration.parameters.items() if k in FILE_KEYS and p.kind == "boolean"]
    if files and not any(value_to_boolean(params.get(k)) for k in files):
        raise BadInput(
            f"{report} needs at least one file: add --param {files[0]}=true "
            f"(files: {', '.join(files)})"
        )


def check_declared(report: str, params: Mapping[str, Any]) -> None:
    """:func:`check_params` with the names of the report's declaration (an unknown report passes:
    the caller says so in its own words)."""
    from reportcard.reports.catalog import all_reports

    declaration = all_reports().get(report)
    if declaration is not None:
        check_params(report, {"parameters": dict(declaration.parameters)}, params)
