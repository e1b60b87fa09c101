"""Every page of the Reports UI (read from the web router, so a new page cannot be missed)
against every kind of visitor: no session, an expired, signed-out or altered session cookie, a
user without admin rights, a custom role without ``read_reports``, a report viewer, a
sub-account admin on the parent and a sibling, another institution's admin, and the admins who
may. Plus: ids of another account's runs, imports and schedules answer 404 without their data,
download URLs are dead once guessed or deleted, CSRF is enforced on every POST, token sign-in
with an expired or revoked token is refused, and all of it lands in the audit log.

The rules (docs/web.md#who-may-do-what):

- no live session: a page (GET) and a change (POST) are sent to the sign-in form (303; htmx:
  ``HX-Redirect``), nothing done;
- a POST without the session's CSRF token, with a wrong one, or from another origin: 403;
- an account the person may not see, or an object not in the account of the path: 404.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from reportcard.auth.permissions import READ_REPORTS
from reportcard.auth.tokens import create_token, hash_token, revoke_token
from reportcard.clock import utcnow
from reportcard.db.audit_tables import audit_events
from reportcard.db.engine import read_conn
from reportcard.db.schedule_tables import report_schedules
from reportcard.db.tables import access_tokens, account_reports
from reportcard.db.web_tables import web_sessions
from reportcard.web.routes import router
from reportcard.web.sessions import COOKIE
from tests.patience import ANSWER, PATIENCE
from tests.runs.sample import SAMPLE
from tests.security.conftest import client, finish, reports_url
from tests.web.conftest import Site, site
from tests.web.helpers import csrf_of, sign_in

__all__ = ["site"]

PUBLIC = "public"  # anyone
SIGNED_IN = "signed-in"  # any live session
ROOT_SIS = "root-sis"  # import_sis_data on a root account

# Every page, and what it needs. A page missing here fails test_every_page_is_classified.
RULES: dict[tuple[str, str], str] = {
    ("GET", "/login"): PUBLIC,
    ("POST", "/login"): PUBLIC,
    ("POST", "/logout"): SIGNED_IN,
    ("GET", "/"): PUBLIC,
    ("GET", "/accounts"): SIGNED_IN,
    ("GET", "/accounts/switch"): SIGNED_IN,
    ("GET", "/accounts/{account_id}/reports"): READ_REPORTS,
    ("POST", "/accounts/{account_id}/reports/{report_name}"): READ_REPORTS,
    ("GET", "/accounts/{account_id}/reports/{report_name}/runs/{run_id}"): READ_REPORTS,
    ("POST", "/accounts/{account_id}/reports/{report_name}/runs/{run_id}/abort"): READ_REPORTS,
    ("POST", "/accounts/{account_id}/reports/{report_name}/runs/{run_id}/delete"): READ_REPORTS,
    ("GET", "/accounts/{account_id}/reports/{report_name}/runs/{run_id}/download"): READ_REPORTS,
    ("GET", "/accounts/{account_id}/sis_import"): ROOT_SIS,
    ("POST", "/accounts/{account_id}/sis_import"): ROOT_SIS,
    ("GET", "/accounts/{account_id}/sis_import/{import_id}"): ROOT_SIS,
    ("GET", "/accounts/{account_id}/reports/{report_name}/schedules"): READ_REPORTS,
    ("POST", "/accounts/{account_id}/reports/{report_name}/schedules"): READ_REPORTS,
    (
        "POST",
        "/accounts/{account_id}/reports/{report_name}/schedules/{schedule_id}/enabled",
    ): READ_REPORTS,
    (
        "GET",
        "/accounts/{account_id}/reports/{report_name}/schedules/{schedule_id}/delete",
    ): READ_REPORTS,
    (
        "POST",
        "/accounts/{account_id}/reports/{report_name}/schedules/{schedule_id}/delete",
    ): READ_REPORTS,
}
BAD_SESSIONS = ("none", "expired", "signed_out", "altered")
PEOPLE = ("admin", "subadmin", "viewer", "helpdesk", "nobody", "otheradmin")


def web_routes() -> list[tuple[str, str]]:
    """(method, path) of every route the Reports UI mounts, from its router."""

    def walk(rt: Any) -> Iterator[Any]:
        for r in rt.routes:
            if hasattr(r, "original_router"):  # FastAPI's included router
                yield from walk(r.original_router)
            else:
                yield r

    return sorted(
        (method, r.path) for r in walk(router) for method in r.methods if method != "HEAD"
    )


def account_routes() -> list[tuple[str, str]]:
    return [(m, p) for m, p in web_routes() if "{account_id}" in p]


def grants(site: Site, who: str, account: int, rule: str) -> bool:
    root_tree = {site.root, site.sub, site.subsub, site.sibling}
    if rule == ROOT_SIS:
        return (who == "admin" and account == site.root) or (
            who == "otheradmin" and account == site.other_root
        )
    if who in ("admin", "viewer"):
        return account in root_tree
    if who == "subadmin":
        return account in (site.sub, site.subsub)
    if who == "otheradmin":
        return account == site.other_root
    return False  # nobody, helpdesk (a custom role without read_reports)


@dataclass
class Things:
    run: dict[int, int]  # account -> a finished run of SAMPLE there
    imports: dict[int, int]  # root account -> a SIS import
    schedule: dict[int, int]  # account -> a schedule of SAMPLE
    clients: dict[str, httpx.Client]  # who -> a client holding a session
    csrf: dict[str, str]  # who -> that session's CSRF token


def session_row(site: Site, c: httpx.Client) -> Any:
    digest = hashlib.sha256(c.cookies[COOKIE].encode()).hexdigest()
    with read_conn(site.engine) as conn:
        return conn.execute(select(web_sessions).where(web_sessions.c.token_hash == digest)).first()


ACCOUNTS = ("root", "sub", "sibling", "other_root")
OWNERS = (
    ("root", "admin"),
    ("sub", "subadmin"),
    ("sibling", "admin"),
    ("other_root", "otheradmin"),
)


@pytest.fixture(scope="module")
def things(site: Site) -> Iterator[Things]:
    runs: dict[int, int] = {}
    for name, who in OWNERS:
        account = getattr(site, name)
        with client(site.base, site.tokens[who]) as c:
            r = c.post(reports_url(account, SAMPLE), data={"parameters[marker]": f"m-{account}"})
            assert r.status_code == 200, r.text
            runs[account] = finish(c, reports_url(account, SAMPLE, r.json()["id"]))["id"]
    imports: dict[int, int] = {}
    for account, who in ((site.root, "admin"), (site.other_root, "otheradmin")):
        with client(site.base, site.tokens[who]) as c:
            imp = c.post(
                f"/api/v1/accounts/{account}/sis_imports",
                params={"extension": "csv"},
                content=b"term_id,name,status\nt-m,Term M,active\n",
                headers={"Content-Type": "text/csv"},
            )
            assert imp.status_code == 200, imp.text
            imports[account] = imp.json()["id"]
    schedules: dict[int, int] = {}
    for name, who in OWNERS:
        account = getattr(site, name)
        with client(site.base, site.tokens[who]) as c:
            s = c.post(
                f"/api/v1/accounts/{account}/report_schedules",
                json={
                    "report": SAMPLE,
                    "parameters": {"marker": f"s-{account}"},
                    "recurrence": {"frequency": "daily", "time": "07:00"},
                    "recipients": "dean@example.edu",
                    "enabled": False,
                },
            )
            assert s.status_code == 200, s.text
            schedules[account] = s.json()["id"]
    clients = {who: sign_in(site.base, token=site.tokens[who]) for who in PEOPLE}
    clients["none"] = httpx.Client(base_url=site.base, timeout=ANSWER)
    expired = sign_in(site.base, token=site.tokens["admin"])
    expired_id = session_row(site, expired).id
    with site.engine.begin() as conn:
        conn.execute(
            update(web_sessions)
            .where(web_sessions.c.id == expired_id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    clients["expired"] = expired
    gone = sign_in(site.base, token=site.tokens["admin"])
    kept = gone.cookies[COOKIE]
    token = session_row(site, gone).csrf_token
    assert gone.post("/logout", data={"csrf_token": token}).status_code == 303
    gone.close()
    # A browser that kept the cookie after signing out: still worthless.
    clients["signed_out"] = httpx.Client(base_url=site.base, timeout=ANSWER, cookies={COOKIE: kept})
    real = sign_in(site.base, token=site.tokens["admin"])
    value = real.cookies[COOKIE]
    real.close()
    changed = value[:-1] + ("A" if value[-1] != "A" else "B")
    clients["altered"] = httpx.Client(base_url=site.base, timeout=ANSWER, cookies={COOKIE: changed})
    csrf = {who: session_row(site, clients[who]).csrf_token for who in PEOPLE}
    yield Things(runs, imports, schedules, clients, csrf)
    for c in clients.values():
        c.close()


def fill(site: Site, things: Things, path: str, account: int, owner: int | None = None) -> str:
    """``path`` for ``account``, naming the objects of ``owner`` (default: the same account)."""
    owner = account if owner is None else owner
    root_of = site.other_root if owner == site.other_root else site.root
    return (
        path.replace("{account_id}", str(account))
        .replace("{report_name}", SAMPLE)
        .replace("{run_id}", str(things.run[owner]))
        .replace("{import_id}", str(things.imports[root_of]))
        .replace("{schedule_id}", str(things.schedule[owner]))
    )


def send(c: httpx.Client, method: str, url: str, **kw: Any) -> httpx.Response:
    return c.request(method, url, follow_redirects=False, **kw)


def no_secrets(site: Site, things: Things, answer: httpx.Response, account: int) -> None:
    """A refusal shows nothing of the account's runs or schedules."""
    for marker in (f"m-{account}", f"s-{account}"):
        assert marker not in answer.text
    for run in things.run.values():
        assert f"runs/{run}" not in answer.text


