"""Sessions, CSRF, throttling, sign-in redirects and `reportcard user set-password`.

Passwords: tests/auth/test_passwords.py; the spreadsheet transform: tests/api/test_spreadsheet.py.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, update
from starlette.requests import Request

from reportcard.auth.passwords import hash_password, login_for_password
from reportcard.auth.tokens import create_token
from reportcard.clock import utcnow
from reportcard.db.tables import access_tokens, pseudonyms
from reportcard.db.web_tables import web_sessions
from reportcard.web import csrf
from reportcard.web.sessions import create_session, end_session, load_session, purge_expired
from tests.factories import FAST, add_lone_login


def _login(engine: Engine, unique_id: str) -> int:
    with engine.begin() as conn:
        return add_lone_login(conn, unique_id)


# ---------------------------------------------------------------- sessions
def _vouchers(engine: Engine, login_id: int) -> tuple[int, str, int]:
    """The login's user, a password hash set on the login, and an access token's id."""
    password = hash_password("a fine password", **FAST)
    with engine.begin() as conn:
        conn.execute(
            update(pseudonyms).where(pseudonyms.c.id == login_id).values(password_hash=password)
        )
        user_id = conn.execute(
            select(pseudonyms.c.user_id).where(pseudonyms.c.id == login_id)
        ).scalar_one()
        token = create_token(conn, user_id)
    return int(user_id), password, int(token.split("~")[0])


def test_session_lifecycle(engine: Engine) -> None:
    login_id = _login(engine, "sam")
    user_id, password, token_id = _vouchers(engine, login_id)
    now = utcnow()
    by_token = {"method": "token", "access_token_id": token_id}
    with engine.begin() as conn:
        secret = create_session(
            conn,
            user_id,
            method="password",
            login_id=login_id,
            password_hash=password,
            idle_hours=1,
            max_hours=3,
            now=now,
        )
        stored = conn.execute(select(web_sessions)).one()
    assert stored.token_hash != secret and len(stored.csrf_token) >= 40
    assert password not in (stored.password_stamp or "") and stored.password_stamp
    found = load_session(engine, secret, idle_hours=1, max_hours=3, now=now)
    assert found is not None and found.user_id == user_id and found.user_name == "Pat"
    assert load_session(engine, secret + "x", idle_hours=1, max_hours=3, now=now) is None
    assert load_session(engine, None, idle_hours=1, max_hours=3, now=now) is None
    # Use slides the idle expiry, never past the hard end.
    later = now + timedelta(minutes=50)
    assert load_session(engine, secret, idle_hours=1, max_hours=3, now=later) is not None
    assert load_session(
        engine, secret, idle_hours=1, max_hours=3, now=later + timedelta(minutes=50)
    )
    at_end = now + timedelta(hours=3, minutes=1)
    assert load_session(engine, secret, idle_hours=1, max_hours=3, now=at_end) is None
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(web_sessions)).scalar_one() == 0
    # Idle too long; sign-out; purge.
    with engine.begin() as conn:
        idle = create_session(conn, user_id, **by_token, idle_hours=1, max_hours=3, now=now)
        gone = create_session(conn, user_id, **by_token, idle_hours=1, max_hours=3, now=now)
        old = create_session(conn, user_id, **by_token, idle_hours=1, max_hours=3, now=now)
    assert (
        load_session(engine, idle, idle_hours=1, max_hours=3, now=now + timedelta(hours=2)) is None
    )
    with engine.begin() as conn:
        assert end_session(conn, gone) and not end_session(conn, gone)
        assert purge_expired(conn, now + timedelta(hours=2)) == 1
    assert load_session(engine, old, idle_hours=1, max_hours=3, now=now) is None
    # Sessions of a token that has ended are purged too, whenever they would expire.
    with engine.begin() as conn:
        live = create_session(conn, user_id, **by_token, idle_hours=5, max_hours=5, now=now)
        assert purge_expired(conn, now) == 0
        conn.execute(update(access_tokens).values(expires_at=now - timedelta(seconds=1)))
        assert purge_expired(conn, now) == 1
    assert load_session(engine, live, idle_hours=5, max_hours=5, now=now) is None


def test_a_session_needs_what_vouches_for_it(engine: Engine) -> None:
    user_id, _password, token_id = _vouchers(engine, _login(engine, "una"))
    with engine.begin() as conn:
        with pytest.raises(ValueError):
            create_session(conn, user_id, method="token", idle_hours=1, max_hours=1)
        with pytest.raises(ValueError):
            create_session(conn, user_id, method="password", idle_hours=1, max_hours=1)
        # A row that names neither (as an older version wrote) is refused at load.
        secret = create_session(
            conn, user_id, method="token", access_token_id=token_id, idle_hours=1, max_hours=1
        )
        conn.execute(update(web_sessions).values(access_token_id=None))
    assert load_session(engine, secret, idle_hours=1, max_hours=1) is None


# ---------------------------------------------------------------- CSRF
def _request(headers: dict[str, str]) -> Request:
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    return Request({"type": "http", "method": "POST", "path": "/", "headers": raw})


def test_csrf_checks() -> None:
    token = csrf.new_token()
    assert csrf.tokens_match(token, token)
    assert not csrf.tokens_match(token, token[:-1] + "x")
    assert not csrf.tokens_match(token, None) and not csrf.tokens_match(None, token)
    host = {"host": "reports.example.edu"}
    csrf.check(_request(host), token, token)
    csrf.check(_request({**host, "x-csrf-token": token}), token, None)
    csrf.check(_request({**host, "origin": "https://reports.example.edu"}), token, token)
    for bad in (
        (_request(host), token, None),
        (_request(host), token, "forged"),
        (_request({**host, "x-csrf-token": "forged"}), token, token),
        (_request({**host, "origin": "https://evil.example"}), token, token),
        (_request({**host, "origin": "null"}), token, token),
        (_request({**host, "referer": "https://evil.example/page"}), token, token),
    ):
        with pytest.raises(csrf.CsrfError):
            csrf.check(*bad)


# ---------------------------------------------------------------- the CLI
def test_cli_set_password_reads_stdin(
    engine: Engine, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from reportcard.cli import main
    from reportcard.settings import get_settings

    login_id = _login(engine, "cli-user")
    monkeypatch.setenv("REPORTCARD_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("REPORTCARD_DATABASE_URL", database_url)
    get_settings.cache_clear()
    try:
        runner = CliRunner()

        def run(*args: str, stdin: str) -> Any:
            return runner.invoke(main, ["user", "set-password", *args], input=stdin)

        done = run("--login", "cli-user", stdin="a strong password\n")
        assert done.exit_code == 0, done.output
        assert "password set for login 'cli-user'" in done.output
        assert "a strong password" not in done.output
        with engine.connect() as conn:
            row = login_for_password(conn, "cli-user", "a strong password")
            assert row is not None and int(row.id) == login_id
        weak = run("--login", "cli-user", stdin="short\n")
        assert weak.exit_code == 2 and "at least 8 characters" in weak.output  # bad input
        missing = run("--login", "nobody", stdin="a strong password\n")
        assert missing.exit_code == 3 and "no active login 'nobody'" in missing.output
    finally:
        get_settings.cache_clear()


def test_housekeeping_sweeps_ended_sessions(engine: Engine, tmp_path: Path) -> None:
    from reportcard.web.session_sweep import sweep
    from reportcard.wiring import hooks

    assert hooks().jobs["web_sessions"].job is sweep
    login_id = _login(engine, "swept")
    with engine.connect() as conn:
        user_id = conn.execute(
            select(pseudonyms.c.user_id).where(pseudonyms.c.id == login_id)
        ).scalar_one()
    now = utcnow()
    with engine.begin() as conn:
        token_id = int(create_token(conn, user_id).split("~")[0])
        for idle, hours in ((1, 2), (5, 5)):
            create_session(
                conn,
                user_id,
                method="token",
                access_token_id=token_id,
                idle_hours=idle,
                max_hours=hours,
                now=now,
            )
    from reportcard.settings import Settings
    from reportcard.storage import storage_from_settings

    settings = Settings(data_dir=tmp_path)
    assert sweep(engine, storage_from_settings(settings), settings, now + timedelta(hours=3)) == 1
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(web_sessions)).scalar_one() == 1


def test_throttle_counts_failures_per_login_and_address() -> None:
    from reportcard.web.throttle import Throttle

    gate = Throttle(limit=3, window=60)
    for t in (0.0, 1.0, 2.0):
        assert gate.wait("Admin", "10.0.0.1", now=t) == 0
        gate.failed("Admin", "10.0.0.1", now=t)
    assert gate.wait("admin", "10.0.0.1", now=3.0) == pytest.approx(57.0)
    assert gate.wait("admin", "10.0.0.2", now=3.0) == 0  # another address is not locked out
    assert gate.wait("other", "10.0.0.1", now=3.0) == 0
    assert gate.wait("admin", "10.0.0.1", now=60.5) == 0  # the first failure left the window
    gate.failed("admin", "10.0.0.1", now=61.0)  # with 1.0 gone: failures at 2, 61 and 61.2
    gate.failed("admin", "10.0.0.1", now=61.2)
    assert gate.wait("admin", "10.0.0.1", now=61.5) == pytest.approx(0.5)
    gate.succeeded("admin", "10.0.0.1")
    assert gate.wait("admin", "10.0.0.1", now=61.5) == 0


def test_after_sign_in_only_local_paths() -> None:
    from reportcard.web.signin import safe_next

    assert safe_next("/accounts/3/reports") == "/accounts/3/reports"
    for bad in (
        None,
        "",
        "https://evil.example",
        "//evil.example",
        "/\\evil.example",
        "/\t/evil.example",
        "/\n/evil",
        "accounts",
    ):
        assert safe_next(bad) == "/accounts"
