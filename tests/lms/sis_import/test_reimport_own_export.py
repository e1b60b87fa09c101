"""Re-importing the institution's own SIS export widens nothing and changes no enrollment
(issue #17), on the synthetic institution, in both database lanes.

``sis_export_csv`` (all twelve files, ``include_deleted``) is imported back into the same
instance. Account roles (``account_users``) and enrollments must come back row for row; a
sub-account's "Report Viewer" must not become one on the root (the API keeps answering 403 on
the root's reports, through a real server). The institution is made to hold the shapes that
went wrong: a role on a sub-account without a SIS id (its admins.csv row would have a blank
``account_id``, which an import reads as the root), enrollments in sections without a SIS id
that are not their course's default section (a blank ``section_id``, which names the default
section), and live enrollments of deleted sections and courses (exported as ``deleted``).
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import and_, func, insert, or_, select

from reportcard.auth.permissions import READ_REPORTS, has_permission
from reportcard.auth.tokens import create_token
from reportcard.db.engine import dispose_all, make_engine
from reportcard.db.tables import (
    account_users,
    accounts,
    attachments,
    course_sections,
    courses,
    enrollments,
    group_categories,
    groups,
    pseudonyms,
    roles,
)
from reportcard.lms.sis_import.local import import_path
from reportcard.lms.tree import refresh
from reportcard.runs.inline import run_report
from reportcard.settings import Settings
from reportcard.storage.local import LocalStorage
from tests.clocks import T0
from tests.databases import drop_database, seeded_database_url
from tests.lms.sis_import.test_roundtrip import PARAMS
from tests.patience import ANSWER
from tests.serving import serving_reportcard

ACCOUNT_COLUMNS = ("id", "parent_account_id", "root_account_id", "name", "workflow_state")
GROUP_COLUMNS = ("id", "context_type", "context_id", "account_id", "group_category_id")
CATEGORY_COLUMNS = ("id", "context_type", "context_id", "name", "deleted_at")
ADMIN_COLUMNS = ("id", "root_account_id", "account_id", "user_id", "role_id", "workflow_state")
ENROLLMENT_COLUMNS = (
    "id",
    "user_id",
    "course_id",
    "course_section_id",
    "role_id",
    "type",
    "associated_user_id",
    "workflow_state",
    "limit_privileges_to_course_section",
    "start_at",
    "end_at",
)


class Institution:
    def __init__(self, tmp: Path) -> None:
        self.url, seeded = seeded_database_url(tmp, "small", 3)
        self.root = int(seeded.root_account_id)
        self.settings = Settings(data_dir=tmp, database_url=self.url, shard_rows=2000)
        self.engine = make_engine(self.url)
        self.storage = LocalStorage(self.settings.resolved_storage_dir)
        self.tmp = tmp

    def export(self) -> bytes:
        run = run_report(
            self.engine,
            self.storage,
            self.settings,
            account_id=self.root,
            report_type="sis_export_csv",
            parameters=dict(PARAMS),
        )
        assert run.workflow_state == "complete", run.message
        with self.engine.connect() as conn:
            key = conn.execute(
                select(attachments.c.storage_key).where(attachments.c.id == run.attachment_id)
            ).scalar_one()
        with self.storage.open_read(key) as fh:
            data: bytes = fh.read()
        return data

    def reimport(self, data: bytes) -> str:
        path = self.tmp / "own-export.zip"
        path.write_bytes(data)
        _, state = import_path(self.engine, self.storage, self.settings, path, self.root)
        return state

    def rows(self, table: Any, names: tuple[str, ...]) -> list[tuple[Any, ...]]:
        with self.engine.connect() as conn:
            cols = [table.c[n] for n in names]
            return [tuple(r) for r in conn.execute(select(*cols).order_by(table.c.id))]


def _files(data: bytes) -> dict[str, list[dict[str, str]]]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {
            n: list(csv.DictReader(io.StringIO(zf.read(n).decode("utf-8")))) for n in zf.namelist()
        }


def _viewer_on_a_sub_account_without_sis_id(inst: Institution) -> dict[str, Any]:
    """A sub-account with no SIS id, a "Report Viewer" role (read_reports) held there by a
    user with a SIS login, marked as created by an earlier SIS import; and the same role on a
    sub-account that has a SIS id."""
    with inst.engine.begin() as conn:
        batch = conn.execute(select(func.max(enrollments.c.sis_batch_id))).scalar_one()
        assert batch is not None
        nosis = conn.execute(
            insert(accounts).values(
                name="Outreach (no SIS id)",
                parent_account_id=inst.root,
                root_account_id=inst.root,
                workflow_state="active",
                uuid="uuid-outreach-nosis",
                default_time_zone="UTC",
                can_add_pronouns=False,
                sis_source_id=None,
                created_at=T0,
                updated_at=T0,
            )
        ).inserted_primary_key[0]
        # A SIS-made account under it: accounts.csv writes its parent_account_id blank.
        conn.execute(
            insert(accounts).values(
                name="Outreach Programs",
                parent_account_id=nosis,
                root_account_id=inst.root,
                workflow_state="active",
                uuid="uuid-outreach-programs",
                default_time_zone="UTC",
                can_add_pronouns=False,
                sis_source_id="OUTREACH-PROGRAMS",
                sis_batch_id=batch,
                created_at=T0,
                updated_at=T0,
            )
        )
        # A SIS-made group category and group in it: their account_id is written blank too.
        category = conn.execute(
            insert(group_categories).values(
                root_account_id=inst.root,
                context_type="Account",
                context_id=nosis,
                name="Outreach teams",
                sis_source_id="OUTREACH-TEAMS",
                sis_batch_id=batch,
                created_at=T0,
                updated_at=T0,
            )
        ).inserted_primary_key[0]
        conn.execute(
            insert(groups).values(
                root_account_id=inst.root,
                group_category_id=category,
                context_type="Account",
                context_id=nosis,
                account_id=nosis,
                name="Outreach team 1",
                workflow_state="available",
                sis_source_id="OUTREACH-TEAM-1",
                sis_batch_id=batch,
                created_at=T0,
                updated_at=T0,
            )
        )
        # An empty category and a group without one: nothing else keeps them from moving.
        conn.execute(
            insert(group_categories).values(
                root_account_id=inst.root,
                context_type="Account",
                context_id=nosis,
                name="Outreach spare",
                sis_source_id="OUTREACH-SPARE",
                sis_batch_id=batch,
                created_at=T0,
                updated_at=T0,
            )
        )
        conn.execute(
            insert(groups).values(
                root_account_id=inst.root,
                group_category_id=None,
                context_type="Account",
                context_id=nosis,
                account_id=nosis,
                name="Outreach loose group",
                workflow_state="available",
                sis_source_id="OUTREACH-LOOSE",
                sis_batch_id=batch,
                created_at=T0,
                updated_at=T0,
            )
        )
        with_sis = conn.execute(
            select(accounts.c.id)
            .where(
                accounts.c.root_account_id == inst.root,
                accounts.c.sis_source_id.is_not(None),
                accounts.c.workflow_state == "active",
            )
            .order_by(accounts.c.id)
            .limit(1)
        ).scalar_one()
        role = conn.execute(
            insert(roles).values(
                root_account_id=inst.root,
                name="Report Viewer",
                base_role_type="AccountMembership",
                built_in=False,
                workflow_state="active",
                permissions=READ_REPORTS,
            )
        ).inserted_primary_key[0]
        viewers = (
            conn.execute(
                select(pseudonyms.c.user_id)
                .where(
                    pseudonyms.c.account_id == inst.root,
                    pseudonyms.c.sis_user_id.is_not(None),
                    pseudonyms.c.workflow_state == "active",
                )
                .order_by(pseudonyms.c.id.desc())
                .limit(2)
            )
            .scalars()
            .all()
        )
        for user, account in zip(viewers, (nosis, with_sis), strict=True):
            conn.execute(
                insert(account_users).values(
                    root_account_id=inst.root,
                    account_id=account,
                    user_id=user,
                    role_id=role,
                    workflow_state="active",
                    sis_batch_id=batch,
                    created_at=T0,
                    updated_at=T0,
                )
            )
        refresh(conn, inst.root)
        token = create_token(conn, viewers[0])
    return {"account": int(nosis), "user": int(viewers[0]), "token": token}


@pytest.fixture
def inst(tmp_path: Path) -> Iterator[Institution]:
    made = Institution(tmp_path)
    try:
        yield made
    finally:
        made.engine.dispose()
        dispose_all()
        drop_database(made.url)


def _root_reports(base: str, account: int, token: str) -> int:
    answer = httpx.get(
        f"{base}/api/v1/accounts/{account}/reports",
        headers={"Authorization": f"Bearer {token}"},
        timeout=ANSWER,
    )
    return answer.status_code


@pytest.mark.slow
def test_reimporting_the_own_sis_export_changes_no_role_and_no_enrollment(
    inst: Institution,
) -> None:
    viewer = _viewer_on_a_sub_account_without_sis_id(inst)
    # The shapes that went wrong are there (the synthetic institution is made so).
    with inst.engine.connect() as conn:
        s, c = course_sections.c, courses.c
        e = enrollments.c
        off_default = conn.execute(
            select(func.count())
            .select_from(
                enrollments.join(course_sections, s.id == e.course_section_id).join(
                    courses, c.id == s.course_id
                )
            )
            .where(
                s.sis_source_id.is_(None),
                s.default_section.is_(False),
                c.sis_source_id.is_not(None),
                e.workflow_state.not_in(["rejected", "invited", "creation_pending"]),
            )
        ).scalar_one()
        live_in_deleted = conn.execute(
            select(func.count())
            .select_from(
                enrollments.join(course_sections, s.id == e.course_section_id).join(
                    courses, c.id == s.course_id
                )
            )
            .where(
                or_(s.workflow_state == "deleted", c.workflow_state == "deleted"),
                e.workflow_state.in_(["active", "completed"]),
                and_(or_(s.sis_source_id.is_not(None), c.sis_source_id.is_not(None))),
            )
        ).scalar_one()
    assert off_default > 0 and live_in_deleted > 0
    admins_before = inst.rows(account_users, ADMIN_COLUMNS)
    accounts_before = inst.rows(accounts, ACCOUNT_COLUMNS)
    groups_before = inst.rows(groups, GROUP_COLUMNS)
    categories_before = inst.rows(group_categories, CATEGORY_COLUMNS)
    enrollments_before = inst.rows(enrollments, ENROLLMENT_COLUMNS)

    data = inst.export()
    files = _files(data)
    # No admins.csv row names the root for a role held elsewhere.
    root_rows = [r for r in files["admins.csv"] if not r["account_id"]]
    with inst.engine.connect() as conn:
        root_roles = conn.execute(
            select(func.count()).where(
                account_users.c.account_id == inst.root, account_users.c.sis_batch_id.is_not(None)
            )
        ).scalar_one()
    assert len(root_rows) == root_roles
    assert any(r["role"] == "Report Viewer" for r in files["admins.csv"])  # the one with a SIS id

    assert inst.reimport(data) in ("imported", "imported_with_messages")

    admins_after = inst.rows(account_users, ADMIN_COLUMNS)
    assert inst.rows(accounts, ACCOUNT_COLUMNS) == accounts_before  # no account moved
    assert inst.rows(groups, GROUP_COLUMNS) == groups_before  # nor any group
    assert inst.rows(group_categories, CATEGORY_COLUMNS) == categories_before
    enrollments_after = inst.rows(enrollments, ENROLLMENT_COLUMNS)
    assert len(admins_after) == len(admins_before)
    assert admins_after == admins_before
    assert len(enrollments_after) == len(enrollments_before)
    changed = sorted(set(enrollments_after) ^ set(enrollments_before))
    assert enrollments_after == enrollments_before, changed[:10]
    with inst.engine.connect() as conn:
        assert not has_permission(conn, viewer["user"], inst.root, READ_REPORTS)
        assert has_permission(conn, viewer["user"], viewer["account"], READ_REPORTS)
    # And through the API: still 403 on the root's reports, 200 on the viewer's account.
    with serving_reportcard(inst.settings, workers=0) as base:
        assert _root_reports(base, inst.root, viewer["token"]) == 403
        assert _root_reports(base, viewer["account"], viewer["token"]) == 200
    # Twice is the same as once.
    assert inst.reimport(inst.export()) in ("imported", "imported_with_messages")
    assert inst.rows(account_users, ADMIN_COLUMNS) == admins_before
    assert inst.rows(enrollments, ENROLLMENT_COLUMNS) == enrollments_before
