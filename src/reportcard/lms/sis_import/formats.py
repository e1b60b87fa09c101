"""The Canvas SIS CSV file types: how each is recognised, processed in order, and validated.

A file's type comes from its header row (lower-cased, trimmed), never from its name: the
first type in :data:`TYPES` whose rule matches wins, as Canvas decides. :data:`TYPES` is also
the processing order (parents before children, users before what refers to them).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass

Headers = Collection[str]


def _has(*names: str) -> Callable[[Headers], bool]:
    return lambda h: all(n in h for n in names)


def _any(*names: str) -> Callable[[Headers], bool]:
    return lambda h: any(n in h for n in names)


_EXISTING = _any("existing_user_id", "existing_integration_id", "existing_canvas_user_id")


@dataclass(frozen=True)
class FileType:
    """One SIS file type: ``key`` as ``supplied_batches`` names it, ``count`` its counts key."""

    key: str
    count: str
    matches: Callable[[Headers], bool]
    statuses: frozenset[str] | None  # accepted ``status`` values (lower case); None: no column
    required: tuple[str, ...]  # columns the header must have


def _t(
    key: str,
    count: str,
    matches: Callable[[Headers], bool],
    statuses: str | None,
    required: str,
) -> FileType:
    return FileType(
        key,
        count,
        matches,
        None if statuses is None else frozenset(statuses.split()),
        tuple(required.split()),
    )


TYPES: tuple[FileType, ...] = (
    _t(
        "change_sis_id",
        "change_sis_ids",
        lambda h: "type" in h and _any("old_id", "old_integration_id")(h),
        None,
        "type",
    ),
    _t(
        "account",
        "accounts",
        _has("account_id", "parent_account_id"),
        "active deleted",
        "account_id parent_account_id name status",
    ),
    _t("term", "terms", _has("term_id", "name"), "active deleted", "term_id name status"),
    _t(
        "course",
        "courses",
        _has("course_id", "short_name"),
        "active deleted completed published",
        "course_id short_name long_name status",
    ),
    _t(
        "section",
        "sections",
        _has("section_id", "name"),
        "active deleted",
        "section_id course_id name status",
    ),
    _t(
        "xlist",
        "xlists",
        _has("xlist_course_id", "section_id"),
        "active deleted",
        "xlist_course_id section_id status",
    ),
    _t(
        "user",
        "users",
        lambda h: _has("user_id", "login_id")(h) and not _EXISTING(h),
        "active suspended deleted",
        "user_id login_id status",
    ),
    _t("login", "logins", lambda h: _EXISTING(h) and "login_id" in h, None, "user_id login_id"),
    _t(
        "enrollment",
        "enrollments",
        lambda h: _any("section_id", "course_id")(h) and _any("user_id", "user_integration_id")(h),
        # "concluded" is what the SIS export writes for completed enrollments (an extension).
        "active deleted completed inactive deleted_last_completed concluded",
        "status",
    ),
    _t(
        "admin",
        "admins",
        _has("account_id", "user_id"),
        "active deleted",
        "user_id account_id status",
    ),
    _t(
        "group_category",
        "group_categories",
        _has("group_category_id", "category_name"),
        "active deleted",
        "group_category_id category_name status",
    ),
    _t("group", "groups", _has("group_id", "name"), "available deleted", "group_id name status"),
    _t(
        "group_membership",
        "group_memberships",
        _has("group_id", "user_id"),
        "accepted deleted",
        "group_id user_id status",
    ),
    _t(
        "user_observer",
        "user_observers",
        _has("observer_id", "student_id"),
        "active deleted",
        "observer_id student_id status",
    ),
)

BY_KEY = {t.key: t for t in TYPES}
ORDER = {t.key: i for i, t in enumerate(TYPES)}

# Every count key Canvas reports, in its order (abstract courses and grade publishing results
# are not modelled and stay 0).
COUNT_KEYS = (
    "change_sis_ids",
    "accounts",
    "terms",
    "abstract_courses",
    "courses",
    "sections",
    "xlists",
    "users",
    "logins",
    "enrollments",
    "admins",
    "group_categories",
    "groups",
    "group_memberships",
    "grade_publishing_results",
    "user_observers",
)


def detect(headers: Headers) -> FileType | None:
    """The file type a header row announces, or None when it matches none."""
    for t in TYPES:
        if t.matches(headers):
            return t
    return None


def missing_columns(t: FileType, headers: Headers) -> list[str]:
    """Required columns absent from the header (the either/or groups are checked per row)."""
    return [c for c in t.required if c not in headers]
