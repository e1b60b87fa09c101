"""The synthetic institution generator: determinism, shape, integrity, a second root."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, inspect, select, text

from reportcard.db.engine import dispose_all, make_engine
from reportcard.db.tables import courses, sis_batches, users
from reportcard.lms.synthetic import SIZES, SeedResult, seed
from reportcard.lms.synthetic.clock import ANCHOR, ts
from reportcard.lms.synthetic.model import TABLES
from tests.databases import drop_database, fresh_database_url
from tests.stored_names import assert_names_stored
from tests.stored_score_text import assert_score_text


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[Callable[[], Engine]]:
    """Makes new migrated databases in the lane under test; drops them after the test."""
    urls: list[str] = []

    def make() -> Engine:
        urls.append(fresh_database_url(tmp_path))
        return make_engine(urls[-1])

    yield make
    dispose_all()
    for url in urls:
        drop_database(url)


def _dump(engine: Engine, tables: tuple[str, ...] = TABLES) -> dict[str, list[tuple]]:
    with engine.connect() as conn:
        return {
            t: [tuple(r) for r in conn.execute(text(f"SELECT * FROM {t} ORDER BY id"))]
            for t in tables
        }


def _scalar(conn: Connection, sql: str, **params: object) -> int:
    return int(conn.execute(text(sql), params).scalar_one())


def _count(conn: Connection, sql: str, **params: object) -> int:
    return _scalar(conn, f"SELECT COUNT(*) FROM ({sql}) q", **params)


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, SeedResult]]:
    """One small institution shared by the read-only tests of this module."""
    url = fresh_database_url(tmp_path_factory.mktemp("small"))
    engine = make_engine(url)
    yield engine, seed(engine, "small", 1)
    dispose_all()
    drop_database(url)


# ---------------------------------------------------------------- sizes and counts
def test_tiny_counts_match_the_size_and_the_database(engine: Engine) -> None:
    result = seed(engine, "tiny", 1)
    size = SIZES["tiny"]
    assert result.counts["users"] == size.users
    assert result.counts["courses"] == size.courses
    assert result.counts["accounts"] == 1 + size.sub_accounts
    assert result.counts["enrollment_terms"] == 1 + size.sis_terms
    assert 0.6 * size.enrollments <= result.counts["enrollments"] <= 1.4 * size.enrollments
    with engine.connect() as conn:
        for table in TABLES:
            assert result.counts[table] == _scalar(conn, f"SELECT COUNT(*) FROM {table}"), table
        assert result.counts["account_ancestors"] == _scalar(
            conn, "SELECT COUNT(*) FROM account_ancestors"
        )
        assert result.counts["user_account_associations"] == _scalar(
            conn, "SELECT COUNT(*) FROM user_account_associations"
        )


def test_small_is_near_its_targets(small: tuple[Engine, SeedResult]) -> None:
    _, result = small
    size = SIZES["small"]
    assert result.counts["users"] == size.users
    assert result.counts["courses"] == size.courses
    assert 0.9 * size.enrollments <= result.counts["enrollments"] <= 1.1 * size.enrollments


def test_unknown_size_is_rejected(engine: Engine) -> None:
    with pytest.raises(ValueError, match="unknown size"):
        seed(engine, "huge")


def test_progress_reports_every_table_and_finishes_each(engine: Engine) -> None:
    calls: list[tuple[str, int, int]] = []
    seed(engine, "tiny", 1, progress=lambda t, d, n: calls.append((t, d, n)))
    finished = {t for t, d, n in calls if d == n}
    assert set(TABLES) <= finished
    assert "user_account_associations" in finished
    for table in {t for t, _, _ in calls}:
        mine = [(d, n) for t, d, n in calls if t == table]
        assert [d for d, _ in mine] == sorted(d for d, _ in mine), table
        assert mine[-1][0] == mine[-1][1], table
        assert sum(1 for d, n in mine if d == n and d) <= 1, table


# ---------------------------------------------------------------- determinism
def test_same_seed_gives_the_same_rows(fresh: Callable[[], Engine]) -> None:
    a, b = fresh(), fresh()
    seed(a, "small", 7)
    seed(b, "small", 7)
    dump_a, dump_b = _dump(a), _dump(b)
    for table in TABLES:
        assert dump_a[table] == dump_b[table], table


def test_different_seeds_give_different_rows(fresh: Callable[[], Engine]) -> None:
    a, b = fresh(), fresh()
    seed(a, "tiny", 1)
    seed(b, "tiny", 2)
    dump_a, dump_b = _dump(a), _dump(b)
    for table in ("users", "pseudonyms", "courses", "enrollments"):
        assert dump_a[table] != dump_b[table], table


# ---------------------------------------------------------------- the admin logins
def test_admin_login_has_account_admin_on_the_root(engine: Engine) -> None:
    result = seed(engine, "tiny", 3)
    root = result.root_account_id
    with engine.connect() as conn:
        admins = conn.execute(
            text(
                "SELECT au.account_id, r.name, r.built_in, au.workflow_state, p.workflow_state "
                "FROM pseudonyms p JOIN account_users au ON au.user_id = p.user_id "
                "JOIN roles r ON r.id = au.role_id WHERE p.unique_id = 'admin' "
                "AND p.account_id = :root"
            ),
            {"root": root},
        ).all()
        assert [tuple(a) for a in admins] == [(root, "AccountAdmin", 1, "active", "active")]
        first_sub = _scalar(
            conn, "SELECT MIN(id) FROM accounts WHERE parent_account_id = :root", root=root
        )
        sub = conn.execute(
            text(
                "SELECT au.account_id, r.name FROM pseudonyms p JOIN account_users au "
                "ON au.user_id = p.user_id JOIN roles r ON r.id = au.role_id "
                "WHERE p.unique_id = 'subadmin' AND p.account_id = :root "
                "AND au.workflow_state = 'active'"
            ),
            {"root": root},
        ).all()
        assert [tuple(s) for s in sub] == [(first_sub, "AccountAdmin")]
        roles = text("SELECT name, permissions FROM roles WHERE base_role_type = :b")
        perms = {name: p for name, p in conn.execute(roles, {"b": "AccountMembership"})}
        assert perms == {
            "AccountAdmin": "",
            "Report Viewer": "read_reports",
            "Help Desk": "read_roster view_user_logins manage_user_logins",
        }


# ---------------------------------------------------------------- integrity
# Each query returns the offending rows; all must be empty.
INTEGRITY = {
    "enrollment section belongs to its course": """
        SELECT e.id FROM enrollments e JOIN course_sections s ON s.id = e.course_section_id
        WHERE s.course_id != e.course_id""",
    "enrollment orphans": """
        SELECT e.id FROM enrollments e
        LEFT JOIN users u ON u.id = e.user_id LEFT JOIN courses c ON c.id = e.course_id
        LEFT JOIN course_sections s ON s.id = e.course_section_id
        LEFT JOIN roles r ON r.id = e.role_id
        WHERE u.id IS NULL OR c.id IS NULL OR s.id IS NULL OR r.id IS NULL
           OR e.root_account_id != c.root_account_id OR s.root_account_id != c.root_account_id""",
    "enrollment type matches its role": """
        SELECT e.id FROM enrollments e JOIN roles r ON r.id = e.role_id
        WHERE r.base_role_type != CASE e.type WHEN 'StudentViewEnrollment'
              THEN 'StudentEnrollment' ELSE e.type END""",
    "sis_pseudonym_id is a login of the enrollment's user on its root": """
        SELECT e.id FROM enrollments e LEFT JOIN pseudonyms p ON p.id = e.sis_pseudonym_id
        WHERE e.sis_pseudonym_id IS NOT NULL AND (p.id IS NULL OR p.user_id != e.user_id
              OR p.account_id != e.root_account_id OR p.sis_user_id IS NULL)""",
    "observer enrollments follow an active observer link": """
        SELECT e.id FROM enrollments e
        LEFT JOIN user_observers o ON o.observer_id = e.user_id
             AND o.user_id = e.associated_user_id AND o.workflow_state = 'active'
        WHERE (e.type = 'ObserverEnrollment') != (e.associated_user_id IS NOT NULL)
           OR (e.type = 'ObserverEnrollment' AND o.id IS NULL)""",
    "observed students are enrolled in the same section": """
        SELECT e.id FROM enrollments e WHERE e.type = 'ObserverEnrollment' AND NOT EXISTS (
            SELECT 1 FROM enrollments s WHERE s.user_id = e.associated_user_id
            AND s.course_section_id = e.course_section_id AND s.type = 'StudentEnrollment')""",
    "no duplicate enrollments": """
        SELECT user_id FROM enrollments
        GROUP BY user_id, course_section_id, type, role_id, COALESCE(associated_user_id, 0)
        HAVING COUNT(*) > 1""",
    "Student View enrollments are exactly the test students": """
        SELECT u.id FROM users u WHERE u.is_test_student != EXISTS (
            SELECT 1 FROM enrollments e WHERE e.user_id = u.id
            AND e.type = 'StudentViewEnrollment')""",
    "cross-listed sections point at two different courses of one root": """
        SELECT s.id FROM course_sections s JOIN courses c ON c.id = s.course_id
        JOIN courses o ON o.id = s.nonxlist_course_id
        WHERE s.course_id = s.nonxlist_course_id OR c.root_account_id != o.root_account_id
           OR c.enrollment_term_id != o.enrollment_term_id""",
    "every course has exactly one default section of its own": """
        SELECT c.id FROM courses c LEFT JOIN course_sections s ON s.course_id = c.id
             AND s.default_section AND s.nonxlist_course_id IS NULL
        GROUP BY c.id HAVING COUNT(s.id) != 1""",
    "courses live in accounts and terms of their root": """
        SELECT c.id FROM courses c LEFT JOIN accounts a ON a.id = c.account_id
        LEFT JOIN enrollment_terms t ON t.id = c.enrollment_term_id
        WHERE a.id IS NULL OR t.id IS NULL OR t.root_account_id != c.root_account_id
           OR COALESCE(a.root_account_id, a.id) != c.root_account_id""",
    "accounts hang off an existing parent in the same root": """
        SELECT a.id FROM accounts a LEFT JOIN accounts p ON p.id = a.parent_account_id
        WHERE (a.parent_account_id IS NULL) != (a.root_account_id IS NULL)
           OR (p.id IS NULL AND a.parent_account_id IS NOT NULL)
           OR (a.root_account_id IS NOT NULL
               AND COALESCE(p.root_account_id, p.id) != a.root_account_id)""",
    "logins belong to users and root accounts": """
        SELECT p.id FROM pseudonyms p LEFT JOIN users u ON u.id = p.user_id
        LEFT JOIN accounts a ON a.id = p.account_id
        WHERE u.id IS NULL OR a.id IS NULL OR a.root_account_id IS NOT NULL""",
    "login and SIS ids are unique per root": """
        SELECT account_id FROM pseudonyms GROUP BY account_id, unique_id HAVING COUNT(*) > 1
        UNION ALL SELECT account_id FROM pseudonyms WHERE sis_user_id IS NOT NULL
        GROUP BY account_id, sis_user_id HAVING COUNT(*) > 1
        UNION ALL SELECT root_account_id FROM courses WHERE sis_source_id IS NOT NULL
        GROUP BY root_account_id, sis_source_id HAVING COUNT(*) > 1
        UNION ALL SELECT root_account_id FROM course_sections WHERE sis_source_id IS NOT NULL
        GROUP BY root_account_id, sis_source_id HAVING COUNT(*) > 1
        UNION ALL SELECT root_account_id FROM accounts WHERE sis_source_id IS NOT NULL
        GROUP BY root_account_id, sis_source_id HAVING COUNT(*) > 1
        UNION ALL SELECT root_account_id FROM groups WHERE sis_source_id IS NOT NULL
        GROUP BY root_account_id, sis_source_id HAVING COUNT(*) > 1
        UNION ALL SELECT root_account_id FROM enrollment_terms WHERE sis_source_id IS NOT NULL
        GROUP BY root_account_id, sis_source_id HAVING COUNT(*) > 1""",
    "channels, observer links and admins have their users": """
        SELECT c.id FROM communication_channels c LEFT JOIN users u ON u.id = c.user_id
        WHERE u.id IS NULL
        UNION ALL SELECT o.id FROM user_observers o LEFT JOIN users s ON s.id = o.user_id
        LEFT JOIN users b ON b.id = o.observer_id WHERE s.id IS NULL OR b.id IS NULL
        UNION ALL SELECT a.id FROM account_users a LEFT JOIN users u ON u.id = a.user_id
        LEFT JOIN accounts c ON c.id = a.account_id LEFT JOIN roles r ON r.id = a.role_id
        WHERE u.id IS NULL OR c.id IS NULL OR r.base_role_type != 'AccountMembership'""",
    "groups sit in their category's context": """
        SELECT g.id FROM groups g LEFT JOIN group_categories gc ON gc.id = g.group_category_id
        LEFT JOIN accounts a ON a.id = g.account_id
        WHERE gc.id IS NULL OR a.id IS NULL OR gc.context_type != g.context_type
           OR gc.context_id != g.context_id OR gc.root_account_id != g.root_account_id""",
    "course groups use the course's account": """
        SELECT g.id FROM groups g JOIN courses c ON c.id = g.context_id
        WHERE g.context_type = 'Course' AND g.account_id != c.account_id""",
    "course group members are students of the course": """
        SELECT m.id FROM group_memberships m JOIN groups g ON g.id = m.group_id
        WHERE g.context_type = 'Course' AND NOT EXISTS (SELECT 1 FROM enrollments e
            WHERE e.course_id = g.context_id AND e.user_id = m.user_id)""",
    "memberships have groups and users": """
        SELECT m.id FROM group_memberships m LEFT JOIN groups g ON g.id = m.group_id
        LEFT JOIN users u ON u.id = m.user_id WHERE g.id IS NULL OR u.id IS NULL""",
    "blueprint subscriptions link two courses": """
        SELECT b.id FROM blueprint_subscriptions b
        LEFT JOIN courses p ON p.id = b.blueprint_course_id
        LEFT JOIN courses c ON c.id = b.child_course_id
        WHERE p.id IS NULL OR c.id IS NULL OR p.id = c.id""",
    "every sis_batch_id is a batch of the row's root": """
        SELECT x.b FROM (
            SELECT sis_batch_id b, root_account_id r FROM enrollments
            UNION ALL SELECT sis_batch_id, root_account_id FROM courses
            UNION ALL SELECT sis_batch_id, root_account_id FROM course_sections
            UNION ALL SELECT sis_batch_id, root_account_id FROM enrollment_terms
            UNION ALL SELECT sis_batch_id, COALESCE(root_account_id, id) FROM accounts
            UNION ALL SELECT sis_batch_id, account_id FROM pseudonyms
            UNION ALL SELECT sis_batch_id, root_account_id FROM user_observers
            UNION ALL SELECT sis_batch_id, root_account_id FROM account_users
            UNION ALL SELECT sis_batch_id, root_account_id FROM groups
            UNION ALL SELECT sis_batch_id, root_account_id FROM group_categories
            UNION ALL SELECT m.sis_batch_id, g.root_account_id FROM group_memberships m
                JOIN groups g ON g.id = m.group_id
        ) x LEFT JOIN sis_batches b ON b.id = x.b
        WHERE x.b IS NOT NULL AND (b.id IS NULL OR b.account_id != x.r)""",
}


@pytest.mark.parametrize("name", sorted(INTEGRITY))
def test_integrity(small: tuple[Engine, SeedResult], name: str) -> None:
    engine, _ = small
    with engine.connect() as conn:
        bad = conn.execute(text(INTEGRITY[name] + " LIMIT 5")).all()
    assert bad == [], name


@pytest.mark.slow
def _schema(engine: Engine) -> dict[str, tuple[object, ...]]:
    """Every table's indexes, unique constraints and foreign keys, comparably."""
    insp = inspect(engine)
    out: dict[str, tuple[object, ...]] = {}
    for table in insp.get_table_names():
        out[table] = (
            sorted((i["name"] or "", tuple(i["column_names"])) for i in insp.get_indexes(table)),
            sorted(str(u["column_names"]) for u in insp.get_unique_constraints(table)),
            sorted(
                (tuple(f["constrained_columns"]), f["referred_table"])
                for f in insp.get_foreign_keys(table)
            ),
        )
    return out


