"""A real reportcard server (uvicorn on a free loopback port) over a real SQLite database."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert

from reportcard.db.engine import dispose_all, make_engine
from reportcard.db.tables import enrollment_terms
from reportcard.lms.tree import refresh
from reportcard.settings import Settings
from tests.clocks import T0
from tests.databases import drop_database, fresh_database_url
from tests.factories import add_account, add_admin, add_person, add_role, create_token
from tests.runs.sample import SAMPLE, make_institution
from tests.serving import serving_reportcard

__all__ = ["SAMPLE", "T0"]


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


def build_world(engine: Engine) -> dict[str, int | dict[str, int]]:
    with engine.begin() as conn:
        root = make_institution(conn, 30, name="Canvas U")
        other_root = make_institution(conn, 5, name="Other U")
        sub = add_account(
            conn, "College of Arts", uuid="uuid-ARTS", parent=root, root=root, sis="ARTS"
        )
        subsub = add_account(conn, "Music", uuid="uuid-MUSIC", parent=sub, root=root, sis="MUSIC")
        sibling = add_account(
            conn, "College of Science", uuid="uuid-SCI", parent=root, root=root, sis="SCI"
        )
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
        admin_role = add_role(conn, "AccountAdmin", None, "", built_in=True)
        viewer_role = add_role(conn, "Report Viewer", root, "read_reports")
        helpdesk_role = add_role(conn, "Help Desk", root, "read_roster")
        ids = {
            "admin": add_person(conn, "Ada Admin", "admin", root),
            "subadmin": add_person(conn, "Sam Sub", "subadmin", root),
            "viewer": add_person(conn, "Vic Viewer", "viewer", root),
            "helpdesk": add_person(conn, "Hal Help", "helpdesk", root),
            "nobody": add_person(conn, "Nora Nobody", "nobody", root),
            "otheradmin": add_person(conn, "Otto Other", "otheradmin", other_root),
        }
        add_admin(conn, ids["admin"], root, root, admin_role)
        add_admin(conn, ids["subadmin"], sub, root, admin_role)
        add_admin(conn, ids["viewer"], root, root, viewer_role)
        add_admin(conn, ids["helpdesk"], root, root, helpdesk_role)
        add_admin(conn, ids["otheradmin"], other_root, other_root, admin_role)
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
        with serving_reportcard(settings, workers=2) as base:
            yield World(engine=engine, base=base, **made)  # type: ignore[arg-type]
    finally:
        dispose_all()
        drop_database(url)