def test_every_page_is_classified() -> None:
    assert set(web_routes()) == set(RULES), "classify the new page in RULES"


def test_without_a_live_session_every_page_sends_to_sign_in(site: Site, things: Things) -> None:
    for method, path in web_routes():
        if RULES[(method, path)] == PUBLIC:
            continue
        url = fill(site, things, path, site.root)
        for bad in BAD_SESSIONS:
            c = things.clients[bad]
            data = {"csrf_token": things.csrf["admin"]} if method == "POST" else None
            answer = send(c, method, url, data=data)
            assert answer.status_code == 303, (bad, method, url, answer.status_code)
            assert answer.headers["location"].startswith("/login"), (bad, url)
            no_secrets(site, things, answer, site.root)
            htmx = send(c, method, url, data=data, headers={"HX-Request": "true"})
            assert htmx.headers.get("hx-redirect", "").startswith("/login"), (bad, url)
    # Nothing was done: the runs and schedules are all still there.
    with read_conn(site.engine) as conn:
        states = conn.execute(
            select(account_reports.c.workflow_state).where(
                account_reports.c.id.in_(list(things.run.values()))
            )
        ).scalars()
        assert set(states) == {"complete"}
        live = conn.execute(
            select(report_schedules.c.workflow_state, report_schedules.c.enabled).where(
                report_schedules.c.id.in_(list(things.schedule.values()))
            )
        ).all()
        assert {(r.workflow_state, bool(r.enabled)) for r in live} == {("active", False)}


