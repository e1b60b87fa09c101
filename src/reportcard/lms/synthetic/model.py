"""The plan's data types and the constants shared by the planners and row generators.

The plan holds every structural decision several tables must agree on (which user is a
student, which login carries their SIS id, which sections a course owns, who observes whom).
It is small: a few values per account, course, section and user, never per enrollment.
Positions in the plan are local indexes (``0..n-1``); a row's id is its table's id base plus
one plus its index (see :class:`IdBase`).
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from random import Random

from reportcard.lms.institution import BUILTIN_ROLES as BUILTIN_ROLES  # defined once, there

from .sizes import Size

# User kinds.
ADMIN, TEACHER, TA, DESIGNER, OBSERVER, STUDENT, TEST_STUDENT = range(7)

# User flags (bits of ``Plan.flags``).
F_SIS = 1 << 0  # the first login has a sis_user_id
F_SIS_BATCH = 1 << 1  # ... and was created by a SIS import
F_INTEGRATION = 1 << 2
F_SAML = 1 << 3  # first login uses the SAML provider
F_TWO_LOGINS = 1 << 4
F_NO_LOGIN = 1 << 5
F_SUSPENDED = 1 << 6  # first login suspended
F_LOGIN_DELETED = 1 << 7  # first login deleted
F_USER_DELETED = 1 << 8  # user deleted: every login deleted too
F_SUFFIX = 1 << 9
F_SHORT_NAME = 1 << 10
F_PRONOUNS = 1 << 11
F_TIME_ZONE = 1 << 12
F_EMAIL_RETIRED = 1 << 13  # first email retired, a second one active
F_NO_EMAIL = 1 << 14
F_PRE_REGISTERED = 1 << 15

# SIS batch indexes: users, then accounts, then three per SIS term (see catalog.terms).
USER_BATCH = 0
ACCOUNT_BATCH = 1

# Tables the generator writes, in load order (parents before children).
TABLES: tuple[str, ...] = (
    "accounts",
    "authentication_providers",
    "sis_batches",
    "enrollment_terms",
    "roles",
    "courses",
    "blueprint_subscriptions",
    "course_sections",
    "users",
    "pseudonyms",
    "communication_channels",
    "user_observers",
    "account_users",
    "enrollments",
    "group_categories",
    "groups",
    "group_memberships",
)

# (name, base_role_type, permissions) of the custom roles each root account gets.
CUSTOM_ROLES: tuple[tuple[str, str, str], ...] = (
    ("Pixel Engineer", "TaEnrollment", ""),
    ("Auditor", "StudentEnrollment", ""),
    ("Report Viewer", "AccountMembership", "read_reports"),
    ("Help Desk", "AccountMembership", "read_roster view_user_logins manage_user_logins"),
)


@dataclass
class IdBase:
    """The highest existing id per table: row ``i`` of a table gets id ``max + 1 + i``."""

    max_ids: dict[str, int]

    def __call__(self, table: str, index: int) -> int:
        return self.max_ids[table] + 1 + index


@dataclass(slots=True)
class Account:
    name: str
    parent: int | None  # plan index of the parent; None for the root
    created: str
    sis: str | None = None
    batch: int | None = None
    state: str = "active"
    subject: str | None = None  # course subject code, for departments and programs
    dept: str | None = None  # department name used in course titles
    leaf: bool = False  # regular courses live here


@dataclass(slots=True)
class Term:
    name: str
    kind: str  # default | past | current | future | deleted
    created: str
    sis: str | None = None
    batch: int | None = None
    start: datetime | None = None
    end: datetime | None = None
    state: str = "active"


@dataclass(slots=True)
class Course:
    kind: str  # regular | sandbox | blueprint
    term: int
    account: int
    name: str
    code: str
    state: str
    created: str
    updated: str
    teacher: int
    sis: str | None = None
    integration: str | None = None
    batch: int | None = None
    course_format: str | None = None
    start: str | None = None
    end: str | None = None
    restrict: bool = False
    public: bool = False
    tas: tuple[tuple[int, bool], ...] = ()  # (user, has the custom "Pixel Engineer" role)
    designer: int | None = None
    test_student: int | None = None
    n_students: int = 0
    # The roster: students[offset + (start + k * stride) % span] for k < n_students.
    roster_offset: int = 0
    roster_span: int = 0
    roster_start: int = 0
    roster_stride: int = 1
    sections: list[int] = field(default_factory=list)  # live sections it is the current course of
    dead_sections: list[int] = field(default_factory=list)  # deleted ones


@dataclass(slots=True)
class Section:
    course: int  # original course
    current: int  # current course (differs when cross-listed)
    name: str
    created: str
    default: bool = False
    sis: str | None = None
    integration: str | None = None
    batch: int | None = None
    state: str = "active"
    restrict: bool = False
    start: str | None = None
    end: str | None = None


@dataclass(slots=True)
class GroupCategory:
    context_type: str  # Account | Course
    context: int  # plan index of the account or course
    name: str
    created: str
    role: str | None = None
    self_signup: str | None = None
    group_limit: int | None = None
    auto_leader: str | None = None
    deleted: bool = False
    sis: str | None = None
    batch: int | None = None


@dataclass(slots=True)
class Group:
    category: int
    context_type: str
    context: int
    account: int
    name: str
    created: str
    members: list[tuple[int, str]]  # (user, membership workflow_state)
    state: str = "available"
    max_membership: int | None = None
    sis: str | None = None
    batch: int | None = None


@dataclass(slots=True)
class AccountUser:
    account: int
    user: int
    role: str
    created: str
    state: str = "active"
    batch: int | None = None


@dataclass
class Plan:
    """Every structural decision about one institution (see the module docstring)."""

    size: Size
    seed: int
    ids: IdBase
    root_name: str
    domain: str
    time_zone: str
    batches: list[tuple[str, str]]  # (workflow_state, created_at)
    role_ids: dict[str, int]  # role name -> id (existing built-ins and new rows)
    new_roles: list[tuple[str, str, bool, str]]  # (name, base_role_type, built_in, permissions)
    accounts: list[Account] = field(default_factory=list)
    terms: list[Term] = field(default_factory=list)
    # Users: one entry per user index.
    kind: bytearray = field(default_factory=bytearray)
    flags: array[int] = field(default_factory=lambda: array("I"))
    first: array[int] = field(default_factory=lambda: array("H"))  # index into FIRST_NAMES
    last: array[int] = field(default_factory=lambda: array("H"))  # index into LAST_NAMES
    created: array[int] = field(default_factory=lambda: array("H"))  # index into user_times
    user_times: list[str] = field(default_factory=list)
    sis_login: array[int] = field(default_factory=lambda: array("q"))  # SIS login id, or 0
    by_kind: dict[int, list[int]] = field(default_factory=dict)
    students: list[int] = field(default_factory=list)
    observer_of: dict[int, int] = field(default_factory=dict)  # student -> observer (active)
    observer_links: list[tuple[int, int, str, int | None]] = field(default_factory=list)
    courses: list[Course] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)
    blueprints: list[tuple[int, int, str]] = field(default_factory=list)  # (bp, child, state)
    categories: list[GroupCategory] = field(default_factory=list)
    groups: list[Group] = field(default_factory=list)
    admins: list[AccountUser] = field(default_factory=list)

    @property
    def root_id(self) -> int:
        return self.ids("accounts", 0)

    def roster(self, course: Course) -> list[int]:
        """The students (user indexes) of a course, without duplicates.

        Rosters are arithmetic progressions over a slice of the student pool (the course's
        college's students, or everyone) with a stride coprime to the slice's length, so they
        are cheap to recompute and never repeat a student.
        """
        pool, off, span = self.students, course.roster_offset, course.roster_span
        s, d = course.roster_start, course.roster_stride
        return [pool[off + (s + k * d) % span] for k in range(course.n_students)]


def quota(rng: Random, members: Sequence[int], rate: float, minimum: int = 1) -> list[int]:
    """A random ``rate`` share of ``members`` (at least ``minimum`` when there are any)."""
    if not members:
        return []
    k = min(len(members), max(minimum, round(len(members) * rate)))
    return rng.sample(members, k)


def pick_index(rng: Random, weights: Sequence[int]) -> int:
    """A random index into ``weights``, drawn with those weights."""
    r = rng.randrange(sum(weights))
    for i, w in enumerate(weights):
        r -= w
        if r < 0:
            return i
    return len(weights) - 1


def weighted(rng: Random, table: Sequence[tuple[str, int]]) -> str:
    """A random value from ``(value, weight)`` pairs."""
    return table[pick_index(rng, [w for _, w in table])][0]
