"""Operating the service: schema, serving, workers, seeding and the demo."""

from __future__ import annotations

import sys
import threading
from typing import Any

import click

from reportcard.cli.base import database_label, main, open_engine, open_runtime
from reportcard.settings import get_settings


# ---------------------------------------------------------------------------------- db
@main.group()
def db() -> None:
    """Database schema commands."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply all migrations to REPORTCARD_DATABASE_URL."""
    settings = get_settings()
    open_engine(settings, create=True)
    click.echo(f"database at head: {database_label(settings)}")


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
    engine = open_engine(settings, create=True)
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


# tokens: reportcard.cli.tokens


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

    from reportcard.app import create_app

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
    from reportcard.db.busy import retry_while_unavailable
    from reportcard.runs.warmup import freeze_heap, warm_up
    from reportcard.runs.worker import Worker

    settings = get_settings()

    def waiting(exc: Exception) -> None:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        click.echo(f"worker: the database is unavailable ({reason}); retrying", err=True)

    def patiently(step: Any, what: str) -> Any:
        """A locked or unreachable database is waited out, never a traceback and exit."""
        pause = max(settings.poll_seconds, 1.0)
        return retry_while_unavailable(step, what=what, pause=pause, on_retry=waiting)

    runtime = patiently(lambda: open_runtime(settings, create=True), "worker start")
    if (queue_kind or settings.queue) == "celery":
        from reportcard.queue.celery_app import CeleryQueue, make_celery

        names = [f"{settings.queue_prefix}.{q.strip()}" for q in queues.split(",") if q.strip()]
        queue = runtime.queue
        celery = (
            queue.celery
            if isinstance(queue, CeleryQueue)
            else make_celery(settings, runtime.engine)
        )
        celery.run_worker(threads, names)
        return
    storage = runtime.storage
    warm_up(runtime.engine)  # what a first run would do once, done now (runs.warmup)
    freeze_heap()
    if once:
        w = Worker(runtime.engine, storage, settings)
        while patiently(w.step, "worker step"):
            pass
        return
    # its first act is a write (reaping stale work)
    patiently(lambda: runtime.start_pool(threads), "worker start")
    click.echo(f"{threads} worker thread(s) running; Ctrl-C to stop", err=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        runtime.stop_pool()  # the threads, and the connection listening for work


# ---------------------------------------------------------------------------------- demo
@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, type=int, show_default=True)
@click.option("--size", default="small", show_default=True, help="Institution size to seed.")
@click.option("--no-serve", is_flag=True, help="Exit after the report instead of serving on.")
def demo(host: str, port: int, size: str, no_serve: bool) -> None:
    """Seed, serve, and run a provisioning report through the HTTP API with a progress bar.

    Prints the page's address and how to sign in (the printed admin token). Ctrl-C stops the
    demo with status 0, also under ``make demo``.
    """
    from reportcard.demo import own_terminal, run_demo

    with own_terminal():
        try:
            run_demo(get_settings(), host=host, port=port, size=size, keep_serving=not no_serve)
        except KeyboardInterrupt:
            click.echo("\nstopped", err=True)
