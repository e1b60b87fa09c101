"""``reportcard reports ...``: list the reports, and look after runs (status, files, history).

Each command works on the database (``REPORTCARD_*``) or, with ``--url``/``--token``, through a
server's Canvas Reports API (see :mod:`reportcard.cli.backends`).
"""

from __future__ import annotations

import click

from reportcard.cli.backends import Failed
from reportcard.cli.base import main
from reportcard.cli.options import (
    backend_for,
    backend_options,
    echo_json,
    fails_cleanly,
    save_file,
)
from reportcard.cli.show import report_lines, run_block, run_line

RUN_ID = click.argument("run_id", metavar="ID", type=click.IntRange(min=1))


@main.group("reports")
def reports_group() -> None:
    """Available reports and their runs, on the database or a server (--url)."""


@reports_group.command("list")
@backend_options
@fails_cleanly
def list_cmd(account: str | None, url: str | None, token: str | None, as_json: bool) -> None:
    """The reports an account offers: type, title, parameters and last run."""
    with backend_for(url, token) as backend:
        entries = backend.reports(account)
    if as_json:
        echo_json(entries)
        return
    from reportcard.reports.catalog import all_reports

    declared = all_reports()
    for entry in entries:
        report = declared.get(entry["report"])
        kinds = {k: str(p.kind) for k, p in report.parameters.items()} if report else None
        for line in report_lines(entry, kinds):
            click.echo(line)


@reports_group.command("status")
@click.argument("report")
@RUN_ID
@backend_options
@fails_cleanly
def status_cmd(
    report: str, run_id: int, account: str | None, url: str | None, token: str | None, as_json: bool
) -> None:
    """The state, progress and file of one run (exit 0 whatever its state)."""
    with backend_for(url, token) as backend:
        run = backend.status(account, report, run_id)
    if as_json:
        echo_json(run)
        return
    for line in run_block(run):
        click.echo(line)


@reports_group.command("history")
@click.argument("report")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="Show at most this many runs (newest first).",
)
@backend_options
@fails_cleanly
def history_cmd(
    report: str,
    limit: int,
    account: str | None,
    url: str | None,
    token: str | None,
    as_json: bool,
) -> None:
    """Past runs of a report in an account, newest first (deleted runs are left out)."""
    with backend_for(url, token) as backend:
        runs = backend.history(account, report, limit)
    if as_json:
        echo_json(runs)
        return
    if not runs:
        click.echo(f"no runs of {report}")
    for run in runs:
        click.echo(run_line(run))


@reports_group.command("download")
@click.argument("report")
@RUN_ID
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=True),
    default=None,
    help="File or directory to save to; `-` writes to stdout (default: the file's own name "
    "in the current directory).",
)
@backend_options
@fails_cleanly
def download_cmd(
    report: str,
    run_id: int,
    output: str | None,
    account: str | None,
    url: str | None,
    token: str | None,
    as_json: bool,
) -> None:
    """Save the file of a completed run (exit 1 when the run has no file)."""
    with backend_for(url, token) as backend:
        run = backend.status(account, report, run_id)
        path, size = save_file(backend, run, output)
    if path == "-":
        return
    if as_json:
        echo_json({"id": run["id"], "report": run["report"], "path": path, "size": size})
    else:
        click.echo(f"saved {path} ({size:,} bytes)")


@reports_group.command("abort")
@click.argument("report")
@RUN_ID
@backend_options
@fails_cleanly
def abort_cmd(
    report: str, run_id: int, account: str | None, url: str | None, token: str | None, as_json: bool
) -> None:
    """Stop a created, running or compiling run (exit 1 when it has already ended)."""
    with backend_for(url, token) as backend:
        run = backend.abort(account, report, run_id)
    if as_json:
        echo_json(run)
    else:
        click.echo(f"aborted run {run['id']} of {run['report']}: {run.get('message') or ''}")


@reports_group.command("delete")
@click.argument("report")
@RUN_ID
@backend_options
@fails_cleanly
def delete_cmd(
    report: str, run_id: int, account: str | None, url: str | None, token: str | None, as_json: bool
) -> None:
    """Delete a run: it leaves history and last_run (an active one stops too)."""
    with backend_for(url, token) as backend:
        run = backend.delete(account, report, run_id)
    if run.get("status") != "deleted":
        raise Failed(f"run {run_id} was not deleted (it is {run.get('status')})")
    if as_json:
        echo_json(run)
    else:
        click.echo(f"deleted run {run['id']} of {run['report']}")
