"""``reportcard init``: an empty institution, ready for real data."""

from __future__ import annotations

import sys

import click

from reportcard.cli.base import main, open_engine
from reportcard.settings import get_settings


@main.command("init")
@click.option("--name", required=True, help="The institution's name (the root account's name).")
@click.option(
    "--admin-login",
    required=True,
    help="Login (unique_id) of the first administrator, for `reportcard token create --login`.",
)
@click.option("--admin-name", default=None, help="The administrator's name (default: the login).")
@click.option(
    "--time-zone",
    default="UTC",
    show_default=True,
    help="The root account's default time zone: an IANA name (America/Denver) or a Rails "
    "name (Mountain Time (US & Canada)); reports write times in it.",
)
def init_cmd(name: str, admin_login: str, admin_name: str | None, time_zone: str) -> None:
    """Create an empty root account with Canvas's defaults and its first administrator.

    The root account gets its Default Term, the canvas authentication provider and the
    built-in roles; the administrator gets the login ADMIN_LOGIN and AccountAdmin at the root.
    Prints the new root account's id (alone on standard output). Refuses, changing nothing,
    when a root account of that name already exists.
    """
    from reportcard.lms.institution import create_admin, create_root_account, find_root_account
    from reportcard.timezones import UnknownTimeZone, canonical_zone_name

    if not name.strip():
        raise click.BadParameter("give the institution a name", param_hint="--name")
    if not admin_login.strip():
        raise click.BadParameter("give the administrator a login", param_hint="--admin-login")
    try:
        canonical_zone_name(time_zone)
    except UnknownTimeZone as exc:
        raise click.BadParameter(str(exc), param_hint="--time-zone") from None
    engine = open_engine(get_settings(), create=True)
    with engine.begin() as conn:
        existing = find_root_account(conn, name.strip())
        if existing is not None:
            raise click.ClickException(
                f"a root account named {name.strip()!r} already exists (id {existing}); "
                "nothing was changed"
            )
        root_id = create_root_account(conn, name=name, time_zone=time_zone)
        admin = create_admin(conn, root_id, login=admin_login, name=admin_name)
    click.echo(
        f"created root account {root_id} {name.strip()!r} (time zone {time_zone.strip()}), "
        f"administrator login {admin_login.strip()!r} (user {admin.user_id}, AccountAdmin); "
        f"next: reportcard token create --login {admin_login.strip()}",
        err=True,
    )
    click.echo(str(root_id))
    sys.stdout.flush()
