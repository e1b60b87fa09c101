"""The ``sis_export_csv`` and ``provisioning_csv`` reports (spec: sis-export-and-provisioning.md).

Both reports share their fifteen files (one part each, built in ``sis_files``); they differ in
the format flag handed to the builders, in their titles and in their declared parameters.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from reportcard.reports.catalog import Parameter, Part, PartQuery, Report, RunContext, register
from reportcard.reports.sis_files import BUILDERS
from reportcard.reports.sis_scope import (
    ENROLLMENT_STATES,
    ENROLLMENT_TYPES,
    FILE_KEYS,
    enrollment_filter,
    enrollment_states,
)

TERM_DESCRIPTION = "The canvas id of the term of courses to report on"
FILE_DESCRIPTIONS = {
    "users": "users",
    "accounts": "accounts",
    "terms": "terms",
    "courses": "courses",
    "sections": "sections",
    "enrollments": "enrollments",
    "groups": "groups",
    "group_categories": "group_categories",
    "group_membership": "group_membership",
    "xlist": "cross listed courses",
    "user_observers": "user_observers",
    "admins": "admins",
}


def to_sentence(words: list[str]) -> str:
    """Rails' ``Array#to_sentence``: ``a``, ``a and b``, ``a, b, and c``."""
    if len(words) <= 1:
        return "".join(words)
    if len(words) == 2:
        return f"{words[0]} and {words[1]}"
    return ", ".join(words[:-1]) + f", and {words[-1]}"


def select_parts(ctx: RunContext) -> list[str]:
    """The files whose parameter is boolean-true, in the fixed order of §1.4."""
    return [key for key in FILE_KEYS if ctx.flag(key)]


def extra_text(ctx: RunContext) -> str:
    """The settings summary of §1.5; it ends with a space after the last file key."""
    term = ctx.term_name if ctx.term_ids is not None and ctx.term_name else "All Terms"
    parts = [f"Term: {term};"]
    if ctx.flag("include_deleted"):
        parts.append("Include Deleted Objects;")
    types = enrollment_filter(ctx)
    if types is not None:
        parts.append(f"Include Enrollment Roles: {to_sentence(types)};")
    states = enrollment_states(ctx)
    if states is not None:
        parts.append(f"Include Enrollment States: {to_sentence(states)};")
    files = "".join(f"{key} " for key in select_parts(ctx))
    parts.append(f"Reports: {files}")
    return " ".join(parts)


ROLE_LABELS = {
    "TeacherEnrollment": "Teachers",
    "TaEnrollment": "TAs",
    "DesignerEnrollment": "Designers",
    "StudentEnrollment": "Students",
    "ObserverEnrollment": "Observers",
}


def _parameters(label: str, *, provisioning: bool) -> dict[str, Parameter]:
    params = {"enrollment_term_id": Parameter(TERM_DESCRIPTION, kind="term", label="Term")}
    for key, what in FILE_DESCRIPTIONS.items():
        params[key] = Parameter(f"Get the {label} file for {what}")
    params["created_by_sis"] = Parameter("Only include objects that were created by sis")
    params["include_deleted"] = Parameter("Include deleted objects")
    if provisioning:
        params["enrollment_filter"] = Parameter(
            "Include objects from the specified role types. Accepted values are "
            + to_sentence(list(ENROLLMENT_TYPES)),
            kind="list",
            label="Enrollment roles",
            choices=tuple((t, ROLE_LABELS.get(t, t)) for t in ENROLLMENT_TYPES),
        )
        params["enrollment_states"] = Parameter(
            "Include objects from the specified states.",
            kind="list",
            label="Enrollment states",
            choices=tuple((s, s.replace("_", " ")) for s in ENROLLMENT_STATES),
        )
    return params


def _parts(sis: bool) -> list[Part]:
    parts = []
    for key in FILE_KEYS:
        build: Callable[[RunContext], PartQuery] = partial(BUILDERS[key], sis=sis)
        parts.append(Part(key, build))
    return parts


SIS_EXPORT = register(
    Report(
        name="sis_export_csv",
        title="SIS Export",
        description=(
            "Exports Users, Accounts, Terms, Courses, Sections, Enrollments, Groups, Group "
            "Memberships, and Cross Listings for an SIS import. This will only return items "
            "created or modified through SIS."
        ),
        parameters=_parameters("SIS", provisioning=False),
        parts=_parts(sis=True),
        select_parts=select_parts,
        extra_text=extra_text,
    )
)

PROVISIONING = register(
    Report(
        name="provisioning_csv",
        title="Provisioning",
        description=(
            "Exports the account's users, accounts, terms, courses, sections, enrollments, "
            "groups, group categories, group memberships, cross listings, observers and admins "
            "with their Canvas ids, whether or not they came from SIS."
        ),
        parameters=_parameters("Provisioning", provisioning=True),
        parts=_parts(sis=False),
        select_parts=select_parts,
        extra_text=extra_text,
    )
)
