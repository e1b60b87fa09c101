"""Every API operation (read from the app's own OpenAPI document, so a new endpoint cannot be
missed) against every kind of caller: no token, an invalid, expired or revoked token, a user
without admin rights, a custom role without the permission, a sub-account admin on a parent or
sibling, another root account's admin, and the admins who may. Plus: ids of another account's
runs, files and imports answer 404, and download links are dead once guessed or deleted."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from reportcard.api.audit_events import VIEW_AUDIT_LOG
from reportcard.auth.permissions import IMPORT_SIS_DATA, READ_REPORTS
from reportcard.auth.tokens import create_token, hash_token, revoke_token
from reportcard.clock import utcnow
from reportcard.db.tables import access_tokens
from tests.patience import ANSWER
from tests.runs.sample import SAMPLE
from tests.security.conftest import World, client, finish, reports_url

NOT_FOUND = {"errors": [{"message": "The specified resource does not exist."}]}

# The permission each account-scoped operation needs (default: read_reports); operations
# without an account in the path are listed in NOT_ACCOUNT_SCOPED and tested on their own.
PERMISSION = {
    "import_sis_data": IMPORT_SIS_DATA,
    "list_sis_imports": IMPORT_SIS_DATA,
    "sis_importing": IMPORT_SIS_DATA,
    "get_sis_import": IMPORT_SIS_DATA,
    "abort_sis_import": IMPORT_SIS_DATA,
    "list_audit_events": VIEW_AUDIT_LOG,
}
NOT_ACCOUNT_SCOPED = {"list_accounts", "get_file", "download_file", "download_account_file"}

# Who holds what where (tests/api/conftest.py's world).
ANY = {READ_REPORTS, IMPORT_SIS_DATA, VIEW_AUDIT_LOG}
BAD_TOKENS = ("none", "invalid", "expired", "revoked")


def grants(world: World, who: str, account: int) -> set[str]:
    root_tree = {world.root, world.sub, world.subsub, world.sibling}
    if who == "admin":
        return ANY if account in root_tree else set()
    if who == "subadmin":
        return ANY if account in (world.sub, world.subsub) else set()
    if who == "viewer":
        return {READ_REPORTS} if account in root_tree else set()
    if who == "otheradmin":
        return ANY if account == world.other_root else set()
    return set()  # nobody, helpdesk (a custom role without read_reports)


def operations(world: World) -> list[tuple[str, str, str]]:
    doc = httpx.get(f"{world.base}/openapi.json", timeout=ANSWER).json()
    return [
        (method.upper(), path, op["operationId"])
        for path, ops in doc["paths"].items()
        for method, op in ops.items()
    ]


@pytest.fixture(scope="module")
def things(world: World) -> Iterator[dict[str, Any]]:
    """Per account: a finished run (with a marker parameter), its file, and SIS imports."""
    made: dict[str, Any] = {"run": {}, "file": {}, "import": {}, "url": {}}
    for account, who in (
        (world.root, "admin"),
        (world.sub, "subadmin"),
        (world.sibling, "admin"),
        (world.other_root, "otheradmin"),
    ):
        with client(world.base, world.tokens[who]) as c:
            r = c.post(reports_url(account, SAMPLE), data={"parameters[marker]": f"m-{account}"})
            assert r.status_code == 200, r.text
            done = finish(c, reports_url(account, SAMPLE, r.json()["id"]))
            made["run"][account] = done["id"]
            made["file"][account] = done["attachment"]["id"]
            made["url"][account] = done["attachment"]["url"]
    for account, who in ((world.root, "admin"), (world.other_root, "otheradmin")):
        with client(world.base, world.tokens[who]) as c:
            imp = c.post(
                f"/api/v1/accounts/{account}/sis_imports",
                params={"extension": "csv"},
                content=b"term_id,name,status\nt-x,Term X,active\n",
                headers={"Content-Type": "text/csv"},
            )
            assert imp.status_code == 200, imp.text
            made["import"][account] = imp.json()["id"]
    made["import"][world.sub] = made["import"][world.sibling] = made["import"][world.root]
    with world.engine.begin() as conn:
        uid = conn.execute(
            select(access_tokens.c.user_id).where(
                access_tokens.c.token_hash == hash_token(world.tokens["admin"])
            )
        ).scalar_one()
        expired = create_token(conn, uid, expires_at=utcnow() - timedelta(minutes=1))
        revoked = create_token(conn, uid)
        revoke_token(conn, int(revoked.split("~")[0]))
    made["tokens"] = {
        **world.tokens,
        "none": None,
        "invalid": "1~definitely-not-a-token",
        "expired": expired,
        "revoked": revoked,
    }
    yield made


def fill(path: str, account: int, things: dict[str, Any], owner: int | None = None) -> str:
    """``path`` with ``account`` in it and the ids of ``owner``'s things (default: the same)."""
    owner = account if owner is None else owner
    values = {
        "account_id": str(account),
        "report": SAMPLE,
        "run_id": str(things["run"][owner]),
        "file_id": str(things["file"][owner]),
        "import_id": str(things["import"][owner]),
    }
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m[1], "1"), path)


_HTTP = httpx.Client(timeout=ANSWER)  # one client: building one costs more than a request


def call(world: World, token: str | None, method: str, path: str) -> httpx.Response:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    data = {} if method in ("POST", "PUT") else None
    return _HTTP.request(method, world.base + path, headers=headers, data=data)


def test_every_operation_is_covered(world: World) -> None:
    ops = operations(world)
    assert len(ops) >= 20
    for _method, path, op_id in ops:
        assert "{account_id}" in path or op_id in NOT_ACCOUNT_SCOPED, (
            f"{op_id} ({path}) has no account in its path: add it to NOT_ACCOUNT_SCOPED and "
            "give it a test of its own below"
        )


