"""What happens in Canvas between two CD2 queries, applied directly to a reportcard institution.

:func:`apply_changes` edits rows (renames, soft deletes, new scores, logins, a course moved to
another sub-account, a sub-account moved in the tree), hard-deletes some (purged rows: CD2
``D`` records) and adds a user with a login and an enrollment; then it refreshes the derived
tables as reportcard's own loaders do. The round-trip tests export the difference as a CD2
incremental, import it, and expect the reports of the import to follow.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select, text, update

from reportcard.db.functions import present_columns
from reportcard.db.tables import enrollments, pseudonyms, users
from reportcard.lms import tree
from reportcard.names import stored_names

NOW = "2026-11-03 09:30:00.000000"

_STATEMENTS = [
    # users renamed (U users)
    "UPDATE users SET name = name || ' Renamed', sortable_name = sortable_name || ' Renamed',"
    f" updated_at = '{NOW}' WHERE id % 97 = 0",
    # enrollments soft-deleted and concluded (U enrollments)
    f"UPDATE enrollments SET workflow_state = 'deleted', updated_at = '{NOW}' WHERE id % 53 = 0",
    "UPDATE enrollments SET workflow_state = 'completed', updated_at = "
    f"'{NOW}' WHERE id % 59 = 0 AND workflow_state = 'active'",
    # new scores
    "UPDATE scores SET current_score = current_score + 1, final_score = final_score + 1,"
    f" updated_at = '{NOW}' WHERE id % 101 = 0 AND current_score IS NOT NULL"
    " AND final_score IS NOT NULL",
    # activity
    f"UPDATE pseudonyms SET last_request_at = '{NOW}', current_login_ip = '10.9.8.7'"
    " WHERE id % 13 = 0",
    f"UPDATE enrollments SET last_activity_at = '{NOW}' WHERE id % 31 = 0",
    # LTI tools change their privacy level; a course changes its name and state
    "UPDATE context_external_tools SET privacy_level = 'public', updated_at = "
    f"'{NOW}' WHERE id % 3 = 0 AND workflow_state = 'active'",
    f"UPDATE courses SET name = name || ' (revised)', updated_at = '{NOW}' WHERE id % 41 = 0",
    f"UPDATE courses SET workflow_state = 'deleted', updated_at = '{NOW}' WHERE id % 43 = 0",
    # hard deletes (purges): CD2 D records
    "DELETE FROM group_memberships WHERE id % 7 = 0",
    "DELETE FROM communication_channels WHERE id % 11 = 0",
    "DELETE FROM access_tokens WHERE id % 5 = 0",
    "DELETE FROM learning_outcome_question_results WHERE id % 9 = 0",
    "DELETE FROM course_files WHERE id % 17 = 0",
]


def _sub_accounts(conn: Connection) -> list[int]:
    rows = conn.execute(
        text("SELECT id FROM accounts WHERE parent_account_id IS NOT NULL ORDER BY id")
    ).all()
    return [int(r[0]) for r in rows]


def _copy_row(conn: Connection, table: Any, row_id: int, **changes: Any) -> int:
    row = dict(
        conn.execute(select(*present_columns(table, conn.dialect.name)).where(table.c.id == row_id))
        .mappings()
        .one()
    )
    new_id = int(conn.execute(text(f"SELECT MAX(id) FROM {table.name}")).scalar_one()) + 1
    row.update(id=new_id, **changes)
    conn.execute(table.insert().values(**row))
    return new_id


def apply_changes(conn: Connection, root: int) -> None:
    """Change the institution of ``root`` in place (one transaction: the caller's)."""
    for sql in _STATEMENTS:
        conn.execute(text(sql))
    # the renamed users' stored name parts follow their sortable names, as Canvas's own
    # first_name/last_name do (reportcard's writers keep them; this SQL wrote around them)
    renamed = conn.execute(select(users.c.id, users.c.sortable_name).where(users.c.id % 97 == 0))
    for user_id, sortable in renamed.all():
        conn.execute(update(users).where(users.c.id == user_id).values(stored_names(sortable)))
    subs = _sub_accounts(conn)
    # a course moves to another sub-account; a leaf sub-account moves under the root
    conn.execute(
        text(f"UPDATE courses SET account_id = :a, updated_at = '{NOW}' WHERE id % 50 = 1"),
        {"a": subs[-1]},
    )
    leaf = conn.execute(
        text(
            "SELECT MAX(id) FROM accounts a WHERE parent_account_id IS NOT NULL"
            " AND parent_account_id <> :root"
            " AND NOT EXISTS (SELECT 1 FROM accounts c WHERE c.parent_account_id = a.id)"
        ),
        {"root": root},
    ).scalar_one()
    conn.execute(
        text(f"UPDATE accounts SET parent_account_id = :root, updated_at = '{NOW}' WHERE id = :a"),
        {"root": root, "a": leaf},
    )
    # a new user with a login and an enrollment, copied from existing ones
    user = _copy_row(conn, users, 5, name="Newly Arrived", sortable_name="Arrived, Newly",
                     uuid="cd2-new-user-uuid", **stored_names("Arrived, Newly"))  # fmt: skip
    _copy_row(conn, pseudonyms, 5, user_id=user, unique_id="newly.arrived",
              sis_user_id="NEW-0001")  # fmt: skip
    first = conn.execute(
        text(
            "SELECT MIN(id) FROM enrollments WHERE type = 'StudentEnrollment'"
            " AND workflow_state = 'active'"
        )
    ).scalar_one()
    _copy_row(conn, enrollments, int(first), user_id=user, sis_pseudonym_id=None)
    tree.refresh(conn, root)
