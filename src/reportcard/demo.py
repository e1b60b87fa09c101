"""``reportcard demo``: a realistic institution, a running server, and a report run over HTTP."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import click
import httpx
import uvicorn
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from sqlalchemy import select

from reportcard.db.engine import make_engine
from reportcard.db.migrate import upgrade
from reportcard.db.tables import pseudonyms
from reportcard.settings import Settings

PROVISIONING = {
    "users": "true",
    "accounts": "true",
    "terms": "true",
    "courses": "true",
    "sections": "true",
    "enrollments": "true",
    "skip_message": "true",
}


def _ensure_seeded(settings: Settings, size: str, console: Console) -> None:
    from reportcard.lms.synthetic import seed

    engine = make_engine(settings.resolved_database_url)
    upgrade(engine)
    with engine.connect() as conn:
        has_admin = conn.execute(
            select(pseudonyms.c.id).where(pseudonyms.c.unique_id == "admin").limit(1)
        ).first()
    if has_admin:
        console.print(f"using the institution already in {settings.resolved_database_url}")
        return
    console.print(f"seeding a {size} institution into {settings.resolved_database_url} ...")
    result = seed(engine, size, 1)
    counts = ", ".join(f"{k}={v:,}" for k, v in result.counts.items() if v)
    console.print(f"seeded in {result.seconds:.1f}s: {counts}")


def _token(settings: Settings) -> str:
    from reportcard.auth.tokens import create_token, user_for_login

    engine = make_engine(settings.resolved_database_url)
    with engine.begin() as conn:
        row = user_for_login(conn, "admin")
        if row is None:
            raise click.ClickException("the seeded institution has no `admin` login")
        return create_token(conn, int(row.user_id), purpose="demo")


def _start_server(settings: Settings, host: str, port: int) -> uvicorn.Server:
    from reportcard.app import create_app

    config = uvicorn.Config(create_app(settings), host=host, port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise click.ClickException(f"the server did not start on {host}:{port}")
        time.sleep(0.05)
    return server


def run_demo(settings: Settings, *, host: str, port: int, size: str, keep_serving: bool) -> None:
    console = Console(soft_wrap=True)
    _ensure_seeded(settings, size, console)
    token = _token(settings)
    server = _start_server(settings, host, port)
    base = f"http://{host}:{port}"
    console.print(f"\n[bold]reportcard is serving on {base}[/bold]")
    console.print(f"  the page    : {base}/login")
    console.print(
        "  sign in     : the demo admin has no password: under [bold]With an access token[/bold]"
        " paste the admin token below and press Sign in with token"
    )
    console.print(f"  admin token : {token}")
    console.print(f"  reports API : {base}/api/v1/accounts/self/reports")
    console.print(f"  API docs    : {base}/docs  (OpenAPI: {base}/openapi.json)\n")
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
        started = client.post(
            "/api/v1/accounts/self/reports/provisioning_csv",
            data={f"parameters[{k}]": v for k, v in PROVISIONING.items()},
        )
        started.raise_for_status()
        run = started.json()
        console.print(f"started provisioning_csv run {run['id']}")
        url = f"/api/v1/accounts/self/reports/provisioning_csv/{run['id']}"
        with Progress(
            TextColumn("provisioning_csv"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[lines]:>12} lines  {task.fields[status]}"),
            TimeElapsedColumn(),
            console=console,
        ) as bar:
            task = bar.add_task("run", total=100, lines="0", status="created")
            while run["status"] in ("created", "running", "compiling"):
                time.sleep(0.25)
                run = client.get(url).json()
                bar.update(
                    task,
                    completed=run["progress"],
                    lines=f"{run['current_line'] or 0:,}",
                    status=run["status"],
                )
        if run["status"] != "complete":
            raise click.ClickException(f"the report ended {run['status']}: {run.get('message')}")
        download = client.get(run["attachment"]["url"])
        download.raise_for_status()
        out_dir = Path(settings.data_dir) / "downloads"
        out_dir.mkdir(parents=True, exist_ok=True)
        target = out_dir / run["attachment"]["filename"]
        target.write_bytes(download.content)
    console.print(f"{run['message']}")
    console.print(f"[bold green]saved[/bold green] {target} ({target.stat().st_size:,} bytes)")
    if not keep_serving:
        server.should_exit = True
        return
    console.print(f"\nstill serving on {base}/login (admin token above); press Ctrl-C to stop")
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        server.should_exit = True


@contextlib.contextmanager
def own_terminal() -> Iterator[None]:
    """Take the terminal's foreground in a process group of our own while the demo runs.

    Under ``make demo`` the terminal's Ctrl-C would also reach make, which then reports
    "Interrupt" and exits non-zero whatever the demo does. In a group of its own the demo
    alone gets Ctrl-C, stops cleanly with status 0, and make sees that status. The old
    foreground group gets the terminal back on the way out. Without a terminal: nothing.
    """
    try:
        fd = os.open("/dev/tty", os.O_RDWR)
    except OSError:
        yield
        return
    try:
        before = os.tcgetpgrp(fd)
    except OSError:
        before = -1
    if before != os.getpgrp() or os.getpid() == os.getpgrp():
        os.close(fd)  # not in the foreground, or already a group of our own (a shell job)
        yield
        return
    old_ttou = signal.signal(signal.SIGTTOU, signal.SIG_IGN)
    try:
        os.setpgid(0, 0)
        os.tcsetpgrp(fd, os.getpgrp())
        yield
    finally:
        with contextlib.suppress(OSError):
            os.tcsetpgrp(fd, before)
        signal.signal(signal.SIGTTOU, old_ttou)
        os.close(fd)
