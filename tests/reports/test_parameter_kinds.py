"""Each report parameter declares its kind once; the page's form and the API's form follow it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from reportcard.api.forms import parameters_html
from reportcard.reports.catalog import Parameter, all_reports
from reportcard.web.forms import build_form, read_submission

TERMS = [("7", "Fall 2024")]


def test_every_declared_parameter_has_a_kind_that_fits_it() -> None:
    seen = set()
    for report in all_reports().values():
        for name, p in report.parameters.items():
            seen.add(p.kind)
            if name in ("start_at", "end_at"):
                assert p.kind == "date", (report.name, name)
            elif name == "enrollment_term_id":
                assert p.kind == "term", (report.name, name)
            elif name == "course_id":
                assert p.kind == "id", (report.name, name)
            if p.kind in ("choice", "list"):
                assert p.choices, (report.name, name)
    assert {"boolean", "term", "date", "id", "choice", "list"} <= seen


def test_the_control_follows_the_kind_not_the_name() -> None:
    base = all_reports()["provisioning_csv"]
    renamed = dataclasses.replace(
        base,
        parameters={
            "since": Parameter("Only changes since then", kind="date", label="Since"),
            "start_at": Parameter("A plain switch named like a date"),
            "term_pick": Parameter("Which term", kind="term", label="Term"),
            "colour": Parameter(
                "A colour",
                kind="choice",
                label="Colour",
                choices=(("red", "Red"), ("blue", "Blue")),
            ),
        },
    )
    form = build_form(renamed, TERMS)
    kinds = {f.name: (f.kind, f.label) for f in form.fields}
    assert kinds == {
        "since": ("date", "Since"),
        "start_at": ("checkbox", "A plain switch named like a date"),
        "term_pick": ("term", "Term"),
        "colour": ("select", "Colour"),
    }
    assert [v for v, _ in form.fields[2].options] == ["", "7"]
    params = read_submission(
        form,
        {
            "parameters[since]": ["2026-13-01"],
            "parameters[start_at]": ["on"],
            "parameters[colour]": ["green"],
        },
    )
    assert form.errors == {
        "since": "Enter a date as YYYY-MM-DD.",
        "colour": "Choose a colour from the list.",
    }
    assert params["start_at"] == "true"
    html = parameters_html(renamed, 1)
    assert 'type="text" name="parameters[since]"' in html
    assert 'type="checkbox" name="parameters[start_at]"' in html


def test_the_real_forms_keep_their_controls() -> None:
    reports = all_reports()
    prov = {f.name: f for f in build_form(reports["provisioning_csv"], TERMS).fields}
    assert prov["enrollment_term_id"].kind == "term"
    assert prov["enrollment_filter"].kind == "choices"
    assert prov["enrollment_filter"].options[0][0] == "TeacherEnrollment"
    assert prov["enrollment_filter"].options[0][1] == "Teachers"
    assert prov["users"].kind == "checkbox" and prov["users"].is_file
    assert prov["users"].label == "users"
    results = {f.name: f for f in build_form(reports["outcome_results_csv"], TERMS).fields}
    assert results["order"].kind == "select"
    assert results["order"].options[0] == ("", "Default (users)")
    subs = {f.name: f for f in build_form(reports["students_with_no_submissions_csv"], []).fields}
    assert subs["start_at"].kind == "date" and subs["start_at"].label == "Start date"
    assert subs["course_id"].kind == "course"


def test_openapi_lists_each_reports_parameters_with_their_kinds(tmp_path: Path) -> None:
    from reportcard.app import create_app
    from reportcard.settings import Settings

    app = create_app(Settings(data_dir=tmp_path), workers=0)
    doc = app.openapi()
    start = doc["paths"]["/api/v1/accounts/{account_id}/reports/{report}"]["post"]
    reports = start["x-report-parameters"]
    assert set(reports) == set(all_reports())
    subs = reports["students_with_no_submissions_csv"]
    assert subs["start_at"] == {
        "kind": "date",
        "label": "Start date",
        "required": True,
        "description": all_reports()["students_with_no_submissions_csv"]
        .parameters["start_at"]
        .description,
    }
    assert reports["outcome_results_csv"]["order"]["choices"] == ["users", "courses", "outcomes"]
    assert (
        "- `provisioning_csv`: `enrollment_term_id` (term), `users` (boolean)"
        in (start["description"])
    )