def test_who_may_see_which_account(site: Site, things: Things) -> None:
    """GETs: 200 exactly where the role allows, 404 (and nothing of the account) elsewhere;
    POSTs with a good CSRF token: 404 wherever the role does not allow."""
    checked = 0
    for method, path in account_routes():
        rule = RULES[(method, path)]
        for who in PEOPLE:
            c = things.clients[who]
            for name in ACCOUNTS:
                account = getattr(site, name)
                if rule == ROOT_SIS and account in (site.sub, site.sibling):
                    allowed = False  # SIS imports run on root accounts only
                else:
                    allowed = grants(site, who, account, rule)
                url = fill(site, things, path, account)
                if method == "GET":
                    answer = send(c, method, url)
                    expected = 200 if allowed else 404
                elif allowed:
                    continue  # allowed changes: test_csrf_and_objects_of_other_accounts
                else:
                    answer = send(c, method, url, data={"csrf_token": things.csrf[who]})
                    expected = 404
                assert answer.status_code == expected, (who, method, url, answer.text[:300])
                if not allowed:
                    no_secrets(site, things, answer, account)
                checked += 1
    assert checked > 200


def test_csrf_and_objects_of_other_accounts(site: Site, things: Things) -> None:
    """Every POST, by someone who may: refused (403) without the token, with a wrong one and
    from another origin; an object id of another account (in the same or another
    institution) answers 404 without its data, as does a GET of it."""
    admin, token = things.clients["admin"], things.csrf["admin"]
    for method, path in account_routes():
        account = site.root
        url = fill(site, things, path, account)
        if method == "POST":
            for data, headers in (
                ({}, {}),
                ({"csrf_token": "wrong"}, {}),
                ({}, {"X-CSRF-Token": "wrong"}),
                ({"csrf_token": things.csrf["viewer"]}, {}),  # another session's token
                ({"csrf_token": token}, {"Origin": "http://evil.example"}),
                ({"csrf_token": token}, {"Referer": "http://evil.example/page"}),
            ):
                answer = send(admin, method, url, data=data, headers=headers)
                assert answer.status_code == 403, (url, data, headers)
                assert "did not come from this site" in answer.text
        if not any(k in path for k in ("{run_id}", "{import_id}", "{schedule_id}")):
            continue
        for owner in (site.sibling, site.other_root):
            if "{import_id}" in path and owner == site.sibling:
                continue  # imports belong to root accounts
            foreign = fill(site, things, path, account, owner=owner)
            form = {"csrf_token": token} if method == "POST" else None
            answer = send(admin, method, foreign, data=form)
            assert answer.status_code == 404, (foreign, answer.status_code)
            no_secrets(site, things, answer, owner)
    with read_conn(site.engine) as conn:
        states = conn.execute(
            select(account_reports.c.workflow_state).where(
                account_reports.c.id.in_(list(things.run.values()))
            )
        ).scalars()
        assert set(states) == {"complete"}


