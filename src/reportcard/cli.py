"""The command line: serve, worker, seed, token, run, db, demo (docs/cli.md documents each)."""

from __future__ import annotations

import json
import logging
import sys
import threading
from pathlib import Path
from typing import Any

import click
from sqlalchemy import Engine, select

from reportcard.settings import Settings, get_settings


def _engine(settings: Settings) -> Engine:
    from reportcard.db.engine import make_engine
    from reportcard.db.migrate import upgrade

    engine = make_engine(settings.resolved_database_url)
    upgrade(engine)
    return engine


@click.group()
@click.version_option(package_name="reportcard")
@click.option("-v", "--verbose", is_flag=True, help="Log at INFO level to stderr.")
def main(verbose: bool) -> None:
    """reportcard: Canvas-compatible account reports, self-hosted."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


# ---------------------------------------------------------------------------------- db
@main.group()
def db() -> None:
    """Database schema commands."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply all migrations to REPORTCARD_DATABASE_URL."""
    settings = get_settings()
    _engine(settings)
    click.echo(f"database at head: {settings.resolved_database_url}")


# ---------------------------------------------------------------------------------- seed
@main.command()
@click.option(
    "--size",
    type=click.Choice(["tiny", "small", "medium", "large"]),
    default="small",
    show_default=True,
    help="How big an institution to generate.",
)
@click.option("--seed", "seed_value", type=int, default=1, show_default=True, help="RNG seed.")
def seed(size: str, seed_value: int) -> None:
    """Generate a synthetic institution (a new root account) into the database."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from reportcard.lms.synthetic import seed as run_seed

    settings = get_settings()
    engine = _engine(settings)
    with Progress(
        TextColumn("{task.description:<28}"),
        BarColumn(),
        TextColumn("{task.completed:>10,}/{task.total:<10,}"),
        TimeElapsedColumn(),
        transient=not sys.stderr.isatty(),
        console=Console(stderr=True),
    ) as bar:
        tasks: dict[str, Any] = {}

        def progress(table: str, done: int, total: int) -> None:
            if table not in tasks:
                tasks[table] = bar.add_task(table, total=total)
            bar.update(tasks[table], completed=done, total=total)

        result = run_seed(engine, size, seed_value, progress=progress)
    counts = ", ".join(f"{k}={v:,}" for k, v in result.counts.items())
    click.echo(f"seeded root account {result.root_account_id} in {result.seconds:.1f}s: {counts}")


# ---------------------------------------------------------------------------------- token
@main.group()
def token() -> None:
    """Access tokens."""


@token.command("create")
@click.option("--login", required=True, help="The login (unique_id) of the token's user.")
@click.option("--root-account", type=int, default=None, help="Root account of the login.")
@click.option("--purpose", default=None, help="A note stored with the token.")
def token_create(login: str, root_account: int | None, purpose: str | None) -> None:
    """Create an access token; the token itself is the last line printed."""
    from reportcard.auth.tokens import create_token, user_for_login

    engine = _engine(get_settings())
    with engine.begin() as conn:
        row = user_for_login(conn, login, root_account)
        if row is None:
            raise click.ClickException(f"no active login {login!r}")
        secret = create_token(conn, int(row.user_id), purpose=purpose)
    click.echo(f"token for user {row.user_id} (login {login}):", err=True)
    click.echo(secret)


# ---------------------------------------------------------------------------------- serve
@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", default=8000, type=int, show_default=True, help="Port to listen on.")
@click.option(
    "--workers",
    "worker_threads",
    type=int,
    default=None,
    help="Embedded worker threads (default REPORTCARD_WORKERS; 0: API only).",
)
def serve(host: str, port: int, worker_threads: int | None) -> None:
    """Serve the API (with embedded workers) until interrupted."""
    import uvicorn

    from reportcard.api.app import create_app

    app = create_app(get_settings(), workers=worker_threads)
    uvicorn.run(app, host=host, port=port, log_level="warning", proxy_headers=True)


# ---------------------------------------------------------------------------------- worker
@main.command()
@click.option("--threads", type=int, default=1, show_default=True, help="Worker threads.")
@click.option("--once", is_flag=True, help="Exit when there is no more work (embedded only).")
@click.option(
    "--queue",
    "queue_kind",
    type=click.Choice(["embedded", "celery"]),
    default=None,
    help="Where work comes from (default REPORTCARD_QUEUE).",
)
@click.option(
    "--queues",
    default="short,long",
    show_default=True,
    help="Celery queues to consume, without the prefix (a worker for huge reports: long).",
)
def worker(threads: int, once: bool, queue_kind: str | None, queues: str) -> None:
    """Execute report shards (any number of workers may run, on any machine)."""
    from reportcard.reports.catalog import load_extra_reports
    from reportcard.runs.worker import Worker, WorkerPool
    from reportcard.storage import storage_from_settings

    settings = get_settings()
    engine = _engine(settings)
    load_extra_reports(settings)
    if (queue_kind or settings.queue) == "celery":
        from reportcard.queue.celery_app import run_worker

        names = [f"{settings.queue_prefix}.{q.strip()}" for q in queues.split(",") if q.strip()]
        run_worker(settings, threads, names)
        return
    storage = storage_from_settings(settings)
    if once:
        w = Worker(engine, storage, settings)
        while w.step():
            pass
        return
    pool = WorkerPool(engine, storage, settings, threads)
    pool.start()
    click.echo(f"{threads} worker thread(s) running; Ctrl-C to stop", err=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        pool.shutdown()


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
    engine = _engine(settings)
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


# ---------------------------------------------------------------------------------- demo
@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, type=int, show_default=True)
@click.option("--size", default="small", show_default=True, help="Institution size to seed.")
@click.option("--no-serve", is_flag=True, help="Exit after the report instead of serving on.")
def demo(host: str, port: int, size: str, no_serve: bool) -> None:
    """Seed, serve, and run a provisioning report through the HTTP API with a progress bar."""
    from reportcard.demo import run_demo

    run_demo(get_settings(), host=host, port=port, size=size, keep_serving=not no_serve)


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
    from reportcard.storage import storage_from_settings

    settings = get_settings()
    engine = _engine(settings)
    with engine.connect() as conn:
        if account_id is None:
            account_id = conn.execute(
                select(accounts.c.id)
                .where(accounts.c.root_account_id.is_(None))
                .order_by(accounts.c.id)
            ).scalar()
            if account_id is None:
                raise click.ClickException("no root account: create one first (reportcard seed)")
        acct = conn.execute(select(accounts).where(accounts.c.id == account_id)).first()
        if acct is None or acct.root_account_id is not None:
            raise click.ClickException(f"account {account_id} is not a root account")
    storage = storage_from_settings(settings)
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
@click.option("--dry-run", is_flag=True, help="Validate and insert, then roll everything back.")
def load_cmd(path: Path, dry_run: bool) -> None:
    """Load LMS data from a directory of <table>.csv / <table>.jsonl files, all or nothing."""
    from reportcard.lms.loader import LoadFailed, load_directory

    engine = _engine(get_settings())
    try:
        result = load_directory(engine, path, dry_run=dry_run)
    except LoadFailed as exc:
        for error in exc.errors:
            click.echo(str(error), err=True)
        click.echo("nothing was loaded", err=True)
        sys.exit(1)
    counts = ", ".join(f"{k}={v:,}" for k, v in result.counts.items()) or "no files"
    verb = "validated (dry run, nothing kept)" if dry_run else "loaded"
    click.echo(f"{verb}: {counts}")
    if result.roots:
        click.echo(f"refreshed root account(s): {', '.join(map(str, result.roots))}")


if __name__ == "__main__":  # pragma: no cover
    main()
