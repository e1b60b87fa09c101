"""A Reports page session is bound to what started it (issue #17), on a real server and
database: a token-started session ends when its token is revoked, expires or is deleted; a
password-started one when the login's password changes or the login goes; setting a password
ends every session of the person."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import delete, func, select, update

from reportcard.auth.passwords import hash_password, set_password
from reportcard.auth.tokens import create_token, revoke_token
from reportcard.clock import utcnow
from reportcard.db.tables import access_tokens, account_reports, pseudonyms
from reportcard.db.web_tables import web_sessions
from tests.patience import ANSWER
from tests.web.conftest import FAST, PASSWORDS, Site
from tests.web.helpers import csrf_of, sign_in


def _login(site: Site, name: str) -> tuple[int, int]:
    """(login id, user id) of the login ``name``."""
    with site.engine.connect() as conn:
        row = conn.execute(
            select(pseudonyms.c.id, pseudonyms.c.user_id).where(pseudonyms.c.unique_id == name)
        ).one()
    return int(row.id), int(row.user_id)


def _token(site: Site, name: str, **kw: object) -> tuple[str, int]:
    _, user_id = _login(site, name)
    with site.engine.begin() as conn:
        token = create_token(conn, user_id, **kw)  # type: ignore[arg-type]
    return token, int(token.split("~")[0])


def _reports(site: Site) -> str:
    return f"/accounts/{site.root}/reports"


def _alive(site: Site, client: httpx.Client) -> bool:
    answer = client.get(_reports(site))
    assert answer.status_code in (200, 303), answer.status_code
    if answer.status_code == 303:
        assert answer.headers["location"].startswith("/login")
    return answer.status_code == 200


def _runs(site: Site) -> int:
    with site.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(account_reports)).scalar_one())


def test_a_revoked_token_ends_its_session_and_it_can_start_nothing(site: Site) -> None:
    token, token_id = _token(site, "admin")
    client = sign_in(site.base, token=token)
    page = client.get(_reports(site))
    assert page.status_code == 200
    csrf = csrf_of(page.text)
    with site.engine.begin() as conn:
        assert revoke_token(conn, token_id)  # what `reportcard token revoke` does
    api = httpx.get(
        f"{site.base}/api/v1/accounts/{site.root}/reports",
        headers={"Authorization": f"Bearer {token}"},
        timeout=ANSWER,
    )
    assert api.status_code == 401 and api.json()["errors"][0]["message"] == "Revoked access token."
    assert not _alive(site, client)
    before = _runs(site)
    start = client.post(f"{_reports(site)}/provisioning_csv", data={"csrf_token": csrf})
    assert start.status_code == 303 and start.headers["location"].startswith("/login")
    assert _runs(site) == before
    with site.engine.connect() as conn:
        left = select(func.count()).select_from(web_sessions)
        assert conn.execute(left.where(web_sessions.c.access_token_id == token_id)).scalar() == 0


def test_a_token_ended_by_any_path_ends_its_session(site: Site) -> None:
    """Revoked or deleted in the database directly, or expired: checked at every request."""
    cases = {
        "revoked": lambda tid: (
            update(access_tokens).where(access_tokens.c.id == tid).values(workflow_state="deleted")
        ),
        "expired": lambda tid: (
            update(access_tokens)
            .where(access_tokens.c.id == tid)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        ),
        "deleted": lambda tid: delete(access_tokens).where(access_tokens.c.id == tid),
    }
    for name, end in cases.items():
        token, token_id = _token(site, "admin", expires_at=utcnow() + timedelta(hours=1))
        client = sign_in(site.base, token=token)
        other = sign_in(site.base, token=site.tokens["admin"])  # another token, same person
        assert _alive(site, client) and _alive(site, other), name
        with site.engine.begin() as conn:
            conn.execute(end(token_id))
        assert not _alive(site, client), name
        assert _alive(site, other), name


def test_setting_a_password_ends_every_session_of_the_person(site: Site) -> None:
    login_id, _ = _login(site, "subadmin")
    by_password = sign_in(site.base, "subadmin", PASSWORDS["subadmin"])
    by_token = sign_in(site.base, token=site.tokens["subadmin"])
    bystander = sign_in(site.base, "admin", PASSWORDS["admin"])
    sub_reports = f"/accounts/{site.sub}/reports"
    assert by_password.get(sub_reports).status_code == 200
    assert by_token.get(sub_reports).status_code == 200
    new = "a brand new passphrase"
    with site.engine.begin() as conn:
        assert set_password(conn, login_id, new) == 2  # what `reportcard set-password` does
    assert by_password.get(sub_reports).status_code == 303
    assert by_token.get(sub_reports).status_code == 303
    assert _alive(site, bystander)
    # The new password signs in; the old one no longer does.
    assert sign_in(site.base, "subadmin", new).get(sub_reports).status_code == 200
    page = httpx.get(f"{site.base}/login", timeout=ANSWER)
    old = httpx.post(
        f"{site.base}/login",
        data={
            "csrf_token": csrf_of(page.text),
            "method": "password",
            "login": "subadmin",
            "password": PASSWORDS["subadmin"],
        },
        cookies=page.cookies,
        timeout=ANSWER,
    )
    assert old.status_code == 401
    with site.engine.begin() as conn:  # leave the module's site as it was
        set_password(conn, login_id, PASSWORDS["subadmin"])


def test_a_password_session_ends_when_the_password_changes_by_any_path(site: Site) -> None:
    """A hash written by something else than set_password, or a login that went away."""
    login_id, _ = _login(site, "admin")
    with site.engine.connect() as conn:
        original = conn.execute(
            select(pseudonyms.c.password_hash).where(pseudonyms.c.id == login_id)
        ).scalar_one()
    client = sign_in(site.base, "admin", PASSWORDS["admin"])
    assert _alive(site, client)
    with site.engine.begin() as conn:
        conn.execute(
            update(pseudonyms)
            .where(pseudonyms.c.id == login_id)
            .values(password_hash=hash_password("changed elsewhere", **FAST))
        )
    assert not _alive(site, client)
    with site.engine.begin() as conn:
        conn.execute(
            update(pseudonyms).where(pseudonyms.c.id == login_id).values(password_hash=original)
        )
    client = sign_in(site.base, "admin", PASSWORDS["admin"])
    assert _alive(site, client)
    try:
        with site.engine.begin() as conn:
            conn.execute(
                update(pseudonyms)
                .where(pseudonyms.c.id == login_id)
                .values(workflow_state="suspended")
            )
        assert not _alive(site, client)
    finally:
        with site.engine.begin() as conn:
            conn.execute(
                update(pseudonyms)
                .where(pseudonyms.c.id == login_id)
                .values(workflow_state="active")
            )
