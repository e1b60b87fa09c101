"""Importing into a real SQLite database and reading back exactly what it wrote."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Table, insert, select

from reportcard.db.functions import present_columns
from reportcard.db.sis_import_tables import sis_import_messages
from reportcard.db.tables import (
    accounts,
    authentication_providers,
    enrollment_terms,
    metadata,
    roles,
)
from reportcard.lms.sis_import.job import create_import, get_import, run_import, upload_key
from reportcard.lms.tree import refresh
from reportcard.settings import Settings
from reportcard.storage.local import LocalStorage
from tests.clocks import T0_2024 as T0

ROOT = 1
# Built-in roles 1-6, then this root's custom roles.
ROLES = [
    (1, None, "StudentEnrollment", "StudentEnrollment", True, ""),
    (2, None, "TeacherEnrollment", "TeacherEnrollment", True, ""),
    (3, None, "TaEnrollment", "TaEnrollment", True, ""),
    (4, None, "DesignerEnrollment", "DesignerEnrollment", True, ""),
    (5, None, "ObserverEnrollment", "ObserverEnrollment", True, ""),
    (6, None, "AccountAdmin", "AccountMembership", True, ""),
    (7, ROOT, "Pixel Engineer", "TaEnrollment", False, ""),
    (8, ROOT, "Help Desk", "AccountMembership", False, "read_roster"),
]
# Everything an import may write (the import's own records aside).
LMS_TABLES = (
    "accounts",
    "enrollment_terms",
    "courses",
    "course_sections",
    "blueprint_subscriptions",
    "users",
    "pseudonyms",
    "communication_channels",
    "enrollments",
    "user_observers",
    "account_users",
    "group_categories",
    "groups",
    "group_memberships",
    "account_ancestors",
    "user_account_associations",
)


def make_root(engine: Engine, *, tz: str = "UTC", pronouns: bool = False) -> None:
    """Root account 1 with its Default Term, roles and a SAML provider (id 1)."""
    with engine.begin() as conn:
        conn.execute(
            insert(accounts).values(
                id=ROOT,
                name="Canvas U",
                parent_account_id=None,
                root_account_id=None,
                workflow_state="active",
                uuid="root-uuid",
                default_time_zone=tz,
                can_add_pronouns=pronouns,
                created_at=T0,
                updated_at=T0,
            )
        )
        conn.execute(
            insert(enrollment_terms).values(
                id=1,
                root_account_id=ROOT,
                name="Default Term",
                workflow_state="active",
                is_default=True,
                created_at=T0,
                updated_at=T0,
            )
        )
        for rid, root, name, base, built_in, perms in ROLES:
            conn.execute(
                insert(roles).values(
                    id=rid,
                    root_account_id=root,
                    account_id=root,
                    name=name,
                    base_role_type=base,
                    built_in=built_in,
                    workflow_state="active",
                    permissions=perms,
                )
            )
        conn.execute(
            insert(authentication_providers).values(id=1, root_account_id=ROOT, auth_type="saml")
        )
        refresh(conn, ROOT)


def zip_of(files: dict[str, str | bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data if isinstance(data, bytes) else data.encode("utf-8"))
    return buf.getvalue()


@dataclass
class Result:
    id: int
    state: str
    imp: Any
    messages: list[tuple[bool, str | None, int | None, str]]

    @property
    def warnings(self) -> list[tuple[str | None, int | None, str]]:
        return [(f, n, m) for failure, f, n, m in self.messages if not failure]

    @property
    def errors(self) -> list[tuple[str | None, int | None, str]]:
        return [(f, n, m) for failure, f, n, m in self.messages if failure]

    @property
    def counts(self) -> dict[str, int]:
        skip = ("error_count", "warning_count")
        return {k: v for k, v in self.imp.data["counts"].items() if v and k not in skip}


def do_import(
    engine: Engine,
    files_dir: Path,
    data: bytes | str | dict[str, str | bytes],
    name: str | None = None,
    *,
    settings: Settings | None = None,
    options: dict[str, Any] | None = None,
) -> Result:
    """Import ``data`` (a CSV text, raw bytes, or files to zip) into root 1, here and now."""
    if isinstance(data, dict):
        data, name = zip_of(data), name or "sis.zip"
    elif isinstance(data, str):
        data, name = data.encode("utf-8"), name or "sis.csv"
    name = name or "upload.bin"
    settings = settings or Settings(data_dir=files_dir)
    storage = LocalStorage(files_dir)
    key = upload_key(name)
    with storage.open_write(key) as fh:
        fh.write(data)
    with engine.begin() as conn:
        import_id = create_import(
            conn,
            account_id=ROOT,
            user_id=None,
            upload_key=key,
            upload_name=name,
            upload_size=len(data),
            options=options,
            state="importing",
        )
    state = run_import(engine, storage, settings, import_id)
    m = sis_import_messages.c
    with engine.connect() as conn:
        imp = get_import(conn, import_id)
        msgs = conn.execute(
            select(m.failure, m.file, m.line, m.message)
            .where(m.sis_import_id == import_id)
            .order_by(m.id)
        ).all()
    return Result(import_id, state, imp, [tuple(r) for r in msgs])  # type: ignore[misc]


def rows(engine: Engine, table: Table, cols: str, *where: Any) -> list[tuple[Any, ...]]:
    """``cols`` of ``table`` ordered by id (else the first column), as plain tuples."""
    columns = [table.c[c] for c in cols.split()]
    order = table.c.id if "id" in table.c else table.c[cols.split()[0]]
    query = select(*columns).order_by(order)
    if where:
        query = query.where(*where)
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(query)]


def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every LMS table (to show that something changed nothing)."""
    out = {}
    with engine.connect() as conn:
        for name in LMS_TABLES:
            table = metadata.tables[name]
            out[name] = [
                tuple(r)
                for r in conn.execute(
                    select(*present_columns(table, conn.dialect.name)).order_by(*table.primary_key)
                )
            ]
    return out
