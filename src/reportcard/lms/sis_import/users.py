"""users.csv and logins.csv: users, their logins (pseudonyms) and email addresses.

``user_id`` is the SIS id of a *login*: a users.csv row is one login of one user, as in
Canvas (a second login for an existing user comes from logins.csv). Passwords
(``password``, ``ssha_password``) are accepted and discarded: reportcard has no password
sign-in, so it never stores one.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from reportcard.db.tables import authentication_providers, communication_channels, users
from reportcard.lms.sis_import.accounts import integration
from reportcard.lms.sis_import.context import CHUNK_IN, ImportContext, Rec
from reportcard.lms.sis_import.formats import BY_KEY
from reportcard.lms.sis_import.handler import Record
from reportcard.lms.sis_import.values import DELETE, Columns, Getter
from reportcard.names import stored_names

SHIFT_EMAILS = (
    "UPDATE communication_channels SET position = position + 1 "
    "WHERE user_id = ? AND path_type = 'email' AND id <> ?"
)


def sortable_from(name: str) -> str:
    """``Given Names Surname`` -> ``Surname, Given Names`` (one word stays as it is)."""
    parts = name.split()
    if len(parts) < 2:
        return name
    return f"{parts[-1]}, {' '.join(parts[:-1])}"


def user_names(
    first: str | None, last: str | None, full: str | None, sortable: str | None
) -> dict[str, Any]:
    """The ``name``/``sortable_name`` a row gives (nothing when it gives no name at all)."""
    out: dict[str, Any] = {}
    joined = " ".join(p for p in (first, last) if p) or None
    name = full or joined
    if name is not None:
        out["name"] = name
    if sortable is not None:
        out["sortable_name"] = sortable
    elif first and last and not full:
        out["sortable_name"] = f"{last}, {first}"
    elif name is not None:
        out["sortable_name"] = sortable_from(name)
    return out


@dataclass
class _Login:
    line: int
    sis: str
    login: str
    status: str
    integration: str | None
    provider: int | None
    provider_given: bool
    email: str | None
    names: dict[str, Any]
    short: str | None
    pronouns: str | None
    existing: tuple[str, str] | None = None  # (column, value) of logins.csv


class _Lookups:
    """Logins, users and email channels a batch refers to, read in a few queries."""

    def __init__(self, ctx: ImportContext, rows: Sequence[_Login]) -> None:
        self.ctx = ctx
        sis = [r.sis for r in rows]
        logins = [r.login for r in rows] + [r.login.lower() for r in rows]
        self.by_sis = ctx.logins(sis)
        self.by_login = ctx.logins_by_unique_id(logins)
        self.users: dict[int, Rec] = {}
        self.emails: dict[int, list[Rec]] = {}
        self.load_users(
            {int(r["user_id"]) for r in [*self.by_sis.values(), *self.by_login.values()]}
        )

    def load_users(self, ids: set[int]) -> None:
        ids -= set(self.users)
        wanted = sorted(ids)
        u, cc = users.c, communication_channels.c
        for i in range(0, len(wanted), CHUNK_IN):
            part = wanted[i : i + CHUNK_IN]
            query = select(
                u.id, u.name, u.sortable_name, u.first_name, u.last_name, u.short_name, u.pronouns
            )
            for row in self.ctx.conn.execute(query.where(u.id.in_(part))):
                self.users[int(row.id)] = dict(row._mapping)
            channels = select(cc.id, cc.user_id, cc.path, cc.position, cc.workflow_state).where(
                cc.user_id.in_(part), cc.path_type == "email"
            )
            for channel in self.ctx.conn.execute(channels.order_by(cc.position, cc.id)):
                self.emails.setdefault(int(channel.user_id), []).append(dict(channel._mapping))

    def login_owner(self, login: str) -> Rec | None:
        return self.by_login.get(login) or self.by_login.get(login.lower())

    def remember(self, rec: Rec) -> None:
        if rec.get("sis_user_id") is not None:
            self.by_sis[rec["sis_user_id"]] = rec
        self.by_login[rec["unique_id"]] = rec


def _providers(ctx: ImportContext) -> list[Rec]:
    found = ctx.cache.get("providers")
    if found is None:
        ap = authentication_providers.c
        query = select(ap.id, ap.auth_type, ap.workflow_state).where(
            ap.root_account_id == ctx.root_id
        )
        found = [dict(r._mapping) for r in ctx.conn.execute(query.order_by(ap.id))]
        ctx.cache["providers"] = found
    return found


def provider_id(ctx: ImportContext, raw: str) -> int | None:
    """A provider of the root by id, or the first active one of a type (``saml``...)."""
    for p in _providers(ctx):
        if raw.isdigit() and int(p["id"]) == int(raw):
            return int(p["id"])
    for p in _providers(ctx):
        if p["auth_type"] == raw.lower() and p["workflow_state"] == "active":
            return int(p["id"])
    return None


def _parse(
    ctx: ImportContext, file: str, cols: Columns, batch: Sequence[Record], logins_file: bool
) -> list[_Login]:
    kind = BY_KEY["login" if logins_file else "user"]
    g: dict[str, Getter] = {
        n: cols.getter(n)
        for n in [
            "user_id",
            "login_id",
            "status",
            "integration_id",
            "authentication_provider_id",
            "email",
            "first_name",
            "last_name",
            "full_name",
            "sortable_name",
            "short_name",
            "pronouns",
            "existing_user_id",
            "existing_integration_id",
            "existing_canvas_user_id",
        ]
    }
    out = []
    for line, f in batch:
        sis = g["user_id"](f)
        if sis is None:
            ctx.warn(file, line, "No user_id given for a user")
            continue
        login = g["login_id"](f)
        if login is None:
            ctx.warn(file, line, f"No login_id given for user {sis}")
            continue
        if logins_file:
            status = "active"
        else:
            found = ctx.status(kind, file, line, g["status"](f), f"user {sis}")
            if found is None:
                continue
            status = found
        existing = None
        if logins_file:
            for column in (
                "existing_user_id",
                "existing_integration_id",
                "existing_canvas_user_id",
            ):
                value = g[column](f)
                if value is not None:
                    existing = (column, value)
                    break
            if existing is None:
                ctx.warn(file, line, f"No existing user given for login {sis}")
                continue
        if ctx.duplicate("user", sis, file, line, f"user_id {sis}"):
            continue
        if ctx.duplicate("login_id", login.lower(), file, line, f"login_id {login}"):
            continue
        if ctx.skip_deletes and status == "deleted":
            continue
        raw_provider = g["authentication_provider_id"](f)
        provider = None
        if raw_provider is not None:
            provider = provider_id(ctx, raw_provider)
            if provider is None:
                ctx.warn(
                    file, line, f"Unknown authentication provider {raw_provider} for user {sis}"
                )
                continue
        names = user_names(
            g["first_name"](f), g["last_name"](f), g["full_name"](f), g["sortable_name"](f)
        )
        pronouns = g["pronouns"](f) if ctx.pronouns else None
        out.append(
            _Login(
                line,
                sis,
                login,
                status,
                g["integration_id"](f),
                provider,
                "authentication_provider_id" in cols,
                g["email"](f),
                names,
                g["short_name"](f),
                pronouns,
                existing,
            )
        )
    return out


def _email(ctx: ImportContext, look: _Lookups, user_id: int, email: str | None) -> None:
    """Give the user ``email`` (first in line) unless they already have that address."""
    if email is None:
        return
    channels = look.emails.setdefault(user_id, [])
    low = email.lower()
    if any(c["path"].lower() == low and c["workflow_state"] != "retired" for c in channels):
        return
    rec = ctx.save(
        "communication_channels",
        None,
        {
            "user_id": user_id,
            "path": email,
            "path_type": "email",
            "position": 1,
            "workflow_state": "active",
        },
        mark=False,
        stamps=False,
    )
    if channels:
        ctx.bulk.execute_many(SHIFT_EMAILS, [(user_id, rec["id"])])
    channels.insert(0, rec)


def _user_values(ctx: ImportContext, row: _Login) -> dict[str, Any]:
    values = dict(row.names)
    if "sortable_name" in values:
        values.update(stored_names(values["sortable_name"]))
    if row.short is not None:
        values["short_name"] = None if row.short == DELETE else row.short
    if row.pronouns is not None:
        values["pronouns"] = None if row.pronouns == DELETE else row.pronouns
    return values


def _login_values(row: _Login) -> dict[str, Any]:
    values: dict[str, Any] = {
        "unique_id": row.login,
        "sis_user_id": row.sis,
        "workflow_state": row.status,
    }
    if row.provider_given:
        values["authentication_provider_id"] = row.provider
    integration(values, row.integration)
    return values


def _login_extra(ctx: ImportContext, user_id: int, position: int) -> dict[str, Any]:
    return {
        "user_id": user_id,
        "account_id": ctx.root_id,
        "integration_id": None,
        "authentication_provider_id": None,
        "position": position,
        "is_inst_id": False,
        "password_hash": None,
    }


def _claimed(ctx: ImportContext, file: str, look: _Lookups, row: _Login, mine: Rec | None) -> bool:
    """True (after a warning) when the row's login_id belongs to a different login."""
    owner = look.login_owner(row.login)
    if owner is None or (mine is not None and owner["id"] == mine["id"]):
        return False
    if mine is None and owner["sis_user_id"] is None:
        return False  # an existing login without a SIS id: the row adopts it
    ctx.warn(
        file,
        row.line,
        f"An existing Canvas user with the SIS ID {owner['sis_user_id']} has already claimed "
        f"{row.sis}'s requested login information, skipping",
    )
    return True


