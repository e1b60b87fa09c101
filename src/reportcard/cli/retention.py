"""Retention from the command line: delete expired report files now."""

from __future__ import annotations

import click

from reportcard.cli.base import main, open_engine
from reportcard.settings import get_settings


@main.group("retention")
def retention() -> None:
    """Deleting old report files."""


@retention.command("sweep")
@click.option(
    "--dry-run", is_flag=True, help="List the files that would be deleted; change nothing."
)
def sweep_cmd(dry_run: bool) -> None:
    """Delete finished runs' files older than their retention limit now."""
    from reportcard.runs.context import utcnow
    from reportcard.runs.retention import sweep
    from reportcard.storage import storage_from_settings

    settings = get_settings()
    engine = open_engine(settings)
    removed = sweep(engine, storage_from_settings(settings), settings, utcnow(), dry_run=dry_run)
    verb = "would remove" if dry_run else "removed"
    for item in removed:
        click.echo(
            f"{verb} run {item.run_id} ({item.report_type}) file {item.filename} "
            f"({item.size} bytes, created {item.created_at:%Y-%m-%d %H:%M})"
        )
    click.echo(f"{verb} {len(removed)} files, {sum(i.size for i in removed)} bytes")
