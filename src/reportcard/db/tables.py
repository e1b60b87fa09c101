"""Table definitions: the LMS data the reports read, and the run/shard/file records.

Names follow Canvas's own tables where one exists, so that the spec reads straight onto them.
All timestamps are naive UTC. Booleans are real booleans (INTEGER 0/1 on SQLite).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from reportcard.names import name_parts

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# Ids are BigInteger in PostgreSQL and INTEGER PRIMARY KEY (rowid) in SQLite.
Id = BigInteger().with_variant(Integer(), "sqlite")

# PostgreSQL storage of the tables that loads rewrite row by row (every CD2 target: an
# incremental re-sends changed rows of each; an SIS import): a tenth of each page is left free,
# so that an update of a column no index reads is a HOT update inside the page (no new index
# entry, one page written) instead of a new row version elsewhere plus an entry in every index
# of the table. A bulk load fills a page to the top otherwise, and the first incremental after
# a CD2 snapshot wrote every touched row's page and a leaf of each index
# (docs/decisions/performance.md, "the big targets leave room for an incremental"; the smaller
# targets since "the smaller targets leave room too", issue 14).
ROOM_FOR_UPDATES = {"fillfactor": 90}


def _id() -> Column:
    return Column("id", Id, primary_key=True, autoincrement=True)


def _sis(prefix: str = "sis_source_id") -> list[Column]:
    return [
        Column(prefix, String(255), nullable=True),
        Column("integration_id", String(255), nullable=True),
        Column("sis_batch_id", Id, nullable=True),
    ]


# ---------------------------------------------------------------- accounts and terms
accounts = Table(
    "accounts",
    metadata,
    _id(),
    Column("name", String(255), nullable=False),
    Column("parent_account_id", Id, ForeignKey("accounts.id"), nullable=True),
    Column("root_account_id", Id, nullable=True),  # NULL for a root account
    Column("workflow_state", String(32), nullable=False, default="active"),
    Column("uuid", String(64), nullable=False),
    Column("default_time_zone", String(64), nullable=False, default="UTC"),
    Column("domain", String(255), nullable=True),
    Column("can_add_pronouns", Boolean, nullable=False, default=False),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    *_sis(),
    Index("ix_accounts_root_sis", "root_account_id", "sis_source_id"),
    Index("ix_accounts_parent", "parent_account_id"),
    postgresql_with=ROOM_FOR_UPDATES,
)

# Closure of the account tree: one row per (account, ancestor) including (account, account).
# "Is in the subtree of X" is `account_id IN (SELECT account_id ... WHERE ancestor_id = X)`.
account_ancestors = Table(
    "account_ancestors",
    metadata,
    Column("account_id", Id, ForeignKey("accounts.id"), primary_key=True),
    Column("ancestor_id", Id, ForeignKey("accounts.id"), primary_key=True),
    Column("depth", Integer, nullable=False),
    Index("ix_account_ancestors_ancestor", "ancestor_id", "account_id"),
)

enrollment_terms = Table(
    "enrollment_terms",
    metadata,
    _id(),
    Column("root_account_id", Id, ForeignKey("accounts.id"), nullable=False),
    Column("name", String(255), nullable=False),
    Column("workflow_state", String(32), nullable=False, default="active"),
    Column("start_at", DateTime, nullable=True),
    Column("end_at", DateTime, nullable=True),
    Column("is_default", Boolean, nullable=False, default=False),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    *_sis(),
    Index("ix_terms_root_sis", "root_account_id", "sis_source_id"),
    postgresql_with=ROOM_FOR_UPDATES,
)

# ---------------------------------------------------------------- courses and sections
courses = Table(
    "courses",
    metadata,
    _id(),
    Column("root_account_id", Id, ForeignKey("accounts.id"), nullable=False),
    Column("account_id", Id, ForeignKey("accounts.id"), nullable=False),
    Column("enrollment_term_id", Id, ForeignKey("enrollment_terms.id"), nullable=False),
    Column("name", String(255), nullable=False),
    Column("course_code", String(255), nullable=True),
    Column("workflow_state", String(32), nullable=False, default="created"),
    Column("course_format", String(32), nullable=True),
    Column("start_at", DateTime, nullable=True),
    Column("conclude_at", DateTime, nullable=True),
    Column("restrict_enrollments_to_course_dates", Boolean, nullable=False, default=False),
    Column("is_public", Boolean, nullable=False, default=False),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    *_sis(),
    Index("ix_courses_root_sis", "root_account_id", "sis_source_id"),
    Index("ix_courses_account", "account_id"),
    Index("ix_courses_term", "enrollment_term_id"),
    postgresql_with=ROOM_FOR_UPDATES,
)

# Blueprint associations: a child course subscribed to a blueprint (master) course.
blueprint_subscriptions = Table(
    "blueprint_subscriptions",
    metadata,
    _id(),
    Column("blueprint_course_id", Id, ForeignKey("courses.id"), nullable=False),
    Column("child_course_id", Id, ForeignKey("courses.id"), nullable=False),
    Column("workflow_state", String(32), nullable=False, default="active"),
    Index("ix_blueprint_subscriptions_child", "child_course_id"),
    postgresql_with=ROOM_FOR_UPDATES,
)

course_sections = Table(
    "course_sections",
    metadata,
    _id(),
    Column("root_account_id", Id, ForeignKey("accounts.id"), nullable=False),
    Column("course_id", Id, ForeignKey("courses.id"), nullable=False),  # current course
    Column("nonxlist_course_id", Id, ForeignKey("courses.id"), nullable=True),  # original
    Column("name", String(255), nullable=False),
    Column("workflow_state", String(32), nullable=False, default="active"),
    Column("start_at", DateTime, nullable=True),
    Column("end_at", DateTime, nullable=True),
    Column("restrict_enrollments_to_section_dates", Boolean, nullable=False, default=False),
    Column("default_section", Boolean, nullable=False, default=False),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    *_sis(),
    Index("ix_course_sections_root_sis", "root_account_id", "sis_source_id"),
    Index("ix_course_sections_course", "course_id"),
    postgresql_with=ROOM_FOR_UPDATES,
)

# ---------------------------------------------------------------- users and logins


def _name_part(index: int) -> Callable[[Any], str | None]:
    """Default of ``users.first_name`` (0) or ``last_name`` (1): from the row's sortable name."""

    def default(context: Any) -> str | None:
        return name_parts(context.get_current_parameters().get("sortable_name"))[index]

    return default


