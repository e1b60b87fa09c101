"""``reportcard accounts list`` and ``reportcard terms list``: what ``--account`` and
``--param enrollment_term_id=`` take, on the database or a server (``--url``).

Against a server they read Canvas's ``GET /api/v1/accounts``, ``/accounts/:id``,
``/accounts/:id/sub_accounts?recursive=true`` and ``/accounts/:id/terms``.
"""

from __future__ import annotations

import click

from reportcard.cli.base import main
from reportcard.cli.options import backend_for, backend_options, echo_json, fails_cleanly
from reportcard.cli.show import account_lines, term_lines


@main.group("accounts", short_help="Accounts and sub-accounts (the ids --account takes).")
def accounts_group() -> None:
    """Accounts and sub-accounts, on the database or a server (--url): the ids --account takes."""


@accounts_group.command("list", short_help="The account tree: id, SIS id and name.")
@backend_options
@fails_cleanly
def accounts_list(account: str | None, url: str | None, token: str | None, as_json: bool) -> None:
    """The account and every sub-account below it, as a tree: id, SIS id and name.

    Without --account: every account of the database; with --url, every account the token's
    user administers and those below them. --json prints Canvas Account objects.
    """
    with backend_for(url, token) as backend:
        rows = backend.accounts(account)
    if as_json:
        echo_json(rows)
        return
    for line in account_lines(rows):
        click.echo(line)


@main.group("terms", short_help="Enrollment terms (the ids enrollment_term_id takes).")
def terms_group() -> None:
    """Enrollment terms, on the database or a server (--url): what enrollment_term_id takes."""


@terms_group.command("list", short_help="The terms of the root account: id, SIS id, name, dates.")
@backend_options
@fails_cleanly
def terms_list(account: str | None, url: str | None, token: str | None, as_json: bool) -> None:
    """The enrollment terms of the account's root account: id, SIS id, name, dates and state.

    A report takes a term as --param enrollment_term_id=ID (or sis_term_id:SIS). --json prints
    Canvas's EnrollmentTerm objects (a list, not the API's {"enrollment_terms": [...]}).
    """
    with backend_for(url, token) as backend:
        rows = backend.terms(account)
    if as_json:
        echo_json(rows)
        return
    for line in term_lines(rows):
        click.echo(line)
