"""``parameters_html``: the configure form of a report, as Canvas's partials render one."""

from __future__ import annotations

from html import escape

from reportcard.reports.catalog import Report

_TEXT_PARAMETERS = {
    "enrollment_term_id",
    "enrollment_term",
    "course_id",
    "start_at",
    "end_at",
    "order",
    "enrollment_filter",
    "enrollment_states",
    "enrollment_state",
}


def _is_boolean(name: str) -> bool:
    return name not in _TEXT_PARAMETERS


def parameters_html(report: Report, account_id: int) -> str:
    """A plain HTML form posting to the report's API endpoint."""
    rows = []
    for name, p in report.parameters.items():
        label = escape(p.description)
        field = f"parameters[{escape(name)}]"
        if _is_boolean(name):
            control = f'<input type="checkbox" name="{field}" id="{report.name}_{name}" value="1">'
        else:
            control = f'<input type="text" name="{field}" id="{report.name}_{name}">'
        rows.append(f'<p>{control}<label for="{report.name}_{name}">{label}</label></p>')
    action = f"/api/v1/accounts/{account_id}/reports/{report.name}"
    return (
        f'<form id="{report.name}_form" class="run_report_form" action="{action}">'
        + "".join(rows)
        + "</form>"
    )
