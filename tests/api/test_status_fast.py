"""The status endpoint's plain-ASGI path answers exactly as the application does, or not at all."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from reportcard.api.status_fast import _PATH, StatusFastPath
from reportcard.auth.links import LinkSigner
from reportcard.clock import utcnow
from reportcard.db.tables import access_tokens
from reportcard.settings import Settings
from tests.api.conftest import SAMPLE, World
from tests.api.test_http import FORBIDDEN, client, finish, reports_url
from tests.patience import ANSWER


def _scope(path: str, token: str | None, host: str = "testserver") -> dict[str, Any]:
    headers = [(b"host", host.encode())]
    if token is not None:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    return {
        "type": "http",
        "method": "GET",
        "path": path,
        "query_string": b"",
        "headers": headers,
        "scheme": "http",
        "root_path": "",
    }


def _fast(world: World, path: str, who: str | None = "admin") -> bytes | None:
    async def app(scope: Any, receive: Any, send: Any) -> None:  # pragma: no cover
        raise AssertionError("not reached by answer()")

    # signed as the world's server signs (its settings leave the link settings at their defaults)
    layer = StatusFastPath(app, world.engine, LinkSigner.from_settings(Settings()))
    match = _PATH.match(path)
    assert match is not None
    return layer.answer(_scope(path, None if who is None else world.tokens[who]), match)


def _general(c: httpx.Client, path: str) -> httpx.Response:
    # A query string sends the request past the fast path to FastAPI's route.
    return c.get(path, params={"via": "app"})


@pytest.mark.parametrize("state", ["complete", "error"])
def test_fast_and_general_paths_give_the_same_bytes_and_headers(world: World, state: str) -> None:
    # Provisioning with nothing selected ends in error; the sample report completes.
    report = SAMPLE if state == "complete" else "provisioning_csv"
    params = {"parameters[logins]": "1"} if state == "complete" else {"parameters[users]": "x"}
    with client(world) as c:
        created = c.post(reports_url(world.root, report), data=params).json()
        path = reports_url(world.root, report, created["id"])
        body = finish(c, path)
        assert body["status"] == state
        # A download link's expiry moves on at bucket boundaries (auth/links.py, 1/100 of
        # its lifetime): the two answers are compared when a fast poll after them still
        # carries the bytes of the one before, so no boundary fell between them.
        for _ in range(3):
            fast, general = c.get(path), _general(c, path)
            answered = _fast(world, path)
            if c.get(path).content == fast.content:
                break
    assert fast.status_code == general.status_code == 200
    assert fast.content == general.content
    strip = {"date"}
    assert [(k, v) for k, v in fast.headers.items() if k not in strip] == [
        (k, v) for k, v in general.headers.items() if k not in strip
    ]
    # and the bytes did come from the fast path
    assert answered is not None
    assert re.sub(rb'"run_time":[^,]*', b"", answered) == re.sub(
        rb'"run_time":[^,]*', b"", fast.content.replace(world.base.encode(), b"http://testserver")
    )


def test_unusual_requests_are_left_to_the_application(world: World) -> None:
    with client(world) as c:
        created = c.post(reports_url(world.sub, SAMPLE), data={"parameters[logins]": "1"}).json()
        path = reports_url(world.sub, SAMPLE, created["id"])
        finish(c, path)
    assert _fast(world, path, "admin") is not None
    assert _fast(world, path, "subadmin") is not None
    assert _fast(world, path, None) is None  # no token
    assert _fast(world, path, "helpdesk") is None  # no read_reports
    assert _fast(world, path, "nobody") is None  # not an admin
    assert _fast(world, path, "otheradmin") is None  # another root account
    other = reports_url(world.sibling, SAMPLE, created["id"])
    assert _fast(world, other, "admin") is None  # the run belongs to another account
    wrong_type = reports_url(world.sub, "provisioning_csv", created["id"])
    assert _fast(world, wrong_type, "admin") is None
    with client(world, "subadmin") as c:
        r = c.get(other)  # sibling: the application's exact answer
        assert (r.status_code, r.content) == (403, FORBIDDEN)
    with client(world, "otheradmin") as c:
        r = c.get(path)
        assert (r.status_code, r.content) == (403, FORBIDDEN)


def test_revoked_and_expired_tokens_fall_through_to_exact_errors(world: World) -> None:
    with client(world) as c:
        created = c.post(reports_url(world.root, SAMPLE), data={"parameters[logins]": "1"}).json()
        path = reports_url(world.root, SAMPLE, created["id"])
        finish(c, path)
    token = world.tokens["viewer"]
    assert _fast(world, path, "viewer") is not None
    from reportcard.auth.tokens import hash_token

    with world.engine.begin() as conn:
        conn.execute(
            update(access_tokens)
            .where(access_tokens.c.token_hash == hash_token(token))
            .values(expires_at=utcnow())
        )
    try:
        assert _fast(world, path, "viewer") is None
        r = httpx.get(
            world.base + path, headers={"Authorization": f"Bearer {token}"}, timeout=ANSWER
        )
        assert r.status_code == 401
        assert r.json()["errors"][0]["message"] == "Expired access token."
    finally:
        with world.engine.begin() as conn:
            conn.execute(
                update(access_tokens)
                .where(access_tokens.c.token_hash == hash_token(token))
                .values(expires_at=None)
            )
