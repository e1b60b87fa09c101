"""The parameters Canvas declares for its SIS Export and Provisioning reports, in Canvas's order
(spec api.md §17): the reports' declaration tests and the catalog test
(tests/api/test_catalog_on_medium.py) check them."""

from __future__ import annotations

SIS_EXPORT_PARAMETERS = [
    "enrollment_term_id",
    "users",
    "accounts",
    "terms",
    "courses",
    "sections",
    "enrollments",
    "groups",
    "group_categories",
    "group_membership",
    "xlist",
    "user_observers",
    "admins",
    "created_by_sis",
    "include_deleted",
]
PROVISIONING_PARAMETERS = [*SIS_EXPORT_PARAMETERS, "enrollment_filter", "enrollment_states"]