def test_medium_integrity(fresh: Callable[[], Engine]) -> None:
    engine = fresh()
    before = _schema(engine)
    result = seed(engine, "medium", 5)
    assert 0.9 * SIZES["medium"].enrollments <= result.counts["enrollments"]
    with engine.connect() as conn:
        for name, sql in INTEGRITY.items():
            assert conn.execute(text(sql + " LIMIT 5")).all() == [], name
        # Students cluster in their colleges: departments see a part of the users, not all.
        per_dept = (
            conn.execute(
                text(
                    "SELECT COUNT(*) FROM user_account_associations x JOIN account_ancestors aa "
                    "ON aa.account_id = x.account_id AND aa.depth = 2 GROUP BY x.account_id"
                )
            )
            .scalars()
            .all()
        )
        assert per_dept and max(per_dept) < 0.75 * result.counts["users"]
    # The indexes and keys dropped for the bulk load are all back, exactly as they were.
    assert _schema(engine) == before
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            synchronous = conn.connection.driver_connection.execute("PRAGMA synchronous")
            assert synchronous.fetchone()[0] == 1  # NORMAL again after the load


def test_crosslisted_enrollments_are_in_the_current_course(
    small: tuple[Engine, SeedResult],
) -> None:
    engine, _ = small
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT s.id, s.course_id, COUNT(e.id), "
                "SUM(CASE WHEN e.course_id = s.course_id THEN 1 ELSE 0 END) "
                "FROM course_sections s JOIN enrollments e ON e.course_section_id = s.id "
                "WHERE s.nonxlist_course_id IS NOT NULL GROUP BY s.id, s.course_id"
            )
        ).all()
    assert rows, "no cross-listed section has enrollments"
    assert all(n == same for _, _, n, same in rows)


