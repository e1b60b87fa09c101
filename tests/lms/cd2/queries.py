"""How a reportcard institution reads as CD2 tables: a SELECT per table of tests/lms/cd2/schema.py.

Each query returns the CD2 columns by name (struct members as ``<column>__<member>``), ordered
by the table's key, over a database holding ONE root account (a CD2 credential is bound to one
root account, spec §1). Where reportcard keeps a Canvas value in another shape, the query
writes it the way Canvas (and so CD2) keeps it:

* built-in roles are rows of the root account with ``workflow_state='built_in'``;
* a term's grading period set is ``enrollment_terms.grading_period_group_id``;
* a course's grading scheme is ``courses.grading_standard_id`` (0: Canvas's default scheme);
  a grading standard's entries are its ``data`` (``[[name, lower bound], ...]``);
* blueprints are ``master_courses_master_templates`` (id = the blueprint course's id) and
  ``master_courses_child_subscriptions``;
* course files are ``attachments`` of context ``Course``;
* outcome links and alignments are ``content_tags`` (alignments keep their ids, which results
  name as ``content_tag_id``; links get ids from :data:`LINK_TAG_BASE` on);
* an outcome's rubric criterion is ``learning_outcomes.data`` (``{"rubric_criterion": ...}``);
* an LTI tool's privacy level is its ``workflow_state`` unless it is disabled or deleted, its
  custom fields and LTI 1.3 flag are ``settings.custom_fields`` / ``settings.use_1_3``.

Synthesized keys (user/course account associations) are pure functions of the source row, so
two exports of the same data agree and incrementals can be diffed.

What CD2 does not carry is not written: users' SIS ids (only on pseudonyms), observer links,
ePortfolios, SIS batches, authentication providers, token hints and hashes, developer keys'
visibility and placements, feature flags, outcome friendly descriptions, a disabled tool's
privacy level, accounts' ``sis_batch_id`` and the term's ``is_default`` flag.
"""

from __future__ import annotations

LINK_TAG_BASE = 1_000_000_000  # content_tags ids of outcome links: this + the link's id
ASSOC_FACTOR = 1_000_000  # user_account_associations id: user_id * this + account_id

