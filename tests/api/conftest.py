"""A real reportcard server (uvicorn on a free loopback port) over a real SQLite database."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, insert

from reportcard.app import create_app
from reportcard.auth.tokens import create_token
from reportcard.db.engine import dispose_all, make_engine
from reportcard.db.tables import (
    account_users,
    accounts,
    enrollment_terms,
    pseudonyms,
    roles,
    users,
)
from reportcard.lms.tree import refresh
from reportcard.settings import Settings
from tests.databases import drop_database, fresh_database_url
from tests.runs.sample import SAMPLE, make_institution
from tests.serving import free_port, serving

__all__ = ["SAMPLE", "free_port"]

T0 = datetime(2024, 1, 15, 8, 0, 0)


@dataclass
class World:
    """The people and accounts the API tests act as and on."""

    engine: Engine
    base: str
    root: int
    sub: int
    subsub: int
    sibling: int
    other_root: int
    fall_term: int
    tokens: dict[str, str]


def _user(conn: Connection, name: str, login: str, root: int) -> int:
    pk = conn.execute(
        insert(users).values(
            name=name,
            sortable_name=name,
            uuid=f"uuid-{login}-{root}",
            workflow_state="registered",
            is_test_student=False,
            created_at=T0,
            updated_at=T0,
        )
    ).inserted_primary_key
    assert pk is not None
    uid = int(pk[0])
    conn.execute(
        insert(pseudonyms).values(
            user_id=uid,
            account_id=root,
            unique_id=login,
            workflow_state="active",
            position=1,
            is_inst_id=False,
            created_at=T0,
            updated_at=T0,
        )
    )
    return uid


def _account(conn: Connection, name: str, parent: int, root: int, sis: str) -> int:
    pk = conn.execute(
        insert(accounts).values(
            name=name,
            parent_account_id=parent,
            root_account_id=root,
            workflow_state="active",
            uuid=f"uuid-{sis}",
            default_time_zone="America/Denver",
            can_add_pronouns=False,
            sis_source_id=sis,
            created_at=T0,
            updated_at=T0,
        )
    ).inserted_primary_key
    assert pk is not None
    return int(pk[0])


def _role(conn: Connection, name: str, root: int | None, permissions: str, built_in: bool) -> int:
    pk = conn.execute(
        insert(roles).values(
            root_account_id=root,
            name=name,
            base_role_type="AccountMembership",
            built_in=built_in,
            workflow_state="active",
            permissions=permissions,
        )
    ).inserted_primary_key
    assert pk is not None
    return int(pk[0])


def _admin(conn: Connection, user: int, account: int, root: int, role: int) -> None:
    conn.execute(
        insert(account_users).values(
            root_account_id=root,
            account_id=account,
            user_id=user,
            role_id=role,
            workflow_state="active",
            created_at=T0,
            updated_at=T0,
        )
    )


def build_world(engine: Engine) -> dict[str, int | dict[str, int]]:
    with engine.begin() as conn:
        root = make_institution(conn, 30, name="Canvas U")
        other_root = make_institution(conn, 5, name="Other U")
        sub = _account(conn, "College of Arts", root, root, "ARTS")
        subsub = _account(conn, "Music", sub, root, "MUSIC")
        sibling = _account(conn, "College of Science", root, root, "SCI")
        term = conn.execute(
            insert(enrollment_terms).values(
                root_account_id=root,
                name="Fall 2024",
                workflow_state="active",
                is_default=False,
                sis_source_id="fall24",
                created_at=T0,
                updated_at=T0,
            )
        ).inserted_primary_key
        assert term is not None
        admin_role = _role(conn, "AccountAdmin", None, "", True)
        viewer_role = _role(conn, "Report Viewer", root, "read_reports", False)
        helpdesk_role = _role(conn, "Help Desk", root, "read_roster", False)
        ids = {
            "admin": _user(conn, "Ada Admin", "admin", root),
            "subadmin": _user(conn, "Sam Sub", "subadmin", root),
            "viewer": _user(conn, "Vic Viewer", "viewer", root),
            "helpdesk": _user(conn, "Hal Help", "helpdesk", root),
            "nobody": _user(conn, "Nora Nobody", "nobody", root),
            "otheradmin": _user(conn, "Otto Other", "otheradmin", other_root),
        }
        _admin(conn, ids["admin"], root, root, admin_role)
        _admin(conn, ids["subadmin"], sub, root, admin_role)
        _admin(conn, ids["viewer"], root, root, viewer_role)
        _admin(conn, ids["helpdesk"], root, root, helpdesk_role)
        _admin(conn, ids["otheradmin"], other_root, other_root, admin_role)
        refresh(conn, root)
        refresh(conn, other_root)
        tokens = {name: create_token(conn, uid) for name, uid in ids.items()}
    return {
        "root": root,
        "sub": sub,
        "subsub": subsub,
        "sibling": sibling,
        "other_root": other_root,
        "fall_term": int(term[0]),
        "tokens": tokens,  # type: ignore[dict-item]
    }


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp: Path = tmp_path_factory.mktemp("server")
    url = fresh_database_url(tmp)
    # The shared world starts many runs with few tokens: the start limits (tested on their own
    # server in tests/security/test_limits.py) are off here.
    settings = Settings(
        data_dir=tmp,
        database_url=url,
        poll_seconds=0.05,
        shard_rows=10,
        report_start_rate=0,
        max_queued_runs=0,
    )
    engine = make_engine(url)
    made = build_world(engine)
    try:
        with serving(create_app(settings, workers=2)) as base:
            yield World(engine=engine, base=base, **made)  # type: ignore[arg-type]
    finally:
        dispose_all()
        drop_database(url)