# ---------------------------------------------------------------- realism
REALISM = {
    "sortable names needing CSV quoting": "SELECT id FROM users WHERE sortable_name LIKE '%,%'",
    "names with a double quote": """SELECT id FROM users WHERE name LIKE '%"%'""",
    "names with an apostrophe": "SELECT id FROM users WHERE name LIKE '%''%'",
    "non-ASCII names": "SELECT id FROM users WHERE name LIKE '%ë%' OR name LIKE '%ễ%'",
    "name suffixes": "SELECT id FROM users WHERE sortable_name LIKE '%Jr.' OR name LIKE '% II%'",
    "short names": "SELECT id FROM users WHERE short_name IS NOT NULL",
    "pronouns": "SELECT id FROM users WHERE pronouns IS NOT NULL",
    "users with two logins": "SELECT user_id FROM pseudonyms GROUP BY user_id HAVING COUNT(*) > 1",
    "users without a login": """SELECT u.id FROM users u
        WHERE NOT EXISTS (SELECT 1 FROM pseudonyms p WHERE p.user_id = u.id)""",
    "suspended logins": "SELECT id FROM pseudonyms WHERE workflow_state = 'suspended'",
    "deleted logins": "SELECT id FROM pseudonyms WHERE workflow_state = 'deleted'",
    "logins without SIS id": "SELECT id FROM pseudonyms WHERE sis_user_id IS NULL",
    "logins with integration ids": "SELECT id FROM pseudonyms WHERE integration_id IS NOT NULL",
    "SIS logins not created by SIS": """SELECT id FROM pseudonyms
        WHERE sis_user_id IS NOT NULL AND sis_batch_id IS NULL""",
    "retired emails": "SELECT id FROM communication_channels WHERE workflow_state = 'retired'",
    "sub-accounts three levels deep": """SELECT a.id FROM accounts a
        JOIN accounts p ON p.id = a.parent_account_id
        JOIN accounts g ON g.id = p.parent_account_id WHERE g.parent_account_id IS NOT NULL""",
    "sub-accounts without SIS id": """SELECT id FROM accounts
        WHERE root_account_id IS NOT NULL AND sis_source_id IS NULL""",
    "deleted sub-accounts": "SELECT id FROM accounts WHERE workflow_state = 'deleted'",
    "the default term": """SELECT id FROM enrollment_terms
        WHERE is_default = TRUE AND sis_source_id IS NULL AND name = 'Default Term'""",
    "unpublished courses": "SELECT id FROM courses WHERE workflow_state IN ('created', 'claimed')",
    "completed courses": "SELECT id FROM courses WHERE workflow_state = 'completed'",
    "deleted courses": "SELECT id FROM courses WHERE workflow_state = 'deleted'",
    "courses without SIS id": "SELECT id FROM courses WHERE sis_source_id IS NULL",
    "courses restricted to their dates": """SELECT id FROM courses
        WHERE restrict_enrollments_to_course_dates = TRUE AND start_at IS NOT NULL""",
    "course dates not enforced": """SELECT id FROM courses
        WHERE restrict_enrollments_to_course_dates = FALSE AND start_at IS NOT NULL""",
    "blueprint subscriptions": "SELECT id FROM blueprint_subscriptions",
    "deleted sections": "SELECT id FROM course_sections WHERE workflow_state = 'deleted'",
    "custom-role enrollments": """SELECT e.id FROM enrollments e JOIN roles r ON r.id = e.role_id
        WHERE r.name = 'Pixel Engineer'""",
    "limited enrollments": """SELECT id FROM enrollments
        WHERE limit_privileges_to_course_section = TRUE""",
    "enrollments not created by SIS": "SELECT id FROM enrollments WHERE sis_batch_id IS NULL",
    "Student View enrollments": "SELECT id FROM enrollments WHERE type = 'StudentViewEnrollment'",
    "a deleted group category": "SELECT id FROM group_categories WHERE deleted_at IS NOT NULL",
    "student-organized categories": """SELECT id FROM group_categories
        WHERE role = 'student_organized'""",
    "account group categories": "SELECT id FROM group_categories WHERE context_type = 'Account'",
    "sub-account admins": """SELECT a.id FROM account_users a
        JOIN accounts c ON c.id = a.account_id WHERE c.parent_account_id IS NOT NULL""",
    "custom account roles in use": """SELECT a.id FROM account_users a
        JOIN roles r ON r.id = a.role_id WHERE r.name = 'Report Viewer'""",
    "deleted observer links": "SELECT id FROM user_observers WHERE workflow_state = 'deleted'",
}


