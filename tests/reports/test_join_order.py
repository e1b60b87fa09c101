"""``reports.join_order.cross_join``: ``CROSS JOIN ... ON`` on SQLite, a plain join elsewhere,
the same rows either way."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, Select, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from reportcard.db.tables import accounts
from reportcard.reports.aliases import named_alias
from reportcard.reports.join_order import cross_join


def _statement() -> Select[tuple[int, int, int]]:
    child = named_alias(accounts, "child_account")
    grandchild = named_alias(accounts, "grandchild_account")
    joined = cross_join(
        cross_join(accounts, child, child.c.parent_account_id == accounts.c.id),
        grandchild,
        grandchild.c.parent_account_id == child.c.id,
    ).outerjoin(
        named_alias(accounts, "other_account"),
        named_alias(accounts, "other_account").c.id == grandchild.c.id + 1000,
    )
    return (
        select(accounts.c.id, child.c.id, grandchild.c.id)
        .select_from(joined)
        .order_by(grandchild.c.id)
    )


def test_a_cross_join_is_written_cross_on_sqlite_alone() -> None:
    on_sqlite = str(_statement().compile(dialect=sqlite.dialect()))
    assert on_sqlite.count(" CROSS JOIN ") == 2
    assert "accounts CROSS JOIN accounts AS child_account ON" in on_sqlite
    assert " LEFT OUTER JOIN accounts AS other_account ON" in on_sqlite
    on_postgres = str(_statement().compile(dialect=postgresql.dialect()))
    assert "CROSS" not in on_postgres
    assert on_postgres.count(" JOIN ") == 3


def test_a_cross_join_gives_the_inner_joins_rows(engine: Engine) -> None:
    rows = [
        {"id": 1, "name": "root", "parent_account_id": None, "root_account_id": None},
        {"id": 2, "name": "a", "parent_account_id": 1, "root_account_id": 1},
        {"id": 3, "name": "b", "parent_account_id": 1, "root_account_id": 1},
        {"id": 4, "name": "a1", "parent_account_id": 2, "root_account_id": 1},
        {"id": 5, "name": "a2", "parent_account_id": 2, "root_account_id": 1},
        {"id": 6, "name": "b1", "parent_account_id": 3, "root_account_id": 1},
    ]
    now = datetime(2026, 1, 1)
    with engine.begin() as conn:
        for row in rows:
            stamps = {"uuid": f"u{row['id']}", "created_at": now, "updated_at": now}
            conn.execute(insert(accounts).values(**row, **stamps))
        got = [tuple(r) for r in conn.execute(_statement())]
    assert got == [(1, 2, 4), (1, 2, 5), (1, 3, 6)]