users = Table(
    "users",
    metadata,
    _id(),
    Column("name", String(255), nullable=False),
    Column("sortable_name", String(255), nullable=True),
    # Given and surname as the SIS users files write them: names.name_parts(sortable_name),
    # kept by every writer of the sortable name (an insert giving only it gets them here).
    Column("first_name", String(255), nullable=True, default=_name_part(0)),
    Column("last_name", String(255), nullable=True, default=_name_part(1)),
    Column("short_name", String(255), nullable=True),
    Column("pronouns", String(64), nullable=True),
    Column("uuid", String(64), nullable=False),
    Column("time_zone", String(64), nullable=True),
    Column("workflow_state", String(32), nullable=False, default="registered"),
    Column("is_test_student", Boolean, nullable=False, default=False),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    # The few Student View users, which the SIS files leave out (reports.sis_scope).
    Index(
        "ix_users_test_student",
        "id",
        sqlite_where=text("is_test_student = 1"),
        postgresql_where=text("is_test_student"),
    ),
    postgresql_with=ROOM_FOR_UPDATES,
)

authentication_providers = Table(
    "authentication_providers",
    metadata,
    _id(),
    Column("root_account_id", Id, ForeignKey("accounts.id"), nullable=False),
    Column("auth_type", String(32), nullable=False),
    Column("workflow_state", String(32), nullable=False, default="active"),
)

# Canvas calls these pseudonyms; every login belongs to one root account.
pseudonyms = Table(
    "pseudonyms",
    metadata,
    _id(),
    Column("user_id", Id, ForeignKey("users.id"), nullable=False),
    Column("account_id", Id, ForeignKey("accounts.id"), nullable=False),  # root account
    Column("unique_id", String(255), nullable=False),
    Column("sis_user_id", String(255), nullable=True),
    Column("integration_id", String(255), nullable=True),
    Column("authentication_provider_id", Id, nullable=True),
    Column("workflow_state", String(32), nullable=False, default="active"),
    Column("position", Integer, nullable=False, default=1),
    Column("is_inst_id", Boolean, nullable=False, default=False),
    Column("password_hash", String(255), nullable=True),
    Column("sis_batch_id", Id, nullable=True),
    Column("last_request_at", DateTime, nullable=True),  # last access through this login
    Column("current_login_ip", String(64), nullable=True),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Index("ix_pseudonyms_user", "user_id"),
    # Covering a login looked up by user, root account and state for its SIS id (the zero
    # activity report): no read of the login row. Beside ix_pseudonyms_user rather than
    # instead of it: the Student Competency map ranges over logins by id within a user,
    # which only the narrow index gives (docs/decisions/performance.md).
    Index("ix_pseudonyms_user_login", "user_id", "account_id", "workflow_state", "sis_user_id"),
    Index("ix_pseudonyms_account_unique", "account_id", "unique_id"),
    Index("ix_pseudonyms_account_sis", "account_id", "sis_user_id"),
    postgresql_with=ROOM_FOR_UPDATES,
)