def test_small_covers_the_special_cases(small: tuple[Engine, SeedResult]) -> None:
    engine, _ = small
    with engine.connect() as conn:
        missing = [name for name, sql in REALISM.items() if not _count(conn, sql)]
        states = {
            r[0]
            for r in conn.execute(text("SELECT DISTINCT workflow_state FROM enrollments")).all()
        }
    assert missing == []
    assert states == {
        "active",
        "invited",
        "creation_pending",
        "completed",
        "inactive",
        "deleted",
        "rejected",
    }


def test_users_hold_their_stored_name_parts(small: tuple[Engine, SeedResult]) -> None:
    engine, seeded = small
    assert assert_names_stored(engine) == seeded.counts["users"]


def test_timestamps_read_back_as_datetimes(small: tuple[Engine, SeedResult]) -> None:
    engine, _ = small
    with engine.connect() as conn:
        created, updated = conn.execute(select(users.c.created_at, users.c.updated_at)).first()
        start = conn.execute(
            select(courses.c.start_at).where(courses.c.start_at.is_not(None))
        ).scalar()
    assert isinstance(created, datetime) and isinstance(updated, datetime)
    assert created <= updated
    assert isinstance(start, datetime)


def test_no_row_is_created_after_the_anchor_or_updated_before_creation(
    small: tuple[Engine, SeedResult],
) -> None:
    engine, _ = small
    anchor = ts(ANCHOR)
    with engine.connect() as conn:
        for table in TABLES:
            columns = {c["name"] for c in inspect(conn).get_columns(table)}
            if "created_at" not in columns:
                continue
            assert (
                _scalar(conn, f"SELECT COUNT(*) FROM {table} WHERE created_at > :a", a=anchor) == 0
            )
            if "updated_at" in columns:
                bad = (
                    f"SELECT COUNT(*) FROM {table} WHERE updated_at < created_at OR updated_at > :a"
                )
                assert _scalar(conn, bad, a=anchor) == 0, table


