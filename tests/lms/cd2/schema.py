"""The CD2 tables a test export writes: names, keys, columns and types, from the spec.

Written from ``spec/canvas-data-2.md`` §5 (not from reportcard's importer). Each table lists
the columns the exporter fills, in the spec's order, with the spec's type shorthand:

``i8`` bigint, ``i4`` integer, ``i2`` smallint, ``f8`` double, ``bool``, ``ts`` UTC timestamp,
``date``, ``v255`` varchar(255), ``text``, ``json`` (text holding a JSON document, Canvas's
serialized columns), ``struct`` (a nested object: jsonb; one column per member in expanded
tabular files), ``enum`` (its members follow), ``enum[]`` / ``v255[]`` (arrays).

A column name ending ``!`` is NOT NULL in CD2. Only the columns the reports need (plus the
NOT NULL ones that cost nothing) are listed: a real table has more, which an importer must
ignore anyway (schemas grow).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Col:
    name: str
    type: str
    nullable: bool = True
    enum: tuple[str, ...] = ()  # members besides __dap_unspecified__
    members: tuple[str, ...] = ()  # struct members (expanded layout)


@dataclass(frozen=True)
class Cd2Table:
    name: str
    key: str
    columns: tuple[Col, ...] = field(default_factory=tuple)

    @property
    def key_col(self) -> Col:
        return Col(self.key, "i8", False)


UNSPECIFIED = "__dap_unspecified__"


def _cols(
    spec: str, enums: dict[str, tuple[str, ...]], members: dict[str, tuple[str, ...]]
) -> tuple[Col, ...]:
    out = []
    for item in spec.split():
        name, type_ = item.split(":")
        nullable = not type_.endswith("!")
        type_ = type_.rstrip("!")
        out.append(Col(name, type_, nullable, enums.get(name, ()), members.get(name, ())))
    return tuple(out)


def _t(
    name: str,
    spec: str,
    key: str = "id",
    enums: dict[str, tuple[str, ...]] | None = None,
    members: dict[str, tuple[str, ...]] | None = None,
) -> Cd2Table:
    return Cd2Table(name, key, _cols(spec, enums or {}, members or {}))


def _e(text: str) -> tuple[str, ...]:
    return tuple(text.split("|"))


CONTEXT = _e("Account|Course")
TABLES: tuple[Cd2Table, ...] = (
    _t(
        "accounts",
        "name:v255 deleted_at:ts parent_account_id:i8 default_locale:v255 created_at:ts! "
        "updated_at:ts! workflow_state:enum! default_time_zone:v255 uuid:v255 "
        "sis_source_id:v255 integration_id:v255",
        enums={"workflow_state": _e("active|deleted|suspended")},
    ),
    _t(
        "users",
        "deleted_at:ts created_at:ts! updated_at:ts! workflow_state:enum! sortable_name:v255 "
        "short_name:v255 pronouns:text name:v255 time_zone:v255 uuid:v255",
        enums={
            "workflow_state": _e(
                "creation_pending|deleted|pending_approval|pre_registered|registered"
            )
        },
    ),
    _t(
        "pseudonyms",
        "integration_id:v255 user_id:i8! created_at:ts! updated_at:ts! workflow_state:enum! "
        "account_id:i8! sis_batch_id:i8 unique_id:v255! login_count:i4! failed_login_count:i4! "
        "last_request_at:ts current_login_ip:v255 sis_user_id:v255 "
        "authentication_provider_id:i8 position:i4",
        enums={"workflow_state": _e("active|deleted|suspended")},
    ),
    _t(
        "communication_channels",
        "path:v255! path_type:v255! bounce_count:i4! confirmation_sent_count:i4! user_id:i8! "
        "created_at:ts! updated_at:ts! workflow_state:enum! position:i4",
        enums={"workflow_state": _e("unconfirmed|active|retired")},
    ),
    _t(
        "enrollment_terms",
        "name:v255 integration_id:v255 created_at:ts! updated_at:ts! workflow_state:enum! "
        "sis_batch_id:i8 start_at:ts end_at:ts sis_source_id:v255 grading_period_group_id:i8",
        enums={"workflow_state": _e("active|deleted")},
    ),
    _t(
        "courses",
        "integration_id:v255 sis_batch_id:i8 created_at:ts! updated_at:ts! workflow_state:enum! "
        "account_id:i8! grading_standard_id:i8 start_at:ts sis_source_id:v255 conclude_at:ts "
        "is_public:bool allow_student_organized_groups:bool! course_code:v255 "
        "enrollment_term_id:i8! restrict_enrollments_to_course_dates:bool template:bool! "
        "homeroom_course:bool! sync_enrollments_from_homeroom:bool! name:v255 time_zone:v255 "
        "settings:struct",
        enums={"workflow_state": _e("created|claimed|available|completed|deleted")},
        members={
            "settings": (
                "allow_student_discussion_editing",
                "course_format",
                "hide_final_grade",
                "public_syllabus",
            )
        },
    ),
    _t(
        "course_sections",
        "name:v255! course_id:i8! integration_id:v255 created_at:ts! updated_at:ts! "
        "workflow_state:enum! sis_batch_id:i8 start_at:ts end_at:ts sis_source_id:v255 "
        "default_section:bool restrict_enrollments_to_section_dates:bool nonxlist_course_id:i8",
        enums={"workflow_state": _e("active|deleted")},
    ),
    _t(
        "roles",
        "name:v255! created_at:ts! updated_at:ts! workflow_state:enum! account_id:i8 "
        "base_role_type:enum!",
        enums={
            "workflow_state": _e("active|built_in|deleted|inactive"),
            "base_role_type": _e(
                "AccountAdmin|AccountMembership|DesignerEnrollment|NoPermissions|"
                "ObserverEnrollment|StudentEnrollment|TaEnrollment|TeacherEnrollment"
            ),
        },
    ),
    _t(
        "enrollments",
        "sis_batch_id:i8 user_id:i8! created_at:ts! updated_at:ts! workflow_state:enum! "
        "role_id:i8! start_at:ts end_at:ts course_id:i8! course_section_id:i8! "
        "grade_publishing_status:v255! associated_user_id:i8 "
        "limit_privileges_to_course_section:bool! last_activity_at:ts sis_pseudonym_id:i8 "
        "type:enum!",
        enums={
            "workflow_state": _e(
                "creation_pending|invited|rejected|active|inactive|completed|deleted"
            ),
            "type": _e(
                "StudentEnrollment|TeacherEnrollment|TaEnrollment|DesignerEnrollment|"
                "ObserverEnrollment|StudentViewEnrollment"
            ),
        },
    ),
    _t(
        "account_users",
        "user_id:i8! created_at:ts! updated_at:ts! workflow_state:enum! account_id:i8! role_id:i8!",
        enums={"workflow_state": _e("active|deleted")},
    ),
    _t(
        "user_account_associations",
        "user_id:i8! created_at:ts! updated_at:ts! account_id:i8! depth:i4",
    ),
    _t(
        "course_account_associations",
        "course_id:i8! created_at:ts! updated_at:ts! account_id:i8! course_section_id:i8 depth:i4!",
    ),
    _t(
        "group_categories",
        "name:v255 deleted_at:ts created_at:ts updated_at:ts sis_batch_id:i8 context_id:i8 "
        "context_type:enum! sis_source_id:text role:enum self_signup:v255 group_limit:i4 "
        "auto_leader:v255",
        enums={"context_type": CONTEXT, "role": _e("communities|student_organized|imported")},
    ),
    _t(
        "groups",
        "name:v255 created_at:ts! updated_at:ts! workflow_state:enum! account_id:i8! "
        "sis_batch_id:i8 context_id:i8! context_type:enum! group_category_id:i8 "
        "sis_source_id:v255 max_membership:i4 uuid:v255!",
        enums={"workflow_state": _e("available|deleted|active"), "context_type": CONTEXT},
    ),
    _t(
        "group_memberships",
        "user_id:i8! created_at:ts! updated_at:ts! workflow_state:enum! sis_batch_id:i8 "
        "group_id:i8! uuid:v255!",
        enums={"workflow_state": _e("accepted|deleted|invited|rejected|requested")},
    ),
    _t(
        "master_courses_master_templates",
        "course_id:i8! created_at:ts! updated_at:ts! workflow_state:enum full_course:bool! "
        "use_default_restrictions_by_type:bool!",
        enums={"workflow_state": _e("active|deleted")},
    ),
    _t(
        "master_courses_child_subscriptions",
        "created_at:ts! updated_at:ts! workflow_state:enum! use_selective_copy:bool! "
        "master_template_id:i8! child_course_id:i8!",
        enums={"workflow_state": _e("active|deleted")},
    ),
    _t(
        "grading_period_groups",
        "account_id:i8 created_at:ts! updated_at:ts! workflow_state:enum! course_id:i8 "
        "display_totals_for_all_grading_periods:bool! title:v255",
        enums={"workflow_state": _e("active|deleted")},
    ),
    _t(
        "grading_periods",
        "created_at:ts! updated_at:ts! workflow_state:enum! grading_period_group_id:i8! "
        "start_date:ts! end_date:ts! close_date:ts title:v255 weight:f8",
        enums={"workflow_state": _e("active|deleted")},
    ),
    # Not detailed in the spec (listed under "other exported tables"): Canvas's own columns.
    _t(
        "grading_standards",
        "title:v255 data:json context_id:i8! context_type:v255! created_at:ts! updated_at:ts! "
        "workflow_state:v255!",
    ),
    _t(
        "scores",
        "created_at:ts updated_at:ts workflow_state:enum! enrollment_id:i8! grading_period_id:i8 "
        "current_score:f8 final_score:f8 course_score:bool! unposted_current_score:f8 "
        "unposted_final_score:f8 override_score:f8",
        enums={"workflow_state": _e("active|deleted")},
    ),
    _t(
        "assignments",
        "created_at:ts updated_at:ts workflow_state:enum! due_at:ts points_possible:f8 "
        "submission_types:enum[]! context_id:i8! context_type:enum! title:v255 type:enum",
        enums={
            "workflow_state": _e(
                "unpublished|published|deleted|duplicating|fail_to_import|"
                "failed_to_duplicate|failed_to_import|failed_to_migrate|importing|migrating"
            ),
            "submission_types": _e(
                "discussion_topic|online_quiz|external_tool|online_text_entry|online_url|"
                "online_upload|media_recording|not_graded|student_annotation|"
                "default_external_tool|none|on_paper|wiki_page"
            ),
            "context_type": _e("Course"),
            "type": _e("Assignment|SubAssignment"),
        },
    ),
    _t(
        "submissions",
        "course_id:i8! user_id:i8! created_at:ts updated_at:ts workflow_state:enum! "
        "assignment_id:i8! score:f8 attempt:i4 submitted_at:ts cached_quiz_lti:bool! "
        "redo_request:bool!",
        enums={"workflow_state": _e("graded|pending_review|submitted|unsubmitted|deleted")},
    ),
    _t(
        "quizzes",
        "created_at:ts! updated_at:ts! workflow_state:enum! context_id:i8! context_type:enum! "
        "assignment_id:i8 title:v255",
        enums={
            "workflow_state": _e("created|edited|unpublished|deleted|available"),
            "context_type": _e("Course"),
        },
    ),
    _t(
        "quiz_submissions",
        "submission_id:i8 user_id:i8 created_at:ts! updated_at:ts! workflow_state:enum! "
        "quiz_id:i8! finished_at:ts score:f8 attempt:i4 fudge_points:f8!",
        enums={"workflow_state": _e("complete|pending_review|preview|settings_only|untaken")},
    ),
    # Not detailed in the spec: Canvas's own columns.
    _t(
        "assessment_questions",
        "name:v255 created_at:ts! updated_at:ts! workflow_state:v255!",
    ),
    _t(
        "rubrics",
        "created_at:ts! updated_at:ts! workflow_state:enum! points_possible:f8 context_id:i8! "
        "context_type:enum! association_count:i4! title:v255",
        enums={"workflow_state": _e("active|deleted"), "context_type": CONTEXT},
    ),
    _t(
        "rubric_assessments",
        "user_id:i8 created_at:ts! updated_at:ts! artifact_id:i8! artifact_type:enum! "
        "hide_points:bool! score:f8 rubric_id:i8! assessment_type:enum!",
        enums={
            "artifact_type": _e("Submission|ModeratedGrading::ProvisionalGrade"),
            "assessment_type": _e("grading|peer_review|self_assessment"),
        },
    ),
    _t(
        "learning_outcomes",
        "display_name:v255 context_code:v255 created_at:ts! updated_at:ts! workflow_state:enum! "
        "context_id:i8 context_type:enum vendor_guid:v255 calculation_method:enum "
        "calculation_int:i2 short_description:v255! description:text data:json",
        enums={
            "workflow_state": _e("active|deleted|retired"),
            "context_type": CONTEXT,
            "calculation_method": _e(
                "decaying_average|average|highest|latest|n_mastery|weighted_average|"
                "standard_decaying_average"
            ),
        },
    ),
    _t(
        "learning_outcome_groups",
        "created_at:ts! updated_at:ts! workflow_state:enum! context_id:i8 context_type:enum "
        "learning_outcome_group_id:i8 root_learning_outcome_group_id:i8 vendor_guid:v255 "
        "description:text title:v255!",
        enums={
            "workflow_state": _e("active|deleted"),
            "context_type": _e("Account|Course|College|Department"),
        },
    ),
    _t(
        "content_tags",
        "created_at:ts! updated_at:ts! workflow_state:enum! context_id:i8! context_type:enum! "
        "context_code:v255 content_id:i8 tag_type:enum! learning_outcome_id:i8 "
        "associated_asset_id:i8 associated_asset_type:enum content_type:enum",
        enums={
            "workflow_state": _e("active|unpublished|deleted"),
            "context_type": _e("Account|Assignment|Course|LearningOutcomeGroup|Quizzes::Quiz|User"),
            "tag_type": _e("context_module|default|learning_outcome|learning_outcome_association"),
            "associated_asset_type": _e("LearningOutcomeGroup|Lti::ResourceLink"),
            "content_type": _e(
                "Announcement|AssessmentQuestionBank|Assignment|Attachment|ContextExternalTool|"
                "ContextModuleSubHeader|DiscussionTopic|ExternalUrl|LearningOutcome|"
                "LearningOutcomeGroup|LiveAssessments::Assessment|Lti::MessageHandler|"
                "Quizzes::Quiz|Rubric|WikiPage"
            ),
        },
    ),
    _t(
        "learning_outcome_results",
        "user_id:i8 created_at:ts! updated_at:ts! workflow_state:enum! context_id:i8 "
        "context_type:enum learning_outcome_id:i8 score:f8 possible:f8 mastery:bool attempt:i4 "
        "assessed_at:ts submitted_at:ts association_id:i8 association_type:enum "
        "content_tag_id:i8 artifact_id:i8 artifact_type:enum hide_points:bool! hidden:bool! "
        "percent:f8",
        enums={
            "workflow_state": _e("active|deleted"),
            "context_type": _e("Course"),
            "association_type": _e("Assignment|Quizzes::Quiz|RubricAssociation"),
            "artifact_type": _e(
                "LiveAssessments::Submission|Quizzes::QuizSubmission|RubricAssessment|Submission"
            ),
        },
    ),
    _t(
        "learning_outcome_question_results",
        "created_at:ts! updated_at:ts! learning_outcome_id:i8 associated_asset_id:i8 "
        "associated_asset_type:enum! learning_outcome_result_id:i8 score:f8 possible:f8 "
        "mastery:bool attempt:i4 percent:f8",
        enums={"associated_asset_type": _e("AssessmentQuestion")},
    ),
    _t(
        "outcome_proficiencies",
        "created_at:ts! updated_at:ts! workflow_state:enum! context_id:i8! context_type:enum!",
        enums={"workflow_state": _e("active|deleted"), "context_type": CONTEXT},
    ),
    _t(
        "outcome_proficiency_ratings",
        "created_at:ts! updated_at:ts! workflow_state:enum! mastery:bool! points:f8! "
        "outcome_proficiency_id:i8! color:text! description:v255!",
        enums={"workflow_state": _e("active|deleted")},
    ),
    # developer_key_id is NOT NULL in CD2: Canvas gives user-generated tokens its built-in
    # "User-Generated" key. reportcard's own tokens have none, and the export keeps them
    # without one (the token report names them "User-Generated" either way).
    _t(
        "access_tokens",
        "developer_key_id:i8 user_id:i8 last_used_at:ts expires_at:ts purpose:v255 "
        "created_at:ts! updated_at:ts! workflow_state:enum!",
        enums={"workflow_state": _e("active|deleted|pending")},
    ),
    _t(
        "developer_keys",
        "name:v255 created_at:ts! updated_at:ts! scopes:json workflow_state:enum! account_id:i8 "
        "redirect_uris:v255[]! access_token_count:i4! require_scopes:bool! "
        "test_cluster_only:bool! allow_includes:bool! is_lti_key:bool! email:v255",
        enums={"workflow_state": _e("active|deleted|inactive")},
    ),
    _t(
        "developer_key_account_bindings",
        "account_id:i8! created_at:ts! updated_at:ts! workflow_state:enum! developer_key_id:i8!",
        enums={"workflow_state": _e("on|allow|off")},
    ),
    _t(
        "context_external_tools",
        "developer_key_id:i8 created_at:ts! updated_at:ts! workflow_state:enum! context_id:i8 "
        "context_type:enum consumer_key:text! tool_id:v255 "
        "allow_membership_service_access:bool! name:v255! domain:v255 url:v4096 settings:struct",
        enums={
            "workflow_state": _e("anonymous|email_only|name_only|public|disabled|deleted"),
            "context_type": CONTEXT,
        },
        members={"settings": ("custom_fields", "enabled", "text", "use_1_3")},
    ),
    _t(
        "attachments",
        "user_id:i8 created_at:ts updated_at:ts workflow_state:enum context_id:i8 "
        "context_type:enum filename:text locked:bool! file_state:enum! size:i8 "
        "display_name:text content_type:v255 root_attachment_id:i8",
        enums={
            "workflow_state": _e("deleted|errored|pending_upload|processed|processing"),
            "context_type": _e("Account|Course|Group|User"),
            "file_state": _e("unpublished|published|deleted|available|hidden|errored|broken"),
        },
    ),
    _t(
        "discussion_topics",
        "type:enum created_at:ts! updated_at:ts! workflow_state:enum! context_id:i8! "
        "context_type:enum! locked:bool! podcast_enabled:bool! podcast_has_student_posts:bool! "
        "require_initial_post:bool! pinned:bool! allow_rating:bool! only_graders_can_rate:bool! "
        "sort_by_rating:bool! is_section_specific:bool! title:v255",
        enums={
            "type": _e("Announcement"),
            "workflow_state": _e("active|deleted|locked|post_delayed|unpublished"),
            "context_type": _e("Course|Group"),
        },
    ),
    _t(
        "wiki_pages",
        "created_at:ts! updated_at:ts! workflow_state:enum! context_id:i8! context_type:enum! "
        "wiki_id:i8! title:v255 protected_editing:bool!",
        enums={
            "workflow_state": _e("active|deleted|post_delayed|unpublished"),
            "context_type": _e("Course|Group"),
        },
    ),
    _t(
        "context_modules",
        "name:text created_at:ts! updated_at:ts! workflow_state:enum! context_id:i8! "
        "context_type:enum! position:i4",
        enums={"workflow_state": _e("active|deleted|unpublished"), "context_type": _e("Course")},
    ),
)

BY_NAME = {t.name: t for t in TABLES}
