"""``reportcard run``: start a report, and with ``--wait`` see it through to its file.

Directly on the database, a run started without ``--wait`` is queued for the workers
(``reportcard serve``/``reportcard worker``) and its id printed; with ``--wait`` (or
``--output``) this process works it itself, so no server or worker is needed. With ``--url``
the server's workers do the work and ``--wait`` polls its status.
"""

from __future__ import annotations

import sys

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from reportcard.cli.backends import Backend, BadInput, Failed, Run
from reportcard.cli.base import main
from reportcard.cli.options import (
    backend_for,
    backend_options,
    echo_json,
    fails_cleanly,
    parse_params,
    save_file,
)
from reportcard.cli.param_checks import check_params
from reportcard.cli.show import run_block


def _bar(report: str) -> Progress:
    return Progress(
        TextColumn(report),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[lines]:>12} lines  {task.fields[status]}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
    )


@main.command("run")
@click.argument("report")
@click.option("--param", "params", multiple=True, metavar="K=V", help="A report parameter.")
@click.option(
    "--wait",
    is_flag=True,
    help="Wait for the run to end, with a progress bar on stderr (directly on the database: "
    "run it in this process).",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=True),
    default=None,
    help="Copy the finished file here (a file, a directory, or `-` for stdout); implies --wait.",
)
@click.option(
    "--unchecked",
    is_flag=True,
    help="Send --param as given: no check of names, dates, choices or files (the API, as "
    "Canvas's, ignores parameters a report does not take).",
)
@backend_options
@fails_cleanly
def run_cmd(
    report: str,
    params: tuple[str, ...],
    wait: bool,
    output: str | None,
    unchecked: bool,
    account: str | None,
    url: str | None,
    token: str | None,
    as_json: bool,
) -> None:
    """Start a report run (exit 1 if, waited for, it ends in error or aborted)."""
    parameters = parse_params(params)
    wait = wait or output is not None
    with backend_for(url, token) as backend:
        if not unchecked:
            entry = next((e for e in backend.reports(account) if e["report"] == report), None)
            check_params(report, entry, parameters)
        try:
            run, duplicate = backend.start(account, report, parameters, here=wait)
        except BadInput as exc:
            if "enrollment_term" in exc.message:  # which terms there are, and their ids
                where = f" --account {account}" if account else ""
                raise BadInput(
                    f"{exc.message} (`reportcard terms list{where}` shows the terms and ids)"
                ) from exc
            raise
        if duplicate:
            click.echo(
                f"an identical run {run['id']} of {report} is already {run['status']}; "
                + ("following it" if wait else "not starting another"),
                err=True,
            )
        if not wait:
            if as_json:
                echo_json(run)
            elif url:
                click.echo(f"started run {run['id']} of {report} ({run['status']}) on {url}")
            else:
                click.echo(
                    f"queued run {run['id']} of {report} ({run['status']}) for the workers "
                    "(`reportcard serve` or `reportcard worker`)"
                )
            if not as_json:
                where = f" --account {account}" if account else ""
                click.echo(f"follow it: reportcard reports status {report} {run['id']}{where}")
            return
        run = _follow(backend, account, report, run)
        saved: tuple[str, int] | None = None
        if run["status"] == "complete" and output is not None:
            saved = save_file(backend, run, output)
        reason = backend.failure_reason(run) if run["status"] == "error" else None
    if as_json:
        if saved is None or saved[0] != "-":
            echo_json(run)
    else:
        _report(run, saved)
    if run["status"] != "complete":
        why = f" (reason recorded: {reason})" if reason and reason != run.get("message") else ""
        raise Failed(
            f"run {run['id']} of {report} ended {run['status']}: {run.get('message')}{why}"
        )


def _follow(backend: Backend, account: str | None, report: str, run: Run) -> Run:
    with _bar(report) as bar:
        task = bar.add_task(report, total=100, lines="0", status=run["status"])

        def update(now: Run) -> None:
            bar.update(
                task,
                completed=now.get("progress") or 0,
                lines=f"{now.get('current_line') or 0:,}",
                status=now["status"],
            )

        update(run)
        return backend.follow(account, report, int(run["id"]), update)


def _report(run: Run, saved: tuple[str, int] | None) -> None:
    out = sys.stderr if saved is not None and saved[0] == "-" else sys.stdout
    for line in run_block(run):
        click.echo(line, file=out)
    if saved is not None and saved[0] != "-":
        click.echo(f"saved {saved[0]} ({saved[1]:,} bytes)", file=out)
