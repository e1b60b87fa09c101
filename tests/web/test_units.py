"""Passwords, sessions, CSRF, the spreadsheet transform and `reportcard user set-password`."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, insert, select, update
from starlette.requests import Request

from reportcard.api.spreadsheet import BOM, neutralise, transform_csv, transform_zip
from reportcard.auth.passwords import (
    WeakPassword,
    hash_password,
    login_for_password,
    set_password,
    verify_password,
)
from reportcard.auth.tokens import create_token
from reportcard.clock import utcnow
from reportcard.db.tables import access_tokens, pseudonyms, users
from reportcard.db.web_tables import web_sessions
from reportcard.web import csrf
from reportcard.web.sessions import create_session, end_session, load_session, purge_expired
from tests.api.conftest import T0

FAST = {"n": 2**10, "r": 8, "p": 1}


# ---------------------------------------------------------------- passwords
def test_hash_is_salted_and_verifies() -> None:
    one, two = hash_password("s3cret pass", **FAST), hash_password("s3cret pass", **FAST)
    assert one != two and one.startswith("scrypt$1024$8$1$")
    assert verify_password("s3cret pass", one) and verify_password("s3cret pass", two)
    assert not verify_password("s3cret pasS", one)
    assert not verify_password("s3cret pass", None)
    assert not verify_password("s3cret pass", "scrypt$broken")
    assert not verify_password("s3cret pass", "md5$1$2$3$4$5")
    assert not verify_password("x" * 2000, one)


def test_default_cost_is_strong() -> None:
    stored = hash_password("a long enough password")
    _, n, r, p, _, _ = stored.split("$")
    assert int(n) >= 2**15 and int(r) == 8 and int(p) == 1


def _login(engine: Engine, unique_id: str) -> int:
    with engine.begin() as conn:
        uid = conn.execute(
            insert(users).values(
                name="Pat",
                sortable_name="Pat",
                uuid=f"u-{unique_id}",
                workflow_state="registered",
                is_test_student=False,
                created_at=T0,
                updated_at=T0,
            )
        ).inserted_primary_key
        assert uid is not None
        from reportcard.db.tables import accounts

        root = conn.execute(
            insert(accounts).values(
                name="Root",
                uuid=f"root-{unique_id}",
                workflow_state="active",
                default_time_zone="UTC",
                can_add_pronouns=False,
                created_at=T0,
                updated_at=T0,
            )
        ).inserted_primary_key
        assert root is not None
        pk = conn.execute(
            insert(pseudonyms).values(
                user_id=int(uid[0]),
                account_id=int(root[0]),
                unique_id=unique_id,
                workflow_state="active",
                position=1,
                is_inst_id=False,
                created_at=T0,
                updated_at=T0,
            )
        ).inserted_primary_key
        assert pk is not None
        return int(pk[0])


def test_set_password_and_sign_in_lookup(engine: Engine) -> None:
    login_id = _login(engine, "pat")
    with engine.begin() as conn:
        with pytest.raises(WeakPassword):
            set_password(conn, login_id, "short")
        set_password(conn, login_id, "a fine password")
    with engine.connect() as conn:
        row = login_for_password(conn, "pat", "a fine password")
        assert row is not None and int(row.id) == login_id
        assert login_for_password(conn, "pat", "wrong password") is None
        assert login_for_password(conn, "nobody", "a fine password") is None
        stored = conn.execute(
            select(pseudonyms.c.password_hash).where(pseudonyms.c.id == login_id)
        ).scalar_one()
    assert "a fine password" not in stored


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


# ---------------------------------------------------------------- spreadsheet transform
def _through(data: bytes, size: int, **kw: bool) -> bytes:
    chunks = [data[i : i + size] for i in range(0, len(data), size)] or [b""]
    return b"".join(transform_csv(chunks, **kw))


def test_neutralise_cells() -> None:
    assert neutralise("=1+2") == "'=1+2"
    for text in ("+cmd", "-2+3", "@SUM(A1)", "\tx", "\rx", '=HYPERLINK("a")'):
        assert neutralise(text) == "'" + text
    for text in ("-3", "+1.5e3", "-.5", "plain", "", "a=b", "'=x"):
        assert neutralise(text) == text


@pytest.mark.parametrize("size", [1, 3, 7, 1 << 16])
def test_csv_transform_streams_in_any_chunking(size: int) -> None:
    source = (
        'id,name,note\n1,Ann,"=cmd|\' /C calc\'!A0"\n2,"multi\nline =x",-12\n'
        '3,"@SUM(1,2)",+x\n4,"Zoë ✓","tab\tin"\n5,-,ok'
    ).encode()
    out = _through(source, size)
    assert out.startswith(BOM)
    rows = list(csv.reader(io.StringIO(out[3:].decode())))
    assert rows == [
        ["id", "name", "note"],
        ["1", "Ann", "'=cmd|' /C calc'!A0"],
        ["2", "multi\nline =x", "-12"],
        ["3", "'@SUM(1,2)", "'+x"],
        ["4", "Zoë ✓", "tab\tin"],
        ["5", "'-", "ok"],
    ]
    # Untouched rows are byte-identical.
    assert out[3:].startswith(b"id,name,note\n")
    assert b'2,"multi\nline =x",-12\n' in out and b'4,"Zo\xc3\xab \xe2\x9c\x93","tab\tin"\n' in out


def test_csv_transform_options() -> None:
    source = b"a,b\r\n=1,2\r\n"
    assert _through(source, 4, bom=False, formula_safety=False) == source
    assert _through(source, 4, bom=True, formula_safety=False) == BOM + source
    assert _through(source, 4, bom=False, formula_safety=True) == b"a,b\r\n'=1,2\r\n"
    assert _through(BOM + source, 2, bom=True, formula_safety=True) == BOM + b"a,b\r\n'=1,2\r\n"
    assert _through(b"", 1, bom=True) == BOM


def test_zip_transform_keeps_entries_and_order() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("users.csv", "id,name\n1,=evil()\n")
        zf.writestr("notes.txt", "=not csv\n")
        zf.writestr("terms.csv", "id\n" + "".join(f"{i}\n" for i in range(50_000)))
    buf.seek(0)
    out = b"".join(transform_zip(buf))
    with zipfile.ZipFile(io.BytesIO(out)) as zf:
        assert zf.namelist() == ["users.csv", "notes.txt", "terms.csv"]
        assert zf.read("users.csv") == BOM + b"id,name\n1,'=evil()\n"
        assert zf.read("notes.txt") == b"=not csv\n"
        terms = zf.read("terms.csv")
        assert terms.startswith(BOM + b"id\n0\n1\n") and terms.endswith(b"49999\n")
        assert zf.testzip() is None


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
