"""Tables of the Canvas Data 2 importer (``reportcard cd2``): its own bookkeeping.

* ``cd2_table_state``: per CD2 table, what the last import applied (``reportcard cd2 status``):
  the newest ``meta.ts`` applied, so the next incremental can be chained from it.
* ``cd2_rows_<table>``, one per CD2 table reportcard reads (:data:`CD2_TABLE_NAMES`): per CD2
  row ever applied, the ``meta.ts`` of the version applied (newest wins: an older record never
  overwrites a newer one) and whether it was a delete (a tombstone, so a late, older upsert
  cannot bring a purged row back). ``--snapshot`` removes the rows of the root account listed
  here that a snapshot no longer holds. One table per CD2 table (rather than one shared table
  keyed by table name) keeps a table's first load an append to an empty table, with an 8-byte
  key: a shared table cost a third of a snapshot's import in index upkeep (issue 14).
* ``cd2_rows_recent``: the same, for the rows incrementals applied since the table's last
  fold (see below).
* ``cd2_master_templates``: CD2's blueprint templates (``master_courses_master_templates``),
  kept so blueprint subscriptions can name the blueprint course.

All timestamps are naive UTC.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, DateTime, String, Table

from reportcard.db.tables import ROOM_FOR_UPDATES, Id, metadata

cd2_table_state = Table(
    "cd2_table_state",
    metadata,
    Column("table_name", String(64), primary_key=True),  # the CD2 table (namespace canvas)
    Column("root_account_id", Id, nullable=True),
    Column("last_ts", DateTime, nullable=True),  # newest meta.ts applied (next since)
    Column("last_mode", String(16), nullable=False, default="incremental"),  # or snapshot
    Column("last_snapshot_at", DateTime, nullable=True),
    Column("records", BigInteger, nullable=False, default=0),  # records read by the last load
    Column("rows_upserted", BigInteger, nullable=False, default=0),  # by the last load
    Column("rows_deleted", BigInteger, nullable=False, default=0),  # by the last load
    Column("rows_total", BigInteger, nullable=False, default=0),  # live rows after it
    Column("source", String(255), nullable=True),  # files or sync source of the last load
    Column("applied_at", DateTime, nullable=False),
)

# The CD2 tables reportcard reads (reportcard.lms.cd2.mapping.TABLES; a test keeps them equal).
CD2_TABLE_NAMES = (
    "accounts",
    "grading_period_groups",
    "grading_standards",
    "enrollment_terms",
    "courses",
    "course_sections",
    "users",
    "pseudonyms",
    "communication_channels",
    "roles",
    "enrollments",
    "account_users",
    "group_categories",
    "groups",
    "group_memberships",
    "developer_keys",
    "developer_key_account_bindings",
    "access_tokens",
    "context_external_tools",
    "attachments",
    "discussion_topics",
    "wiki_pages",
    "context_modules",
    "master_courses_master_templates",
    "master_courses_child_subscriptions",
    "grading_periods",
    "assignments",
    "submissions",
    "scores",
    "quizzes",
    "quiz_submissions",
    "assessment_questions",
    "rubrics",
    "rubric_assessments",
    "learning_outcomes",
    "learning_outcome_groups",
    "content_tags",
    "learning_outcome_results",
    "learning_outcome_question_results",
    "outcome_proficiencies",
    "outcome_proficiency_ratings",
)


def rows_table(cd2_table: str) -> str:
    """The name of the bookkeeping table of CD2 table ``cd2_table``."""
    return "cd2_rows_" + cd2_table


def _rows(cd2_table: str) -> Table:
    return Table(
        rows_table(cd2_table),
        metadata,
        # Id: on SQLite the key is the rowid (one b-tree, no separate index of the keys).
        Column("key", Id, primary_key=True, autoincrement=False),
        Column("root_account_id", Id, nullable=False),
        Column("ts", DateTime, nullable=False),
        Column("deleted", Boolean, nullable=False, default=False),
        # PostgreSQL leaves a tenth of each page free, so an incremental's new meta.ts is a
        # HOT update in the same page (no new index entry); a bulk load fills pages to the top.
        postgresql_with={"fillfactor": 90},
    )


cd2_rows_tables: dict[str, Table] = {name: _rows(name) for name in CD2_TABLE_NAMES}

# The bookkeeping an incremental writes: per CD2 table and row applied since the table's last
# fold, what ``cd2_rows_<table>`` would hold (the newer version: a row here wins over the
# table's own). An incremental touching 1% of a table, spread over its keys, would otherwise
# rewrite most pages of ``cd2_rows_<table>``; here its rows fill a few pages. A snapshot, or an
# incremental taking this past an eighth of the table's rows, folds them back into
# ``cd2_rows_<table>`` (one pass over its pages for several incrementals).
cd2_rows_recent = Table(
    "cd2_rows_recent",
    metadata,
    Column("cd2_table", String(64), primary_key=True),
    Column("key", BigInteger, primary_key=True, autoincrement=False),
    Column("root_account_id", Id, nullable=False),
    Column("ts", DateTime, nullable=False),
    Column("deleted", Boolean, nullable=False, default=False),
)

cd2_master_templates = Table(
    "cd2_master_templates",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=False),
    Column("course_id", Id, nullable=False),
    Column("workflow_state", String(32), nullable=True),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    postgresql_with=ROOM_FOR_UPDATES,
)

__all__ = [
    "CD2_TABLE_NAMES",
    "cd2_master_templates",
    "cd2_rows_recent",
    "cd2_rows_tables",
    "cd2_table_state",
    "rows_table",
]