class Users:
    def rows(self, ctx: ImportContext, file: str, cols: Columns, batch: Sequence[Record]) -> None:
        rows = _parse(ctx, file, cols, batch, logins_file=False)
        look = _Lookups(ctx, rows)
        for row in rows:
            login = look.by_sis.get(row.sis)
            if _claimed(ctx, file, look, row, login):
                continue
            if login is None:
                login = look.login_owner(row.login)  # adopted (it has no SIS id)
            if login is None:
                values = _user_values(ctx, row)
                values.setdefault("name", row.login)
                if "sortable_name" not in values:
                    values["sortable_name"] = sortable_from(values["name"])
                    values.update(stored_names(values["sortable_name"]))
                user = ctx.save(
                    "users",
                    None,
                    values,
                    # Every new user's row has its columns in this order, whichever the file
                    # gave: the buffered inserts are grouped by their columns, and a group
                    # first seen after the logins' would be written after them.
                    extra={
                        "name": None,
                        "sortable_name": None,
                        "first_name": None,
                        "last_name": None,
                        "short_name": None,
                        "pronouns": None,
                        "uuid": secrets.token_hex(20),
                        "time_zone": None,
                        "workflow_state": "registered",
                        "is_test_student": False,
                    },
                    mark=False,
                )
                look.users[user["id"]] = user
                login = ctx.save(
                    "pseudonyms", None, _login_values(row), extra=_login_extra(ctx, user["id"], 1)
                )
            else:
                user = look.users[int(login["user_id"])]
                ctx.save("users", user, _user_values(ctx, row), mark=False)
                ctx.save("pseudonyms", login, _login_values(row))
            look.remember(login)
            _email(ctx, look, int(user["id"]), row.email)
            ctx.counts["users"] += 1

    def finish(self, ctx: ImportContext) -> None:
        return None


