"""``reportcard user``: people's sign-in to the Reports page (passwords are never in argv)."""

from __future__ import annotations

import sys

import click

from reportcard.cli.backends import BadInput, NotFound
from reportcard.cli.base import in_database, main, open_engine
from reportcard.settings import get_settings


@main.group()
def user() -> None:
    """Users' sign-in to the Reports page."""


def _read_password() -> str:
    """From a hidden prompt (asked twice) on a terminal, else the first line of stdin."""
    if sys.stdin.isatty():
        value: str = click.prompt(
            "New password", hide_input=True, confirmation_prompt="Repeat the password"
        )
        return value
    line = sys.stdin.readline()
    return line[:-1] if line.endswith("\n") else line


@user.command("set-password")
@click.option("--login", required=True, help="The login (unique_id) whose password to set.")
@click.option("--root-account", type=int, default=None, help="Root account of the login.")
def set_password_command(login: str, root_account: int | None) -> None:
    """Set a login's Reports page password, read from a prompt or standard input.

    The password is never taken from the command line (argv is visible to other users of
    the machine); it is stored as a salted scrypt hash.
    """
    from reportcard.auth.passwords import WeakPassword, set_password
    from reportcard.auth.tokens import user_for_login

    engine = open_engine(get_settings())
    with engine.connect() as conn:
        row = user_for_login(conn, login, root_account)
    if row is None:
        raise NotFound(f"no active login {login!r} {in_database()}")
    password = _read_password()
    try:
        with engine.begin() as conn:
            set_password(conn, int(row.id), password)
    except WeakPassword as exc:
        raise BadInput(str(exc)) from exc
    click.echo(f"password set for login {login!r} (root account {row.account_id})")