communication_channels = Table(
    "communication_channels",
    metadata,
    _id(),
    Column("user_id", Id, ForeignKey("users.id"), nullable=False),
    Column("path", String(255), nullable=False),
    Column("path_type", String(32), nullable=False, default="email"),
    Column("position", Integer, nullable=False, default=1),
    Column("workflow_state", String(32), nullable=False, default="active"),  # retired excluded
    # A user's channels in order, covering the users file's email lookup (no table reads).
    Index(
        "ix_communication_channels_user",
        "user_id",
        "position",
        "id",
        "path_type",
        "workflow_state",
        "path",
    ),
    postgresql_with=ROOM_FOR_UPDATES,
)

# Users associated with an account: through enrollments in its courses, logins, admin roles.
# Holds one row per (user, account) for the account and each of its ancestors.
user_account_associations = Table(
    "user_account_associations",
    metadata,
    Column("user_id", Id, ForeignKey("users.id"), primary_key=True),
    Column("account_id", Id, ForeignKey("accounts.id"), primary_key=True),
    Index("ix_user_account_associations_account", "account_id", "user_id"),
)

# ---------------------------------------------------------------- roles and enrollments
# base_role_type: StudentEnrollment, TeacherEnrollment, TaEnrollment, DesignerEnrollment,
# ObserverEnrollment, or AccountMembership for account (admin) roles.
roles = Table(
    "roles",
    metadata,
    _id(),
    Column("root_account_id", Id, ForeignKey("accounts.id"), nullable=True),  # NULL: built-in
    Column("account_id", Id, ForeignKey("accounts.id"), nullable=True),
    Column("name", String(255), nullable=False),
    Column("base_role_type", String(64), nullable=False),
    Column("built_in", Boolean, nullable=False, default=False),
    Column("workflow_state", String(32), nullable=False, default="active"),
    # Permissions granted by an account role, space separated (AccountAdmin has all).
    Column("permissions", Text, nullable=False, default=""),
    postgresql_with=ROOM_FOR_UPDATES,
)

# The rows of ix_enrollments_no_activity, as the zero activity report asks for them (a partial
# index serves a query whose own conditions are these terms). Written short (``ISNULL`` is
# ``IS NULL`` on both databases) for the migration's line length.
NO_ACTIVITY = "type='StudentEnrollment' AND workflow_state='active' AND last_activity_at ISNULL"

enrollments = Table(
    "enrollments",
    metadata,
    _id(),
    Column("root_account_id", Id, ForeignKey("accounts.id"), nullable=False),
    Column("user_id", Id, ForeignKey("users.id"), nullable=False),
    Column("course_id", Id, ForeignKey("courses.id"), nullable=False),
    Column("course_section_id", Id, ForeignKey("course_sections.id"), nullable=False),
    Column("role_id", Id, ForeignKey("roles.id"), nullable=False),
    Column("type", String(64), nullable=False),
    Column("workflow_state", String(32), nullable=False, default="active"),
    Column("associated_user_id", Id, ForeignKey("users.id"), nullable=True),
    Column("limit_privileges_to_course_section", Boolean, nullable=False, default=False),
    Column("sis_pseudonym_id", Id, nullable=True),
    Column("sis_batch_id", Id, nullable=True),
    Column("start_at", DateTime, nullable=True),
    Column("end_at", DateTime, nullable=True),
    Column("last_activity_at", DateTime, nullable=True),  # last course activity
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    # Covers "this user's activity in this course" (zero activity, last enrollment activity).
    Index("ix_enrollments_user", "user_id", "course_id", "last_activity_at"),
    Index("ix_enrollments_course", "course_id"),
    Index("ix_enrollments_section", "course_section_id"),
    Index("ix_enrollments_root", "root_account_id", "id"),
    # The rare Student View enrollments, whose users the SIS files leave out (sis_scope).
    Index(
        "ix_enrollments_student_view",
        "user_id",
        sqlite_where=text("type = 'StudentViewEnrollment'"),
        postgresql_where=text("type = 'StudentViewEnrollment'"),
    ),
    # The zero activity report's candidates without a start date: active student enrollments
    # with no activity of their own (a tenth of `large`'s enrollments). Its columns cover the
    # report's reads of the enrollment, course first and then the key, so SQLite walks each
    # available course's candidates within a shard's key range without reading a row, and
    # the planner counts them from the index alone on both databases
    # (docs/decisions/performance.md, "zero activity's candidates in a partial index").
    Index(
        "ix_enrollments_no_activity",
        "course_id",
        "id",
        "type",
        "workflow_state",
        "last_activity_at",
        "user_id",
        "course_section_id",
        "root_account_id",
        sqlite_where=text(NO_ACTIVITY),
        postgresql_where=text(NO_ACTIVITY),
    ),
    postgresql_with=ROOM_FOR_UPDATES,
)

