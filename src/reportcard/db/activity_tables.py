"""Tables of the activity, course-content, token, tool and ePortfolio reports.

Course content (files, discussion topics, modules, wiki pages) is what ``course_storage_csv``
and ``unused_courses_csv`` look at; developer keys, their bindings and the external (LTI)
tools feed ``developer_key_report_csv`` and ``lti_report_csv``; ePortfolios feed
``eportfolio_report_csv``. Activity itself lives on core tables
(``enrollments.last_activity_at``, ``pseudonyms.last_request_at``/``current_login_ip``) and
tokens on ``access_tokens`` (reportcard's API tokens are Canvas's user access tokens).

Arrays and hashes Canvas serializes into one column (key scopes, tool placements, custom
fields) are JSON columns here. All timestamps are naive UTC.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from reportcard.db.tables import ROOM_FOR_UPDATES, Id, metadata

# ---------------------------------------------------------------- developer keys
# account_id NULL is a site-admin (global) key. workflow_state: active | inactive | deleted.
developer_keys = Table(
    "developer_keys",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("account_id", Id, ForeignKey("accounts.id"), nullable=True),
    Column("name", String(255), nullable=True),
    Column("email", String(255), nullable=True),
    Column("is_lti_key", Boolean, nullable=False, default=False),
    Column("visible", Boolean, nullable=False, default=True),
    Column("workflow_state", String(32), nullable=False, default="active"),
    # API scopes granted to the key's tokens, e.g. ["url:GET|/api/v1/courses"]; NULL/[]: all.
    Column("scopes", JSON, nullable=True),
    # Placements of an LTI key's tool configuration, e.g. ["course_navigation"]; NULL: none.
    Column("placements", JSON, nullable=True),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Index("ix_developer_keys_account", "account_id", "id"),
    postgresql_with=ROOM_FOR_UPDATES,
)

# Whether a key is turned on for an account: on | off | allow. account_id NULL is the
# site-admin binding of a site-admin key.
developer_key_account_bindings = Table(
    "developer_key_account_bindings",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("developer_key_id", Id, ForeignKey("developer_keys.id"), nullable=False),
    Column("account_id", Id, ForeignKey("accounts.id"), nullable=True),
    Column("workflow_state", String(32), nullable=False, default="allow"),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    UniqueConstraint("developer_key_id", "account_id"),
    postgresql_with=ROOM_FOR_UPDATES,
)

# ---------------------------------------------------------------- external tools (LTI)
# context_type Account | Course. tool_id is the tool's declared identifier (e.g. "Vimeo"), not
# its record id. workflow_state: active | disabled | deleted. lti_version: 1.1 | 1.3.
context_external_tools = Table(
    "context_external_tools",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("root_account_id", Id, ForeignKey("accounts.id"), nullable=False),
    Column("context_type", String(32), nullable=False),
    Column("context_id", Id, nullable=False),
    Column("developer_key_id", Id, nullable=True),
    Column("name", String(255), nullable=False),
    Column("tool_id", String(255), nullable=True),
    Column("url", Text, nullable=True),
    Column("domain", String(255), nullable=True),
    Column("privacy_level", String(32), nullable=True),  # anonymous|name_only|email_only|public
    Column("custom_fields", JSON, nullable=True),  # {"name": "value", ...}
    Column("lti_version", String(8), nullable=False, default="1.1"),
    Column("workflow_state", String(32), nullable=False, default="active"),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Index("ix_context_external_tools_root", "root_account_id", "id"),
    Index("ix_context_external_tools_context", "context_type", "context_id"),
    postgresql_with=ROOM_FOR_UPDATES,
)

# ---------------------------------------------------------------- ePortfolios
eportfolios = Table(
    "eportfolios",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("user_id", Id, ForeignKey("users.id"), nullable=False),
    Column("name", String(255), nullable=True),
    Column("public", Boolean, nullable=False, default=False),
    Column("workflow_state", String(32), nullable=False, default="active"),  # active | deleted
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Index("ix_eportfolios_user", "user_id"),
)

# ---------------------------------------------------------------- course content
# Files of courses (Canvas attachments with a course context; the ``attachments`` table holds
# report files). root_attachment_id is set on a copy that shares another file's bytes.
# file_state: available | hidden | deleted.
course_files = Table(
    "course_files",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("course_id", Id, ForeignKey("courses.id"), nullable=False),
    Column("display_name", String(255), nullable=False),
    Column("content_type", String(128), nullable=True),
    Column("size", BigInteger, nullable=True),
    Column("file_state", String(32), nullable=False, default="available"),
    Column("root_attachment_id", Id, nullable=True),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    # Covering the course storage report's two sums per course (an index-only read of the
    # course's files on both databases; docs/decisions/performance.md).
    Index("ix_course_files_course", "course_id", "file_state", "root_attachment_id", "size"),
    postgresql_with=ROOM_FOR_UPDATES,
)

# type: DiscussionTopic | Announcement. workflow_state: active | unpublished | deleted.
discussion_topics = Table(
    "discussion_topics",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("course_id", Id, ForeignKey("courses.id"), nullable=False),
    Column("title", String(255), nullable=True),
    Column("type", String(32), nullable=False, default="DiscussionTopic"),
    Column("workflow_state", String(32), nullable=False, default="active"),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Index("ix_discussion_topics_course", "course_id"),
    postgresql_with=ROOM_FOR_UPDATES,
)

# workflow_state: active | unpublished | deleted.
context_modules = Table(
    "context_modules",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("course_id", Id, ForeignKey("courses.id"), nullable=False),
    Column("name", String(255), nullable=True),
    Column("position", BigInteger, nullable=True),
    Column("workflow_state", String(32), nullable=False, default="active"),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Index("ix_context_modules_course", "course_id"),
    postgresql_with=ROOM_FOR_UPDATES,
)

# Pages of a course's wiki (one wiki per course, so keyed on the course).
# workflow_state: active | unpublished | deleted.
wiki_pages = Table(
    "wiki_pages",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("course_id", Id, ForeignKey("courses.id"), nullable=False),
    Column("title", String(255), nullable=False),
    Column("workflow_state", String(32), nullable=False, default="active"),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Index("ix_wiki_pages_course", "course_id"),
    postgresql_with=ROOM_FOR_UPDATES,
)

__all__ = [
    "context_external_tools",
    "context_modules",
    "course_files",
    "developer_key_account_bindings",
    "developer_keys",
    "discussion_topics",
    "eportfolios",
    "wiki_pages",
]
