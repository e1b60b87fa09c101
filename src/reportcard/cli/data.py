"""Bringing LMS data in: Canvas SIS CSV imports and the project's own loader."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from sqlalchemy import select

from reportcard.cli.backends import BadInput, NotFound
from reportcard.cli.base import database_label, main, open_engine, open_runtime
from reportcard.settings import get_settings


# ---------------------------------------------------------------------------------- import
@main.command("import")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--account",
    "account_id",
    type=int,
    default=None,
    help="Root account to import into (default: the first root account).",
)
def import_cmd(path: Path, account_id: int | None) -> None:
    """Import Canvas SIS CSV files (a CSV, a zip, or a directory of CSVs)."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from reportcard.db.sis_import_tables import sis_import_messages
    from reportcard.db.tables import accounts, attachments
    from reportcard.lms.sis_import.job import get_import
    from reportcard.lms.sis_import.local import import_path

    settings = get_settings()
    runtime = open_runtime(settings)
    engine = runtime.engine
    with engine.connect() as conn:
        if account_id is None:
            account_id = conn.execute(
                select(accounts.c.id)
                .where(accounts.c.root_account_id.is_(None))
                .order_by(accounts.c.id)
            ).scalar()
            if account_id is None:
                raise NotFound(
                    f"no root account in the database {database_label(settings)}: create one "
                    "first with `reportcard init --name NAME --admin-login LOGIN`"
                    " (or `reportcard seed` for a synthetic institution)"
                )
        acct = conn.execute(select(accounts).where(accounts.c.id == account_id)).first()
        if acct is None:
            raise NotFound(
                f"no account {account_id} in the database {database_label(settings)}: create "
                "the institution first with `reportcard init --name NAME --admin-login LOGIN`"
            )
        if acct.root_account_id is not None:
            raise BadInput(f"account {account_id} is not a root account: import into its root")
    storage = runtime.storage
    with Progress(
        TextColumn("{task.description:<28}"),
        BarColumn(),
        TextColumn("{task.completed:>10,}/{task.total:<10,} rows"),
        TimeElapsedColumn(),
        transient=not sys.stderr.isatty(),
        console=Console(stderr=True),
    ) as bar:
        task = bar.add_task("checking the files", total=0)

        def progress(done: int, total: int, file: str) -> None:
            bar.update(task, completed=done, total=total, description=file[-28:])

        import_id, state = import_path(
            engine, storage, settings, path, int(account_id), progress=progress
        )
    with engine.connect() as conn:
        imp = get_import(conn, import_id)
        m = sis_import_messages.c
        messages = conn.execute(
            select(m.failure, m.file, m.line, m.message)
            .where(m.sis_import_id == import_id)
            .order_by(m.failure.desc(), m.id)
            .limit(50)
        ).all()
        errors_file = None
        if imp.errors_attachment_id is not None:
            att = conn.execute(
                select(attachments).where(attachments.c.id == imp.errors_attachment_id)
            ).one()
            errors_file = storage.local_path(att.storage_key) or att.storage_key
    counts = (imp.data or {}).get("counts", {})
    shown = ", ".join(
        f"{k}={v:,}" for k, v in counts.items() if v and k not in ("error_count", "warning_count")
    )
    click.echo(f"sis import {import_id}: {state}; {shown or 'no rows'}")
    click.echo(f"errors: {imp.error_count}, warnings: {imp.warning_count}")
    for failure, file, line, message in messages:
        where = f"{file or '-'}" + (f":{line}" if line is not None else "")
        click.echo(f"  {'error' if failure else 'warning'} {where}: {message}")
    if imp.error_count + imp.warning_count > len(messages):
        click.echo(f"  ... {imp.error_count + imp.warning_count - len(messages)} more")
    if errors_file:
        click.echo(f"all messages: {errors_file}")
    if state not in ("imported", "imported_with_messages"):
        sys.exit(1)


# ---------------------------------------------------------------------------------- load
@main.command("load")
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Validate and write, then roll everything back.")
@click.option(
    "--mode",
    type=click.Choice(["insert", "upsert", "delete"]),
    default="insert",
    show_default=True,
    help="insert: add rows; upsert: change the rows whose key exists, add the others; "
    "delete: remove the rows whose key is given.",
)
def load_cmd(path: Path, dry_run: bool, mode: str) -> None:
    """Load LMS data from a directory of <table>.csv / <table>.jsonl files, all or nothing."""
    from reportcard.lms.loader import LoadFailed, load_directory

    engine = open_engine(get_settings(), create=True)
    try:
        result = load_directory(engine, path, dry_run=dry_run, mode=mode)
    except LoadFailed as exc:
        for error in exc.errors:
            click.echo(str(error), err=True)
        click.echo("nothing was changed", err=True)
        sys.exit(1)
    counts = ", ".join(f"{k}={v:,}" for k, v in result.counts.items()) or "no files"
    done = {"insert": "loaded", "upsert": "loaded (upsert)", "delete": "deleted"}[mode]
    verb = "validated (dry run, nothing kept)" if dry_run else done
    click.echo(f"{verb}: {counts}")
    if result.roots:
        click.echo(f"refreshed root account(s): {', '.join(map(str, result.roots))}")


if __name__ == "__main__":  # pragma: no cover
    main()
