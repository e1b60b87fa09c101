"""How each CD2 ``canvas`` table lands in reportcard's tables: declarations, as data.

A :class:`Cd2Table` names the CD2 value columns it reads (:attr:`Cd2Table.fields`, with their
CD2 type, see :data:`KINDS`) and one or more :class:`Target` tables. A target gives, for each
of its columns, an SQL expression over those fields:

* ``{name}`` is the field ``name`` of the record, typed and cleaned (placeholders, see
  below); a nested member is ``{settings.course_format}`` (expanded or condensed layout);
* ``{key}`` is the record's key, ``{ts}`` its ``meta.ts`` (a timestamp), ``{root}`` the id of
  the root account being imported;
* ``{json_float:FIELD:a.b}`` / ``{json_text:FIELD:a.b}`` read a member of a JSON field.

A target's :attr:`Target.where` keeps only some records (``wiki_pages`` of courses, content
tags of one tag type); a record that fails it is removed from that target if it was there.

Placeholders (spec §2): ``__dap_unspecified__`` in a field of kind ``enum`` becomes NULL (the
value DAP could not map is unknown); in a field of kind ``state`` (the NOT NULL enums
``workflow_state`` and ``type``, which reportcard cannot leave empty) it is kept verbatim, as
any unknown enum value is: reports treat it as a state they do not know. A text value replaced
by ``__dap_oversized_truncated__`` (or the older ``__cd2_oversized_truncated__``) becomes NULL
(the text is lost; an empty string would claim it was empty), or ``''`` where reportcard's
column is NOT NULL.

The order of :data:`TABLES` satisfies references (accounts before courses, and so on).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

# Kinds of CD2 fields: how a value is checked and typed.
#   int, float, bool, ts (UTC timestamp), date, text (placeholders: truncation -> NULL),
#   enum (__dap_unspecified__ -> NULL), state (enum kept verbatim), json (a JSON document,
#   embedded or as text), list (a JSON array, stored comma separated as Canvas does).
# A kind ending "!" is required on upserts (NOT NULL in CD2 and in reportcard).
KINDS = ("int", "float", "bool", "ts", "date", "text", "enum", "state", "json", "list")

UNSPECIFIED = "__dap_unspecified__"
TRUNCATED = ("__dap_oversized_truncated__", "__cd2_oversized_truncated__")


@dataclass(frozen=True)
class Target:
    """One reportcard table filled from a CD2 table."""

    table: str
    columns: Mapping[str, str]  # target column -> SQL template
    key: str = "id"  # the target column holding the CD2 key
    where: str | None = None  # SQL template; records failing it are not in this target
    # Upserts only overwrite rows matching this SQL (over the target table's own columns,
    # qualified with the table name): rows reportcard made itself are never overwritten.
    guard: str | None = None


@dataclass(frozen=True)
class Cd2Table:
    """A CD2 table of the ``canvas`` namespace and where its records go."""

    name: str
    fields: Mapping[str, str]  # CD2 value column -> kind (see KINDS)
    targets: tuple[Target, ...]
    key: str = "id"
    # Values the reports would read that CD2 does not carry for this table (import summary).
    lacks: tuple[str, ...] = ()
    # Derived structures to rebuild when this table changed (see derived.py).
    derived: tuple[str, ...] = ()
    # SQL giving the users whose account associations a change of this table's rows
    # ``{keys}`` (a subquery of their keys) can move: only theirs are rebuilt. Runs before
    # and after the upsert; may read the winners (``cd2_win w``, fields typed).
    touches: str | None = None
    # SQL over the first target's row ``x`` (before the upsert) and the winner's fields: true
    # when the change can move users' associations. ``{keys}`` are the newer winners that are
    # deletes, have no row yet, or for which this holds (the rest keep their associations).
    moves: str | None = None
    uses: tuple[str, ...] = field(default=())  # other CD2 tables read while applying

    def kind(self, name: str) -> str:
        return self.fields[name].rstrip("!")

    def required(self, name: str) -> bool:
        return self.fields[name].endswith("!")


def _f(spec: str) -> dict[str, str]:
    """``"name:kind other:kind!"`` -> {name: kind}."""
    out: dict[str, str] = {}
    for item in spec.split():
        name, kind = item.split(":")
        assert kind.rstrip("!") in KINDS, (name, kind)
        out[name] = kind
    return out


def _same(names: str) -> dict[str, str]:
    """Target columns named like their field: ``"a b"`` -> {"a": "{a}", "b": "{b}"}."""
    return {n: "{" + n + "}" for n in names.split()}


STAMPS = {
    "created_at": "COALESCE({created_at}, {updated_at}, {ts})",
    "updated_at": "COALESCE({updated_at}, {created_at}, {ts})",
}
_STAMP_FIELDS = "created_at:ts updated_at:ts"
# A reference to an account that may lie outside this root account (site admin's keys).
_ACCOUNT = "CASE WHEN {account_id} IN (SELECT id FROM accounts) THEN {account_id} END"
_COURSE = "{context_type} = 'Course'"
_PRIVACY = "('anonymous', 'email_only', 'name_only', 'public')"

TABLES: tuple[Cd2Table, ...] = (
    Cd2Table(
        "accounts",
        _f(
            "name:text parent_account_id:int workflow_state:state! uuid:text "
            "default_time_zone:text sis_source_id:text integration_id:text "
            "current_sis_batch_id:int " + _STAMP_FIELDS
        ),
        (
            Target(
                "accounts",
                {
                    **_same("parent_account_id workflow_state sis_source_id integration_id"),
                    "name": "COALESCE({name}, '')",
                    "root_account_id": "CASE WHEN {parent_account_id} IS NULL THEN NULL"
                    " ELSE {root} END",
                    "uuid": "COALESCE({uuid}, '')",
                    "default_time_zone": "COALESCE({default_time_zone}, 'UTC')",
                    "can_add_pronouns": "FALSE",
                    "sis_batch_id": "NULL",
                    **STAMPS,
                },
            ),
        ),
        lacks=(
            "accounts.sis_batch_id (only current_sis_batch_id): created_by_sis of accounts",
            "accounts.domain",
            "account settings (can_add_pronouns and the others) and feature flags",
        ),
        derived=("tree", "user_associations"),
        # a moved or removed account: the users associated with it (and its subtree)
        touches="SELECT user_id FROM user_account_associations WHERE account_id IN ({keys})",
        moves="COALESCE(x.parent_account_id, -1) <> COALESCE({parent_account_id}, -1)",
    ),
    Cd2Table(
        "grading_period_groups",
        _f("title:text workflow_state:state! " + _STAMP_FIELDS),
        (
            Target(
                "grading_period_groups",
                {
                    "root_account_id": "{root}",
                    "title": "COALESCE({title}, '')",
                    "workflow_state": "{workflow_state}",
                    **STAMPS,
                },
            ),
        ),
    ),
    Cd2Table(
        "grading_periods",
        _f(
            "grading_period_group_id:int! title:text start_date:ts! end_date:ts! close_date:ts "
            "weight:float workflow_state:state! " + _STAMP_FIELDS
        ),
        (
            Target(
                "grading_periods",
                {
                    **_same(
                        "grading_period_group_id start_date end_date close_date weight "
                        "workflow_state"
                    ),
                    "title": "COALESCE({title}, '')",
                    **STAMPS,
                },
            ),
        ),
    ),
    Cd2Table(
        "grading_standards",
        _f(
            "context_id:int! context_type:state! title:text workflow_state:state! data:json "
            + _STAMP_FIELDS
        ),
        (
            Target(
                "grading_standards",
                {
                    **_same("context_type context_id workflow_state"),
                    "title": "COALESCE({title}, '')",
                    **STAMPS,
                },
            ),
        ),
        derived=("grading_standard_entries",),
    ),
    Cd2Table(
        "enrollment_terms",
        _f(
            "name:text workflow_state:state! start_at:ts end_at:ts sis_source_id:text "
            "integration_id:text sis_batch_id:int grading_period_group_id:int " + _STAMP_FIELDS
        ),
        (
            Target(
                "enrollment_terms",
                {
                    **_same(
                        "workflow_state start_at end_at sis_source_id integration_id sis_batch_id"
                    ),
                    "root_account_id": "{root}",
                    "name": "COALESCE({name}, '')",
                    "is_default": "FALSE",
                    **STAMPS,
                },
            ),
            Target(
                "grading_period_group_terms",
                {
                    "enrollment_term_id": "{key}",
                    "grading_period_group_id": "{grading_period_group_id}",
                },
                key="enrollment_term_id",
                where="{grading_period_group_id} IS NOT NULL AND {workflow_state} <> 'deleted'",
            ),
        ),
        derived=("default_term",),
    ),
    Cd2Table(
        "courses",
        _f(
            "account_id:int! enrollment_term_id:int! name:text course_code:text "
            "workflow_state:state! settings.course_format:text start_at:ts conclude_at:ts "
            "restrict_enrollments_to_course_dates:bool is_public:bool grading_standard_id:int "
            "sis_source_id:text integration_id:text sis_batch_id:int " + _STAMP_FIELDS
        ),
        (
            Target(
                "courses",
                {
                    **_same(
                        "account_id enrollment_term_id course_code workflow_state start_at "
                        "conclude_at sis_source_id integration_id sis_batch_id"
                    ),
                    "root_account_id": "{root}",
                    "name": "COALESCE({name}, '')",
                    "course_format": "{settings.course_format}",
                    "restrict_enrollments_to_course_dates": "COALESCE("
                    "{restrict_enrollments_to_course_dates}, FALSE)",
                    "is_public": "COALESCE({is_public}, FALSE)",
                    **STAMPS,
                },
            ),
            # Canvas: grading_standard_id set = a grading scheme enabled; 0 = the default one.
            Target(
                "course_grading_schemes",
                {
                    "course_id": "{key}",
                    "grading_standard_id": "CASE WHEN {grading_standard_id} = 0 THEN NULL"
                    " ELSE {grading_standard_id} END",
                },
                key="course_id",
                where="{grading_standard_id} IS NOT NULL",
            ),
        ),
        derived=("user_associations",),
        # Only a course's account moves its users' associations: not the users of a course
        # that was there before and stays in the same account (most of an incremental's).
        touches="SELECT user_id FROM enrollments WHERE course_id IN ({keys})",
        moves="COALESCE(x.account_id, -1) <> COALESCE({account_id}, -1)",
    ),
    Cd2Table(
        "course_sections",
        _f(
            "course_id:int! nonxlist_course_id:int name:text workflow_state:state! "
            "start_at:ts end_at:ts restrict_enrollments_to_section_dates:bool "
            "default_section:bool sis_source_id:text integration_id:text sis_batch_id:int "
            + _STAMP_FIELDS
        ),
        (
            Target(
                "course_sections",
                {
                    **_same(
                        "course_id nonxlist_course_id workflow_state start_at end_at "
                        "sis_source_id integration_id sis_batch_id"
                    ),
                    "root_account_id": "{root}",
                    "name": "COALESCE({name}, '')",
                    "restrict_enrollments_to_section_dates": "COALESCE("
                    "{restrict_enrollments_to_section_dates}, FALSE)",
                    "default_section": "COALESCE({default_section}, FALSE)",
                    **STAMPS,
                },
            ),
        ),
    ),
    Cd2Table(
        "users",
        _f(
            "name:text sortable_name:text short_name:text pronouns:text uuid:text "
            "time_zone:text workflow_state:state! " + _STAMP_FIELDS
        ),
        (
            Target(
                "users",
                {
                    **_same("sortable_name short_name pronouns time_zone workflow_state"),
                    # As the SIS files write them (reportcard.names); the few names SQL leaves
                    # to Python are written by derived.from_stage ("user_names").
                    "first_name": "{first_name_of:sortable_name}",
                    "last_name": "{last_name_of:sortable_name}",
                    "name": "COALESCE({name}, '')",
                    "uuid": "COALESCE({uuid}, '')",
                    "is_test_student": "FALSE",
                    **STAMPS,
                },
            ),
        ),
        lacks=("users.email (from communication_channels)", "user observer links"),
        derived=("test_students", "user_names"),
    ),
    Cd2Table(
        "pseudonyms",
        _f(
            "user_id:int! account_id:int! unique_id:text! sis_user_id:text integration_id:text "
            "authentication_provider_id:int workflow_state:state! position:int "
            "sis_batch_id:int last_request_at:ts current_login_ip:text " + _STAMP_FIELDS
        ),
        (
            Target(
                "pseudonyms",
                {
                    **_same(
                        "user_id account_id unique_id sis_user_id integration_id "
                        "authentication_provider_id workflow_state sis_batch_id "
                        "last_request_at current_login_ip"
                    ),
                    "position": "COALESCE({position}, 1)",
                    "is_inst_id": "FALSE",
                    "password_hash": "NULL",
                    **STAMPS,
                },
                # Logins reportcard made (they have a password) are never overwritten.
                guard="pseudonyms.password_hash IS NULL",
            ),
        ),
        lacks=(
            "pseudonyms.declared_user_type",
            "authentication providers (only their ids)",
            "passwords (CD2 withholds them: imported logins cannot sign in to reportcard)",
        ),
        derived=("user_associations",),
        touches="SELECT user_id FROM pseudonyms WHERE id IN ({keys})",
        # the associations read a login's user and account
        moves="x.user_id <> {user_id} OR x.account_id <> {account_id}",
    ),
    Cd2Table(
        "communication_channels",
        _f("user_id:int! path:text! path_type:text! position:int workflow_state:state!"),
        (
            Target(
                "communication_channels",
                {
                    **_same("user_id path path_type workflow_state"),
                    "position": "COALESCE({position}, 1)",
                },
            ),
        ),
    ),
    Cd2Table(
        "roles",
        _f(
            "name:text! account_id:int workflow_state:state! base_role_type:state! " + _STAMP_FIELDS
        ),
        (
            Target(
                "roles",
                {
                    **_same("name base_role_type"),
                    "account_id": _ACCOUNT,
                    "root_account_id": "{root}",
                    "built_in": "{workflow_state} = 'built_in'",
                    "workflow_state": "CASE WHEN {workflow_state} = 'built_in' THEN 'active'"
                    " ELSE {workflow_state} END",
                    "permissions": "''",
                },
            ),
        ),
        lacks=("role permissions (role_overrides)",),
    ),
    Cd2Table(
        "enrollments",
        _f(
            "user_id:int! course_id:int! course_section_id:int! role_id:int! type:state! "
            "workflow_state:state! associated_user_id:int limit_privileges_to_course_section:bool "
            "sis_pseudonym_id:int sis_batch_id:int start_at:ts end_at:ts last_activity_at:ts "
            + _STAMP_FIELDS
        ),
        (
            Target(
                "enrollments",
                {
                    **_same(
                        "user_id course_id course_section_id role_id type workflow_state "
                        "associated_user_id sis_pseudonym_id sis_batch_id start_at end_at "
                        "last_activity_at"
                    ),
                    "root_account_id": "{root}",
                    "limit_privileges_to_course_section": "COALESCE("
                    "{limit_privileges_to_course_section}, FALSE)",
                    **STAMPS,
                },
            ),
        ),
        derived=("user_associations", "test_students"),
        touches="SELECT user_id FROM enrollments WHERE id IN ({keys})",
        # the associations read an enrollment's user, course, root and whether it is deleted
        moves="x.user_id <> {user_id} OR x.course_id <> {course_id}"
        " OR x.root_account_id <> {root}"
        " OR (x.workflow_state = 'deleted') <> ({workflow_state} = 'deleted')",
    ),
    Cd2Table(
        "account_users",
        _f("user_id:int! account_id:int! role_id:int! workflow_state:state! " + _STAMP_FIELDS),
        (
            Target(
                "account_users",
                {
                    **_same("user_id account_id role_id workflow_state"),
                    "root_account_id": "{root}",
                    "sis_batch_id": "NULL",
                    **STAMPS,
                },
            ),
        ),
        lacks=("account_users.sis_batch_id",),
        derived=("user_associations",),
        touches="SELECT user_id FROM account_users WHERE id IN ({keys})",
        moves="x.user_id <> {user_id} OR x.account_id <> {account_id}"
        " OR x.root_account_id <> {root}"
        " OR (x.workflow_state = 'deleted') <> ({workflow_state} = 'deleted')",
    ),
    Cd2Table(
        "group_categories",
        _f(
            "name:text context_id:int context_type:state! role:enum self_signup:text "
            "group_limit:int auto_leader:text deleted_at:ts sis_source_id:text "
            "sis_batch_id:int " + _STAMP_FIELDS
        ),
        (
            Target(
                "group_categories",
                {
                    **_same(
                        "context_type context_id role self_signup group_limit auto_leader "
                        "deleted_at sis_source_id sis_batch_id"
                    ),
                    "root_account_id": "{root}",
                    "name": "COALESCE({name}, '')",
                    **STAMPS,
                },
                where="{context_id} IS NOT NULL",
            ),
        ),
    ),
    Cd2Table(
        "groups",
        _f(
            "name:text group_category_id:int context_id:int! context_type:state! "
            "account_id:int! workflow_state:state! max_membership:int sis_source_id:text "
            "sis_batch_id:int " + _STAMP_FIELDS
        ),
        (
            Target(
                "groups",
                {
                    **_same(
                        "group_category_id context_type context_id account_id workflow_state "
                        "max_membership sis_source_id sis_batch_id"
                    ),
                    "root_account_id": "{root}",
                    "name": "COALESCE({name}, '')",
                    **STAMPS,
                },
            ),
        ),
    ),
    Cd2Table(
        "group_memberships",
        _f("group_id:int! user_id:int! workflow_state:state! sis_batch_id:int " + _STAMP_FIELDS),
        (
            Target(
                "group_memberships",
                {**_same("group_id user_id workflow_state sis_batch_id"), **STAMPS},
            ),
        ),
    ),
    Cd2Table(
        "developer_keys",
        _f(
            "name:text email:text account_id:int is_lti_key:bool workflow_state:state! "
            "scopes:json " + _STAMP_FIELDS
        ),
        (
            Target(
                "developer_keys",
                {
                    **_same("name email workflow_state scopes"),
                    "account_id": _ACCOUNT,
                    "is_lti_key": "COALESCE({is_lti_key}, FALSE)",
                    "visible": "TRUE",
                    "placements": "NULL",
                    **STAMPS,
                },
            ),
        ),
        lacks=(
            "developer key global ids (the shard id)",
            "developer key visibility",
            "LTI placements of developer keys",
        ),
    ),
    Cd2Table(
        "developer_key_account_bindings",
        _f("account_id:int! developer_key_id:int! workflow_state:state! " + _STAMP_FIELDS),
        (
            Target(
                "developer_key_account_bindings",
                {**_same("developer_key_id workflow_state"), "account_id": _ACCOUNT, **STAMPS},
                where="{developer_key_id} IN (SELECT id FROM developer_keys)",
            ),
        ),
    ),
    Cd2Table(
        "access_tokens",
        _f(
            "developer_key_id:int user_id:int purpose:text workflow_state:state! "
            "expires_at:ts last_used_at:ts " + _STAMP_FIELDS
        ),
        (
            Target(
                "access_tokens",
                {
                    **_same(
                        "user_id purpose workflow_state expires_at last_used_at developer_key_id"
                    ),
                    # Never a valid token: reportcard stores sha256 hex digests.
                    "token_hash": "'cd2:' || CAST({key} AS VARCHAR(20))",
                    "hint": "''",
                    "created_at": STAMPS["created_at"],
                },
                where="{user_id} IS NOT NULL",
                # reportcard's own API tokens are never overwritten by a CD2 id.
                guard="access_tokens.token_hash LIKE 'cd2:%'",
            ),
        ),
        lacks=("access token hints (token_hint)", "permanent_expires_at (only expires_at)"),
    ),
    Cd2Table(
        "context_external_tools",
        _f(
            "context_id:int context_type:state developer_key_id:int name:text! tool_id:text "
            "url:text domain:text workflow_state:state! settings.custom_fields:json "
            "settings.use_1_3:text " + _STAMP_FIELDS
        ),
        (
            Target(
                "context_external_tools",
                {
                    **_same("context_type context_id developer_key_id name tool_id url domain"),
                    "root_account_id": "{root}",
                    "privacy_level": "CASE WHEN {workflow_state} IN "
                    + _PRIVACY
                    + " THEN {workflow_state} END",
                    "custom_fields": "{settings.custom_fields}",
                    "lti_version": "CASE WHEN {developer_key_id} IS NOT NULL"
                    " OR {settings.use_1_3} = 'true' THEN '1.3' ELSE '1.1' END",
                    "workflow_state": "CASE WHEN {workflow_state} IN "
                    + _PRIVACY
                    + " THEN 'active' ELSE {workflow_state} END",
                    **STAMPS,
                },
                where="{context_id} IS NOT NULL AND {context_type} IS NOT NULL",
            ),
        ),
        lacks=("LTI tool placements and configurations",),
    ),
    Cd2Table(
        "attachments",
        _f(
            "context_id:int context_type:state display_name:text filename:text "
            "content_type:text size:int file_state:state root_attachment_id:int " + _STAMP_FIELDS
        ),
        (
            Target(
                "course_files",
                {
                    **_same("content_type size root_attachment_id"),
                    "course_id": "{context_id}",
                    "display_name": "COALESCE({display_name}, {filename}, '')",
                    "file_state": "COALESCE({file_state}, 'available')",
                    **STAMPS,
                },
                where=_COURSE,
            ),
        ),
    ),
    Cd2Table(
        "discussion_topics",
        _f(
            "context_id:int! context_type:state! title:text type:enum workflow_state:state! "
            + _STAMP_FIELDS
        ),
        (
            Target(
                "discussion_topics",
                {
                    **_same("title workflow_state"),
                    "course_id": "{context_id}",
                    "type": "COALESCE({type}, 'DiscussionTopic')",
                    **STAMPS,
                },
                where=_COURSE,
            ),
        ),
    ),
    Cd2Table(
        "wiki_pages",
        _f("context_id:int! context_type:state! title:text workflow_state:state! " + _STAMP_FIELDS),
        (
            Target(
                "wiki_pages",
                {
                    "workflow_state": "{workflow_state}",
                    "course_id": "{context_id}",
                    "title": "COALESCE({title}, '')",
                    **STAMPS,
                },
                where=_COURSE,
            ),
        ),
    ),
    Cd2Table(
        "context_modules",
        _f(
            "context_id:int! context_type:state! name:text position:int workflow_state:state! "
            + _STAMP_FIELDS
        ),
        (
            Target(
                "context_modules",
                {**_same("name position workflow_state"), "course_id": "{context_id}", **STAMPS},
                where=_COURSE,
            ),
        ),
    ),
    Cd2Table(
        "master_courses_master_templates",
        _f("course_id:int! workflow_state:enum " + _STAMP_FIELDS),
        (Target("cd2_master_templates", {**_same("course_id workflow_state"), **STAMPS}),),
    ),
    Cd2Table(
        "master_courses_child_subscriptions",
        _f("master_template_id:int! child_course_id:int! workflow_state:state! " + _STAMP_FIELDS),
        (
            Target(
                "blueprint_subscriptions",
                {
                    "blueprint_course_id": "(SELECT t.course_id FROM cd2_master_templates t"
                    " WHERE t.id = {master_template_id})",
                    **_same("child_course_id workflow_state"),
                },
                where="{master_template_id} IN (SELECT id FROM cd2_master_templates)",
            ),
        ),
        uses=("master_courses_master_templates",),
    ),
    Cd2Table(
        "assignments",
        _f(
            "context_id:int! context_type:state! title:text type:enum submission_types:list "
            "points_possible:float due_at:ts workflow_state:state! " + _STAMP_FIELDS
        ),
        (
            Target(
                "assignments",
                {
                    **_same("submission_types points_possible due_at workflow_state"),
                    "course_id": "{context_id}",
                    "title": "COALESCE({title}, '')",
                    "type": "COALESCE({type}, 'Assignment')",
                    **STAMPS,
                },
                where=_COURSE,
            ),
        ),
    ),
    Cd2Table(
        "submissions",
        _f(
            "assignment_id:int! user_id:int! submitted_at:ts score:float attempt:int "
            "workflow_state:state! " + _STAMP_FIELDS
        ),
        (
            Target(
                "submissions",
                {
                    **_same("assignment_id user_id submitted_at score attempt workflow_state"),
                    **STAMPS,
                },
            ),
        ),
    ),
    Cd2Table(
        "scores",
        _f(
            "enrollment_id:int! course_score:bool! grading_period_id:int "
            "assignment_group_id:int current_score:float final_score:float "
            "unposted_current_score:float unposted_final_score:float override_score:float "
            "workflow_state:state! " + _STAMP_FIELDS
        ),
        (
            Target(
                "scores",
                {
                    **_same(
                        "enrollment_id course_score grading_period_id current_score final_score "
                        "unposted_current_score unposted_final_score override_score "
                        "workflow_state"
                    ),
                    **STAMPS,
                },
                # Assignment group scores are not read by any report.
                where="{assignment_group_id} IS NULL",
            ),
        ),
    ),
    Cd2Table(
        "quizzes",
        _f(
            "context_id:int! context_type:state! title:text assignment_id:int "
            "workflow_state:state! " + _STAMP_FIELDS
        ),
        (
            Target(
                "quizzes",
                {
                    **_same("assignment_id workflow_state"),
                    "course_id": "{context_id}",
                    "title": "COALESCE({title}, '')",
                    **STAMPS,
                },
                where=_COURSE,
            ),
        ),
    ),
    Cd2Table(
        "quiz_submissions",
        _f(
            "quiz_id:int! user_id:int submission_id:int attempt:int score:float "
            "finished_at:ts workflow_state:state! " + _STAMP_FIELDS
        ),
        (
            Target(
                "quiz_submissions",
                {
                    **_same(
                        "quiz_id user_id submission_id attempt score finished_at workflow_state"
                    ),
                    **STAMPS,
                },
                where="{user_id} IS NOT NULL",
            ),
        ),
    ),
    Cd2Table(
        "assessment_questions",
        _f("name:text workflow_state:state " + _STAMP_FIELDS),
        (
            Target(
                "assessment_questions",
                {
                    "name": "{name}",
                    "workflow_state": "COALESCE({workflow_state}, 'active')",
                    **STAMPS,
                },
            ),
        ),
    ),
    Cd2Table(
        "rubrics",
        _f(
            "context_id:int! context_type:state! title:text points_possible:float "
            "workflow_state:state! " + _STAMP_FIELDS
        ),
        (
            Target(
                "rubrics",
                {
                    **_same("points_possible workflow_state"),
                    "course_id": "{context_id}",
                    "title": "COALESCE({title}, '')",
                    **STAMPS,
                },
                where=_COURSE,
            ),
        ),
    ),
    Cd2Table(
        "rubric_assessments",
        _f(
            "rubric_id:int! user_id:int artifact_id:int! artifact_type:enum score:float "
            + _STAMP_FIELDS
        ),
        (
            Target(
                "rubric_assessments",
                {
                    **_same("rubric_id user_id score"),
                    "submission_id": "CASE WHEN {artifact_type} = 'Submission'"
                    " THEN {artifact_id} END",
                    **STAMPS,
                },
                where="{user_id} IS NOT NULL",
            ),
        ),
    ),
    Cd2Table(
        "learning_outcomes",
        _f(
            "context_type:enum context_id:int short_description:text! description:text "
            "display_name:text vendor_guid:text calculation_method:enum calculation_int:int "
            "data:json workflow_state:state! " + _STAMP_FIELDS
        ),
        (
            Target(
                "learning_outcomes",
                {
                    **_same(
                        "context_type context_id short_description description display_name "
                        "vendor_guid calculation_method calculation_int workflow_state"
                    ),
                    "mastery_points": "{json_float:data:rubric_criterion.mastery_points}",
                    "points_possible": "{json_float:data:rubric_criterion.points_possible}",
                    **STAMPS,
                },
            ),
        ),
        derived=("outcome_ratings",),
    ),
    Cd2Table(
        "learning_outcome_groups",
        _f(
            "context_type:enum context_id:int learning_outcome_group_id:int title:text! "
            "description:text vendor_guid:text workflow_state:state! " + _STAMP_FIELDS
        ),
        (
            Target(
                "learning_outcome_groups",
                {
                    **_same("context_type context_id title description vendor_guid workflow_state"),
                    "parent_group_id": "{learning_outcome_group_id}",
                    **STAMPS,
                },
            ),
        ),
    ),
    Cd2Table(
        "content_tags",
        _f(
            "context_id:int! context_type:state! content_id:int content_type:enum "
            "tag_type:state! learning_outcome_id:int associated_asset_id:int "
            "associated_asset_type:enum workflow_state:state! " + _STAMP_FIELDS
        ),
        (
            Target(
                "learning_outcome_links",
                {
                    **_same("context_type context_id workflow_state"),
                    "learning_outcome_group_id": "{associated_asset_id}",
                    "learning_outcome_id": "{content_id}",
                    **STAMPS,
                },
                where="{tag_type} = 'learning_outcome_association'"
                " AND {content_type} = 'LearningOutcome'"
                " AND {associated_asset_type} = 'LearningOutcomeGroup'"
                " AND {associated_asset_id} IS NOT NULL AND {content_id} IS NOT NULL",
            ),
            Target(
                "learning_outcome_alignments",
                {
                    **_same("learning_outcome_id content_type content_id workflow_state"),
                    "course_id": "{context_id}",
                    **STAMPS,
                },
                where="{tag_type} = 'learning_outcome' AND "
                + _COURSE
                + " AND {learning_outcome_id} IS NOT NULL AND {content_id} IS NOT NULL"
                " AND {content_type} IS NOT NULL",
            ),
        ),
    ),
    Cd2Table(
        "learning_outcome_results",
        _f(
            "user_id:int context_id:int context_type:enum learning_outcome_id:int "
            "content_tag_id:int association_type:enum association_id:int artifact_type:enum "
            "artifact_id:int attempt:int score:float possible:float percent:float "
            "mastery:bool hide_points:bool submitted_at:ts assessed_at:ts "
            "workflow_state:state! " + _STAMP_FIELDS
        ),
        (
            Target(
                "learning_outcome_results",
                {
                    **_same(
                        "user_id learning_outcome_id association_type association_id "
                        "artifact_type artifact_id attempt score possible percent mastery "
                        "submitted_at assessed_at workflow_state"
                    ),
                    "alignment_id": "{content_tag_id}",
                    "course_id": "{context_id}",
                    "hide_points": "COALESCE({hide_points}, FALSE)",
                    **STAMPS,
                },
                where=_COURSE + " AND {user_id} IS NOT NULL AND {learning_outcome_id} IS NOT NULL"
                " AND {content_tag_id} IS NOT NULL AND {context_id} IS NOT NULL",
            ),
        ),
    ),
    Cd2Table(
        "learning_outcome_question_results",
        _f(
            "learning_outcome_result_id:int associated_asset_id:int attempt:int score:float "
            "possible:float percent:float mastery:bool " + _STAMP_FIELDS
        ),
        (
            Target(
                "learning_outcome_question_results",
                {
                    **_same("learning_outcome_result_id attempt score possible percent mastery"),
                    "assessment_question_id": "{associated_asset_id}",
                    "workflow_state": "'active'",
                    **STAMPS,
                },
                where="{learning_outcome_result_id} IS NOT NULL"
                " AND {associated_asset_id} IS NOT NULL",
            ),
        ),
    ),
    Cd2Table(
        "outcome_proficiencies",
        _f("context_id:int! context_type:state! workflow_state:state! " + _STAMP_FIELDS),
        (
            Target(
                "outcome_proficiencies",
                {**_same("context_type context_id workflow_state"), **STAMPS},
            ),
        ),
    ),
    Cd2Table(
        "outcome_proficiency_ratings",
        _f(
            "outcome_proficiency_id:int! description:text! points:float! mastery:bool! "
            "color:text workflow_state:state " + _STAMP_FIELDS
        ),
        (
            Target(
                "outcome_proficiency_ratings",
                {
                    **_same("outcome_proficiency_id description points mastery color"),
                    "position": "1",
                },
                where="COALESCE({workflow_state}, 'active') <> 'deleted'",
            ),
        ),
        derived=("proficiency_positions",),
    ),
)

BY_NAME: dict[str, Cd2Table] = {t.name: t for t in TABLES}


def table(name: str) -> Cd2Table:
    """The declaration of CD2 table ``name`` (KeyError when reportcard does not read it)."""
    return BY_NAME[name]


def order(names: list[str]) -> list[str]:
    """``names`` in the order that satisfies references (unknown names last, as given)."""
    rank = {t.name: i for i, t in enumerate(TABLES)}
    return sorted(names, key=lambda n: rank.get(n, len(rank)))