user_observers = Table(
    "user_observers",
    metadata,
    _id(),
    Column("root_account_id", Id, ForeignKey("accounts.id"), nullable=False),
    Column("user_id", Id, ForeignKey("users.id"), nullable=False),  # the student
    Column("observer_id", Id, ForeignKey("users.id"), nullable=False),
    Column("workflow_state", String(32), nullable=False, default="active"),
    Column("sis_batch_id", Id, nullable=True),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Index("ix_user_observers_user", "user_id"),
)

account_users = Table(
    "account_users",
    metadata,
    _id(),
    Column("root_account_id", Id, ForeignKey("accounts.id"), nullable=False),
    Column("account_id", Id, ForeignKey("accounts.id"), nullable=False),
    Column("user_id", Id, ForeignKey("users.id"), nullable=False),
    Column("role_id", Id, ForeignKey("roles.id"), nullable=False),
    Column("workflow_state", String(32), nullable=False, default="active"),
    Column("sis_batch_id", Id, nullable=True),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Index("ix_account_users_user", "user_id"),
    Index("ix_account_users_account", "account_id"),
    postgresql_with=ROOM_FOR_UPDATES,
)

# ---------------------------------------------------------------- groups
group_categories = Table(
    "group_categories",
    metadata,
    _id(),
    Column("root_account_id", Id, ForeignKey("accounts.id"), nullable=False),
    Column("context_type", String(32), nullable=False),  # Account | Course
    Column("context_id", Id, nullable=False),
    Column("name", String(255), nullable=False),
    Column("role", String(64), nullable=True),
    Column("self_signup", String(32), nullable=True),
    Column("group_limit", Integer, nullable=True),
    Column("auto_leader", String(32), nullable=True),
    Column("deleted_at", DateTime, nullable=True),
    Column("sis_source_id", String(255), nullable=True),
    Column("sis_batch_id", Id, nullable=True),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    postgresql_with=ROOM_FOR_UPDATES,
)

groups = Table(
    "groups",
    metadata,
    _id(),
    Column("root_account_id", Id, ForeignKey("accounts.id"), nullable=False),
    Column("group_category_id", Id, ForeignKey("group_categories.id"), nullable=True),
    Column("context_type", String(32), nullable=False),  # Account | Course
    Column("context_id", Id, nullable=False),
    Column("account_id", Id, ForeignKey("accounts.id"), nullable=False),
    Column("name", String(255), nullable=False),
    Column("workflow_state", String(32), nullable=False, default="available"),
    Column("max_membership", Integer, nullable=True),
    Column("sis_source_id", String(255), nullable=True),
    Column("sis_batch_id", Id, nullable=True),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Index("ix_groups_root_sis", "root_account_id", "sis_source_id"),
    postgresql_with=ROOM_FOR_UPDATES,
)

group_memberships = Table(
    "group_memberships",
    metadata,
    _id(),
    Column("group_id", Id, ForeignKey("groups.id"), nullable=False),
    Column("user_id", Id, ForeignKey("users.id"), nullable=False),
    Column("workflow_state", String(32), nullable=False, default="accepted"),
    Column("sis_batch_id", Id, nullable=True),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Index("ix_group_memberships_group", "group_id"),
    Index("ix_group_memberships_user", "user_id"),
    postgresql_with=ROOM_FOR_UPDATES,
)

