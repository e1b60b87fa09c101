"""Passwords: scrypt hashes, salted and costly; setting one and signing in with it."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, select

from reportcard.auth.passwords import (
    WeakPassword,
    hash_password,
    login_for_password,
    set_password,
    verify_password,
)
from reportcard.db.tables import pseudonyms
from tests.factories import FAST, add_lone_login


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


def test_set_password_and_sign_in_lookup(engine: Engine) -> None:
    with engine.begin() as conn:
        login_id = add_lone_login(conn, "pat")
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
