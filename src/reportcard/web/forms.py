"""The "Configure" form of a report, generated from its declared parameters, and its checks.

The catalog declares each parameter's kind, label and description
(:class:`reportcard.reports.catalog.Parameter`); the control follows from the kind, as in
Canvas's own report forms: a term is a term selector with "All Terms", a date a date picker,
an id a text field, a list a group of checkboxes, a choice a selector, a boolean a checkbox.
The checks run on the server (they decide); the same rules are HTML attributes (``required``,
``pattern``), so a browser stops a bad form before it is sent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Connection, select

from reportcard.db.tables import enrollment_terms
from reportcard.reports.catalog import Report
from reportcard.reports.sis_scope import FILE_KEYS
from reportcard.runs.formats import FORMATS, parquet_available

COURSE_PATTERN = r"\d+|sis_course_id:\S.*"
# The control of each kind of parameter (reportcard.reports.catalog.ParameterKind).
CONTROLS = {
    "boolean": "checkbox",
    "term": "term",
    "date": "date",
    "id": "course",
    "list": "choices",
    "choice": "select",
}


@dataclass
class Field:
    name: str
    kind: str  # term, checkbox, date, course, choices, select
    label: str
    description: str
    required: bool
    options: Sequence[tuple[str, str]] = ()
    is_file: bool = False

    @property
    def input_name(self) -> str:
        return f"parameters[{self.name}]"


@dataclass
class ConfigureForm:
    """A report's form: its fields, the values shown, and the errors of the last submit."""

    report: Report
    fields: list[Field]
    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    formats: Sequence[str] = ()

    @property
    def files(self) -> list[Field]:
        return [f for f in self.fields if f.is_file]

    @property
    def options(self) -> list[Field]:
        return [f for f in self.fields if not f.is_file]

    def checked(self, name: str) -> bool:
        return bool(self.values.get(name))

    def chosen(self, name: str, value: str) -> bool:
        current = self.values.get(name)
        if isinstance(current, list):
            return value in current
        return current == value


def term_options(conn: Connection, root_id: int) -> list[tuple[str, str]]:
    t = enrollment_terms.c
    rows = conn.execute(
        select(t.id, t.name)
        .where(t.root_account_id == root_id, t.workflow_state != "deleted")
        .order_by(t.start_at.desc(), t.name, t.id)
    ).all()
    return [(str(r.id), str(r.name)) for r in rows]


def build_form(report: Report, terms: Sequence[tuple[str, str]]) -> ConfigureForm:
    fields: list[Field] = []
    for name, p in report.parameters.items():
        control = CONTROLS[p.kind]
        options: Sequence[tuple[str, str]] = p.choices
        if p.kind == "term":
            options = list(terms) if p.required else [("", "All Terms"), *terms]
        elif p.kind == "choice" and not p.required and p.choices:
            options = [("", f"Default ({p.choices[0][1].lower()})"), *p.choices]
        label = p.title
        is_file = p.kind == "boolean" and name in FILE_KEYS
        if is_file and not p.label and " file for " in label:
            label = label.split(" file for ", 1)[1]  # "Get the SIS file for users"
        fld = Field(name, control, label, p.description, p.required, options)
        fld.is_file = is_file
        fields.append(fld)
    formats = [f for f in FORMATS if f != "parquet" or parquet_available()]
    return ConfigureForm(report, fields, formats=formats)


def read_submission(form: ConfigureForm, data: Mapping[str, Any]) -> dict[str, Any]:
    """Check a submitted form (``data``: field name -> list of values).

    Fills ``form.values`` (to show the form again) and ``form.errors`` (field -> message);
    returns the report parameters to run with, meaningful only when there is no error.
    """
    params: dict[str, Any] = {}
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}

    def first(name: str) -> str:
        got = data.get(name) or []
        return str(got[0]).strip() if got else ""

    for fld in form.fields:
        key = fld.input_name
        if fld.kind == "checkbox":
            on = bool(first(key))
            values[fld.name] = on
            if on:
                params[fld.name] = "true"
        elif fld.kind in ("term", "select"):
            value = first(key)
            values[fld.name] = value
            allowed = {v for v, _ in fld.options}
            if value and value not in allowed:
                errors[fld.name] = f"Choose a {fld.label.lower()} from the list."
            elif value:
                params[fld.name] = value
            elif fld.required:
                errors[fld.name] = f"Choose a {fld.label.lower()}."
        elif fld.kind == "date":
            value = first(key)
            values[fld.name] = value
            if value:
                try:
                    date.fromisoformat(value)
                    params[fld.name] = value
                except ValueError:
                    errors[fld.name] = "Enter a date as YYYY-MM-DD."
            elif fld.required:
                errors[fld.name] = f"Enter the {fld.label.lower()}."
        elif fld.kind == "course":
            value = first(key)
            values[fld.name] = value
            if value and not re.fullmatch(COURSE_PATTERN, value):
                errors[fld.name] = "Enter a course id (digits) or sis_course_id:<SIS id>."
            elif value:
                params[fld.name] = value
            elif fld.required:
                errors[fld.name] = "Enter a course."
        elif fld.kind == "choices":
            picked = [str(v) for v in data.get(key + "[]", [])]
            values[fld.name] = picked
            allowed_values = [v for v, _ in fld.options]
            if any(v not in allowed_values for v in picked):
                errors[fld.name] = "Choose only from the listed values."
            elif picked:
                params[fld.name] = ",".join(v for v in allowed_values if v in picked)
            elif fld.required:
                errors[fld.name] = f"Choose at least one of the {fld.label.lower()}."
    start, end = params.get("start_at"), params.get("end_at")
    if start and end and end < start:
        errors["end_at"] = "The end date must not be before the start date."
    if form.files and not any(values.get(f.name) for f in form.files):
        errors["files"] = "Choose at least one file to include."
    fmt = first("parameters[format]") or "csv"
    values["format"] = fmt
    if fmt not in form.formats:
        errors["format"] = "Choose a file format from the list."
    elif fmt != "csv":
        params["format"] = fmt
    form.values = values
    form.errors = errors
    return params