sis_batches = Table(
    "sis_batches",
    metadata,
    _id(),
    Column("account_id", Id, ForeignKey("accounts.id"), nullable=False),
    Column("workflow_state", String(32), nullable=False, default="imported"),
    Column("created_at", DateTime, nullable=False),
)

# ---------------------------------------------------------------- auth
access_tokens = Table(
    "access_tokens",
    metadata,
    _id(),
    Column("user_id", Id, ForeignKey("users.id"), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("hint", String(16), nullable=False),
    Column("purpose", String(255), nullable=True),
    Column("workflow_state", String(32), nullable=False, default="active"),
    Column("expires_at", DateTime, nullable=True),
    Column("last_used_at", DateTime, nullable=True),
    Column("created_at", DateTime, nullable=False),
    # The developer key that issued it (activity_tables.developer_keys); NULL: user-generated.
    Column("developer_key_id", Id, nullable=True),
    Index("ix_access_tokens_user", "user_id"),
    postgresql_with=ROOM_FOR_UPDATES,
)

# ---------------------------------------------------------------- runs, shards, files
account_reports = Table(
    "account_reports",
    metadata,
    _id(),
    Column("account_id", Id, ForeignKey("accounts.id"), nullable=False),
    Column("root_account_id", Id, ForeignKey("accounts.id"), nullable=False),
    Column("user_id", Id, ForeignKey("users.id"), nullable=True),
    Column("report_type", String(64), nullable=False),
    Column("workflow_state", String(32), nullable=False, default="created"),
    Column("parameters", JSON, nullable=False),
    Column("progress", Integer, nullable=False, default=0),
    Column("current_line", BigInteger, nullable=True),
    Column("total_lines", BigInteger, nullable=True),
    Column("message", Text, nullable=True),
    Column("attachment_id", Id, nullable=True),
    Column("error_detail", Text, nullable=True),
    Column("attempt", Integer, nullable=False, default=0),
    Column("heartbeat_at", DateTime, nullable=True),
    Column("worker_id", String(128), nullable=True),
    Column("created_at", DateTime, nullable=False),
    Column("start_at", DateTime, nullable=True),
    Column("end_at", DateTime, nullable=True),
    Column("updated_at", DateTime, nullable=False),
    Index("ix_account_reports_account_type", "account_id", "report_type", "id"),
    Index("ix_account_reports_state", "workflow_state", "root_account_id"),
)

# One unit of parallel work: an id range of one part's driving table.
report_shards = Table(
    "report_shards",
    metadata,
    _id(),
    Column("report_id", Id, ForeignKey("account_reports.id", ondelete="CASCADE"), nullable=False),
    Column("part", String(255), nullable=False),  # a term name for per-term files
    Column("part_index", Integer, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("lo", BigInteger, nullable=False),
    Column("hi", BigInteger, nullable=False),
    Column("state", String(16), nullable=False, default="queued"),  # queued|running|done|failed
    # The planner's estimate while queued or running, the rows written once done.
    Column("rows", BigInteger, nullable=False, default=0),
    Column("bytes", BigInteger, nullable=False, default=0),
    Column("attempts", Integer, nullable=False, default=0),
    # The order workers take a run's queued shards in (0 first), set by the planning step
    # (reportcard.runs.priority): longest first, the files interleaved.
    Column("priority", Integer, nullable=False, default=0),
    Column("worker_id", String(128), nullable=True),
    Column("heartbeat_at", DateTime, nullable=True),
    Column("error", Text, nullable=True),
    Column("started_at", DateTime, nullable=True),
    Column("ended_at", DateTime, nullable=True),
    UniqueConstraint("report_id", "part_index", "seq"),
    # Queued shards in the order workers take them: oldest run first, then by priority.
    Index("ix_report_shards_state", "state", "report_id", "priority"),
)

attachments = Table(
    "attachments",
    metadata,
    _id(),
    Column("uuid", String(64), nullable=False, unique=True),
    Column("context_type", String(32), nullable=False, default="Account"),
    Column("context_id", Id, nullable=False),
    Column("user_id", Id, nullable=True),
    Column("filename", String(255), nullable=False),
    Column("display_name", String(255), nullable=False),
    Column("content_type", String(128), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("storage_key", String(512), nullable=False),
    Column("workflow_state", String(32), nullable=False, default="processed"),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
)
