"""``reportcard audit list``: read the append-only audit log."""

from __future__ import annotations

import json

import click

from reportcard.cli.base import main, open_engine
from reportcard.settings import get_settings


@main.group("audit")
def audit_group() -> None:
    """The audit log (who started, downloaded, aborted, deleted, imported; failed sign-ins)."""


@audit_group.command("list")
@click.option("--account", type=int, default=None, help="Only this account and its sub-accounts.")
@click.option("--action", default=None, help="An action (report.start) or a prefix (report).")
@click.option("--user", "user_id", type=int, default=None, help="Only events of this user id.")
@click.option(
    "--since", default=None, help="Events at or after this time (ISO 8601, or 24h/7d ago)."
)
@click.option("--until", default=None, help="Events before this time (ISO 8601, or 24h/7d ago).")
@click.option("--limit", type=int, default=100, show_default=True, help="Most events shown.")
@click.option("--json", "as_json", is_flag=True, help="One JSON array instead of a table.")
def audit_list(
    account: int | None,
    action: str | None,
    user_id: int | None,
    since: str | None,
    until: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """Audit events, newest first."""
    from sqlalchemy import select

    from reportcard import audit
    from reportcard.db.tables import account_ancestors

    start = _when(since, "--since")
    end = _when(until, "--until")
    engine = open_engine(get_settings())
    with engine.connect() as conn:
        ids = None
        if account is not None:
            ids = [
                int(i)
                for i in conn.execute(
                    select(account_ancestors.c.account_id).where(
                        account_ancestors.c.ancestor_id == account
                    )
                ).scalars()
            ]
        rows = audit.list_events(
            conn,
            account_ids=ids,
            action=action,
            user_id=user_id,
            since=start,
            until=end,
            limit=max(1, limit),
        )
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        subject = f"{r['subject_type']}:{r['subject_id']}" if r["subject_type"] else "-"
        detail = json.dumps(r["detail"], separators=(",", ":"), sort_keys=True)
        click.echo(
            f"{r['created_at']}  {r['action']:<22} user={r['user_id'] or '-'} "
            f"account={r['account_id'] or '-'} {subject} ip={r['ip'] or '-'} {detail}"
        )


def _when(value: str | None, name: str):  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    from reportcard.auth.tokens import parse_duration
    from reportcard.clock import utcnow

    if value is None:
        return None
    try:
        return utcnow() - parse_duration(value)
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise click.BadParameter("ISO 8601 time or a duration like 24h", param_hint=name) from exc
    if when.tzinfo is not None:
        when = when.astimezone(UTC).replace(tzinfo=None)
    return when
