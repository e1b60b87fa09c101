"""What the reports read that is derived from CD2 rows rather than copied from them.

Each declaration lists in :attr:`Cd2Table.derived` the structures to rebuild when it changed;
:func:`rebuild` runs them once per import, after every table was applied:

* ``tree``: the account closure (``account_ancestors``) of the root account;
* ``associations``: ``user_account_associations`` of the whole root (enrollments, admins,
  logins); ``user_associations``: the same for the users the applied tables noted in
  ``cd2_touched`` (see :attr:`Cd2Table.touches`), which is what the importer uses;
* ``default_term``: ``enrollment_terms.is_default`` (CD2 has no flag: Canvas names the root's
  default term "Default Term"; the oldest such term is the default);
* ``test_students``: ``users.is_test_student`` for users with a ``StudentViewEnrollment``
  (Canvas's test student; CD2 has no flag);
* ``builtin_roles``: reportcard's shared built-in roles, so SIS imports work on the root.

Rows that come from a JSON document of the same record (grading scheme entries, outcome
criterion ratings) are rebuilt while the table's staging is still there (:func:`from_stage`).
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, text

from reportcard.db.sqlnames import MARK
from reportcard.lms import tree
from reportcard.lms.cd2.mapping import Cd2Table
from reportcard.lms.cd2.staging import value_column
from reportcard.names import stored_names

WHOLE = 50_000  # more users noted than this: rebuild the root's associations whole

ORDER = (
    "tree",
    "associations",
    "user_associations",
    "default_term",
    "test_students",
    "builtin_roles",
)


def rebuild(conn: Connection, root_id: int, which: set[str]) -> list[str]:
    """Rebuild the derived structures named in ``which`` for ``root_id``; returns those done."""
    if conn.dialect.name == "postgresql":
        from reportcard.lms.cd2.apply import bulk_settings

        bulk_settings(conn)
    done = []
    for name in ORDER:
        if name not in which and name != "builtin_roles":
            continue
        if name == "tree":
            tree.rebuild_account_tree(conn, root_id)
        elif name == "associations":
            conn.info.pop("cd2_whole_associations", None)
            rebuild_all_associations(conn, root_id)
            conn.exec_driver_sql("CREATE TEMP TABLE IF NOT EXISTS cd2_touched (user_id BIGINT)")
            conn.exec_driver_sql("DELETE FROM cd2_touched")
        elif name == "user_associations":
            if "associations" in which:
                continue  # rebuilt whole
            conn.exec_driver_sql("CREATE TEMP TABLE IF NOT EXISTS cd2_touched (user_id BIGINT)")
            many = conn.exec_driver_sql(
                f"SELECT COUNT(*) FROM (SELECT 1 FROM cd2_touched LIMIT {WHOLE + 1}) x"
            ).scalar()
            # a snapshot: one pass over everything is cheaper (the apply noted no users then)
            if conn.info.pop("cd2_whole_associations", False) or int(many or 0) > WHOLE:
                rebuild_all_associations(conn, root_id)
                conn.exec_driver_sql("DELETE FROM cd2_touched")
            else:
                rebuild_touched_associations(conn, root_id)
        elif name == "default_term":
            conn.execute(
                text(
                    "UPDATE enrollment_terms SET is_default = (id = (SELECT MIN(id) FROM"
                    " enrollment_terms WHERE root_account_id = :root AND name = 'Default Term'))"
                    " WHERE root_account_id = :root"
                ),
                {"root": root_id},
            )
        elif name == "test_students":
            # Through the partial index of Student View enrollments (one per course at most),
            # not the root's enrollments: SQLite must not take the root's index (``+``).
            # PostgreSQL: the users probed by key (``= ANY (ARRAY(...))``, computed once); its
            # planner hashed the Student View users and walked all of users (0.17 s on large).
            pg = conn.dialect.name == "postgresql"
            plus, within = ("", "= ANY (ARRAY(") if pg else ("+", "IN ((")
            conn.execute(
                text(
                    f"UPDATE users SET is_test_student = TRUE WHERE id {within}SELECT user_id"
                    " FROM enrollments WHERE type = 'StudentViewEnrollment'"
                    f" AND {plus}root_account_id = :root)) AND NOT is_test_student"
                ),
                {"root": root_id},
            )
        elif name == "builtin_roles":
            from reportcard.lms.institution import ensure_builtin_roles

            ensure_builtin_roles(conn, root_id)
        done.append(name)
    return done


def rebuild_all_associations(conn: Connection, root_id: int) -> None:
    """``user_account_associations`` of the whole root, by the rules of
    :func:`tree.rebuild_user_associations`, as a bulk load: on PostgreSQL the table's foreign
    keys are checked once after the insert (a join) rather than per row; when the root was all
    the table held, its secondary indexes are built once afterwards and the rows go in sorted.
    """
    from reportcard.lms.cd2.apply import drop_foreign_keys, drop_indexes, drop_primary_key

    table = "user_account_associations"
    pg = conn.dialect.name == "postgresql"
    conn.execute(
        text(
            f"DELETE FROM {table} WHERE account_id IN (SELECT aa.account_id FROM"
            " account_ancestors aa JOIN accounts a ON a.id = aa.account_id"
            " WHERE a.root_account_id = :root OR a.id = :root)"
        ),
        {"root": root_id},
    )
    empty = conn.exec_driver_sql(f"SELECT 1 FROM {table} LIMIT 1").first() is None
    dropped = drop_foreign_keys(conn, table) if pg else []
    indexes = drop_indexes(conn, table) if empty else []
    keys = drop_primary_key(conn, table) if empty else []
    # PostgreSQL: one sort removes the duplicates and orders the rows (DISTINCT ON is always a
    # sort); UNION's hash of the ~7M pairs on large, then a second sort, took twice the CPU.
    # The sort runs with parallel query into a temporary table (an INSERT's SELECT never
    # does), whose rows, in that order, are then inserted (:func:`_parallel_pairs`; not when
    # the server allows no parallel workers).
    union, distinct = ("UNION ALL", "DISTINCT ON (user_id, account_id) ") if pg else ("UNION", "")
    into = f"INSERT INTO {table} (user_id, account_id)"
    before = _parallel_pairs(conn) if pg else None
    if before is not None:
        conn.exec_driver_sql("DROP TABLE IF EXISTS cd2_pairs")
        into = "CREATE TEMP TABLE cd2_pairs AS"
    conn.execute(
        text(
            f"{into} SELECT {distinct}user_id, account_id"
            " FROM (SELECT e.user_id, aa.ancestor_id AS account_id FROM enrollments e"
            " JOIN courses c ON c.id = e.course_id"
            " JOIN account_ancestors aa ON aa.account_id = c.account_id"
            " WHERE e.root_account_id = :root AND e.workflow_state <> 'deleted'"
            f" {union} SELECT au.user_id, aa.ancestor_id FROM account_users au"
            " JOIN account_ancestors aa ON aa.account_id = au.account_id"
            " WHERE au.root_account_id = :root AND au.workflow_state <> 'deleted'"
            f" {union} SELECT ps.user_id, ps.account_id FROM pseudonyms ps"
            " WHERE ps.account_id = :root) x ORDER BY user_id, account_id"
        ),
        {"root": root_id},
    )
    if before is not None:
        _settings_back(conn, before)
        conn.exec_driver_sql(
            f"INSERT INTO {table} (user_id, account_id) SELECT user_id, account_id FROM cd2_pairs"
        )
        conn.exec_driver_sql("DROP TABLE cd2_pairs")
    for name, definition in keys:
        conn.exec_driver_sql(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
    for definition in indexes:
        conn.exec_driver_sql(definition)
    for name, definition in dropped:
        conn.exec_driver_sql(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')


# What the associations' sort sets for itself (SET LOCAL): the server's own number of parallel
# workers (reportcard's sessions run serial, ``db.engine.PG_SERIAL``), and a cheap enough
# transfer of the sorted rows from the workers that the planner gives the sort to them.
PARALLEL_PAIRS = {
    "parallel_setup_cost": "0",
    "parallel_tuple_cost": "0.001",
    "min_parallel_table_scan_size": "0",
}


def _parallel_pairs(conn: Connection) -> dict[str, str] | None:
    """PostgreSQL, inside the rebuild's transaction: the next statements may use parallel query
    with the server's ``max_parallel_workers_per_gather`` and :data:`PARALLEL_PAIRS`; returns
    the settings as they were, for :func:`_settings_back`. None, and nothing changed, when the
    server's own ``max_parallel_workers_per_gather`` is 0 (the rows would be written twice for
    nothing)."""
    workers = conn.exec_driver_sql(
        "SELECT reset_val FROM pg_settings WHERE name = 'max_parallel_workers_per_gather'"
    ).scalar()
    if not int(workers or 0):
        return None
    names = ["max_parallel_workers_per_gather", *PARALLEL_PAIRS]
    before = {name: str(conn.exec_driver_sql(f"SHOW {name}").scalar()) for name in names}
    conn.execute(
        text("SELECT set_config('max_parallel_workers_per_gather', :v, true)"),
        {"v": str(workers)},
    )
    for name, value in PARALLEL_PAIRS.items():
        conn.exec_driver_sql(f"SELECT set_config('{name}', '{value}', true)")
    return before


def _settings_back(conn: Connection, before: dict[str, str]) -> None:
    """The settings :func:`_parallel_pairs` changed, back for the rest of the transaction."""
    for name, value in before.items():
        conn.execute(text("SELECT set_config(:n, :v, true)"), {"n": name, "v": value})


def rebuild_touched_associations(conn: Connection, root_id: int) -> None:
    """``user_account_associations`` of the users noted in ``cd2_touched`` (by the apply
    of logins, enrollments and admins), by the rules of :func:`tree.rebuild_user_associations`.
    """
    pg = conn.dialect.name == "postgresql"
    conn.exec_driver_sql("CREATE TEMP TABLE IF NOT EXISTS cd2_touched (user_id BIGINT)")
    noted = conn.exec_driver_sql(
        "SELECT 1 FROM cd2_touched WHERE user_id IS NOT NULL LIMIT 1"
    ).first()
    if noted is None:  # no change moved anyone (rows re-sent with the same user and course)
        conn.exec_driver_sql("DELETE FROM cd2_touched")
        return
    conn.exec_driver_sql("DROP TABLE IF EXISTS cd2_users")
    conn.exec_driver_sql(
        "CREATE TEMP TABLE cd2_users AS SELECT DISTINCT user_id FROM cd2_touched"
        " WHERE user_id IS NOT NULL"
    )
    conn.exec_driver_sql(
        "CREATE UNIQUE INDEX ON cd2_users (user_id)"
        if pg
        else "CREATE UNIQUE INDEX temp.ix_cd2_users ON cd2_users (user_id)"
    )
    conn.exec_driver_sql("ANALYZE cd2_users")
    p = {"root": root_id}
    # What the noted users' associations should be; then only the difference is written
    # (most of an incremental's users keep every association they had).
    conn.exec_driver_sql("DROP TABLE IF EXISTS cd2_uaa")
    # SQLite: from the noted users to their rows (a CROSS JOIN keeps that order; ``+`` keeps
    # it off the root's indexes, which would walk every enrollment and login of the root).
    # PostgreSQL's planner reorders a CROSS JOIN and chooses by its statistics.
    cross, plus = "CROSS JOIN", "" if pg else "+"
    conn.execute(
        text(
            "CREATE TEMP TABLE cd2_uaa AS"
            f" SELECT e.user_id, aa.ancestor_id AS account_id FROM cd2_users u {cross}"
            " enrollments e JOIN courses c ON c.id = e.course_id"
            " JOIN account_ancestors aa ON aa.account_id = c.account_id"
            f" WHERE e.user_id = u.user_id AND {plus}e.root_account_id = :root"
            " AND e.workflow_state <> 'deleted'"
            f" UNION SELECT au.user_id, aa.ancestor_id FROM cd2_users u {cross} account_users au"
            " JOIN account_ancestors aa ON aa.account_id = au.account_id"
            f" WHERE au.user_id = u.user_id AND {plus}au.root_account_id = :root"
            " AND au.workflow_state <> 'deleted'"
            f" UNION SELECT ps.user_id, ps.account_id FROM cd2_users u {cross} pseudonyms ps"
            f" WHERE ps.user_id = u.user_id AND {plus}ps.account_id = :root"
        ),
        p,
    )
    conn.exec_driver_sql(
        "CREATE UNIQUE INDEX ON cd2_uaa (user_id, account_id)"
        if pg
        else "CREATE UNIQUE INDEX temp.ix_cd2_uaa ON cd2_uaa (user_id, account_id)"
    )
    conn.exec_driver_sql("ANALYZE cd2_uaa")
    conn.execute(
        text(
            "DELETE FROM user_account_associations WHERE user_id IN (SELECT user_id FROM"
            " cd2_users) AND (account_id IN (SELECT id FROM accounts WHERE id = :root OR"
            " root_account_id = :root) OR account_id NOT IN (SELECT id FROM accounts))"
            " AND NOT EXISTS (SELECT 1 FROM cd2_uaa n WHERE n.user_id ="
            " user_account_associations.user_id AND n.account_id ="
            " user_account_associations.account_id)"
        ),
        p,
    )
    conn.exec_driver_sql(
        "INSERT INTO user_account_associations (user_id, account_id) SELECT n.user_id,"
        " n.account_id FROM cd2_uaa n WHERE NOT EXISTS (SELECT 1 FROM"
        " user_account_associations o WHERE o.user_id = n.user_id AND o.account_id ="
        " n.account_id) ORDER BY n.user_id, n.account_id"
    )
    conn.exec_driver_sql("DROP TABLE cd2_uaa")
    conn.exec_driver_sql("DELETE FROM cd2_touched")
    conn.exec_driver_sql("DROP TABLE cd2_users")


def _staged_json(conn: Connection, t: Cd2Table, field: str) -> list[tuple[int, str, Any]]:
    """(key, action, parsed JSON of ``field``) of the newer winners of the staging table."""
    rows = conn.exec_driver_sql(
        f"SELECT w.key, w.action, w.{value_column(field)} FROM cd2_win w WHERE w.newer"
    ).all()
    out = []
    for key, action, raw in rows:
        data = None
        if raw is not None and action == "U":
            try:
                data = json.loads(raw) if isinstance(raw, str) else raw
            except ValueError:
                data = None
        out.append((int(key), str(action), data))
    return out


def _entries(data: Any) -> list[tuple[str, float]]:
    """Canvas grading scheme data: [[name, lower bound], ...] or [{name, value}, ...]."""
    out: list[tuple[str, float]] = []
    if not isinstance(data, list):
        return out
    for item in data:
        if isinstance(item, list | tuple) and len(item) >= 2:
            name, value = item[0], item[1]
        elif isinstance(item, dict):
            name, value = item.get("name"), item.get("value")
        else:
            continue
        try:
            out.append((str(name), float(value)))
        except (TypeError, ValueError):
            continue
    return out


def _ratings(data: Any) -> list[tuple[float, str | None]]:
    """An outcome's criterion ratings: data.rubric_criterion.ratings [{points, description}]."""
    if not isinstance(data, dict):
        return []
    crit = data.get("rubric_criterion")
    if not isinstance(crit, dict) or not isinstance(crit.get("ratings"), list):
        return []
    out: list[tuple[float, str | None]] = []
    for r in crit["ratings"]:
        if isinstance(r, dict) and r.get("points") is not None:
            try:
                out.append((float(r["points"]), r.get("description")))
            except (TypeError, ValueError):
                continue
    return out