def test_other_methods_are_not_allowed(site: Site, things: Things) -> None:
    admin = things.clients["admin"]
    for method, path in web_routes():
        if "{account_id}" not in path:
            continue
        other = "GET" if method == "POST" else "POST"
        if (other, path) in RULES:
            continue
        answer = send(admin, other, fill(site, things, path, site.root))
        assert answer.status_code == 405, (other, path)


def test_pages_without_an_account(site: Site, things: Things) -> None:
    c = things.clients
    assert send(c["none"], "GET", "/").headers["location"] == "/accounts"
    assert send(c["none"], "GET", "/login").status_code == 200
    assert send(c["admin"], "GET", "/login").headers["location"] == "/accounts"
    assert send(c["admin"], "GET", "/accounts").headers["location"] == (
        f"/accounts/{site.root}/reports"
    )
    assert send(c["subadmin"], "GET", "/accounts").headers["location"] == (
        f"/accounts/{site.sub}/reports"
    )
    for who in ("nobody", "helpdesk"):
        page = send(c[who], "GET", "/accounts")
        assert page.status_code == 200 and "Canvas U" not in page.text
    # The switcher only redirects; the target page decides.
    moved = send(c["subadmin"], "GET", f"/accounts/switch?account_id={site.root}")
    assert moved.headers["location"] == f"/accounts/{site.root}/reports"
    assert send(c["subadmin"], "GET", moved.headers["location"]).status_code == 404
    assert send(c["admin"], "POST", "/logout").status_code == 403


def test_downloads_guessed_or_replayed_after_deletion(site: Site, things: Things) -> None:
    admin, token = things.clients["admin"], things.csrf["admin"]
    with client(site.base, site.tokens["admin"]) as api:
        r = api.post(reports_url(site.root, SAMPLE), data={"parameters[marker]": "doomed"})
        run = finish(api, reports_url(site.root, SAMPLE, r.json()["id"]))["id"]
    base = f"/accounts/{site.root}/reports/{SAMPLE}/runs/{run}"
    assert send(admin, "GET", f"{base}/download").status_code == 200
    # Guessed: ids next to it, far from it, and the other institution's under our account.
    for guess in (run + 1, run + 1000, things.run[site.other_root]):
        url = f"/accounts/{site.root}/reports/{SAMPLE}/runs/{guess}/download"
        assert send(admin, "GET", url).status_code == 404
    # Another report's path for the same run is not a way in either.
    other_report = base.replace(SAMPLE, "provisioning_csv") + "/download"
    assert send(admin, "GET", other_report).status_code == 404
    deleted = send(admin, "POST", f"{base}/delete", data={"csrf_token": token})
    assert deleted.status_code == 303
    for suffix in ("/download", ""):
        assert send(admin, "GET", base + suffix).status_code == 404
    replay = send(admin, "POST", f"{base}/abort", data={"csrf_token": token})
    assert replay.status_code == 404
    assert send(admin, "POST", f"{base}/delete", data={"csrf_token": token}).status_code == 404