class Logins:
    """logins.csv: another login for a user found by ``existing_*``."""

    def rows(self, ctx: ImportContext, file: str, cols: Columns, batch: Sequence[Record]) -> None:
        rows = _parse(ctx, file, cols, batch, logins_file=True)
        look = _Lookups(ctx, rows)
        refs: dict[str, list[str]] = {
            "existing_user_id": [],
            "existing_integration_id": [],
            "existing_canvas_user_id": [],
        }
        for row in rows:
            assert row.existing is not None
            refs[row.existing[0]].append(row.existing[1])
        by_sis = ctx.logins(refs["existing_user_id"])
        by_int = ctx.logins_by_integration(refs["existing_integration_id"])
        canvas_ids = {int(v) for v in refs["existing_canvas_user_id"] if v.isdigit()}
        found = [*by_sis.values(), *by_int.values()]
        look.load_users(canvas_ids | {int(r["user_id"]) for r in found})
        positions = self._positions(ctx, set(look.users))
        for row in rows:
            assert row.existing is not None
            column, ref = row.existing
            target: int | None = None
            if column == "existing_user_id":
                target = by_sis[ref]["user_id"] if ref in by_sis else None
            elif column == "existing_integration_id":
                target = by_int[ref]["user_id"] if ref in by_int else None
            elif ref.isdigit() and int(ref) in look.users:
                target = int(ref)
            if target is None:
                ctx.warn(file, row.line, f"Could not find the existing user for login {row.sis}")
                continue
            login = look.by_sis.get(row.sis)
            if login is not None and int(login["user_id"]) != int(target):
                ctx.warn(file, row.line, f"SIS ID {row.sis} is already in use by another user")
                continue
            if _claimed(ctx, file, look, row, login):
                continue
            if login is None:
                adopt = look.login_owner(row.login)
                if adopt is not None and int(adopt["user_id"]) != int(target):
                    ctx.warn(file, row.line, f"login_id {row.login} belongs to another user")
                    continue
                login = adopt
            if login is None:
                positions[target] = positions.get(target, 0) + 1
                login = ctx.save(
                    "pseudonyms",
                    None,
                    _login_values(row),
                    extra=_login_extra(ctx, target, positions[target]),
                )
            else:
                ctx.save("pseudonyms", login, _login_values(row))
            look.remember(login)
            _email(ctx, look, int(target), row.email)
            ctx.counts["logins"] += 1

    @staticmethod
    def _positions(ctx: ImportContext, user_ids: set[int]) -> dict[int, int]:
        from sqlalchemy import func

        from reportcard.db.tables import pseudonyms

        p = pseudonyms.c
        wanted = sorted(user_ids)
        out: dict[int, int] = {}
        for i in range(0, len(wanted), CHUNK_IN):
            query = (
                select(p.user_id, func.max(p.position))
                .where(p.user_id.in_(wanted[i : i + CHUNK_IN]))
                .group_by(p.user_id)
            )
            for uid, top in ctx.conn.execute(query):
                out[int(uid)] = int(top or 0)
        return out

    def finish(self, ctx: ImportContext) -> None:
        return None