QUERIES: dict[str, str] = {
    "accounts": """
        SELECT a.id, a.name, NULL AS deleted_at, a.parent_account_id,
          (SELECT s.value FROM account_settings s
           WHERE s.account_id = a.id AND s.name = 'default_locale') AS default_locale,
          a.created_at, a.updated_at, a.workflow_state, a.default_time_zone, a.uuid,
          a.sis_source_id, a.integration_id
        FROM accounts a ORDER BY a.id""",
    "users": """
        SELECT id, NULL AS deleted_at, created_at, updated_at, workflow_state, sortable_name,
          short_name, pronouns, name, time_zone, uuid
        FROM users ORDER BY id""",
    "pseudonyms": """
        SELECT id, integration_id, user_id, created_at, updated_at, workflow_state, account_id,
          sis_batch_id, unique_id, 0 AS login_count, 0 AS failed_login_count, last_request_at,
          current_login_ip, sis_user_id, authentication_provider_id, position
        FROM pseudonyms ORDER BY id""",
    "communication_channels": """
        SELECT c.id, c.path, c.path_type, 0 AS bounce_count, 0 AS confirmation_sent_count,
          c.user_id, u.created_at, u.created_at AS updated_at, c.workflow_state, c.position
        FROM communication_channels c JOIN users u ON u.id = c.user_id ORDER BY c.id""",
    "enrollment_terms": """
        SELECT t.id, t.name, t.integration_id, t.created_at, t.updated_at, t.workflow_state,
          t.sis_batch_id, t.start_at, t.end_at, t.sis_source_id, g.grading_period_group_id
        FROM enrollment_terms t
        LEFT JOIN grading_period_group_terms g ON g.enrollment_term_id = t.id
        ORDER BY t.id""",
    "courses": """
        SELECT c.id, c.integration_id, c.sis_batch_id, c.created_at, c.updated_at,
          c.workflow_state, c.account_id,
          CASE WHEN s.course_id IS NULL THEN NULL ELSE COALESCE(s.grading_standard_id, 0) END
            AS grading_standard_id,
          c.start_at, c.sis_source_id, c.conclude_at, c.is_public,
          FALSE AS allow_student_organized_groups, c.course_code, c.enrollment_term_id,
          c.restrict_enrollments_to_course_dates, FALSE AS template, FALSE AS homeroom_course,
          FALSE AS sync_enrollments_from_homeroom, c.name, NULL AS time_zone,
          NULL AS settings__allow_student_discussion_editing,
          c.course_format AS settings__course_format, NULL AS settings__hide_final_grade,
          NULL AS settings__public_syllabus
        FROM courses c LEFT JOIN course_grading_schemes s ON s.course_id = c.id
        ORDER BY c.id""",
    "course_sections": """
        SELECT id, name, course_id, integration_id, created_at, updated_at, workflow_state,
          sis_batch_id, start_at, end_at, sis_source_id, default_section,
          restrict_enrollments_to_section_dates, nonxlist_course_id
        FROM course_sections ORDER BY id""",
    "roles": """
        SELECT r.id, r.name, root.created_at, root.created_at AS updated_at,
          CASE WHEN r.built_in THEN 'built_in' ELSE r.workflow_state END AS workflow_state,
          COALESCE(r.account_id, root.id) AS account_id, r.base_role_type
        FROM roles r CROSS JOIN accounts root
        WHERE root.parent_account_id IS NULL ORDER BY r.id""",
    "enrollments": """
        SELECT id, sis_batch_id, user_id, created_at, updated_at, workflow_state, role_id,
          start_at, end_at, course_id, course_section_id,
          'unpublished' AS grade_publishing_status, associated_user_id,
          limit_privileges_to_course_section, last_activity_at, sis_pseudonym_id, type
        FROM enrollments ORDER BY id""",
    "account_users": """
        SELECT id, user_id, created_at, updated_at, workflow_state, account_id, role_id
        FROM account_users ORDER BY id""",
    "user_account_associations": f"""
        SELECT x.user_id * {ASSOC_FACTOR} + x.account_id AS id, x.user_id,
          u.created_at, u.created_at AS updated_at, x.account_id, NULL AS depth
        FROM user_account_associations x JOIN users u ON u.id = x.user_id
        ORDER BY 1""",
    "course_account_associations": f"""
        SELECT c.id * {ASSOC_FACTOR} + x.ancestor_id AS id, c.id AS course_id, c.created_at,
          c.created_at AS updated_at, x.ancestor_id AS account_id, NULL AS course_section_id,
          x.depth
        FROM courses c JOIN account_ancestors x ON x.account_id = c.account_id
        ORDER BY 1""",
    "group_categories": """
        SELECT id, name, deleted_at, created_at, updated_at, sis_batch_id, context_id,
          context_type, sis_source_id, role, self_signup, group_limit, auto_leader
        FROM group_categories ORDER BY id""",
    "groups": """
        SELECT id, name, created_at, updated_at, workflow_state, account_id, sis_batch_id,
          context_id, context_type, group_category_id, sis_source_id, max_membership,
          'group-' || CAST(id AS TEXT) AS uuid
        FROM groups ORDER BY id""",
    "group_memberships": """
        SELECT id, user_id, created_at, updated_at, workflow_state, sis_batch_id, group_id,
          'membership-' || CAST(id AS TEXT) AS uuid
        FROM group_memberships ORDER BY id""",
    "master_courses_master_templates": """
        SELECT c.id, c.id AS course_id, c.created_at, c.created_at AS updated_at,
          'active' AS workflow_state, TRUE AS full_course,
          FALSE AS use_default_restrictions_by_type
        FROM courses c
        WHERE c.id IN (SELECT blueprint_course_id FROM blueprint_subscriptions)
        ORDER BY c.id""",
    "master_courses_child_subscriptions": """
        SELECT b.id, c.created_at, c.created_at AS updated_at, b.workflow_state,
          FALSE AS use_selective_copy, b.blueprint_course_id AS master_template_id,
          b.child_course_id
        FROM blueprint_subscriptions b JOIN courses c ON c.id = b.child_course_id
        ORDER BY b.id""",
    "grading_period_groups": """
        SELECT id, root_account_id AS account_id, created_at, updated_at, workflow_state,
          NULL AS course_id, FALSE AS display_totals_for_all_grading_periods, title
        FROM grading_period_groups ORDER BY id""",
    "grading_periods": """
        SELECT id, created_at, updated_at, workflow_state, grading_period_group_id, start_date,
          end_date, close_date, title, weight
        FROM grading_periods ORDER BY id""",
    "grading_standards": """
        SELECT id, title, NULL AS data, context_id, context_type, created_at, updated_at,
          workflow_state
        FROM grading_standards ORDER BY id""",
    "scores": """
        SELECT id, created_at, updated_at, workflow_state, enrollment_id, grading_period_id,
          current_score, final_score, course_score, unposted_current_score,
          unposted_final_score, override_score
        FROM scores ORDER BY id""",
    "assignments": """
        SELECT id, created_at, updated_at, workflow_state, due_at, points_possible,
          submission_types, course_id AS context_id, 'Course' AS context_type, title, type
        FROM assignments ORDER BY id""",
    "submissions": """
        SELECT s.id, a.course_id, s.user_id, s.created_at, s.updated_at, s.workflow_state,
          s.assignment_id, s.score, s.attempt, s.submitted_at, FALSE AS cached_quiz_lti,
          FALSE AS redo_request
        FROM submissions s JOIN assignments a ON a.id = s.assignment_id ORDER BY s.id""",
    "quizzes": """
        SELECT id, created_at, updated_at, workflow_state, course_id AS context_id,
          'Course' AS context_type, assignment_id, title
        FROM quizzes ORDER BY id""",
    "quiz_submissions": """
        SELECT id, submission_id, user_id, created_at, updated_at, workflow_state, quiz_id,
          finished_at, score, attempt, 0.0 AS fudge_points
        FROM quiz_submissions ORDER BY id""",
    "assessment_questions": """
        SELECT id, name, created_at, updated_at, workflow_state
        FROM assessment_questions ORDER BY id""",
    "rubrics": """
        SELECT id, created_at, updated_at, workflow_state, points_possible,
          course_id AS context_id, 'Course' AS context_type, 0 AS association_count, title
        FROM rubrics ORDER BY id""",
    "rubric_assessments": """
        SELECT id, user_id, created_at, updated_at, submission_id AS artifact_id,
          'Submission' AS artifact_type, FALSE AS hide_points, score, rubric_id,
          'grading' AS assessment_type
        FROM rubric_assessments ORDER BY id""",
    "learning_outcomes": """
        SELECT id, display_name,
          CASE WHEN context_type IS NULL THEN NULL
               ELSE LOWER(context_type) || '_' || CAST(context_id AS TEXT) END AS context_code,
          created_at, updated_at, workflow_state, context_id, context_type, vendor_guid,
          calculation_method, calculation_int, short_description, description,
          NULL AS data, mastery_points, points_possible
        FROM learning_outcomes ORDER BY id""",
    "learning_outcome_groups": """
        SELECT id, created_at, updated_at, workflow_state, context_id, context_type,
          parent_group_id AS learning_outcome_group_id,
          NULL AS root_learning_outcome_group_id, vendor_guid, description, title
        FROM learning_outcome_groups ORDER BY id""",
    "content_tags": f"""
        SELECT id, created_at, updated_at, workflow_state, course_id AS context_id,
          'Course' AS context_type, 'course_' || CAST(course_id AS TEXT) AS context_code,
          content_id, 'learning_outcome' AS tag_type, learning_outcome_id,
          NULL AS associated_asset_id, NULL AS associated_asset_type, content_type
        FROM learning_outcome_alignments
        UNION ALL
        SELECT id + {LINK_TAG_BASE}, created_at, updated_at, workflow_state, context_id,
          context_type, LOWER(context_type) || '_' || CAST(context_id AS TEXT),
          learning_outcome_id, 'learning_outcome_association', NULL,
          learning_outcome_group_id, 'LearningOutcomeGroup', 'LearningOutcome'
        FROM learning_outcome_links
        ORDER BY 1""",
    "learning_outcome_results": """
        SELECT id, user_id, created_at, updated_at, workflow_state, course_id AS context_id,
          'Course' AS context_type, learning_outcome_id, score, possible, mastery, attempt,
          assessed_at, submitted_at, association_id, association_type,
          alignment_id AS content_tag_id, artifact_id, artifact_type, hide_points,
          FALSE AS hidden, percent
        FROM learning_outcome_results ORDER BY id""",
    "learning_outcome_question_results": """
        SELECT q.id, q.created_at, q.updated_at, r.learning_outcome_id,
          q.assessment_question_id AS associated_asset_id,
          'AssessmentQuestion' AS associated_asset_type, q.learning_outcome_result_id,
          q.score, q.possible, q.mastery, q.attempt, q.percent
        FROM learning_outcome_question_results q
        JOIN learning_outcome_results r ON r.id = q.learning_outcome_result_id
        ORDER BY q.id""",
    "outcome_proficiencies": """
        SELECT id, created_at, updated_at, workflow_state, context_id, context_type
        FROM outcome_proficiencies ORDER BY id""",
    "outcome_proficiency_ratings": """
        SELECT r.id, p.created_at, p.updated_at, 'active' AS workflow_state, r.mastery,
          r.points, r.outcome_proficiency_id, COALESCE(r.color, '') AS color, r.description
        FROM outcome_proficiency_ratings r
        JOIN outcome_proficiencies p ON p.id = r.outcome_proficiency_id
        ORDER BY r.id""",
    "access_tokens": """
        SELECT id, developer_key_id, user_id, last_used_at, expires_at, purpose, created_at,
          created_at AS updated_at, workflow_state
        FROM access_tokens ORDER BY id""",
    "developer_keys": """
        SELECT id, name, created_at, updated_at, scopes, workflow_state, account_id,
          '' AS redirect_uris, 0 AS access_token_count, FALSE AS require_scopes,
          FALSE AS test_cluster_only, FALSE AS allow_includes, is_lti_key, email
        FROM developer_keys ORDER BY id""",
    "developer_key_account_bindings": """
        SELECT id, account_id, created_at, updated_at, workflow_state, developer_key_id
        FROM developer_key_account_bindings WHERE account_id IS NOT NULL ORDER BY id""",
    "context_external_tools": """
        SELECT id, developer_key_id, created_at, updated_at,
          CASE WHEN workflow_state IN ('disabled', 'deleted') THEN workflow_state
               ELSE privacy_level END AS workflow_state,
          context_id, context_type, 'consumer-' || CAST(id AS TEXT) AS consumer_key, tool_id,
          FALSE AS allow_membership_service_access, name, domain, url,
          custom_fields AS settings__custom_fields, NULL AS settings__enabled,
          NULL AS settings__text,
          CASE WHEN lti_version = '1.3' THEN 'true' ELSE NULL END AS settings__use_1_3
        FROM context_external_tools ORDER BY id""",
    "attachments": """
        SELECT id, NULL AS user_id, created_at, updated_at, 'processed' AS workflow_state,
          course_id AS context_id, 'Course' AS context_type, display_name AS filename,
          FALSE AS locked, file_state, size, display_name, content_type, root_attachment_id
        FROM course_files ORDER BY id""",
    "discussion_topics": """
        SELECT id, CASE WHEN type = 'Announcement' THEN 'Announcement' END AS type, created_at,
          updated_at, workflow_state, course_id AS context_id, 'Course' AS context_type,
          FALSE AS locked, FALSE AS podcast_enabled, FALSE AS podcast_has_student_posts,
          FALSE AS require_initial_post, FALSE AS pinned, FALSE AS allow_rating,
          FALSE AS only_graders_can_rate, FALSE AS sort_by_rating,
          FALSE AS is_section_specific, title
        FROM discussion_topics ORDER BY id""",
    "wiki_pages": """
        SELECT id, created_at, updated_at, workflow_state, course_id AS context_id,
          'Course' AS context_type, course_id AS wiki_id, title, FALSE AS protected_editing
        FROM wiki_pages ORDER BY id""",
    "context_modules": """
        SELECT id, name, created_at, updated_at, workflow_state, course_id AS context_id,
          'Course' AS context_type, position
        FROM context_modules ORDER BY id""",
}

# Side rows folded into a column of the table's rows: table -> SQL of (owner id, ...) rows.
SIDE_QUERIES: dict[str, str] = {
    "grading_standards": """
        SELECT grading_standard_id, name, lower_bound FROM grading_standard_entries
        ORDER BY grading_standard_id, position""",
    "learning_outcomes": """
        SELECT learning_outcome_id, description, points FROM learning_outcome_ratings
        ORDER BY learning_outcome_id, position""",
}
