"""Running reports from the command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from sqlalchemy import select

from reportcard.cli.base import main, open_engine
from reportcard.settings import get_settings


# ---------------------------------------------------------------------------------- run
def _parse_kv(pairs: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        if "=" not in pair:
            raise click.BadParameter(f"expected key=value, got {pair!r}", param_hint="--param")
        k, v = pair.split("=", 1)
        out[k] = v
    return out


@main.command("run")
@click.argument("report")
@click.option("--account", "account_id", type=int, default=None, help="Account id (default: root).")
@click.option("--param", "params", multiple=True, help="A report parameter as key=value.")
@click.option("--output", type=click.Path(path_type=Path), default=None, help="Copy file here.")
def run_cmd(
    report: str, account_id: int | None, params: tuple[str, ...], output: Path | None
) -> None:
    """Run a report directly on the database, in this process, and wait for it."""
    from reportcard.db.tables import accounts, attachments
    from reportcard.reports.catalog import get_report, load_extra_reports
    from reportcard.runs.inline import run_report
    from reportcard.storage import storage_from_settings

    settings = get_settings()
    engine = open_engine(settings)
    load_extra_reports(settings)
    if get_report(report) is None:
        raise click.ClickException(f"unknown report {report!r}")
    with engine.connect() as conn:
        if account_id is None:
            account_id = conn.execute(
                select(accounts.c.id)
                .where(accounts.c.root_account_id.is_(None))
                .order_by(accounts.c.id)
            ).scalar()
            if account_id is None:
                raise click.ClickException("no account: run `reportcard seed` first")
    storage = storage_from_settings(settings)
    run = run_report(
        engine,
        storage,
        settings,
        account_id=account_id,
        report_type=report,
        parameters=_parse_kv(params),
    )
    click.echo(json.dumps({"id": run.id, "status": run.workflow_state, "message": run.message}))
    if run.workflow_state != "complete":
        sys.exit(1)
    with engine.connect() as conn:
        att = conn.execute(select(attachments).where(attachments.c.id == run.attachment_id)).one()
    path = storage.local_path(att.storage_key)
    if output is not None:
        import shutil

        with storage.open_read(att.storage_key) as src, open(output, "wb") as dst:
            shutil.copyfileobj(src, dst)
        path = str(output)
    click.echo(path)