def from_stage(conn: Connection, t: Cd2Table, *, incremental: bool = False) -> None:
    """Rows derived from a JSON document of the staged records (inside the table's apply).
    ``incremental``: the load changed few of the table's rows (the users' names are then looked
    for among the winners' keys)."""
    if "user_names" in t.derived:
        fix_user_names(conn, winners=incremental)
    if "grading_standard_entries" in t.derived:
        staged = _staged_json(conn, t, "data")
        keys = [k for k, _, _ in staged]
        _delete_in(conn, "grading_standard_entries", "grading_standard_id", keys)
        rows = [
            {"g": k, "p": i, "n": name[:64], "b": bound}
            for k, action, data in staged
            if action == "U"
            for i, (name, bound) in enumerate(_entries(data), start=1)
        ]
        if rows:
            conn.execute(
                text(
                    "INSERT INTO grading_standard_entries (grading_standard_id, position, name,"
                    " lower_bound) SELECT :g, :p, :n, :b WHERE EXISTS (SELECT 1 FROM"
                    " grading_standards WHERE id = :g)"
                ),
                rows,
            )
    if "outcome_ratings" in t.derived:
        staged = _staged_json(conn, t, "data")
        keys = [k for k, _, _ in staged]
        _delete_in(conn, "learning_outcome_ratings", "learning_outcome_id", keys)
        rows = [
            {"o": k, "p": i, "pts": pts, "d": (desc or None) and str(desc)[:255]}
            for k, action, data in staged
            if action == "U"
            for i, (pts, desc) in enumerate(_ratings(data), start=1)
        ]
        if rows:
            conn.execute(
                text(
                    "INSERT INTO learning_outcome_ratings (learning_outcome_id, position, points,"
                    " description) SELECT :o, :p, :pts, :d WHERE EXISTS (SELECT 1 FROM"
                    " learning_outcomes WHERE id = :o)"
                ),
                rows,
            )
    if "proficiency_positions" in t.derived:
        # CD2 has no position: a scale's ratings are ordered by points, highest first.
        conn.execute(
            text(
                "UPDATE outcome_proficiency_ratings SET position = (SELECT COUNT(*) FROM"
                " outcome_proficiency_ratings o WHERE o.outcome_proficiency_id ="
                " outcome_proficiency_ratings.outcome_proficiency_id AND (o.points >"
                " outcome_proficiency_ratings.points OR (o.points ="
                " outcome_proficiency_ratings.points AND o.id <= outcome_proficiency_ratings.id)))"
                " WHERE outcome_proficiency_id IN (SELECT outcome_proficiency_id FROM"
                " outcome_proficiency_ratings WHERE id IN (SELECT key FROM cd2_win WHERE newer))"
            )
        )