def test_tree_is_refreshed(small: tuple[Engine, SeedResult]) -> None:
    engine, result = small
    root = result.root_account_id
    with engine.connect() as conn:
        assert (
            _count(conn, "SELECT account_id FROM account_ancestors WHERE ancestor_id = :r", r=root)
            == result.counts["accounts"]
        )
        # Every user with an active login is associated with the root ...
        assert (
            _count(
                conn,
                """SELECT p.user_id FROM pseudonyms p WHERE p.account_id = :r AND NOT EXISTS (
                SELECT 1 FROM user_account_associations a
                WHERE a.user_id = p.user_id AND a.account_id = :r)""",
                r=root,
            )
            == 0
        )
        # ... and every live enrollment associates its user with the course's account chain.
        assert (
            _count(
                conn,
                """SELECT e.id FROM enrollments e JOIN courses c ON c.id = e.course_id
               JOIN account_ancestors aa ON aa.account_id = c.account_id
               WHERE e.workflow_state != 'deleted' AND NOT EXISTS (
                 SELECT 1 FROM user_account_associations a
                 WHERE a.user_id = e.user_id AND a.account_id = aa.ancestor_id)""",
            )
            == 0
        )


# ---------------------------------------------------------------- a second institution
def test_second_seed_adds_a_second_root_and_leaves_the_first_alone(engine: Engine) -> None:
    first = seed(engine, "tiny", 1)
    before = _dump(engine)
    with engine.connect() as conn:
        assoc_before = conn.execute(
            text("SELECT * FROM user_account_associations ORDER BY user_id, account_id")
        ).all()
        max_ids = {t: _scalar(conn, f"SELECT COALESCE(MAX(id), 0) FROM {t}") for t in TABLES}
    second = seed(engine, "tiny", 1, root_name="Second Institution")
    assert second.root_account_id != first.root_account_id
    after = _dump(engine)
    for table in TABLES:
        assert after[table][: len(before[table])] == before[table], table
        new_ids = [row[0] for row in after[table][len(before[table]) :]]
        assert all(i > max_ids[table] for i in new_ids), table
    with engine.connect() as conn:
        first_assoc = text(
            "SELECT * FROM user_account_associations WHERE account_id IN "
            "(SELECT account_id FROM account_ancestors WHERE ancestor_id = :r) "
            "ORDER BY user_id, account_id"
        )
        assert conn.execute(first_assoc, {"r": first.root_account_id}).all() == assoc_before
        roots = conn.execute(
            text("SELECT id, name FROM accounts WHERE parent_account_id IS NULL ORDER BY id")
        ).all()
        assert [r.id for r in roots] == [first.root_account_id, second.root_account_id]
        assert roots[1].name == "Second Institution"
        # Each root has its own admin login; built-in roles are shared, custom ones are not.
        assert _scalar(conn, "SELECT COUNT(*) FROM pseudonyms WHERE unique_id = 'admin'") == 2
        assert _scalar(conn, "SELECT COUNT(*) FROM roles WHERE built_in = TRUE") == 6
        assert _scalar(conn, "SELECT COUNT(*) FROM roles WHERE name = 'Pixel Engineer'") == 2
        # No uuid is shared between the two institutions.
        assert _scalar(conn, "SELECT COUNT(*) - COUNT(DISTINCT uuid) FROM users") == 0
        assert _scalar(conn, "SELECT COUNT(*) - COUNT(DISTINCT uuid) FROM accounts") == 0
    with engine.connect() as conn:
        for name, sql in INTEGRITY.items():
            assert conn.execute(text(sql + " LIMIT 5")).all() == [], name


# ---------------------------------------------------------------- PostgreSQL and SQLite alike
def test_small_twice_moves_id_sequences_past_explicit_ids(engine: Engine) -> None:
    first = seed(engine, "small", 1)
    second = seed(engine, "tiny", 2)
    assert second.root_account_id > first.root_account_id
    with engine.begin() as conn:
        # The id sequences were moved past the explicit ids.
        new_id = conn.execute(
            sis_batches.insert()
            .values(account_id=first.root_account_id, workflow_state="created", created_at=ANCHOR)
            .returning(sis_batches.c.id)
        ).scalar_one()
        assert new_id > _scalar(conn, "SELECT MAX(id) FROM sis_batches WHERE id != :i", i=new_id)
        for name, sql in INTEGRITY.items():
            assert conn.execute(text(sql + " LIMIT 5")).all() == [], name
        conn.rollback()


def test_scores_hold_their_stored_text(small: tuple[Engine, SeedResult]) -> None:
    """The generator writes the scores only; the database writes their text."""
    engine, seeded = small
    assert assert_score_text(engine) == seeded.counts["scores"] > 0