def _login(site: Site, token: str) -> httpx.Response:
    c = httpx.Client(base_url=site.base, timeout=ANSWER)
    page = c.get("/login")
    return c.post(
        "/login",
        data={"csrf_token": csrf_of(page.text), "method": "token", "access_token": token},
    )


def test_expired_or_revoked_tokens_cannot_sign_in(site: Site) -> None:
    with site.engine.begin() as conn:
        uid = conn.execute(
            select(access_tokens.c.user_id).where(
                access_tokens.c.token_hash == hash_token(site.tokens["admin"])
            )
        ).scalar_one()
        expired = create_token(conn, uid, expires_at=utcnow() - timedelta(minutes=1))
        revoked = create_token(conn, uid)
        revoke_token(conn, int(revoked.split("~")[0]))
    for token in (expired, revoked, "1~nope", "not a token", "9" * 30 + "~x"):
        answer = _login(site, token)
        assert answer.status_code == 401, token
        assert COOKIE not in answer.headers.get("set-cookie", "")


def _events(site: Site, since_id: int, action: str) -> list[Any]:
    e = audit_events.c
    with read_conn(site.engine) as conn:
        return list(
            conn.execute(
                select(audit_events).where(e.id > since_id, e.action == action).order_by(e.id)
            ).all()
        )


def _last_event(site: Site) -> int:
    with read_conn(site.engine) as conn:
        return int(
            conn.execute(select(audit_events.c.id).order_by(audit_events.c.id.desc())).scalar() or 0
        )


def test_refusals_and_sign_ins_are_audited(site: Site, things: Things) -> None:
    start = _last_event(site)
    admin, sub = things.clients["admin"], things.clients["subadmin"]
    # CSRF (403), another account (404), another account's run (404), no session on a POST.
    run_path = f"/accounts/{site.root}/reports/{SAMPLE}/runs/{things.run[site.root]}"
    assert send(admin, "POST", f"{run_path}/abort").status_code == 403
    assert send(sub, "GET", f"/accounts/{site.root}/reports").status_code == 404
    foreign = f"/accounts/{site.root}/reports/{SAMPLE}/runs/{things.run[site.other_root]}"
    assert send(admin, "GET", foreign).status_code == 404
    assert send(things.clients["none"], "POST", f"{run_path}/delete").status_code == 303
    forbidden = _events(site, start, "auth.forbidden")
    found = {(e.user_id is not None, e.account_id, e.detail["status"]) for e in forbidden}
    assert (True, site.root, 403) in found
    assert (True, site.root, 404) in found
    assert len(forbidden) >= 3
    assert all(e.detail["via"] == "web" and e.ip == "127.0.0.1" for e in forbidden)
    assert any(e.detail["reason"] == "run of another account" for e in forbidden)
    unauth = _events(site, start, "auth.unauthenticated")
    assert [e.detail["path"] for e in unauth] == [f"{run_path}/delete"]
    # Sign-ins: a failure names the login and the address, never the password.
    secret = "not the right one 42"
    c = httpx.Client(base_url=site.base, timeout=ANSWER)
    page = c.get("/login")
    bad = c.post(
        "/login",
        data={
            "csrf_token": csrf_of(page.text),
            "method": "password",
            "login": "subadmin",
            "password": secret,
        },
    )
    assert bad.status_code == 401
    token_try = _login(site, "12345~wrong-secret-value")
    assert token_try.status_code == 401
    ok = sign_in(site.base, token=site.tokens["viewer"])
    failed = _events(site, start, "auth.signin_failed")
    assert [(e.detail.get("login"), e.detail.get("token")) for e in failed] == [
        ("subadmin", None),
        (None, 12345),
    ]
    assert all(e.ip == "127.0.0.1" for e in failed)
    for e in failed:
        assert secret not in str(e.detail) and "wrong-secret-value" not in str(e.detail)
    signed = _events(site, start, "auth.signin")
    assert len(signed) == 1 and signed[0].detail["method"] == "token"
    token = session_row(site, ok).csrf_token
    assert ok.post("/logout", data={"csrf_token": token}).status_code == 303
    assert signed[0].user_id == _events(site, start, "auth.signout")[0].user_id
    # The sign-in form's own CSRF refusal.
    assert c.post("/login", data={"csrf_token": "forged", "login": "x"}).status_code == 403
    assert any(e.detail["path"] == "/login" for e in _events(site, start, "auth.forbidden"))


