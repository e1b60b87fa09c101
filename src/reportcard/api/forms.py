"""``parameters_html``: the configure form of a report, as Canvas's partials render one."""

from __future__ import annotations

from html import escape

from reportcard.reports.catalog import Report


def parameters_html(report: Report, account_id: int) -> str:
    """A plain HTML form posting to the report's API endpoint."""
    rows = []
    for name, p in report.parameters.items():
        label = escape(p.description)
        field = f"parameters[{escape(name)}]"
        if p.kind == "boolean":  # the kind the report declares, never the name
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
