"""The canonical root account setup shared by init, seed and the Canvas Data 2 importer."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from reportcard.db.tables import (
    account_ancestors,
    account_users,
    accounts,
    authentication_providers,
    enrollment_terms,
    pseudonyms,
    roles,
    users,
)
from reportcard.lms.institution import (
    BUILTIN_ROLES,
    create_admin,
    create_root_account,
    ensure_builtin_roles,
    find_root_account,
)
from reportcard.timezones import UnknownTimeZone


def test_root_account_gets_canvas_defaults(engine: Engine) -> None:
    with engine.begin() as conn:
        root = create_root_account(conn, name="Example U", time_zone="Mountain Time (US & Canada)")
        admin = create_admin(conn, root, login="admin", name="Ada Admin")
    with engine.connect() as conn:
        acct = conn.execute(select(accounts).where(accounts.c.id == root)).one()
        assert acct.name == "Example U" and acct.root_account_id is None
        assert acct.parent_account_id is None and acct.workflow_state == "active"
        assert acct.default_time_zone == "Mountain Time (US & Canada)"
        assert len(acct.uuid) == 40
        terms = conn.execute(
            select(enrollment_terms.c.name, enrollment_terms.c.is_default).where(
                enrollment_terms.c.root_account_id == root
            )
        ).all()
        assert [tuple(t) for t in terms] == [("Default Term", True)]
        assert conn.execute(
            select(authentication_providers.c.auth_type).where(
                authentication_providers.c.root_account_id == root
            )
        ).scalars().all() == ["canvas"]
        assert conn.execute(
            select(account_ancestors.c.ancestor_id).where(account_ancestors.c.account_id == root)
        ).scalars().all() == [root]
        built = conn.execute(
            select(roles.c.name, roles.c.base_role_type).where(roles.c.built_in.is_(True))
        ).all()
        assert sorted(tuple(r) for r in built) == sorted(BUILTIN_ROLES)
        login = conn.execute(select(pseudonyms).where(pseudonyms.c.id == admin.pseudonym_id)).one()
        assert (login.unique_id, login.account_id, login.user_id) == ("admin", root, admin.user_id)
        user = conn.execute(select(users).where(users.c.id == admin.user_id)).one()
        assert (user.name, user.sortable_name) == ("Ada Admin", "Admin, Ada")
        assert (user.first_name, user.last_name) == ("Ada", "Admin")
        au = conn.execute(
            select(account_users).where(account_users.c.user_id == admin.user_id)
        ).one()
        role = conn.execute(select(roles.c.name).where(roles.c.id == au.role_id)).scalar_one()
        assert (au.account_id, role, au.workflow_state) == (root, "AccountAdmin", "active")
        assert find_root_account(conn, "Example U") == root
        assert find_root_account(conn, "Other U") is None


def test_builtin_roles_are_shared_and_never_duplicated(engine: Engine) -> None:
    with engine.begin() as conn:
        first = create_root_account(conn, name="One")
        second = create_root_account(conn, name="Two", time_zone="Europe/Berlin")
        again = ensure_builtin_roles(conn, second)
        assert first != second
        assert set(again) == {name for name, _ in BUILTIN_ROLES}
        count = conn.execute(select(func.count()).select_from(roles)).scalar_one()
        assert count == len(BUILTIN_ROLES)


def test_explicit_id_moves_the_sequence_on(engine: Engine) -> None:
    with engine.begin() as conn:
        root = create_root_account(conn, name="Kept id", account_id=500)
        other = create_root_account(conn, name="Next")
    assert root == 500 and other > 500


@pytest.mark.parametrize("zone", ["Mountain Time", "Mars/Base", ""])
def test_unknown_zone_writes_nothing(engine: Engine, zone: str) -> None:
    with pytest.raises(UnknownTimeZone), engine.begin() as conn:
        create_root_account(conn, name="Bad zone", time_zone=zone)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(accounts)).scalar_one() == 0


def test_a_seeded_root_has_what_create_root_account_gives(engine: Engine) -> None:
    """The generator writes its root in bulk; it must match the canonical setup."""
    from reportcard.lms.synthetic import seed

    with engine.begin() as conn:
        made = create_root_account(conn, name="Canonical U")
    seeded = seed(engine, "tiny", 1).root_account_id

    def setup(conn: Any, root: int) -> tuple[Any, ...]:
        term = conn.execute(
            select(enrollment_terms.c.name, enrollment_terms.c.workflow_state).where(
                enrollment_terms.c.root_account_id == root, enrollment_terms.c.is_default
            )
        ).all()
        canvas = conn.execute(
            select(authentication_providers.c.workflow_state).where(
                authentication_providers.c.root_account_id == root,
                authentication_providers.c.auth_type == "canvas",
            )
        ).all()
        acct = conn.execute(select(accounts).where(accounts.c.id == root)).one()
        ancestors = conn.execute(
            select(account_ancestors.c.ancestor_id, account_ancestors.c.depth).where(
                account_ancestors.c.account_id == root
            )
        ).all()
        return (
            [tuple(t) for t in term],
            [tuple(c) for c in canvas],
            (acct.parent_account_id, acct.root_account_id, acct.workflow_state),
            [(a - root, d) for a, d in ancestors],
        )

    with engine.connect() as conn:
        assert setup(conn, seeded) == setup(conn, made)
        built = conn.execute(select(roles.c.name).where(roles.c.built_in.is_(True))).all()
        assert sorted(r[0] for r in built) == sorted(name for name, _ in BUILTIN_ROLES)