def test_page_actions_are_audited(site: Site, things: Things) -> None:
    """Start, download, abort, delete and SIS import from the page: who, which, via web."""
    start = _last_event(site)
    admin, token = things.clients["admin"], things.csrf["admin"]
    base = f"/accounts/{site.root}/reports/{SAMPLE}"
    assert send(admin, "POST", base, data={"csrf_token": token}).status_code == 303
    e = audit_events.c
    with read_conn(site.engine) as conn:
        run = conn.execute(
            select(e.subject_id).where(e.id > start, e.action == "report.start")
        ).scalar_one()
    deadline = time.monotonic() + PATIENCE
    while (
        send(admin, "GET", f"{base}/runs/{run}", headers={"HX-Request": "true"}).status_code != 286
    ):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert send(admin, "GET", f"{base}/runs/{run}/download").status_code == 200
    assert send(admin, "POST", f"{base}/runs/{run}/abort", data={"csrf_token": token}).status_code
    assert (
        send(admin, "POST", f"{base}/runs/{run}/delete", data={"csrf_token": token}).status_code
        == 303
    )
    upload = send(
        admin,
        "POST",
        f"/accounts/{site.root}/sis_import",
        params={"csrf_token": token},
        files={"attachment": ("terms.csv", b"term_id,name,status\nt-w,Term W,active\n")},
    )
    assert upload.status_code == 303
    with read_conn(site.engine) as conn:
        rows = conn.execute(
            select(e.action, e.subject_id, e.user_id, e.detail).where(e.id > start).order_by(e.id)
        ).all()
    actions = [r.action for r in rows if r.action.startswith(("report.", "sis_import."))]
    assert actions == ["report.start", "report.download", "report.delete", "sis_import.create"]
    assert all(r.detail["via"] == "web" for r in rows if r.action.startswith("report."))
    assert {r.subject_id for r in rows if r.action.startswith("report.")} == {run}
    assert len({r.user_id for r in rows}) == 1


def test_abort_from_the_page_is_audited(site: Site, things: Things) -> None:
    start = _last_event(site)
    other, token = things.clients["otheradmin"], things.csrf["otheradmin"]
    slow = f"/accounts/{site.other_root}/reports/framework_slow_csv"  # runs for seconds there
    assert send(other, "POST", slow, data={"csrf_token": token}).status_code == 303
    (started,) = _events(site, start, "report.start")
    aborted = send(
        other, "POST", f"{slow}/runs/{started.subject_id}/abort", data={"csrf_token": token}
    )
    assert aborted.status_code == 303
    (event,) = _events(site, start, "report.abort")
    assert (event.subject_id, event.user_id, event.account_id) == (
        started.subject_id,
        started.user_id,
        site.other_root,
    )
    assert event.detail["via"] == "web" and event.ip == "127.0.0.1"


def test_an_expired_file_is_gone_not_an_error(site: Site, things: Things) -> None:
    """A file the retention sweep removed answers 410 on the page, as on the API."""
    from reportcard.db.tables import attachments

    admin = things.clients["admin"]
    with client(site.base, site.tokens["admin"]) as api:
        r = api.post(reports_url(site.root, SAMPLE), data={"parameters[marker]": "old"})
        done = finish(api, reports_url(site.root, SAMPLE, r.json()["id"]))
    with site.engine.begin() as conn:
        key = conn.execute(
            update(attachments)
            .where(attachments.c.id == done["attachment"]["id"])
            .values(workflow_state="expired")
            .returning(attachments.c.storage_key)
        ).scalar_one()
    (site.settings.data_dir / "files" / key).unlink()  # as the retention sweep does
    url = f"/accounts/{site.root}/reports/{SAMPLE}/runs/{done['id']}/download"
    answer = send(admin, "GET", url)
    assert answer.status_code == 410 and "expired" in answer.text