def test_ids_of_another_account_answer_404_never_its_data(
    world: World, things: dict[str, Any]
) -> None:
    """Run, file and import ids of another account, through an account the caller may read."""
    cases = [
        ("admin", world.root, world.other_root),
        ("admin", world.root, world.sub),
        ("subadmin", world.sub, world.root),
        ("subadmin", world.sub, world.sibling),
        ("otheradmin", world.other_root, world.root),
    ]
    for who, mine, theirs in cases:
        for method, path, op_id in operations(world):
            if "{account_id}" not in path:
                continue
            if not any(k in path for k in ("{run_id}", "{import_id}")):
                continue
            if "{import_id}" in path and things["import"][theirs] == things["import"][mine]:
                continue  # same root's import: not another account's
            url = fill(path, mine, things, owner=theirs)
            r = call(world, things["tokens"][who], method, url)
            if "{import_id}" in path and mine == world.sub:
                assert r.status_code == 400, (who, op_id, r.text)  # imports only on roots
                continue
            assert r.status_code == 404, (who, op_id, url, r.status_code, r.text)
            assert r.json() == NOT_FOUND
            assert f"m-{theirs}" not in r.text


def test_non_account_operations(world: World, things: dict[str, Any]) -> None:
    tokens = things["tokens"]
    for who in BAD_TOKENS:
        assert call(world, tokens[who], "GET", "/api/v1/accounts").status_code == 401
        for account, file_id in things["file"].items():
            for url in (
                f"/api/v1/files/{file_id}",
                f"/files/{file_id}/download",
                f"/accounts/{account}/files/{file_id}/download",
            ):
                assert call(world, tokens[who], "GET", url).status_code == 401, (who, url)
    for who in ("nobody", "helpdesk", "viewer", "subadmin", "otheradmin", "admin"):
        listed = call(world, tokens[who], "GET", "/api/v1/accounts")
        assert listed.status_code == 200
        for account, file_id in things["file"].items():
            allowed = READ_REPORTS in grants(world, who, account)
            for url in (
                f"/api/v1/files/{file_id}",
                f"/files/{file_id}/download",
                f"/accounts/{account}/files/{file_id}/download",
            ):
                r = call(world, tokens[who], "GET", url)
                assert r.status_code == (200 if allowed else 403), (who, url, r.status_code)
            # a file through another account's download path is 404
            other = world.other_root if account != world.other_root else world.root
            r = call(world, tokens[who], "GET", f"/accounts/{other}/files/{file_id}/download")
            assert r.status_code == 404


@pytest.mark.parametrize(
    "who",
    [*BAD_TOKENS, "nobody", "helpdesk", "viewer", "subadmin", "otheradmin", "admin"],
)
def test_matrix_over_every_account_operation(
    world: World, things: dict[str, Any], who: str
) -> None:
    token = things["tokens"][who]
    failures = []
    # mutating operations last, so the reads see the fixture's runs
    ops = sorted(operations(world), key=lambda o: (o[0] != "GET", o[1]))
    for account in (world.root, world.sub, world.sibling, world.other_root):
        for method, path, op_id in ops:
            if "{account_id}" not in path:
                continue
            url = fill(path, account, things)
            r = call(world, token, method, url)
            needed = PERMISSION.get(op_id, READ_REPORTS)
            if r.status_code >= 500:
                failures.append((op_id, account, r.status_code, r.text[:200]))
            elif who in BAD_TOKENS:
                if r.status_code != 401:
                    failures.append((op_id, account, r.status_code, "expected 401"))
            elif needed in grants(world, who, account):
                if r.status_code in (401, 403):
                    failures.append((op_id, account, r.status_code, "expected access"))
            else:
                if r.status_code not in (403, 404):
                    failures.append((op_id, account, r.status_code, "expected 403/404"))
                foreign = [m for a, m in ((a, f"m-{a}") for a in things["run"]) if m in r.text]
                if foreign:
                    failures.append((op_id, account, r.status_code, f"leaked {foreign}"))
    assert not failures, failures


def test_guessed_and_replayed_download_links_are_404(world: World, things: dict[str, Any]) -> None:
    with client(world.base, world.tokens["admin"]) as c:
        r = c.post(reports_url(world.root, SAMPLE), data={"parameters[marker]": "replay"})
        done = finish(c, reports_url(world.root, SAMPLE, r.json()["id"]))
    link, file_id = done["attachment"]["url"], done["attachment"]["id"]
    assert httpx.get(link, timeout=ANSWER).status_code == 200
    prefix = link.split("verifier=")[0]
    for guess in ("0", "1", "x" * 32, "9999999999-" + "0" * 32, done["attachment"]["uuid"]):
        assert httpx.get(prefix + "verifier=" + guess, timeout=ANSWER).status_code == 404, guess
    for other in (file_id + 1, file_id + 1000, 0):  # neighbouring ids with the same verifier
        assert (
            httpx.get(
                link.replace(f"/files/{file_id}/", f"/files/{other}/"), timeout=ANSWER
            ).status_code
            == 404
        )
    with client(world.base, world.tokens["admin"]) as c:
        assert c.delete(reports_url(world.root, SAMPLE, done["id"])).status_code == 200
        assert (
            httpx.get(link, timeout=ANSWER).status_code == 404
        )  # the signed link, replayed after deletion
        assert c.get(done["file_url"]).status_code == 404  # and with the token
        assert c.get(f"/api/v1/files/{file_id}").status_code == 404
