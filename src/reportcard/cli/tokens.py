"""``reportcard token``: create, list and revoke access tokens (secrets are shown once)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import click

from reportcard import audit
from reportcard.cli.backends import NotFound
from reportcard.cli.base import in_database, main, open_engine
from reportcard.clock import utcnow
from reportcard.settings import get_settings


@main.group()
def token() -> None:
    """Access tokens."""


def _expiry(expires_in: str | None, expires_at: str | None) -> datetime | None:
    from reportcard.auth.tokens import parse_duration

    if expires_in and expires_at:
        raise click.UsageError("give --expires-in or --expires-at, not both")
    if expires_in:
        try:
            return utcnow() + parse_duration(expires_in)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--expires-in") from exc
    if expires_at:
        try:
            when = datetime.fromisoformat(expires_at.replace("Z", "+00:00"))
        except ValueError as exc:
            raise click.BadParameter(
                "an ISO 8601 time, like 2027-01-31T00:00:00Z", param_hint="--expires-at"
            ) from exc
        if when.tzinfo is not None:
            when = when.astimezone(UTC).replace(tzinfo=None)
        if when <= utcnow():
            raise click.BadParameter("that time has passed", param_hint="--expires-at")
        return when
    return None


@token.command("create")
@click.option("--login", required=True, help="The login (unique_id) of the token's user.")
@click.option("--root-account", type=int, default=None, help="Root account of the login.")
@click.option("--purpose", default=None, help="A note stored with the token.")
@click.option("--expires-in", default=None, help="Lifetime, like 30d, 12h, 15m or 2w.")
@click.option("--expires-at", default=None, help="Expiry time (ISO 8601; UTC if no offset).")
def token_create(
    login: str,
    root_account: int | None,
    purpose: str | None,
    expires_in: str | None,
    expires_at: str | None,
) -> None:
    """Create an access token; the token itself is the last line printed (shown only once)."""
    from reportcard.auth.tokens import create_token, token_id, user_for_login

    expiry = _expiry(expires_in, expires_at)
    engine = open_engine(get_settings())
    with engine.begin() as conn:
        row = user_for_login(conn, login, root_account)
        if row is None:
            raise NotFound(f"no active login {login!r} {in_database()}")
        secret = create_token(conn, int(row.user_id), purpose=purpose, expires_at=expiry)
        audit.record(
            conn,
            user_id=None,
            action="token.create",
            account_id=int(row.account_id),
            subject_type="access_token",
            subject_id=token_id(secret),
            detail={
                "via": "cli",
                "token_user_id": int(row.user_id),
                "purpose": purpose,
                "expires_at": None if expiry is None else expiry.isoformat() + "Z",
            },
        )
    until = "" if expiry is None else f", expires {expiry.isoformat(timespec='seconds')}Z"
    click.echo(f"token for user {row.user_id} (login {login}{until}):", err=True)
    click.echo(secret)


@token.command("list")
@click.option("--login", default=None, help="Only the tokens of this login's user.")
@click.option("--root-account", type=int, default=None, help="Root account of the login.")
@click.option("--all", "include_revoked", is_flag=True, help="Include revoked tokens.")
@click.option("--json", "as_json", is_flag=True, help="One JSON array instead of a table.")
def token_list(
    login: str | None, root_account: int | None, include_revoked: bool, as_json: bool
) -> None:
    """List tokens: id, user, hint, purpose, state, expiry, last use (never the secret)."""
    from reportcard.auth.tokens import list_tokens, user_for_login

    engine = open_engine(get_settings())
    with engine.connect() as conn:
        user_id = None
        if login is not None:
            row = user_for_login(conn, login, root_account)
            if row is None:
                raise NotFound(f"no active login {login!r} {in_database()}")
            user_id = int(row.user_id)
        rows = list_tokens(conn, user_id=user_id, include_revoked=include_revoked)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    click.echo(
        f"{'id':>6}  {'user':>6}  {'hint':<8} {'state':<8} {'expires_at':<21} "
        f"{'last_used_at':<21} purpose"
    )
    for r in rows:
        click.echo(
            f"{r['id']:>6}  {r['user_id']:>6}  {r['hint'] + '…':<8} {r['state']:<8} "
            f"{r['expires_at'] or '-':<21} {r['last_used_at'] or '-':<21} {r['purpose'] or ''}"
        )


@token.command("revoke")
@click.argument("token_id", type=int)
def token_revoke(token_id: int) -> None:
    """Revoke the token with this id (from `reportcard token list`); it stops working at once."""
    from reportcard.auth.tokens import get_token, revoke_token
    from reportcard.db.tables import pseudonyms

    engine = open_engine(get_settings())
    with engine.begin() as conn:
        row = get_token(conn, token_id)
        if row is None or not revoke_token(conn, token_id):
            raise NotFound(f"no active token {token_id} {in_database()}")
        from sqlalchemy import select

        root = conn.execute(
            select(pseudonyms.c.account_id)
            .where(pseudonyms.c.user_id == row.user_id)
            .order_by(pseudonyms.c.id)
            .limit(1)
        ).scalar()
        audit.record(
            conn,
            user_id=None,
            action="token.revoke",
            account_id=None if root is None else int(root),
            subject_type="access_token",
            subject_id=token_id,
            detail={"via": "cli", "token_user_id": int(row.user_id), "hint": row.hint},
        )
    click.echo(f"revoked token {token_id} (user {row.user_id}, {row.hint}…)")
