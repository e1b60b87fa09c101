"""Tokens hashed at rest, shown once, listed without secrets, revocable, expiring, last-used
noted cheaply; signed download links that cannot be altered or outlive their expiry."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from reportcard.auth import links
from reportcard.auth.tokens import create_token, hash_token, note_used, parse_duration
from reportcard.cli import main
from reportcard.clock import utcnow
from reportcard.db.tables import access_tokens
from reportcard.settings import get_settings
from tests.patience import ANSWER, PATIENCE
from tests.security.conftest import World, client, reports_url


@pytest.fixture
def cli(world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("REPORTCARD_DATABASE_URL", world.engine.url.render_as_string(False))
    monkeypatch.setenv("REPORTCARD_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_cli_token_lifecycle_shows_the_secret_once(world: World, cli: CliRunner) -> None:
    made = cli.invoke(
        main,
        [
            "token",
            "create",
            "--login",
            "viewer",
            "--purpose",
            "nightly sync",
            "--expires-in",
            "30d",
        ],
    )
    assert made.exit_code == 0, made.output
    secret = made.stdout.strip().splitlines()[-1]
    token_id = int(secret.split("~")[0])
    with world.engine.connect() as conn:
        row = conn.execute(select(access_tokens).where(access_tokens.c.id == token_id)).one()
    assert row.token_hash == hash_token(secret) and secret.split("~")[1] not in row.token_hash
    assert timedelta(days=29, hours=23) < row.expires_at - utcnow() <= timedelta(days=30)
    with client(world.base, secret) as c:
        assert c.get(reports_url(world.root)).status_code == 200

    listed = cli.invoke(main, ["token", "list", "--login", "viewer", "--json"])
    assert listed.exit_code == 0, listed.output
    assert secret.split("~")[1] not in listed.stdout and row.token_hash not in listed.stdout
    mine = [t for t in __import__("json").loads(listed.stdout) if t["id"] == token_id]
    assert mine[0]["purpose"] == "nightly sync" and mine[0]["state"] == "active"
    assert mine[0]["hint"] == secret.split("~")[1][:5]
    table = cli.invoke(main, ["token", "list"])
    assert table.exit_code == 0 and "nightly sync" in table.stdout
    assert secret.split("~")[1] not in table.stdout

    revoked = cli.invoke(main, ["token", "revoke", str(token_id)])
    assert revoked.exit_code == 0, revoked.output
    with client(world.base, secret) as c:
        r = c.get(reports_url(world.root))
    assert r.status_code == 401
    assert r.json() == {"errors": [{"message": "Revoked access token."}]}
    again = cli.invoke(main, ["token", "revoke", str(token_id)])
    assert again.exit_code != 0 and "no active token" in again.output
    shown = cli.invoke(main, ["token", "list", "--all", "--json"])
    assert any(
        t["id"] == token_id and t["state"] == "revoked"
        for t in __import__("json").loads(shown.stdout)
    )
    trail = cli.invoke(main, ["audit", "list", "--action", "token", "--json"])
    actions = {(e["action"], e["subject_id"]) for e in __import__("json").loads(trail.stdout)}
    assert {("token.create", token_id), ("token.revoke", token_id)} <= actions


def test_cli_rejects_bad_expiry(world: World, cli: CliRunner) -> None:
    for args in (
        ["--expires-in", "soon"],
        ["--expires-at", "2000-01-01T00:00:00Z"],
        ["--expires-in", "1d", "--expires-at", "2999-01-01"],
    ):
        got = cli.invoke(main, ["token", "create", "--login", "viewer", *args])
        assert got.exit_code != 0, args
    at = cli.invoke(
        main, ["token", "create", "--login", "viewer", "--expires-at", "2999-01-01T00:00:00+02:00"]
    )
    assert at.exit_code == 0, at.output


def test_expired_token_is_refused_with_canvas_body(world: World) -> None:
    with world.engine.begin() as conn:
        uid = conn.execute(
            select(access_tokens.c.user_id).where(
                access_tokens.c.token_hash == hash_token(world.tokens["admin"])
            )
        ).scalar_one()
        old = create_token(conn, uid, expires_at=utcnow() - timedelta(seconds=1))
    with client(world.base, old) as c:
        r = c.get(reports_url(world.root))
    assert r.status_code == 401
    assert r.json()["errors"][0]["message"] == "Expired access token."


def test_parse_duration() -> None:
    assert parse_duration("30d") == timedelta(days=30)
    assert parse_duration("12h") == timedelta(hours=12)
    assert parse_duration(" 15m ") == timedelta(minutes=15)
    assert parse_duration("2w") == timedelta(weeks=2)
    for bad in ("", "0d", "30", "d", "1y", "-1d", "9999999d"):
        with pytest.raises(ValueError):
            parse_duration(bad)


def _last_used(world: World, token: str) -> object:
    with world.engine.connect() as conn:
        return conn.execute(
            select(access_tokens.c.last_used_at).where(
                access_tokens.c.token_hash == hash_token(token)
            )
        ).scalar()


def test_last_used_is_noted_on_use_at_most_once_a_minute(world: World) -> None:
    with world.engine.begin() as conn:
        uid = conn.execute(
            select(access_tokens.c.user_id).where(
                access_tokens.c.token_hash == hash_token(world.tokens["admin"])
            )
        ).scalar_one()
        fresh = create_token(conn, uid, purpose="last-used")
    assert _last_used(world, fresh) is None
    before = utcnow().replace(microsecond=0)
    with client(world.base, fresh) as c:
        assert c.get(reports_url(world.root)).status_code == 200
    deadline = time.monotonic() + PATIENCE
    while _last_used(world, fresh) is None:
        assert time.monotonic() < deadline, "last_used_at was never written"
        time.sleep(0.05)
    first = _last_used(world, fresh)
    assert isinstance(first, type(before)) and first >= before
    # in the same process, within the minute: no second write is even attempted
    assert note_used(world.engine, hash_token(fresh)) is None


def test_signed_links_cannot_be_altered_or_outlive_expiry() -> None:
    signer = links.LinkSigner(secret="s3cret", seconds=60, uuid_ok=False)
    now = 1_800_000_000.0
    v = signer.sign(12, "uuid-a", now=now)
    assert signer.verify(12, "uuid-a", v, now=now + 59)
    assert not signer.verify(12, "uuid-a", v, now=now + 61)  # expired
    assert not signer.verify(13, "uuid-a", v, now=now)  # another file id
    assert not signer.verify(12, "uuid-b", v, now=now)  # another file
    head, mac = v.split("-")
    assert not signer.verify(12, "uuid-a", f"{int(head) + 3600}-{mac}", now=now)  # extended
    assert not signer.verify(12, "uuid-a", f"{head}-{'0' * 32}", now=now)
    for junk in ("", "-", "abc", "1-2", f"{head}-{mac}x", "uuid-a"):
        assert not signer.verify(12, "uuid-a", junk, now=now)
    other = links.LinkSigner(secret="other", seconds=60, uuid_ok=False)
    assert not other.verify(12, "uuid-a", v, now=now)  # another server secret
    canvas = links.LinkSigner(secret="other", seconds=60, uuid_ok=True)
    assert canvas.verify(12, "uuid-a", "uuid-a", now=now)  # Canvas's form, when allowed


def test_signed_links_expire_in_buckets_so_a_poll_is_stable() -> None:
    """Links signed within one bucket (1/100 of the lifetime) are identical; each lives at
    least its lifetime and less than one bucket longer."""
    day = 86400
    step = links.bucket_seconds(day)
    assert step == 864
    signer = links.LinkSigner(secret="s3cret", seconds=day, uuid_ok=False)
    start = 1_800_000_000 - 1_800_000_000 % step  # the first second of a bucket
    signed = {signer.sign(7, "uuid-a", now=start + 0.5 + i) for i in range(step - 1)}
    assert len(signed) == 1  # every second of the bucket: the same bytes
    (v,) = signed
    expires = int(v.split("-")[0])
    assert expires == start + day + step
    assert signer.verify(7, "uuid-a", v, now=start + step - 1 + day)  # >= its lifetime
    assert not signer.verify(7, "uuid-a", v, now=expires)  # < lifetime + one bucket
    nxt = signer.sign(7, "uuid-a", now=start + step + 0.5)
    assert nxt != v and int(nxt.split("-")[0]) == expires + step
    # short lifetimes round to the next whole second
    assert links.expiry(60, 1000.2) == 1061 and links.bucket_seconds(60) == 1


def test_tampered_or_foreign_download_links_are_404(world: World) -> None:
    from tests.security.conftest import finish

    with client(world.base, world.tokens["admin"]) as c:
        a = c.post(reports_url(world.root, "framework_sample_csv"), data={"parameters[t]": "1"})
        b = c.post(reports_url(world.root, "framework_sample_csv"), data={"parameters[t]": "2"})
        da = finish(c, reports_url(world.root, "framework_sample_csv", a.json()["id"]))
        db = finish(c, reports_url(world.root, "framework_sample_csv", b.json()["id"]))
    url_a, url_b = da["attachment"]["url"], db["attachment"]["url"]
    assert httpx.get(url_a, timeout=ANSWER).status_code == 200
    ida, idb = da["attachment"]["id"], db["attachment"]["id"]
    swapped = url_a.replace(f"/files/{ida}/", f"/files/{idb}/")  # a's verifier, b's file
    assert httpx.get(swapped, timeout=ANSWER).status_code == 404
    verifier_b = url_b.split("verifier=")[1]
    assert (
        httpx.get(
            url_a.split("verifier=")[0] + "verifier=" + verifier_b, timeout=ANSWER
        ).status_code
        == 404
    )
    uuid_form = url_a.split("verifier=")[0] + "verifier=" + da["attachment"]["uuid"]
    assert (
        httpx.get(uuid_form, timeout=ANSWER).status_code == 404
    )  # Canvas's never-expiring form is off


def test_status_polls_note_last_use_too(world: World) -> None:
    from tests.security.conftest import finish

    with world.engine.begin() as conn:
        uid = conn.execute(
            select(access_tokens.c.user_id).where(
                access_tokens.c.token_hash == hash_token(world.tokens["admin"])
            )
        ).scalar_one()
        poller = create_token(conn, uid, purpose="poller")
    with client(world.base, world.tokens["admin"]) as c:
        run = c.post(reports_url(world.root, "framework_sample_csv")).json()
        finish(c, reports_url(world.root, "framework_sample_csv", run["id"]))
    assert _last_used(world, poller) is None
    # a bare GET with a bearer token and no query string: answered below the framework
    r = httpx.get(
        world.base + reports_url(world.root, "framework_sample_csv", run["id"]),
        headers={"Authorization": f"Bearer {poller}"},
        timeout=ANSWER,
    )
    assert r.status_code == 200 and r.json()["id"] == run["id"]
    deadline = time.monotonic() + PATIENCE
    while _last_used(world, poller) is None:
        assert time.monotonic() < deadline, "the fast path did not note the token's use"
        time.sleep(0.05)