def _delete_in(conn: Connection, table: str, column: str, keys: list[int]) -> None:
    for i in range(0, len(keys), 5000):
        chunk = keys[i : i + 5000]
        conn.execute(text(f"DELETE FROM {table} WHERE {column} IN ({', '.join(map(str, chunk))})"))


def fix_user_names(conn: Connection, *, winners: bool = False) -> int:
    """Write ``users.first_name``/``last_name`` where the upsert's SQL left a name to Python.

    The users target computes them in SQL (``reports.sqlformat``), which marks the rare name
    it cannot split exactly (``MARK`` + the sortable name); those are split here by
    :func:`reportcard.names.name_parts`. Returns the number of users written.
    """
    # ``winners``: only the upsert just made can have left a mark (every other writer splits
    # names in Python), so an incremental looks its newer winners' users up by key instead of
    # reading all of users (0.18 s on large).
    among = ""
    if winners:
        pg = conn.dialect.name == "postgresql"
        keys = "SELECT key FROM cd2_win WHERE newer"
        among = f"id = ANY (ARRAY({keys})) AND " if pg else f"id IN ({keys}) AND "
    marked = conn.execute(
        text(
            f"SELECT id, sortable_name FROM users WHERE {among}"
            "(substr(first_name, 1, 1) = :mark OR substr(last_name, 1, 1) = :mark)"
        ),
        {"mark": MARK},
    ).all()
    if marked:
        conn.execute(
            text(
                "UPDATE users SET first_name = :first_name, last_name = :last_name WHERE id = :id"
            ),
            [{"id": user_id, **stored_names(name)} for user_id, name in marked],
        )
    return len(marked)
