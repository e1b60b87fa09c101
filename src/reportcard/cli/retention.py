"""Retention from the command line: delete expired report files now."""

from __future__ import annotations

import click

from reportcard.cli.base import main, open_runtime
from reportcard.settings import get_settings


@main.group("retention")
def retention() -> None:
    """Deleting old report files."""


@retention.command("sweep")
@click.option(
    "--dry-run", is_flag=True, help="List the files that would be deleted; change nothing."
)
def sweep_cmd(dry_run: bool) -> None:
    """Delete expired report and SIS errors files, and files nothing claims, now."""
    from reportcard.clock import utcnow
    from reportcard.runs.orphans import sweep_orphans
    from reportcard.runs.retention import sweep, sweep_sis_errors

    settings = get_settings()
    runtime = open_runtime(settings)
    engine, storage = runtime.engine, runtime.storage
    now = utcnow()
    removed = sweep(engine, storage, settings, now, dry_run=dry_run)
    verb = "would remove" if dry_run else "removed"
    for item in removed:
        click.echo(
            f"{verb} run {item.run_id} ({item.report_type}) file {item.filename} "
            f"({item.size} bytes, created {item.created_at:%Y-%m-%d %H:%M})"
        )
    click.echo(f"{verb} {len(removed)} files, {sum(i.size for i in removed)} bytes")
    if not dry_run:
        for import_id in sweep_sis_errors(engine, storage, settings, now):
            click.echo(f"removed the errors file of SIS import {import_id}")
    orphans = sweep_orphans(engine, storage, settings, now, dry_run=dry_run)
    for f in orphans:
        click.echo(f"{verb} unclaimed file {f.key} ({f.size} bytes)")
    click.echo(f"{verb} {len(orphans)} unclaimed files, {sum(f.size for f in orphans)} bytes")
